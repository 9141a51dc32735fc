// FTFW queue coalescing (txqueue.ts): one node per flow key; the event rules of §1.7/§3.5 and how
// attributes and encoded bodies (the sender's byte path) merge.
import t from 'tap'
import { writeCtAttrs, type CtAttrs } from '../../../../src/codec/conntrackd-ct.js'
import { CT_ATTRS_MAX_BYTES } from '../../../../src/codec/conntrackd-attrs.js'
import { coalesce, createQueues, enqueueObject, recordSent, takeTx, type ObjectNode } from '../../../../src/core/sync/txqueue.js'
import type { CtEvent } from '../../../../src/core/sync/types.js'

const body = (a: CtAttrs): Uint8Array => {
  const out = new Uint8Array(CT_ATTRS_MAX_BYTES)
  return out.slice(0, writeCtAttrs(a, out, 0))
}
const full: CtAttrs = { src: '10.0.0.1', dst: '10.0.0.2', status: 8, l4proto: 6, sport: 1, dport: 2, tcpState: 3, timeout: 100 }
const later: CtAttrs = { ...full, tcpState: 4, timeout: 50 }
const A = (event: CtEvent, attrs: CtAttrs) => ({ event, attrs, body: null })
const B = (event: CtEvent, a: CtAttrs) => ({ event, attrs: null, body: body(a) })

t.test('event rules: NEW wins over UPD, DEL over everything before, a flow reborn after DEL starts over', async t => {
  const cases: Array<[CtEvent, CtEvent, CtEvent]> = [
    ['new', 'upd', 'new'], ['new', 'del', 'del'], ['upd', 'upd', 'upd'], ['upd', 'del', 'del'], ['upd', 'new', 'new'],
    ['del', 'new', 'new'], ['del', 'upd', 'upd'], ['del', 'del', 'del']
  ]
  for (const [prev, next, want] of cases) {
    t.equal(coalesce(A(prev, full), A(next, later)).event, want, `${prev} then ${next} (attributes)`)
    t.equal(coalesce(B(prev, full), B(next, later)).event, want, `${prev} then ${next} (bodies)`)
  }
})

t.test('contents: attributes merge over the last state, a body is the whole state, a reborn flow keeps only its new content', async t => {
  t.same(coalesce(A('upd', full), A('del', { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6 })).attrs, full, 'a DEL with only the tuple travels with the last full state')
  t.same(coalesce(A('del', full), A('new', { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6 })).attrs, { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6 }, 'NEW after DEL: new attributes only')
  const b = coalesce(A('upd', full), B('upd', later))
  t.same([b.attrs, Buffer.from(b.body as Uint8Array)], [null, Buffer.from(body(later))], 'a body replaces earlier attributes')
  const m = coalesce(B('new', full), A('upd', { mark: 7 }))
  t.same([m.event, m.attrs, m.body], ['new', { ...full, mark: 7 }, null], 'attributes merge over a body\'s decoded attributes')
  const d = coalesce(B('del', full), B('upd', later))
  t.same([d.event, Buffer.from(d.body as Uint8Array)], ['upd', Buffer.from(body(later))])
})

t.test('enqueueObject: one node per key; a sent node changed again goes back to the tx queue with its latest content', async t => {
  const q = createQueues()
  t.equal(enqueueObject(q, { key: 'k', event: 'new', body: body(full) }), false)
  t.equal(enqueueObject(q, { key: 'k', event: 'upd', body: body(later) }), true, 'coalesced')
  const [node] = takeTx(q) as ObjectNode[]
  t.same([node?.event, Buffer.from(node?.body as Uint8Array)], ['new', Buffer.from(body(later))])
  recordSent(q, node as ObjectNode, 5, 100)
  t.equal(q.rs.size, 1)
  t.equal(enqueueObject(q, { key: 'k', event: 'del', attrs: { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6 } }), true)
  t.equal(q.rs.size, 0, 'off the resend queue')
  const [again] = takeTx(q) as ObjectNode[]
  t.equal(again, node, 'the same node')
  t.same([again?.event, again?.attrs, again?.body], ['del', later, null])
})
