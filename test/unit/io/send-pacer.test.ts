// The sync send pacer: bursts leave at most `burst` back to back, the rest at `ratePerSec`, in
// order; a full queue drops its oldest datagram and says so. Fake clock and timers.
import t from 'tap'
import { SendPacer } from '../../../src/io/send-pacer.js'

function harness (o: { ratePerSec: number, burst: number, maxQueued: number }): { pacer: SendPacer<number>, sent: Array<[number, number]>, dropped: number[], advance: (ms: number) => void } {
  let now = 0
  const timers: Array<{ at: number, fn: () => void }> = []
  const sent: Array<[number, number]> = []
  const dropped: number[] = []
  const pacer = new SendPacer<number>({
    ...o,
    now: () => now,
    schedule: (fn, ms) => { timers.push({ at: now + ms, fn }) },
    send: (x) => { sent.push([now, x]) },
    onDrop: (x) => { dropped.push(x) }
  })
  const advance = (ms: number): void => {
    const end = now + ms
    for (;;) {
      timers.sort((a, b) => a.at - b.at)
      const next = timers[0]
      if (next === undefined || next.at > end) break
      timers.shift()
      now = next.at
      next.fn()
    }
    now = end
  }
  return { pacer, sent, dropped, advance }
}

t.test('a burst larger than the bucket is spread at the rate, in order', async t => {
  const h = harness({ ratePerSec: 1000, burst: 4, maxQueued: 100 })
  for (let i = 0; i < 10; i++) h.pacer.push(i)
  t.same(h.sent.map(s => s[1]), [0, 1, 2, 3], 'the bucket leaves at once')
  t.equal(h.pacer.queued, 6)
  h.advance(3)
  t.same(h.sent.map(s => s[1]), [0, 1, 2, 3, 4, 5, 6], 'one per ms at 1000/s')
  h.advance(10)
  t.same(h.sent.map(s => s[1]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'all sent, in order')
  t.equal(h.pacer.queued, 0)
  const lastAt = h.sent[9]?.[0] ?? -1
  t.equal(lastAt, 6, 'the tenth leaves 6 ms after the burst (4 at once, then 1/ms)')
})

t.test('steady traffic under the rate is never delayed', async t => {
  const h = harness({ ratePerSec: 1000, burst: 4, maxQueued: 100 })
  for (let i = 0; i < 20; i++) { h.pacer.push(i); t.equal(h.sent.length, i + 1, `datagram ${i} sent on push`); h.advance(2) }
})

t.test('a full queue drops its oldest queued datagram and reports it', async t => {
  const h = harness({ ratePerSec: 1000, burst: 2, maxQueued: 3 })
  for (let i = 0; i < 7; i++) h.pacer.push(i)
  t.same(h.sent.map(s => s[1]), [0, 1])
  t.same(h.dropped, [2, 3], 'the two oldest waiting ones')
  h.advance(10)
  t.same(h.sent.map(s => s[1]), [0, 1, 4, 5, 6])
})
