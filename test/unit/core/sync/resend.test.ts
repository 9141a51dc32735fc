// The resend queue (src/core/sync/resend.ts) against a Map kept in insertion order, as it replaced one.
import t from 'tap'
import { ResendQueue } from '../../../../src/core/sync/resend.js'

interface Item { id: number, slot: number }

t.test('random pushes, removals, oldest and walks agree with an insertion-ordered Map', t => {
  let seed = 7
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  const q = new ResendQueue<Item>()
  const ref = new Map<number, Item>()
  let next = 0
  let mismatches = 0
  for (let step = 0; step < 60_000; step++) {
    const op = rnd(10)
    if (op < 5) {
      const it = { id: next++, slot: -1 }
      q.push(it)
      ref.set(it.id, it)
    } else if (op < 8 && ref.size > 0) {
      // remove the oldest or one from anywhere (and sometimes twice: a no-op)
      const all = [...ref.values()]
      const it = op === 5 ? all[0] as Item : all[rnd(all.length)] as Item
      q.remove(it)
      if (rnd(4) === 0) q.remove(it)
      ref.delete(it.id)
    } else if (op === 8 && ref.size > 0) {
      // a walk that removes a range, as an ACK does, and stops after it
      const ids = [...ref.keys()]
      const from = ids[rnd(ids.length)] as number
      const to = from + rnd(50)
      q.walk(it => {
        if (it.id < from) return true
        if (it.id > to) return false
        q.remove(it)
        ref.delete(it.id)
        return true
      })
    }
    if (q.size !== ref.size || q.oldest() !== ref.values().next().value) mismatches++
  }
  const walked: number[] = []
  q.walk(it => { walked.push(it.id); return true })
  t.equal(mismatches, 0, 'size and oldest agree after every step')
  t.same(walked, [...ref.keys()], 'a full walk visits the entries oldest first')
  t.end()
})

t.test('emptied by a walk, then reused', t => {
  const q = new ResendQueue<Item>()
  const items = Array.from({ length: 3000 }, (_, id) => ({ id, slot: -1 }))
  for (const it of items) q.push(it)
  q.walk(it => { q.remove(it); return true })
  t.equal(q.size, 0)
  t.equal(q.oldest(), undefined)
  t.ok(items.every(it => it.slot === -1))
  q.push(items[5] as Item)
  t.equal(q.oldest(), items[5])
  t.end()
})
