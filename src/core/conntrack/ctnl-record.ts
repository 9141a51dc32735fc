/**
 * A ctnetlink conntrack message straight into a packed record (flow-record.ts), without a Flow.
 *
 * Why: a resync dump of 100k entries decoded into Flows (four address strings, two tuples and a
 * protoinfo object each) only for the cache to parse the strings back into bytes was most of a
 * dump's JS time and all of its garbage; the scavenges it caused made a dump of 100k take 300 to
 * 540 ms where `conntrack -L` takes 300. Here the attributes are read in place and written into
 * the record's fields; nothing is allocated per entry.
 *
 * The byte path takes the entries every firewall has (TCP/UDP/ICMP/GRE..., status, timeout, mark,
 * zone, id, TCP protoinfo, derived NAT, a zero synproxy) and declines the rest by returning false:
 * SCTP/DCCP protoinfo, helpers, labels, expectations' master tuples, seqadj, explicit NAT ranges,
 * a non-zero synproxy, AF_UNSPEC messages, and anything the Flow decoder (codec/ctnetlink.ts
 * decodeFlowAttrs) would refuse or decode with fields of the other kind (ports on ICMP). The caller
 * decodes a declined message with decodeFlowAttrs, which keeps every field and reports every error
 * with its code: so this path never accepts what the Flow decoder refuses, and for what it accepts
 * it writes what packKey + packBody write for the decoded Flow with use and counters stripped (the
 * kernel's volatile fields, never cached; cache.ts stripVolatile). test/unit/core/ctnl-record.test.ts
 * checks both over every captured kernel message and mutations of them.
 */
import { AF } from '../../codec/netlink.js'
import { checkAttrs, nlAlign, NLA_HDRLEN, NLA_TYPE_MASK } from '../../codec/nlattr.js'
import { CTA, CTA_COUNTERS, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_SYNPROXY, CTA_TUPLE } from '../../codec/ctnetlink-attrs.js'
import { hasPorts, IPS, isIcmp } from './flow.js'
import { K_FLAGS, K_L4, K_OZONE, K_PROTO, K_SRC, K_ZONE, P0, T_A, T_B, T_C, T_ZONE, sameBytes, type RecordLayout } from './flow-record.js'

const attrLen = (b: Uint8Array, o: number): number => (b[o] as number) | ((b[o + 1] as number) << 8)
const attrType = (b: Uint8Array, o: number): number => ((b[o + 2] as number) | ((b[o + 3] as number) << 8)) & NLA_TYPE_MASK
const be16 = (b: Uint8Array, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number)
const be32 = (b: Uint8Array, o: number): number =>
  (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0

const TCP_BITS = P0.TCP | P0.TCP_STATE | P0.TCP_WSO | P0.TCP_WSR | P0.TCP_FO | P0.TCP_FR

/** The record layout of the message's family, or null (AF_UNSPEC, other families: the Flow decoder's business). */
export function layoutFor (nfFamily: number, v4: RecordLayout, v6: RecordLayout): RecordLayout | null {
  return nfFamily === AF.INET ? v4 : nfFamily === AF.INET6 ? v6 : null
}

/**
 * Pack the attributes in b[start, end) (after the nfgenmsg) of a CT_NEW / CT_DELETE message of
 * the family of `lay` into the record at u8/dv[off]: key, body and P0 bits; the bookkeeping fields
 * (hash, P1, since, lastUpdate) are the caller's. False when the byte path declines the message
 * (module comment); the record is then partly written and must be ignored.
 */
export function packCtnlRecord (b: Uint8Array, start: number, end: number, lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number): boolean {
  try {
    return packAttrs(b, start, end, lay, u8, dv, off)
  } catch {
    return false // a framing error (checkAttrs): the Flow decoder reports it
  }
}

function packAttrs (b: Uint8Array, start: number, end: number, lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number): boolean {
  let p0 = 0
  let origProto = -1
  let replyProto = -1
  dv.setUint16(off + K_ZONE, 0)
  checkAttrs(b, start, end)
  for (let o = start; o < end; o += nlAlign(attrLen(b, o))) {
    const p = o + NLA_HDRLEN
    const n = attrLen(b, o) - NLA_HDRLEN
    switch (attrType(b, o)) {
      case CTA.TUPLE_ORIG:
        origProto = packTuple(b, p, p + n, lay.addrLen, u8, dv, off + K_FLAGS, off + K_L4, off + K_OZONE, off + K_SRC)
        if (origProto < 0) return false
        u8[off + K_PROTO] = origProto
        break
      case CTA.TUPLE_REPLY:
        replyProto = packTuple(b, p, p + n, lay.addrLen, u8, dv, off + lay.rFlags, off + lay.rL4, off + lay.rZone, off + lay.rSrc)
        if (replyProto < 0) return false
        break
      case CTA.STATUS: if (n < 4) return false; dv.setUint32(off + lay.status, be32(b, p)); p0 |= P0.STATUS; break
      case CTA.TIMEOUT: if (n < 4) return false; dv.setUint32(off + lay.timeout, be32(b, p)); p0 |= P0.TIMEOUT; break
      case CTA.MARK: if (n < 4) return false; dv.setUint32(off + lay.mark, be32(b, p)); p0 |= P0.MARK; break
      case CTA.ID: if (n < 4) return false; dv.setUint32(off + lay.id, be32(b, p)); p0 |= P0.ID; break
      case CTA.USE: if (n < 4) return false; break // volatile: checked, not kept
      case CTA.ZONE: if (n < 2) return false; dv.setUint16(off + K_ZONE, be16(b, p)); p0 |= P0.ZONE; break
      case CTA.PROTOINFO: {
        const r = packProtoinfo(b, p, p + n, u8, off + lay.tcp, p0)
        if (r < 0) return false
        p0 = r
        break
      }
      case CTA.COUNTERS_ORIG:
      case CTA.COUNTERS_REPLY:
        if (!countersValid(b, p, p + n)) return false // volatile: checked, not kept
        break
      case CTA.SYNPROXY:
        if (!synproxyZero(b, p, p + n)) return false
        p0 |= P0.SYNPROXY_ZERO
        break
      // rare fields kept beside the record (flow-record.ts EXTRA_KEYS) or only in requests
      case CTA.HELP: case CTA.NAT_SRC: case CTA.NAT_DST: case CTA.TUPLE_MASTER:
      case CTA.SEQ_ADJ_ORIG: case CTA.SEQ_ADJ_REPLY: case CTA.LABELS:
        return false
      // SECMARK, SECCTX, TIMESTAMP, the masks, FILTER, TIMESTAMP_EVENT and unknown ids: not kept, as the Flow decoder
    }
  }
  if (origProto < 0 || replyProto < 0 || replyProto !== origProto) return false
  if ((p0 & P0.STATUS) !== 0) p0 = deriveNatBits(lay, u8, dv, off, dv.getUint32(off + lay.status), origProto, p0)
  dv.setUint32(off + lay.p0, p0)
  return true
}

/**
 * One tuple nest into the record: flags byte, l4 fields (u16 × 3) and zone at their offsets, the
 * source address at `srcAt` and the destination right after it (the key region and the reply
 * fields both lay them out so). Returns the protocol number, or -1 to decline (incomplete, a field
 * too short, addresses of another or of both families, l4 fields of the other kind).
 */
function packTuple (b: Uint8Array, v: number, end: number, addrLen: number, u8: Uint8Array, dv: DataView,
  flagsAt: number, l4At: number, zoneAt: number, srcAt: number): number {
  let src = -1
  let dst = -1
  let v4 = false
  let v6 = false
  let proto = -1
  let sport = -1
  let dport = -1
  let icmpType = -1
  let icmpCode = -1
  let icmpId = -1
  let zone = -1
  checkAttrs(b, v, end)
  for (let o = v; o < end; o += nlAlign(attrLen(b, o))) {
    const p = o + NLA_HDRLEN
    const plen = attrLen(b, o) - NLA_HDRLEN
    switch (attrType(b, o)) {
      case CTA_TUPLE.IP:
        checkAttrs(b, p, p + plen)
        for (let q = p; q < p + plen; q += nlAlign(attrLen(b, q))) {
          const x = q + NLA_HDRLEN
          const n = attrLen(b, q) - NLA_HDRLEN
          switch (attrType(b, q)) {
            case CTA_IP.V4_SRC: if (n < 4) return -1; src = x; v4 = true; break
            case CTA_IP.V4_DST: if (n < 4) return -1; dst = x; v4 = true; break
            case CTA_IP.V6_SRC: if (n < 16) return -1; src = x; v6 = true; break
            case CTA_IP.V6_DST: if (n < 16) return -1; dst = x; v6 = true; break
          }
        }
        break
      case CTA_TUPLE.PROTO:
        checkAttrs(b, p, p + plen)
        for (let q = p; q < p + plen; q += nlAlign(attrLen(b, q))) {
          const x = q + NLA_HDRLEN
          const n = attrLen(b, q) - NLA_HDRLEN
          switch (attrType(b, q)) {
            case CTA_PROTO.NUM: if (n < 1) return -1; proto = b[x] as number; break
            case CTA_PROTO.SRC_PORT: if (n < 2) return -1; sport = be16(b, x); break
            case CTA_PROTO.DST_PORT: if (n < 2) return -1; dport = be16(b, x); break
            case CTA_PROTO.ICMP_ID: case CTA_PROTO.ICMPV6_ID: if (n < 2) return -1; icmpId = be16(b, x); break
            case CTA_PROTO.ICMP_TYPE: case CTA_PROTO.ICMPV6_TYPE: if (n < 1) return -1; icmpType = b[x] as number; break
            case CTA_PROTO.ICMP_CODE: case CTA_PROTO.ICMPV6_CODE: if (n < 1) return -1; icmpCode = b[x] as number; break
          }
        }
        break
      case CTA_TUPLE.ZONE: if (plen < 2) return -1; zone = be16(b, p); break
    }
  }
  if (src < 0 || dst < 0 || proto < 0 || (v4 && v6) || (addrLen === 4 ? v6 : v4)) return -1
  const icmp = isIcmp(proto)
  if (icmp ? (sport >= 0 || dport >= 0) : (icmpType >= 0 || icmpCode >= 0 || icmpId >= 0)) return -1
  const a = icmp ? icmpType : sport
  const c = icmp ? icmpCode : dport
  let flags = 0
  dv.setUint32(l4At, 0)
  dv.setUint16(l4At + 4, 0)
  if (a >= 0) { dv.setUint16(l4At, a); flags |= T_A }
  if (c >= 0) { dv.setUint16(l4At + 2, c); flags |= T_B }
  if (icmp && icmpId >= 0) { dv.setUint16(l4At + 4, icmpId); flags |= T_C }
  dv.setUint16(zoneAt, zone >= 0 ? zone : 0)
  if (zone >= 0) flags |= T_ZONE
  u8[flagsAt] = flags
  for (let i = 0; i < addrLen; i++) {
    u8[srcAt + i] = b[src + i] as number
    u8[srcAt + addrLen + i] = b[dst + i] as number
  }
  return proto
}

/** CTA_PROTOINFO: TCP into the record (a TCP nest replaces the TCP fields, as the Flow decoder's); -1 declines. */
function packProtoinfo (b: Uint8Array, v: number, end: number, u8: Uint8Array, tcpAt: number, p0: number): number {
  checkAttrs(b, v, end)
  for (let o = v; o < end; o += nlAlign(attrLen(b, o))) {
    const p = o + NLA_HDRLEN
    const plen = attrLen(b, o) - NLA_HDRLEN
    const type = attrType(b, o)
    if (type === CTA_PROTOINFO.DCCP || type === CTA_PROTOINFO.SCTP) return -1 // side-table fields
    if (type !== CTA_PROTOINFO.TCP) continue
    p0 = (p0 & ~TCP_BITS) | P0.TCP
    checkAttrs(b, p, p + plen)
    for (let q = p; q < p + plen; q += nlAlign(attrLen(b, q))) {
      const x = q + NLA_HDRLEN
      const n = attrLen(b, q) - NLA_HDRLEN
      switch (attrType(b, q)) {
        case CTA_PROTOINFO_TCP.STATE: if (n < 1) return -1; u8[tcpAt] = b[x] as number; p0 |= P0.TCP_STATE; break
        case CTA_PROTOINFO_TCP.WSCALE_ORIGINAL: if (n < 1) return -1; u8[tcpAt + 1] = b[x] as number; p0 |= P0.TCP_WSO; break
        case CTA_PROTOINFO_TCP.WSCALE_REPLY: if (n < 1) return -1; u8[tcpAt + 2] = b[x] as number; p0 |= P0.TCP_WSR; break
        case CTA_PROTOINFO_TCP.FLAGS_ORIGINAL:
          if (n < 2) return -1
          u8[tcpAt + 3] = b[x] as number
          u8[tcpAt + 4] = b[x + 1] as number
          p0 |= P0.TCP_FO
          break
        case CTA_PROTOINFO_TCP.FLAGS_REPLY:
          if (n < 2) return -1
          u8[tcpAt + 5] = b[x] as number
          u8[tcpAt + 6] = b[x + 1] as number
          p0 |= P0.TCP_FR
          break
      }
    }
  }
  return p0
}

/** A counters nest the Flow decoder would accept (framing, known fields at their size). */
function countersValid (b: Uint8Array, v: number, end: number): boolean {
  checkAttrs(b, v, end)
  for (let o = v; o < end; o += nlAlign(attrLen(b, o))) {
    const n = attrLen(b, o) - NLA_HDRLEN
    switch (attrType(b, o)) {
      case CTA_COUNTERS.PACKETS: case CTA_COUNTERS.BYTES: if (n < 8) return false; break
      case CTA_COUNTERS.PACKETS32: case CTA_COUNTERS.BYTES32: if (n < 4) return false; break
    }
  }
  return true
}

/** A synproxy nest the Flow decoder accepts and whose fields are all zero (absent ones read as zero there too). */
function synproxyZero (b: Uint8Array, v: number, end: number): boolean {
  checkAttrs(b, v, end)
  for (let o = v; o < end; o += nlAlign(attrLen(b, o))) {
    const type = attrType(b, o)
    if (type !== CTA_SYNPROXY.ISN && type !== CTA_SYNPROXY.ITS && type !== CTA_SYNPROXY.TSOFF) continue
    if (attrLen(b, o) - NLA_HDRLEN < 4 || be32(b, o + NLA_HDRLEN) !== 0) return false
  }
  return true
}

/**
 * The NAT bindings the tuples show, as codec/flow.ts deriveNat (libnetfilter_conntrack's
 * NFCT_GOPT_IS_SNAT/DNAT/SPAT/DPAT), on the packed tuples: SNAT is reply.dst / reply.dport where
 * they differ from orig.src / orig.sport, DNAT reply.src / reply.sport against orig.dst / orig.dport.
 */
function deriveNatBits (lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number, status: number, proto: number, p0: number): number {
  if ((status & (IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)) === 0) return p0
  const L = lay.addrLen
  const kf = u8[off + K_FLAGS] as number
  const rf = u8[off + lay.rFlags] as number
  const ports = hasPorts(proto)
  const oSport = dv.getUint16(off + K_L4)
  const oDport = dv.getUint16(off + K_L4 + 2)
  const rSport = dv.getUint16(off + lay.rL4)
  const rDport = dv.getUint16(off + lay.rL4 + 2)
  if ((status & IPS.SRC_NAT_DONE) !== 0) {
    let bits = 0
    if (!sameBytes(u8, off + lay.rDst, off + K_SRC, L)) {
      u8.copyWithin(off + lay.natSrcIp, off + lay.rDst, off + lay.rDst + L)
      bits |= P0.NAT_SRC_IP
    }
    if (ports && (rf & T_B) !== 0 && ((kf & T_A) === 0 || rDport !== oSport)) {
      dv.setUint16(off + lay.natSrcPort, rDport)
      bits |= P0.NAT_SRC_PORT
    }
    if (bits !== 0) p0 |= P0.NAT | P0.NAT_SRC | bits
  }
  if ((status & IPS.DST_NAT_DONE) !== 0) {
    let bits = 0
    if (!sameBytes(u8, off + lay.rSrc, off + K_SRC + L, L)) {
      u8.copyWithin(off + lay.natDstIp, off + lay.rSrc, off + lay.rSrc + L)
      bits |= P0.NAT_DST_IP
    }
    if (ports && (rf & T_A) !== 0 && ((kf & T_B) === 0 || rSport !== oDport)) {
      dv.setUint16(off + lay.natDstPort, rSport)
      bits |= P0.NAT_DST_PORT
    }
    if (bits !== 0) p0 |= P0.NAT | P0.NAT_DST | bits
  }
  return p0
}
