// The receiver's byte path (peer-record.ts, cache.ts applyPeerRecord): a peer's attribute area packed
// straight into a record gives the record the Flow path makes of flowFromAttrs(readCtAttrs(area)), is
// never accepted where the Flow path refuses, and leaves the external cache, its counters and refusals
// as applyPeerUpdate does. Over every conntrack message of the conntrackd 1.4.7 captures, seeded random
// flows as senders encode them, and random attribute soups (duplicates, odd sizes, every attribute id).
import t from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { readCtAttrs, writeCtAttrs } from '../../../../src/codec/conntrackd-ct.js'
import { CT_ATTRS_MAX_BYTES } from '../../../../src/codec/conntrackd-attrs.js'
import { flowFromAttrs, flowToAttrs } from '../../../../src/core/conntrack/attrs-map.js'
import { applyPeerRecord, applyPeerUpdate, cacheSnapshot, cacheStats, createCache } from '../../../../src/core/conntrack/cache.js'
import { packBody, packKey, unpackFlow } from '../../../../src/core/conntrack/flow-record.js'
import { IPS, invertTuple, type Flow, type FlowTuple } from '../../../../src/core/conntrack/flow.js'
import { PeerRecordPacker } from '../../../../src/core/conntrack/peer-record.js'
import { LAYOUT_V4 } from '../../../../src/core/conntrack/record-batch.js'
import { mulberry32 } from '../../../helpers/prng.js'
import { loadCapture } from '../../codec/conntrackd-vectors.js'

const packer = new PeerRecordPacker()

/** Both paths on one area; fails on a disagreement; returns whether the byte path took it. */
function compare (area: Uint8Array, fail: (m: string) => void): boolean {
  let slow: Flow | null = null
  try {
    const m = flowFromAttrs(readCtAttrs(area, 0, area.length))
    slow = m.ok ? m.flow : null
  } catch { slow = null }
  const lay = packer.pack(area, 0, area.length)
  if (lay === null) return false
  if (slow === null) { fail(`byte path accepted what the Flow path refuses: ${Buffer.from(area).toString('hex')}`); return true }
  const u8 = lay === LAYOUT_V4 ? packer.v4 : packer.v6
  const dv = new DataView(u8.buffer)
  const ref = new Uint8Array(lay.size)
  const rdv = new DataView(ref.buffer)
  if (!packKey(lay, slow, ref, rdv, 0) || !packBody(lay, slow, ref, rdv, 0)) { fail(`byte path accepted a flow pack refuses: ${JSON.stringify(slow)}`); return true }
  if (!Buffer.from(u8.subarray(0, lay.keyLen)).equals(Buffer.from(ref.subarray(0, lay.keyLen)))) fail(`key bytes differ for ${JSON.stringify(slow)}`)
  const got = unpackFlow(lay, u8, dv, 0)
  if (!isDeepStrictEqual(got, slow)) fail(`record ${JSON.stringify(got)} vs Flow path ${JSON.stringify(slow)}`)
  return true
}

function randomFlow (rnd: () => number): Flow {
  const pick = (n: number): number => Math.floor(rnd() * n)
  const maybe = (p: number): boolean => rnd() < p
  const v6 = maybe(0.3)
  const addr = (): string => v6 ? `2001:db8::${(1 + pick(4)).toString(16)}` : `10.0.0.${1 + pick(4)}`
  const proto = [6, 6, 17, 1, v6 ? 58 : 1, 47, 132, 50][pick(8)] as number
  const icmp = proto === 1 || proto === 58
  const orig: FlowTuple = { src: addr(), dst: addr(), l4proto: proto }
  if (icmp) {
    if (maybe(0.9)) orig.icmpType = [0, 8, 3, 128, 129, 13][pick(6)] as number
    if (maybe(0.8)) orig.icmpCode = pick(2)
    if (maybe(0.8)) orig.icmpId = pick(3) * 1000
  } else if (proto !== 50) { orig.sport = 1000 + pick(3); orig.dport = 80 }
  const reply = invertTuple(orig)
  const f: Flow = { family: v6 ? 'ipv6' : 'ipv4', orig, reply }
  let status = IPS.CONFIRMED
  if (maybe(0.3)) { reply.dst = addr(); if (reply.dport !== undefined && maybe(0.5)) reply.dport = 40000; status |= IPS.SRC_NAT | IPS.SRC_NAT_DONE }
  if (maybe(0.3)) { reply.src = addr(); if (reply.sport !== undefined && maybe(0.5)) reply.sport = 8080; status |= IPS.DST_NAT | IPS.DST_NAT_DONE }
  if (maybe(0.9)) f.status = status
  if (maybe(0.8)) f.timeout = pick(500000)
  if (maybe(0.4)) f.mark = pick(3)
  if (maybe(0.1)) f.zone = pick(4)
  if (proto === 6 && maybe(0.8)) f.tcp = { state: pick(10) }
  if (maybe(0.3)) f.synproxy = { isn: 0, its: 0, tsoff: 0 }
  if (maybe(0.05)) f.helper = 'ftp'
  return f
}

const areaOf = (f: Flow, wscale = false): Uint8Array => {
  const out = new Uint8Array(CT_ATTRS_MAX_BYTES)
  return out.slice(0, writeCtAttrs(flowToAttrs(f, { tcpWindowTracking: wscale }), out, 0))
}

/** Attributes a record keeps as side data: their messages take the Flow path. */
const SIDE = ['HELPER_NAME', 'LABELS', 'MASTER_IPV4', 'MASTER_IPV6', 'NAT_SEQ_ADJ', 'SCTP_STATE', 'DCCP_STATE']

t.test('conntrackd 1.4.7 captures: every conntrack message packs as the Flow path maps it', async t => {
  let taken = 0
  let all = 0
  for (const name of ['udp-unicast', 'mcast'] as const) {
    for (const d of loadCapture(name).datagrams) {
      for (const m of d.messages) {
        if (m.type > 2 || m.version !== 1) continue
        const b = Buffer.from(m.hex, 'hex')
        all++
        if (compare(b.subarray(8, m.len), msg => { t.fail(`${name} #${d.index}: ${msg}`) })) taken++
        else if (!(m.attrs ?? []).some(a => SIDE.includes(a.name))) t.fail(`${name} #${d.index}: declined without side data: ${(m.attrs ?? []).map(a => a.name).join(',')}`)
      }
    }
  }
  t.ok(all > 100 && taken > all * 0.9, `${taken} of ${all} captured conntrack messages on the byte path (the others carry a helper or labels)`)
})

t.test('seeded random flows as senders encode them (with and without window scales)', async t => {
  const rnd = mulberry32(3)
  let taken = 0
  for (let i = 0; i < 30_000; i++) {
    if (compare(areaOf(randomFlow(rnd), rnd() < 0.2), msg => { t.fail(msg) })) taken++
  }
  t.ok(taken > 25_000, `${taken} of 30000 on the byte path`)
})

t.test('random attribute soups: duplicates, odd sizes, every id, truncation', async t => {
  const rnd = mulberry32(5)
  const sizes = [8, 32, 1, 4, 1, 4, 4, 4, 8, 32, 1, 4, 4, 4, 2, 2, 24, 1, 4, 4, 1, 1, 1, 1, 2, 1, 1, 6, 8, 16, 16, 12, 2]
  let taken = 0
  for (let i = 0; i < 60_000; i++) {
    const parts: number[] = []
    const base = areaOf(randomFlow(rnd))
    parts.push(...base)
    const extra = Math.floor(rnd() * 4)
    for (let k = 0; k < extra; k++) {
      const id = Math.floor(rnd() * 34)
      let size = sizes[id] ?? 4
      if (rnd() < 0.1) size += 1
      const len = 4 + size
      const attr = [len >> 8, len & 0xff, id >> 8, id & 0xff]
      for (let j = 0; j < size; j++) attr.push(rnd() < 0.5 ? 0 : Math.floor(rnd() * 256))
      while (attr.length % 4 !== 0) attr.push(0)
      if (rnd() < 0.5) parts.push(...attr); else parts.unshift(...attr)
    }
    let area = Uint8Array.from(parts)
    if (rnd() < 0.05) area = area.subarray(0, Math.floor(rnd() * area.length))
    if (compare(area, msg => { t.fail(msg) })) taken++
  }
  t.ok(taken > 10_000, `${taken} of 60000 soups on the byte path`)
})

t.test('external cache: applyPeerRecord ≡ applyPeerUpdate over seeded message streams', async t => {
  for (let seed = 1; seed <= 100; seed++) {
    const rnd = mulberry32(seed)
    const keys = Array.from({ length: 30 }, () => randomFlow(rnd))
    const slow = createCache('external')
    const fast = createCache('external')
    const refusals: [string | null, string | null][] = []
    for (let i = 0; i < 300; i++) {
      const base = keys[Math.floor(rnd() * keys.length)] as Flow
      const f: Flow = { ...base }
      if (f.tcp !== undefined) f.tcp = { state: Math.floor(rnd() * 10) }
      if (rnd() < 0.3) delete f.timeout
      const r = rnd()
      const event = r < 0.3 ? 'new' : r < 0.8 ? 'upd' : 'del'
      const area = areaOf(f)
      const m = flowFromAttrs(readCtAttrs(area, 0, area.length))
      if (!m.ok) continue
      const a = applyPeerUpdate(slow, { event, flow: m.flow }, i).refused
      const lay = packer.pack(area, 0, area.length)
      const b = lay === null ? applyPeerUpdate(fast, { event, flow: m.flow }, i).refused : applyPeerRecord(fast, lay, lay === LAYOUT_V4 ? packer.v4 : packer.v6, event, i)
      refusals.push([a, b])
    }
    if (!refusals.every(([a, b]) => a === b)) { t.fail(`seed ${seed}: refusals differ`); return }
    t.same(cacheSnapshot(fast), cacheSnapshot(slow), `seed ${seed}: same entries`)
    t.same(cacheStats(fast), cacheStats(slow), `seed ${seed}: same counters`)
  }
})
