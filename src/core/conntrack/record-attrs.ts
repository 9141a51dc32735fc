/**
 * The conntrackd NTA_* attributes of a cached entry, written straight from its packed record
 * (flow-record.ts): the same bytes as writeCtAttrs(flowToAttrs(unpackFlow(record))) (attrs-map.ts,
 * codec/conntrackd-ct.ts), without the Flow, the CtAttrs object and the address strings in between.
 *
 * Why: the sender's hot path (kernel event → cache → FTFW message) decoded every changed entry into
 * a Flow, built a CtAttrs object from it and parsed its address strings back into bytes at transmit
 * time. A record already holds the bytes in the order the wire wants them.
 *
 * Only records without side data (P1.EXTRA / P1.WHOLE: SCTP/DCCP protoinfo, master, seqAdj,
 * helper, labels, a non-zero synproxy) can be written here; the caller takes the Flow path for the
 * others. No value check is needed: a record holds only what its pack accepted (u8/u16/u32 ranges).
 */
import { NTA, putAttrHeader, putU16be, putU16le, putU32be } from '../../codec/conntrackd-attrs.js'
import { IPS, L4Proto, hasPorts, isIcmp } from './flow.js'
import { K_FLAGS, K_L4, K_PROTO, K_SRC, K_ZONE, P0, T_A, T_B, T_C, copyBytes, sameBytes, type RecordLayout } from './flow-record.js'

/** Room writeRecordAttrs needs (its largest output, IPv6 with every attribute it can emit, is 180 bytes). */
export const RECORD_ATTRS_MAX_BYTES = 256

function u8Attr (out: Uint8Array, pos: number, id: number, v: number): number {
  const p = putAttrHeader(out, pos, id, 1)
  out[p] = v
  return p + 4
}

function u16leAttr (out: Uint8Array, pos: number, id: number, v: number): number {
  const p = putAttrHeader(out, pos, id, 2)
  putU16le(out, p, v)
  return p + 4
}

function u32Attr (out: Uint8Array, pos: number, id: number, v: number): number {
  const p = putAttrHeader(out, pos, id, 4)
  putU32be(out, p, v)
  return p + 4
}

/**
 * Write the attributes of the record at u8[off] (no side data, see the module comment) at
 * out[pos…] (room: RECORD_ATTRS_MAX_BYTES), in conntrackd's order; returns the end offset.
 */
export function writeRecordAttrs (lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number, out: Uint8Array, pos: number): number {
  const L = lay.addrLen
  const v6 = L === 16
  const proto = u8[off + K_PROTO] as number
  const icmp = isIcmp(proto)
  const kf = u8[off + K_FLAGS] as number
  const rf = u8[off + lay.rFlags] as number
  const p0 = dv.getUint32(off + lay.p0)
  const src = off + K_SRC
  const dst = src + L
  // 1. addresses
  let p = putAttrHeader(out, pos, v6 ? NTA.IPV6 : NTA.IPV4, 2 * L)
  copyBytes(out, p, u8, src, 2 * L)
  pos = p + 2 * L
  // 2. status (flowToAttrs: status ?? 0), 3. protocol
  const status = (p0 & P0.STATUS) !== 0 ? dv.getUint32(off + lay.status) : 0
  pos = u32Attr(out, pos, NTA.STATUS, status)
  pos = u8Attr(out, pos, NTA.L4PROTO, proto)
  // 4. per protocol (SCTP/DCCP protoinfo is side data: not here)
  const sendsPorts = proto === L4Proto.TCP || proto === L4Proto.UDP || proto === L4Proto.SCTP || proto === L4Proto.DCCP
  if (sendsPorts && (kf & (T_A | T_B)) === (T_A | T_B)) {
    p = putAttrHeader(out, pos, NTA.PORT, 4)
    putU16be(out, p, dv.getUint16(off + K_L4))
    putU16be(out, p + 2, dv.getUint16(off + K_L4 + 2))
    pos = p + 4
  }
  if (proto === L4Proto.TCP && (p0 & P0.TCP_STATE) !== 0) {
    pos = u8Attr(out, pos, NTA.TCP_STATE, u8[off + lay.tcp] as number)
  } else if (icmp && (kf & T_A) !== 0) {
    pos = u8Attr(out, pos, NTA.ICMP_TYPE, dv.getUint16(off + K_L4))
    if ((kf & T_B) !== 0) pos = u8Attr(out, pos, NTA.ICMP_CODE, dv.getUint16(off + K_L4 + 2))
    if ((kf & T_C) !== 0) pos = u16leAttr(out, pos, NTA.ICMP_ID, dv.getUint16(off + K_L4 + 4))
  }
  // 5. timeout, 6. mark
  if ((p0 & P0.TIMEOUT) !== 0) pos = u32Attr(out, pos, NTA.TIMEOUT, dv.getUint32(off + lay.timeout))
  if ((p0 & P0.MARK) !== 0) pos = u32Attr(out, pos, NTA.MARK, dv.getUint32(off + lay.mark))
  // 8. NAT (attrs-map.ts natAttrs: the *_NAT_DONE bit and a real difference, ICMP quirk)
  const snat = (status & IPS.SRC_NAT_DONE) !== 0
  const dnat = (status & IPS.DST_NAT_DONE) !== 0
  if (snat && !sameBytes(u8, off + lay.rDst, src, L)) {
    p = putAttrHeader(out, pos, v6 ? NTA.SNAT_IPV6 : NTA.SNAT_IPV4, L)
    copyBytes(out, p, u8, off + lay.rDst, L)
    pos = p + L
  }
  if (dnat && !sameBytes(u8, off + lay.rSrc, dst, L)) {
    p = putAttrHeader(out, pos, v6 ? NTA.DNAT_IPV6 : NTA.DNAT_IPV4, L)
    copyBytes(out, p, u8, off + lay.rSrc, L)
    pos = p + L
  }
  if (icmp) {
    const id = (kf & T_C) !== 0 ? dv.getUint16(off + K_L4 + 4) : 0
    const type = (kf & T_A) !== 0 ? dv.getUint16(off + K_L4) : 0
    const code = (kf & T_B) !== 0 ? dv.getUint16(off + K_L4 + 2) : 0
    if (snat && id !== 0) pos = u16leAttr(out, pos, NTA.SPAT_PORT, 0)
    if (dnat && (type !== 0 || code !== 0)) pos = u16leAttr(out, pos, NTA.DPAT_PORT, 0)
  } else if (hasPorts(proto)) {
    // reply.dport vs orig.sport, reply.sport vs orig.dport; an absent orig port differs from any
    if (snat && (rf & T_B) !== 0) {
      const rdport = dv.getUint16(off + lay.rL4 + 2)
      if ((kf & T_A) === 0 || rdport !== dv.getUint16(off + K_L4)) pos = u16leAttr(out, pos, NTA.SPAT_PORT, rdport)
    }
    if (dnat && (rf & T_A) !== 0) {
      const rsport = dv.getUint16(off + lay.rL4)
      if ((kf & T_B) === 0 || rsport !== dv.getUint16(off + K_L4 + 2)) pos = u16leAttr(out, pos, NTA.DPAT_PORT, rsport)
    }
  }
  // 12. synproxy (only the all-zero one lives in a record), 13. zone
  if ((p0 & P0.SYNPROXY_ZERO) !== 0) {
    p = putAttrHeader(out, pos, NTA.SYNPROXY, 12)
    for (let i = 0; i < 12; i++) out[p + i] = 0
    pos = p + 12
  }
  if ((p0 & P0.ZONE) !== 0) {
    p = putAttrHeader(out, pos, NTA.ZONE, 2)
    putU16be(out, p, dv.getUint16(off + K_ZONE))
    pos = p + 4
  }
  return pos
}

/** Bytes per chunk of BodyWriter: ~150 IPv4 bodies; small, so a long-queued body pins little. */
const BODY_CHUNK_BYTES = 16 * 1024

/**
 * Writes records' attributes as bodies of their own for the FTFW queues (core/sync/txqueue.ts): each
 * body is a view into a shared chunk, not an ArrayBuffer of its own (a backing store per message
 * would cost a malloc and a GC-tracked external allocation each). A chunk is freed by the GC once no
 * queued body points into it; the queues release bodies roughly in the order they were written.
 */
export class BodyWriter {
  private chunk = new Uint8Array(BODY_CHUNK_BYTES)
  private used = 0

  write (lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number): Uint8Array {
    if (this.used + RECORD_ATTRS_MAX_BYTES > this.chunk.length) {
      this.chunk = new Uint8Array(BODY_CHUNK_BYTES)
      this.used = 0
    }
    const start = this.used
    const end = writeRecordAttrs(lay, u8, dv, off, this.chunk, start)
    this.used = end
    return this.chunk.subarray(start, end)
  }
}
