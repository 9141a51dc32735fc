/**
 * A peer's conntrackd NEW / UPD / DEL attribute area packed straight into a cache record
 * (flow-record.ts): the record packKey + packBody would make of flowFromAttrs(readCtAttrs(area))
 * (attrs-map.ts), without the CtAttrs object, the Flow and their address strings. The receiver's
 * hot path: every entry the peer replicates lands in the external cache this way.
 *
 * What flowFromAttrs does, on bytes: the original tuple from NTA_IPV4/6, L4PROTO, PORT (or the ICMP
 * type/code/id for ICMP); the reply tuple is the inverted original (ICMP requests become replies)
 * with SNAT/DNAT address and, for protocols with ports, SPAT/DPAT applied; status, timeout, mark,
 * zone, TCP state and window scales as received. Duplicated attributes: the last one counts, as in
 * readCtAttrs.
 *
 * Declined (the caller takes the Flow path, which keeps every error code and counter as it was):
 * anything flowFromAttrs refuses (no address, no protocol, NAT addresses of the other family), what a
 * record keeps as side data (SCTP/DCCP state, master, seq-adjust, helper, labels, a non-zero synproxy),
 * ports on an ICMP flow (pack refuses it), and any attribute whose size is not the one expected.
 */
import { CT_ATTR_RULES, NTA, NTA_HDR_SIZE } from '../../codec/conntrackd-attrs.js'
import { icmpReplyType } from '../../codec/flow.js'
import { hasPorts, isIcmp } from './flow.js'
import { K_FLAGS, K_L4, K_OZONE, K_PROTO, K_SRC, K_ZONE, P0, T_A, T_B, T_C, type RecordLayout } from './flow-record.js'
import { LAYOUT_V4, LAYOUT_V6 } from './record-batch.js'

/** The attributes a record takes (their sizes are conntrackd's, CT_ATTR_RULES); any other one present declines the message. */
const TAKEN: readonly number[] = [
  NTA.IPV4, NTA.IPV6, NTA.L4PROTO, NTA.PORT, NTA.TCP_STATE, NTA.STATUS, NTA.TIMEOUT, NTA.MARK, NTA.SNAT_IPV4, NTA.DNAT_IPV4,
  NTA.SPAT_PORT, NTA.DPAT_PORT, NTA.ICMP_TYPE, NTA.ICMP_CODE, NTA.ICMP_ID, NTA.TCP_WSCALE_ORIG, NTA.TCP_WSCALE_REPL,
  NTA.SNAT_IPV6, NTA.DNAT_IPV6, NTA.SYNPROXY, NTA.ZONE
]

/** Payload size per attribute id: -1 for those not taken. */
const SIZE: Int8Array = (() => {
  const s = new Int8Array(CT_ATTR_RULES.length).fill(-1)
  for (const id of TAKEN) {
    const rule = CT_ATTR_RULES[id]
    if (rule !== undefined && 'size' in rule) s[id] = rule.size
  }
  return s
})()

/**
 * Packs peer attribute areas into its own two scratch records (one per family). Owned by one engine:
 * no state survives a call but the scratch.
 */
export class PeerRecordPacker {
  /** Where the last packed record is (per family). */
  readonly v4 = new Uint8Array(LAYOUT_V4.size)
  readonly v6 = new Uint8Array(LAYOUT_V6.size)
  readonly dv4 = new DataView(this.v4.buffer)
  readonly dv6 = new DataView(this.v6.buffer)
  /** Offset of the last occurrence of each attribute in the area being packed (-1: absent). */
  private readonly at = new Int32Array(SIZE.length)

  /** Pack b[start, end); the layout of the record written (read it from v4/v6), or null when declined. */
  pack (b: Uint8Array, start: number, end: number): RecordLayout | null {
    const at = this.at
    at.fill(-1)
    let addr = -1 // NTA_IPV4 or NTA_IPV6, whichever came last
    let snat = -1
    let dnat = -1
    for (let off = start; end - off > NTA_HDR_SIZE;) {
      const len = ((b[off] as number) << 8) | (b[off + 1] as number)
      const id = ((b[off + 2] as number) << 8) | (b[off + 3] as number)
      if (len < NTA_HDR_SIZE || len > end - off || id >= SIZE.length) return null
      const size = SIZE[id] as number
      if (size < 0 || len !== NTA_HDR_SIZE + size) return null
      at[id] = off + NTA_HDR_SIZE
      if (id === NTA.IPV4 || id === NTA.IPV6) addr = id
      else if (id === NTA.SNAT_IPV4 || id === NTA.SNAT_IPV6) snat = id
      else if (id === NTA.DNAT_IPV4 || id === NTA.DNAT_IPV6) dnat = id
      off += (len + 3) & ~3
    }
    if (addr < 0 || (at[NTA.L4PROTO] as number) < 0) return null
    const v6 = addr === NTA.IPV6
    if ((snat >= 0 && (snat === NTA.SNAT_IPV6) !== v6) || (dnat >= 0 && (dnat === NTA.DNAT_IPV6) !== v6)) return null
    const sp = at[NTA.SYNPROXY] as number
    if (sp >= 0) for (let i = 0; i < 12; i++) if (b[sp + i] !== 0) return null
    const lay = v6 ? LAYOUT_V6 : LAYOUT_V4
    const u8 = v6 ? this.v6 : this.v4
    const dv = v6 ? this.dv6 : this.dv4
    const L = lay.addrLen
    u8.fill(0)
    const proto = b[at[NTA.L4PROTO] as number] as number
    const icmp = isIcmp(proto)
    const port = at[NTA.PORT] as number
    if (icmp && port >= 0) return null // ports and ICMP fields in one tuple: pack refuses it
    // original tuple (key) and the inverted reply
    const a = at[addr] as number
    for (let i = 0; i < 2 * L; i++) u8[K_SRC + i] = b[a + i] as number
    for (let i = 0; i < L; i++) { u8[lay.rSrc + i] = b[a + L + i] as number; u8[lay.rDst + i] = b[a + i] as number }
    u8[K_PROTO] = proto
    let kf = 0
    let rf = 0
    if (icmp) {
      const ty = at[NTA.ICMP_TYPE] as number
      const co = at[NTA.ICMP_CODE] as number
      const id = at[NTA.ICMP_ID] as number
      if (ty >= 0) { const v = b[ty] as number; dv.setUint16(K_L4, v); dv.setUint16(lay.rL4, icmpReplyType(proto, v)); kf |= T_A }
      if (co >= 0) { const v = b[co] as number; dv.setUint16(K_L4 + 2, v); dv.setUint16(lay.rL4 + 2, v); kf |= T_B }
      if (id >= 0) { const v = (b[id] as number) | ((b[id + 1] as number) << 8); dv.setUint16(K_L4 + 4, v); dv.setUint16(lay.rL4 + 4, v); kf |= T_C } // HOST-LE
      rf = kf
    } else if (port >= 0) {
      const sport = ((b[port] as number) << 8) | (b[port + 1] as number)
      const dport = ((b[port + 2] as number) << 8) | (b[port + 3] as number)
      dv.setUint16(K_L4, sport)
      dv.setUint16(K_L4 + 2, dport)
      dv.setUint16(lay.rL4, dport)
      dv.setUint16(lay.rL4 + 2, sport)
      kf = T_A | T_B
      rf = T_A | T_B
    }
    u8[K_FLAGS] = kf
    dv.setUint16(K_OZONE, 0)
    let p = 0
    const zone = at[NTA.ZONE] as number
    if (zone >= 0) { dv.setUint16(K_ZONE, ((b[zone] as number) << 8) | (b[zone + 1] as number)); p |= P0.ZONE }
    // NAT (flowFromAttrs): SPAT/DPAT only for protocols with ports (for ICMP they are the quirk's zeros)
    const portNat = hasPorts(proto)
    const spat = portNat ? at[NTA.SPAT_PORT] as number : -1
    const dpat = portNat ? at[NTA.DPAT_PORT] as number : -1
    if (snat >= 0 || spat >= 0) {
      p |= P0.NAT | P0.NAT_SRC
      if (snat >= 0) {
        const s = at[snat] as number
        for (let i = 0; i < L; i++) { u8[lay.rDst + i] = b[s + i] as number; u8[lay.natSrcIp + i] = b[s + i] as number }
        p |= P0.NAT_SRC_IP
      }
      if (spat >= 0) {
        const v = (b[spat] as number) | ((b[spat + 1] as number) << 8) // HOST-LE
        dv.setUint16(lay.rL4 + 2, v)
        dv.setUint16(lay.natSrcPort, v)
        rf |= T_B
        p |= P0.NAT_SRC_PORT
      }
    }
    if (dnat >= 0 || dpat >= 0) {
      p |= P0.NAT | P0.NAT_DST
      if (dnat >= 0) {
        const s = at[dnat] as number
        for (let i = 0; i < L; i++) { u8[lay.rSrc + i] = b[s + i] as number; u8[lay.natDstIp + i] = b[s + i] as number }
        p |= P0.NAT_DST_IP
      }
      if (dpat >= 0) {
        const v = (b[dpat] as number) | ((b[dpat + 1] as number) << 8)
        dv.setUint16(lay.rL4, v)
        dv.setUint16(lay.natDstPort, v)
        rf |= T_A
        p |= P0.NAT_DST_PORT
      }
    }
    u8[lay.rFlags] = rf
    const u32 = (id: number, bit: number, to: number): void => {
      const o = at[id] as number
      if (o < 0) return
      dv.setUint32(to, (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0)
      p |= bit
    }
    u32(NTA.STATUS, P0.STATUS, lay.status)
    u32(NTA.TIMEOUT, P0.TIMEOUT, lay.timeout)
    u32(NTA.MARK, P0.MARK, lay.mark)
    const ts = at[NTA.TCP_STATE] as number
    const wo = at[NTA.TCP_WSCALE_ORIG] as number
    const wr = at[NTA.TCP_WSCALE_REPL] as number
    if (ts >= 0 || wo >= 0 || wr >= 0) {
      p |= P0.TCP
      if (ts >= 0) { u8[lay.tcp] = b[ts] as number; p |= P0.TCP_STATE }
      if (wo >= 0) { u8[lay.tcp + 1] = b[wo] as number; p |= P0.TCP_WSO }
      if (wr >= 0) { u8[lay.tcp + 2] = b[wr] as number; p |= P0.TCP_WSR }
    }
    if (sp >= 0) p |= P0.SYNPROXY_ZERO
    dv.setUint32(lay.p0, p)
    return lay
  }
}
