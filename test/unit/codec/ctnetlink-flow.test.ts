// The canonical Flow helpers (src/core/conntrack/flow.ts) the ctnetlink codec and the caches share.
import t from 'tap'
import {
  flowKey, tupleKey, invertTuple, deriveNat, mergeFlow, hasPorts, isIcmp, IPS, L4Proto, type Flow, type FlowTuple
} from '../../../src/core/conntrack/flow.js'

const tcp: FlowTuple = { src: '10.99.0.1', dst: '10.99.0.2', l4proto: 6, sport: 33004, dport: 7001 }
const base: Flow = { family: 'ipv4', orig: tcp, reply: invertTuple(tcp) }

t.test('invertTuple', async t => {
  t.same(invertTuple(tcp), { src: '10.99.0.2', dst: '10.99.0.1', l4proto: 6, sport: 7001, dport: 33004 })
  t.same(invertTuple(invertTuple(tcp)), tcp)
  const echo: FlowTuple = { src: 'fd99::1', dst: 'fd99::2', l4proto: 58, icmpType: 128, icmpCode: 0, icmpId: 5 }
  t.same(invertTuple(echo), { src: 'fd99::2', dst: 'fd99::1', l4proto: 58, icmpType: 129, icmpCode: 0, icmpId: 5 })
  t.equal(invertTuple({ ...echo, l4proto: 1, icmpType: 13 }).icmpType, 14, 'timestamp')
  t.equal(invertTuple({ ...echo, l4proto: 1, icmpType: 3 }).icmpType, 3, 'no inverse: kept')
  t.same(invertTuple({ src: 'a', dst: 'b', l4proto: 33 }), { src: 'b', dst: 'a', l4proto: 33 }, 'no ports stays without ports')
  t.equal(invertTuple({ ...tcp, zone: 3 }).zone, 3)
})

t.test('flowKey: original tuple + zone; id, status and reply do not matter', async t => {
  const k = flowKey(base)
  t.equal(k, 'ipv4|6|10.99.0.1|10.99.0.2|33004/7001|z0')
  t.equal(flowKey({ ...base, id: 5, status: 14, timeout: 3, reply: { ...base.reply, dst: '10.99.0.3' } }), k)
  t.equal(flowKey({ ...base, zone: 0 }), k, 'zone 0 = default')
  t.not(flowKey({ ...base, zone: 1 }), k)
  t.not(flowKey({ ...base, orig: { ...tcp, zone: 1 } }), k)
  t.not(flowKey({ ...base, orig: { ...tcp, sport: 1 } }), k)
  t.not(flowKey({ ...base, family: 'ipv6' }), k)
  t.equal(tupleKey({ src: 'a', dst: 'b', l4proto: 1, icmpType: 8, icmpCode: 0, icmpId: 9 }), '1|a|b|8/0/9')
  t.ok(hasPorts(L4Proto.GRE) && hasPorts(L4Proto.SCTP) && !hasPorts(L4Proto.ICMP))
  t.ok(isIcmp(1) && isIcmp(58) && !isIcmp(6))
})

t.test('deriveNat: needs the DONE bit and a real difference', async t => {
  const reply: FlowTuple = { src: '10.99.0.2', dst: '10.99.0.3', l4proto: 6, sport: 7001, dport: 41000 }
  t.same(deriveNat(tcp, reply, IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE), { src: { ip: '10.99.0.3', port: 41000 } })
  t.equal(deriveNat(tcp, reply, 0), undefined, 'no DONE bit: not NAT')
  t.equal(deriveNat(tcp, invertTuple(tcp), IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE), undefined, 'null binding')
  t.same(deriveNat(tcp, { ...invertTuple(tcp), dport: 5 }, IPS.SRC_NAT_DONE), { src: { port: 5 } }, 'port only')
  t.same(deriveNat(tcp, { ...invertTuple(tcp), src: '192.0.2.9' }, IPS.DST_NAT_DONE), { dst: { ip: '192.0.2.9' } })
  const echo: FlowTuple = { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 1, icmpType: 8, icmpCode: 0, icmpId: 1 }
  t.same(deriveNat(echo, { ...invertTuple(echo), dst: '10.0.0.9' }, IPS.SRC_NAT_DONE), { src: { ip: '10.0.0.9' } }, 'ICMP: address only')
})

t.test('mergeFlow: present fields overwrite, absent keep, protoinfo merged per field', async t => {
  const known: Flow = { ...base, status: 14, timeout: 100, mark: 7, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 7 } }
  const update: Flow = { ...base, status: 14, timeout: 120, tcp: { state: 4 } }
  t.same(mergeFlow(known, update), { ...base, status: 14, timeout: 120, mark: 7, tcp: { state: 4, wscaleOrig: 7, wscaleReply: 7 } })
  t.same(mergeFlow(known, { ...base }), known, 'an event without meta keeps everything')
  t.equal(known.tcp?.state, 3, 'inputs are not mutated')
})
