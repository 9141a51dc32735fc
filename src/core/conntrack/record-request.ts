/**
 * The ctnetlink attributes of a commit's create request, written straight from a cached entry's
 * packed record (flow-record.ts): the same bytes as encoding `{ op: 'create', flow: commitFlow(entry) }`
 * (commit.ts, codec/ctnetlink-request.ts) for the entry unpacked, without the two Flows, the tuple
 * objects and the address strings in between.
 *
 * Why: a takeover commits the whole external cache before the VIPs go up (architecture decision 2).
 * Decoding each record into a Flow, building the commit Flow and parsing its address strings back
 * into bytes cost ~10 µs of CPU per entry (bench/event-path), a second per 100k entries on the new
 * master; the record already holds every byte the request carries.
 *
 * Only records without side data (P1.EXTRA / P1.WHOLE: master, helper, seqAdj, labels, SCTP/DCCP
 * protoinfo, a non-zero synproxy) are written here; the commit takes the Flow path for the others.
 * Attribute order is codec/ctnetlink-request.ts putFlow's (libnetfilter_conntrack's build_mnl.c).
 */
import { CTA, CTA_IP, CTA_NAT, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTONAT, CTA_SYNPROXY, CTA_TUPLE } from '../../codec/ctnetlink-attrs.js'
import { NLA_HDRLEN, writeAttrHeader, writeBe16Attr, writeBe32Attr, writeNestEnd, writeU8Attr, writeU8PairAttr } from '../../codec/nlattr.js'
import { requestStatus } from '../../codec/ctnetlink-request.js'
import { IPS, L4Proto, TCP_FLAG_BE_LIBERAL, hasPorts, icmpReplyType, isIcmp } from './flow.js'
import { K_FLAGS, K_L4, K_OZONE, K_PROTO, K_SRC, K_ZONE, P0, T_A, T_B, T_C, T_ZONE, copyBytes, sameBytes, type RecordLayout } from './flow-record.js'

/** Room writeCommitAttrs needs: its largest output (IPv6, zones, TCP, both NATs, synproxy) is 380 bytes. */
export const COMMIT_ATTRS_MAX_BYTES = 512

/** How the commit builds an entry's request (commit.ts CommitState options). */
export interface CommitAttrsOptions {
  /** conntrackd TCPWindowTracking; false = TCP flags BE_LIBERAL both ways. */
  readonly tcpWindowTracking: boolean
}

function addrAttr (out: Uint8Array, o: number, v6: boolean, v4Type: number, v6Type: number, u8: Uint8Array, from: number): number {
  const n = v6 ? 16 : 4
  writeAttrHeader(out, o, NLA_HDRLEN + n, v6 ? v6Type : v4Type)
  copyBytes(out, o + NLA_HDRLEN, u8, from, n)
  return o + NLA_HDRLEN + n
}

/**
 * One tuple nest from the record's original tuple, as it is (`invert` false) or inverted (the
 * reply the commit sends: addresses and ports swapped, ICMP requests turned into replies).
 */
function tupleNest (out: Uint8Array, o: number, type: number, lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number, invert: boolean): number {
  const v6 = lay.addrLen === 16
  const proto = u8[off + K_PROTO] as number
  const kf = u8[off + K_FLAGS] as number
  const src = off + K_SRC
  const dst = src + lay.addrLen
  const start = o
  o += NLA_HDRLEN
  const ip = o
  o += NLA_HDRLEN
  o = addrAttr(out, o, v6, CTA_IP.V4_SRC, CTA_IP.V6_SRC, u8, invert ? dst : src)
  o = addrAttr(out, o, v6, CTA_IP.V4_DST, CTA_IP.V6_DST, u8, invert ? src : dst)
  o = writeNestEnd(out, ip, o, CTA_TUPLE.IP)
  const protoAt = o
  o += NLA_HDRLEN
  o = writeU8Attr(out, o, CTA_PROTO.NUM, proto)
  if (isIcmp(proto)) {
    const icmp6 = proto === L4Proto.ICMPV6
    if ((kf & T_B) !== 0) o = writeU8Attr(out, o, icmp6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, dv.getUint16(off + K_L4 + 2))
    if ((kf & T_A) !== 0) {
      const t = dv.getUint16(off + K_L4)
      o = writeU8Attr(out, o, icmp6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, invert ? icmpReplyType(proto, t) : t)
    }
    if ((kf & T_C) !== 0) o = writeBe16Attr(out, o, icmp6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, dv.getUint16(off + K_L4 + 4))
  } else {
    // inverted: the reply's source port is the original's destination port (present when T_B)
    const first = invert ? T_B : T_A
    const second = invert ? T_A : T_B
    if ((kf & first) !== 0) o = writeBe16Attr(out, o, CTA_PROTO.SRC_PORT, dv.getUint16(off + K_L4 + (invert ? 2 : 0)))
    if ((kf & second) !== 0) o = writeBe16Attr(out, o, CTA_PROTO.DST_PORT, dv.getUint16(off + K_L4 + (invert ? 0 : 2)))
  }
  o = writeNestEnd(out, protoAt, o, CTA_TUPLE.PROTO)
  if ((kf & T_ZONE) !== 0) o = writeBe16Attr(out, o, CTA_TUPLE.ZONE, dv.getUint16(off + K_OZONE))
  return writeNestEnd(out, start, o, type)
}

/** A NAT nest (MINIP only; PROTO with PORT_MIN = PORT_MAX for TCP/UDP), as putNat writes it. */
function natNest (out: Uint8Array, o: number, type: number, v6: boolean, proto: number, u8: Uint8Array, ipAt: number, port: number): number {
  const start = o
  o += NLA_HDRLEN
  if (ipAt >= 0) o = addrAttr(out, o, v6, CTA_NAT.V4_MINIP, CTA_NAT.V6_MINIP, u8, ipAt)
  if (port >= 0) {
    const p = o
    o += NLA_HDRLEN
    if (proto === L4Proto.TCP || proto === L4Proto.UDP) {
      o = writeBe16Attr(out, o, CTA_PROTONAT.PORT_MIN, port)
      o = writeBe16Attr(out, o, CTA_PROTONAT.PORT_MAX, port)
    }
    o = writeNestEnd(out, p, o, CTA_NAT.PROTO)
  }
  return writeNestEnd(out, start, o, type)
}

/**
 * Write the create attributes of the record at u8[off] (no side data) at out[pos…] (room:
 * COMMIT_ATTRS_MAX_BYTES) with the timeout the commit computed (commit.ts commitTimeout); returns
 * the end offset.
 */
export function writeCommitAttrs (lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number, timeout: number, opts: CommitAttrsOptions, out: Uint8Array, pos: number): number {
  const L = lay.addrLen
  const v6 = L === 16
  const proto = u8[off + K_PROTO] as number
  const kf = u8[off + K_FLAGS] as number
  const rf = u8[off + lay.rFlags] as number
  const p0 = dv.getUint32(off + lay.p0)
  const src = off + K_SRC
  const dst = src + L
  let o = tupleNest(out, pos, CTA.TUPLE_ORIG, lay, u8, dv, off, false)
  o = tupleNest(out, o, CTA.TUPLE_REPLY, lay, u8, dv, off, true)
  // commitFlow: status without EXPECTED, always sent; the codec's create rules on top
  const status = (p0 & P0.STATUS) !== 0 ? dv.getUint32(off + lay.status) : 0
  o = writeBe32Attr(out, o, CTA.STATUS, requestStatus(status & ~IPS.EXPECTED))
  o = writeBe32Attr(out, o, CTA.TIMEOUT, timeout)
  if ((p0 & P0.MARK) !== 0) o = writeBe32Attr(out, o, CTA.MARK, dv.getUint32(off + lay.mark))
  // protoinfo: the entry's TCP info, or BE_LIBERAL for any TCP entry without window tracking
  if ((p0 & P0.TCP) !== 0 || (proto === L4Proto.TCP && !opts.tcpWindowTracking)) {
    const t = off + lay.tcp
    const pi = o
    o += NLA_HDRLEN
    const n = o
    o += NLA_HDRLEN
    if ((p0 & P0.TCP_STATE) !== 0) o = writeU8Attr(out, o, CTA_PROTOINFO_TCP.STATE, u8[t] as number)
    if (opts.tcpWindowTracking) {
      if ((p0 & P0.TCP_FO) !== 0) o = writeU8PairAttr(out, o, CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, u8[t + 3] as number, u8[t + 4] as number)
      if ((p0 & P0.TCP_FR) !== 0) o = writeU8PairAttr(out, o, CTA_PROTOINFO_TCP.FLAGS_REPLY, u8[t + 5] as number, u8[t + 6] as number)
    } else {
      o = writeU8PairAttr(out, o, CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, TCP_FLAG_BE_LIBERAL, TCP_FLAG_BE_LIBERAL)
      o = writeU8PairAttr(out, o, CTA_PROTOINFO_TCP.FLAGS_REPLY, TCP_FLAG_BE_LIBERAL, TCP_FLAG_BE_LIBERAL)
    }
    if ((p0 & P0.TCP_WSO) !== 0) o = writeU8Attr(out, o, CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, u8[t + 1] as number)
    if ((p0 & P0.TCP_WSR) !== 0) o = writeU8Attr(out, o, CTA_PROTOINFO_TCP.WSCALE_REPLY, u8[t + 2] as number)
    o = writeNestEnd(out, n, o, CTA_PROTOINFO.TCP)
    o = writeNestEnd(out, pi, o, CTA.PROTOINFO)
  }
  // NAT: the entry's own bindings when it has them, else derived from its reply tuple (codec/flow.ts deriveNat)
  if ((p0 & P0.NAT) !== 0) {
    if ((p0 & P0.NAT_SRC) !== 0) {
      o = natNest(out, o, CTA.NAT_SRC, v6, proto, u8, (p0 & P0.NAT_SRC_IP) !== 0 ? off + lay.natSrcIp : -1, (p0 & P0.NAT_SRC_PORT) !== 0 ? dv.getUint16(off + lay.natSrcPort) : -1)
    }
    if ((p0 & P0.NAT_DST) !== 0) {
      o = natNest(out, o, CTA.NAT_DST, v6, proto, u8, (p0 & P0.NAT_DST_IP) !== 0 ? off + lay.natDstIp : -1, (p0 & P0.NAT_DST_PORT) !== 0 ? dv.getUint16(off + lay.natDstPort) : -1)
    }
  } else if ((status & (IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)) !== 0) {
    const ports = hasPorts(proto)
    if ((status & IPS.SRC_NAT_DONE) !== 0) {
      // reply.dst vs orig.src; reply.dport vs orig.sport (an absent orig port differs from any)
      const ipAt = sameBytes(u8, off + lay.rDst, src, L) ? -1 : off + lay.rDst
      const rdport = dv.getUint16(off + lay.rL4 + 2)
      const port = ports && (rf & T_B) !== 0 && ((kf & T_A) === 0 || rdport !== dv.getUint16(off + K_L4)) ? rdport : -1
      if (ipAt >= 0 || port >= 0) o = natNest(out, o, CTA.NAT_SRC, v6, proto, u8, ipAt, port)
    }
    if ((status & IPS.DST_NAT_DONE) !== 0) {
      const ipAt = sameBytes(u8, off + lay.rSrc, dst, L) ? -1 : off + lay.rSrc
      const rsport = dv.getUint16(off + lay.rL4)
      const port = ports && (rf & T_A) !== 0 && ((kf & T_B) === 0 || rsport !== dv.getUint16(off + K_L4 + 2)) ? rsport : -1
      if (ipAt >= 0 || port >= 0) o = natNest(out, o, CTA.NAT_DST, v6, proto, u8, ipAt, port)
    }
  }
  if ((p0 & P0.ZONE) !== 0) o = writeBe16Attr(out, o, CTA.ZONE, dv.getUint16(off + K_ZONE))
  // the all-zero synproxy every ctnetlink-created entry reports (flow-record.ts P0.SYNPROXY_ZERO)
  if ((p0 & P0.SYNPROXY_ZERO) !== 0) {
    const sp = o
    o = writeBe32Attr(out, o + NLA_HDRLEN, CTA_SYNPROXY.ISN, 0)
    o = writeBe32Attr(out, o, CTA_SYNPROXY.ITS, 0)
    o = writeBe32Attr(out, o, CTA_SYNPROXY.TSOFF, 0)
    o = writeNestEnd(out, sp, o, CTA.SYNPROXY)
  }
  return o
}

/** Bytes per chunk of CommitAttrsWriter: ~60 IPv4 TCP requests. */
const CHUNK_BYTES = 16 * 1024

/**
 * Writes commit requests' attributes as views into shared chunks (one allocation per ~60
 * requests instead of one per request); a chunk is freed once its batch has been sent and answered.
 */
export class CommitAttrsWriter {
  private chunk = new Uint8Array(CHUNK_BYTES)
  private used = 0

  write (lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number, timeout: number, opts: CommitAttrsOptions): Uint8Array {
    if (this.used + COMMIT_ATTRS_MAX_BYTES > this.chunk.length) {
      this.chunk = new Uint8Array(CHUNK_BYTES)
      this.used = 0
    }
    const start = this.used
    this.used = writeCommitAttrs(lay, u8, dv, off, timeout, opts, this.chunk, start)
    return this.chunk.subarray(start, this.used)
  }
}
