// writeRecordAttrs (record-attrs.ts): the NTA_* attributes written straight from a packed record are
// byte for byte what the Flow path sends (writeCtAttrs(flowToAttrs(flow))), over seeded random flows
// of every shape a record holds (ICMP quirk, SNAT/DNAT with equal and different ports, absent fields,
// zones, GRE, protocols without ports) and over every captured kernel entry the byte path packs.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { writeCtAttrs } from '../../../../src/codec/conntrackd-ct.js'
import { CT_ATTRS_MAX_BYTES } from '../../../../src/codec/conntrackd-attrs.js'
import { splitMessages, NFGENMSG_LEN, NLMSG_HDRLEN } from '../../../../src/codec/netlink.js'
import { flowToAttrs } from '../../../../src/core/conntrack/attrs-map.js'
import { packCtnlRecord, layoutFor } from '../../../../src/core/conntrack/ctnl-record.js'
import { flowExtra, packBody, packKey, recordLayout, unpackFlow, type RecordLayout } from '../../../../src/core/conntrack/flow-record.js'
import { IPS, type Flow } from '../../../../src/core/conntrack/flow.js'
import { RECORD_ATTRS_MAX_BYTES, writeRecordAttrs } from '../../../../src/core/conntrack/record-attrs.js'
import { mulberry32 } from '../../../helpers/prng.js'
import { drawFlowBase } from '../../../helpers/random-flow.js'

const L4 = recordLayout('ipv4')
const L6 = recordLayout('ipv6')

function viaFlow (f: Flow): Buffer {
  const out = new Uint8Array(CT_ATTRS_MAX_BYTES)
  return Buffer.from(out.subarray(0, writeCtAttrs(flowToAttrs(f), out, 0)))
}

function viaRecord (lay: RecordLayout, rec: Uint8Array, dv: DataView, off: number): Buffer {
  const out = new Uint8Array(RECORD_ATTRS_MAX_BYTES + 5).fill(0xee) // stale bytes: padding must be written
  const end = writeRecordAttrs(lay, rec, dv, off, out, 5)
  return Buffer.from(out.subarray(5, end))
}

function randomFlow (rnd: () => number): Flow {
  const { flow: f, pick, maybe } = drawFlowBase(rnd, { protos: v6 => [6, 6, 17, 1, v6 ? 58 : 1, 47, 132, 33, 50, 136], icmpTypes: [0, 8, 3, 128, 129] })
  const proto = f.orig.l4proto
  const reply = f.reply
  if (maybe(0.9)) f.status = (IPS.CONFIRMED | (maybe(0.3) ? IPS.SRC_NAT | IPS.SRC_NAT_DONE : 0) | (maybe(0.3) ? IPS.DST_NAT | IPS.DST_NAT_DONE : 0)) >>> 0
  if (maybe(0.8)) f.timeout = pick(500000)
  if (maybe(0.4)) f.mark = pick(2) === 0 ? 0 : 0xffffffff
  if (maybe(0.1)) f.zone = pick(4)
  if (maybe(0.3)) f.id = pick(1 << 30)
  if (proto === 6 && maybe(0.8)) f.tcp = maybe(0.9) ? { state: pick(10), wscaleOrig: 7, wscaleReply: 7 } : {}
  if (maybe(0.3)) f.synproxy = { isn: 0, its: 0, tsoff: 0 }
  if (maybe(0.2)) f.nat = { src: { ip: reply.dst, port: reply.dport ?? 0 } }
  return f
}

t.test('random flows: record attributes ≡ flowToAttrs + writeCtAttrs', async t => {
  const rnd = mulberry32(9)
  const rec = new Uint8Array(L6.size + 16)
  const dv = new DataView(rec.buffer)
  let compared = 0
  let nat = 0
  let icmp = 0
  for (let i = 0; i < 50_000; i++) {
    const f = randomFlow(rnd)
    const lay = f.family === 'ipv4' ? L4 : L6
    const off = 1 + (i % 7) // any alignment
    rec.fill(0xaa)
    if (!packKey(lay, f, rec, dv, off) || !packBody(lay, f, rec, dv, off) || flowExtra(f) !== undefined) continue
    const got = viaRecord(lay, rec, dv, off)
    const want = viaFlow(unpackFlow(lay, rec, dv, off))
    if (!got.equals(want)) {
      t.fail(`flow ${JSON.stringify(f)}: ${got.toString('hex')} vs ${want.toString('hex')}`)
      return
    }
    // and the record is the flow: the Flow path on the original gives the same bytes
    if (!viaFlow(f).equals(want)) { t.fail(`pack round trip changed the attributes of ${JSON.stringify(f)}`); return }
    compared++
    if (((f.status ?? 0) & (IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)) !== 0) nat++
    if (f.orig.l4proto === 1 || f.orig.l4proto === 58) icmp++
  }
  t.ok(compared > 40_000, `${compared} flows compared`)
  t.ok(nat > 10_000 && icmp > 5_000, `${nat} with NAT done bits, ${icmp} ICMP`)
})

t.test('captured kernel entries: packed by the byte path, written as the Flow path writes them', async t => {
  const vecDir = new URL('../../../fixtures/vectors/ctnetlink/', import.meta.url)
  const rec = new Uint8Array(L6.size)
  const dv = new DataView(rec.buffer)
  let compared = 0
  for (const file of readdirSync(vecDir).filter(f => f.endsWith('.json')).sort()) {
    const v = JSON.parse(readFileSync(new URL(file, vecDir), 'utf8')) as { messages: Array<{ hex: string }> }
    for (const m of v.messages) {
      const buf = Buffer.from(m.hex, 'hex')
      let msgs
      try { msgs = splitMessages(buf) } catch { continue }
      for (const msg of msgs) {
        const type = msg.header.type
        if (type >> 8 !== 1 || ((type & 0xff) !== 0 && (type & 0xff) !== 2) || msg.header.len < NLMSG_HDRLEN + NFGENMSG_LEN) continue
        const nfFamily = buf[msg.offset + NLMSG_HDRLEN] as number
        const lay = layoutFor(nfFamily, L4, L6)
        if (lay === null || !packCtnlRecord(buf, msg.offset + NLMSG_HDRLEN + NFGENMSG_LEN, msg.offset + msg.header.len, lay, rec, dv, 0)) continue
        const got = viaRecord(lay, rec, dv, 0)
        const want = viaFlow(unpackFlow(lay, rec, dv, 0))
        if (!got.equals(want)) t.fail(`${file}: ${got.toString('hex')} vs ${want.toString('hex')}`)
        compared++
      }
    }
  }
  t.ok(compared >= 20, `${compared} captured entries compared`)
})
