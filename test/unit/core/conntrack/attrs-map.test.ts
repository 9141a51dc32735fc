// Flow ⇄ CtAttrs (conntrackd build.c / parse.c rules), checked on every conntrackd 1.4.7 message captured in
// test/fixtures/captures/conntrackd (capture commands in its README) and on hand-made flows.
import t from 'tap'
import { decodeDatagram, type CtAttrs } from '../../../../src/codec/conntrackd.js'
import { flowFromAttrs, flowToAttrs, labelsToWords, wordsToLabels } from '../../../../src/core/conntrack/attrs-map.js'
import { IPS, invertTuple, type Flow } from '../../../../src/core/conntrack/flow.js'
import { loadCapture } from '../../codec/conntrackd-vectors.js'

function mustFlow (a: CtAttrs): Flow {
  const r = flowFromAttrs(a)
  if (!r.ok) throw new Error(`flowFromAttrs: ${r.code}`)
  return r.flow
}

function capturedCt (name: 'udp-unicast' | 'mcast'): Array<{ src: string, event: string, attrs: CtAttrs }> {
  const out: Array<{ src: string, event: string, attrs: CtAttrs }> = []
  for (const d of loadCapture(name).datagrams) {
    const { messages, malformed } = decodeDatagram(Buffer.from(d.hex, 'hex'))
    if (malformed.length > 0) throw new Error(`capture datagram ${d.index} is malformed`)
    for (const m of messages) if (m.kind === 'ct') out.push({ src: d.src, event: m.event, attrs: m.attrs })
  }
  return out
}

t.test('captured vectors: every NEW/UPD/DEL → Flow → CtAttrs gives back the same attributes', async t => {
  // udp-a.conf has TCPWindowTracking on (the WSCALE attributes are in its messages), mcast-*.conf do not.
  for (const [name, tcpWindowTracking] of [['udp-unicast', true], ['mcast', false]] as const) {
    const msgs = capturedCt(name)
    t.ok(msgs.length > 20, `${name}: ${msgs.length} conntrack messages`)
    const byEvent: Record<string, number> = {}
    for (const [i, m] of msgs.entries()) {
      byEvent[m.event] = (byEvent[m.event] ?? 0) + 1
      const back = flowToAttrs(mustFlow(m.attrs), { tcpWindowTracking })
      t.same(back, m.attrs, `${name} #${i} ${m.event} ${m.attrs.src}:${m.attrs.sport ?? m.attrs.icmpId} → ${m.attrs.dst}`)
    }
    t.ok((byEvent.new ?? 0) > 0 && (byEvent.del ?? 0) > 0, `${name}: has NEW and DEL (${JSON.stringify(byEvent)})`)
  }
})

t.test('captured vectors: the rebuilt reply tuple is the kernel\'s (conntrack -E in the capture README)', async t => {
  const msgs = capturedCt('udp-unicast').map(m => mustFlow(m.attrs))
  const find = (sport: number): Flow => {
    const f = msgs.find(x => x.orig.sport === sport)
    if (f === undefined) throw new Error(`no flow with sport ${sport}`)
    return f
  }
  // SNAT --to-source 10.98.2.1:1025
  t.same(find(33333).reply, { src: '10.98.2.2', dst: '10.98.2.1', l4proto: 6, sport: 80, dport: 1025 })
  t.same(find(33333).nat, { src: { ip: '10.98.2.1', port: 1025 } })
  // DNAT 10.98.1.1:8080 → 10.98.2.2:80
  t.same(find(33334).reply, { src: '10.98.2.2', dst: '10.98.1.2', l4proto: 6, sport: 80, dport: 33334 })
  t.same(find(33334).nat, { dst: { ip: '10.98.2.2', port: 80 } })
  // IPv6 SNAT --to-source [fd98:2::1]:2000
  t.same(find(33340).reply, { src: 'fd98:2::2', dst: 'fd98:2::1', l4proto: 17, sport: 5353, dport: 2000 })
  t.equal(find(33340).family, 'ipv6')
  // zone 7, mark 0x2a, helper ftp, label 3
  t.equal(find(33337).zone, 7)
  t.equal(find(33336).mark, 42)
  t.equal(find(33339).helper, 'ftp')
  t.same(Array.from(find(33335).labels ?? []), [8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'label 3 = bit 3 of byte 0 (native LE)')
  // ICMP echo, masqueraded: the SPAT/DPAT zeros of the quirk are not taken as ports
  const icmp = msgs.find(x => x.orig.l4proto === 1)
  t.same(icmp?.reply, { src: '10.98.2.2', dst: '10.98.2.1', l4proto: 1, icmpType: 0, icmpCode: 0, icmpId: icmp?.orig.icmpId })
  t.same(icmp?.nat, { src: { ip: '10.98.2.1' } })
})

t.test('flowToAttrs: §1.7 rules on hand-made flows', async t => {
  const tcpOrig = { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6, sport: 1000, dport: 80 }
  const base: Flow = { family: 'ipv4', orig: tcpOrig, reply: invertTuple(tcpOrig) }
  t.same(flowToAttrs(base), { src: '10.0.0.1', dst: '10.0.0.2', status: 0, l4proto: 6, sport: 1000, dport: 80 }, 'status always (0 when unknown), ports always')
  t.same(flowToAttrs({ ...base, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8, flagsOrig: { flags: 1, mask: 1 } }, id: 5, use: 2, counters: { orig: { packets: 1, bytes: 2 } } }),
    { src: '10.0.0.1', dst: '10.0.0.2', status: 0, l4proto: 6, sport: 1000, dport: 80, tcpState: 3 }, 'no wscale without window tracking; never id/use/counters/flags')
  t.same(flowToAttrs({ ...base, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 8 } }, { tcpWindowTracking: true }).tcpWscaleOrig, 7)
  t.equal(flowToAttrs({ ...base, tcp: { wscaleOrig: 7 } }, { tcpWindowTracking: true }).tcpWscaleOrig, undefined, 'wscale only with a known state')

  // NAT bits without a real difference (null binding): nothing
  t.same(flowToAttrs({ ...base, status: IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE }).snatAddr, undefined)
  // a difference without the bit: nothing either
  const snatted = { ...base, reply: { ...base.reply, dst: '192.0.2.1', dport: 2000 } }
  t.same(flowToAttrs(snatted).snatAddr, undefined)
  const withBit = flowToAttrs({ ...snatted, status: IPS.SRC_NAT_DONE })
  t.same([withBit.snatAddr, withBit.spatPort, withBit.dnatAddr, withBit.dpatPort], ['192.0.2.1', 2000, undefined, undefined])

  // SCTP / DCCP
  const sctpOrig = { ...tcpOrig, l4proto: 132 }
  t.same(flowToAttrs({ family: 'ipv4', orig: sctpOrig, reply: invertTuple(sctpOrig), sctp: { state: 4, vtagOrig: 1, vtagReply: 2 } }),
    { src: '10.0.0.1', dst: '10.0.0.2', status: 0, l4proto: 132, sport: 1000, dport: 80, sctpState: 4, sctpVtagOrig: 1, sctpVtagRepl: 2 })
  const dccpOrig = { ...tcpOrig, l4proto: 33 }
  t.same(flowToAttrs({ family: 'ipv4', orig: dccpOrig, reply: invertTuple(dccpOrig), dccp: { state: 3, role: 1, handshakeSeq: 9 } }),
    { src: '10.0.0.1', dst: '10.0.0.2', status: 0, l4proto: 33, sport: 1000, dport: 80, dccpState: 3, dccpRole: 1 })
  // UDPlite / GRE: no NTA_PORT
  for (const p of [136, 47]) {
    const o = { ...tcpOrig, l4proto: p }
    t.same(flowToAttrs({ family: 'ipv4', orig: o, reply: invertTuple(o) }), { src: '10.0.0.1', dst: '10.0.0.2', status: 0, l4proto: p }, `proto ${p}: no ports`)
  }
  // ICMP quirk: SPAT 0 with SRC_NAT_DONE and id ≠ 0; DPAT 0 with DST_NAT_DONE and type/code ≠ 0
  const icmpOrig = { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 }
  const icmp: Flow = { family: 'ipv4', orig: icmpOrig, reply: invertTuple(icmpOrig), status: IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE }
  t.same(flowToAttrs(icmp), { src: '10.0.0.1', dst: '10.0.0.2', status: 0x180, l4proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77, spatPort: 0, dpatPort: 0 })
  const id0 = flowToAttrs({ ...icmp, orig: { ...icmpOrig, icmpId: 0, icmpType: 0 } })
  t.same([id0.spatPort, id0.dpatPort], [undefined, undefined], 'zero id / zero type+code: the union comparison is equal')

  // master, seq-adjust (only both directions), helper, labels (only with a bit set), synproxy, zone, mark, timeout
  const rich = flowToAttrs({
    ...base,
    timeout: 30,
    mark: 0,
    master: { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6, sport: 5000, dport: 21 },
    seqAdj: { orig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 }, reply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 } },
    helper: 'ftp',
    labels: new Uint8Array(16),
    synproxy: { isn: 1, its: 2, tsoff: 3 },
    zone: 0
  })
  t.same(rich, {
    src: '10.0.0.1', dst: '10.0.0.2', status: 0, l4proto: 6, sport: 1000, dport: 80, timeout: 30, mark: 0,
    masterSrc: '10.0.0.1', masterDst: '10.0.0.2', masterL4proto: 6, masterSport: 5000, masterDport: 21,
    natSeqAdj: { origCorrectionPos: 1, origOffsetBefore: 2, origOffsetAfter: 3, replCorrectionPos: 4, replOffsetBefore: 5, replOffsetAfter: 6 },
    helper: 'ftp', synproxy: { isn: 1, its: 2, tsoff: 3 }, zone: 0
  }, 'mark 0 is sent (it is set); an all-zero label bitmap is not')
  t.equal(flowToAttrs({ ...base, seqAdj: { orig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 } } }).natSeqAdj, undefined)
})

t.test('flowFromAttrs: round trip of hand-made attribute sets, and the refusals', async t => {
  const sets: CtAttrs[] = [
    { src: '10.0.0.1', dst: '10.0.0.2', status: 0x18e, l4proto: 132, sport: 1, dport: 2, sctpState: 4, sctpVtagOrig: 0xdeadbeef, sctpVtagRepl: 1, timeout: 10, mark: 3, dnatAddr: '10.9.9.9', dpatPort: 8080 },
    { src: '10.0.0.1', dst: '10.0.0.2', status: 0x0e, l4proto: 33, sport: 1, dport: 2, dccpState: 3, dccpRole: 0, timeout: 10 },
    { src: '2001:db8::1', dst: '2001:db8::2', status: 0x8e, l4proto: 6, sport: 1, dport: 2, tcpState: 3, timeout: 10, snatAddr: '2001:db8::99', spatPort: 1024, labels: [0, 0x80000000, 0, 0], zone: 3 },
    { src: '10.0.0.1', dst: '10.0.0.2', status: 0x0e, l4proto: 6, sport: 1, dport: 2, tcpState: 3, timeout: 10, masterSrc: '10.0.0.1', masterDst: '10.0.0.2', masterL4proto: 6, masterSport: 3, masterDport: 21, helper: 'ftp',
      natSeqAdj: { origCorrectionPos: 1, origOffsetBefore: 2, origOffsetAfter: 3, replCorrectionPos: 4, replOffsetBefore: 5, replOffsetAfter: 6 }, synproxy: { its: 1, isn: 2, tsoff: 3 } },
    { src: '2001:db8::1', dst: '2001:db8::2', status: 0x188, l4proto: 58, icmpType: 128, icmpCode: 0, icmpId: 5, timeout: 30, spatPort: 0, dpatPort: 0 }
  ]
  for (const [i, a] of sets.entries()) t.same(flowToAttrs(mustFlow(a)), a, `set ${i}`)
  t.same(wordsToLabels(labelsToWords(Uint8Array.of(1, 2, 3, 4, 0xff, 0, 0, 0x80))), Uint8Array.of(1, 2, 3, 4, 0xff, 0, 0, 0x80))
  t.same(labelsToWords(Uint8Array.of(0, 0, 0, 0x80)), [0x80000000])

  t.same(flowFromAttrs({ dst: '10.0.0.2', l4proto: 6 }), { ok: false, code: 'CTMAP_NO_ADDRESS' })
  t.same(flowFromAttrs({ src: '10.0.0.1', dst: '10.0.0.2' }), { ok: false, code: 'CTMAP_NO_L4PROTO' })
  t.same(flowFromAttrs({ src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6, snatAddr: '2001:db8::1' }), { ok: false, code: 'CTMAP_BAD_ADDRESS' })
  t.same(flowFromAttrs({ src: 'x', dst: '10.0.0.2', l4proto: 6 }), { ok: false, code: 'CTMAP_BAD_ADDRESS' })
})

t.test('flowFromAttrs: EXPECTED and other status bits are kept as received (commit sanitises)', async t => {
  const f = mustFlow({ src: '10.0.0.1', dst: '10.0.0.2', l4proto: 6, sport: 1, dport: 2, status: IPS.EXPECTED | IPS.CONFIRMED })
  t.equal(f.status, IPS.EXPECTED | IPS.CONFIRMED)
  t.same(f.reply, { src: '10.0.0.2', dst: '10.0.0.1', l4proto: 6, sport: 2, dport: 1 })
})
