/**
 * One Flow as a fixed-size byte record, for the compact conntrack caches (flow-table.ts).
 *
 * Why: a Flow is an object graph (flow, two tuples, protoinfo, flags, four address strings: ~1 KiB
 * of heap each); 100k of them made the caches the bulk of the daemon's memory. A record is ~120
 * bytes (IPv4) or ~190 bytes (IPv6) inside one large ArrayBuffer, and decodes to a Flow only when
 * somebody reads the entry.
 *
 * One layout per family (addresses are 4 or 16 bytes). The record starts with the KEY region, the
 * bytes of flowKey (family is the table, l4proto, which l4 fields are present, their values, the
 * original addresses, zone ?? 0, orig.zone): two flows have equal key regions exactly when their
 * flowKeys are equal, so the index hashes and compares these bytes and never builds a string.
 *
 * "Absent means not told" (flow.ts) survives the packing: every optional field has a presence bit
 * (a `tcp: {}` or a `nat: { dst: {} }` too), so decode(pack(f)) deep-equals f.
 *
 * What a record cannot hold, pack leaves to the caller:
 *   - rare fields (SCTP/DCCP protoinfo, helper, labels, master, seqAdj, synproxy, counters) go to
 *     a side table as a small object (EXTRA_KEYS);
 *   - a value outside its wire range (a fraction, a negative, a port > 65535, an IPv6 text that is
 *     not canonical (codec/ip.ts formatIPv6), a reply protocol unlike the original's ...) makes
 *     pack return false: the caller keeps that flow whole as an object (packKey false: by its
 *     flowKey string). Codecs never produce one; the cache must not lose or change it anyway.
 *     Requiring canonical text also keeps "equal key bytes" the same as "equal flowKey strings".
 *
 * Numbers are stored big-endian through a DataView (the order does not matter, only consistency).
 */
import { formatIPv4, formatIPv6, parseIPv4Into, parseIPv6 } from '../../codec/ip.js'
import { isIcmp, type Flow, type FlowFamily, type FlowTuple } from './flow.js'

/** Offsets of one family's record. The key region is [0, keyLen). */
export interface RecordLayout {
  readonly family: FlowFamily
  readonly addrLen: number
  readonly keyLen: number
  readonly size: number
  /** u32: the key's hash (the index re-probes with it), or the next free slot when unused. */
  readonly hash: number
  /** u32 × 2: presence bits (P0, P1). */
  readonly p0: number
  readonly p1: number
  /** Reply tuple: flags byte (T_*), addresses, l4 fields, zone. */
  readonly rFlags: number
  readonly rSrc: number
  readonly rDst: number
  readonly rL4: number
  readonly rZone: number
  readonly status: number
  readonly timeout: number
  readonly mark: number
  readonly id: number
  readonly use: number
  /** u8 × 7: state, wscale orig/reply, flags+mask orig, flags+mask reply. */
  readonly tcp: number
  readonly natSrcIp: number
  readonly natSrcPort: number
  readonly natDstIp: number
  readonly natDstPort: number
  /** f64 × 2: the cache's since / lastUpdate (Millis may be fractional). */
  readonly since: number
  readonly lastUpdate: number
}

// Key region: fixed offsets, addresses last.
export const K_PROTO = 0
export const K_FLAGS = 1
export const K_L4 = 2 // u16 × 3: sport|icmpType, dport|icmpCode, icmpId
export const K_OZONE = 8
export const K_ZONE = 10
export const K_SRC = 12

/** Tuple flags (key K_FLAGS, reply rFlags): which l4 fields / zone the tuple carries. */
export const T_A = 1
export const T_B = 2
export const T_C = 4
export const T_ZONE = 8

/** P0 presence bits. */
export const P0 = {
  STATUS: 1 << 0,
  TIMEOUT: 1 << 1,
  MARK: 1 << 2,
  ZONE: 1 << 3,
  ID: 1 << 4,
  USE: 1 << 5,
  TCP: 1 << 6,
  TCP_STATE: 1 << 7,
  TCP_WSO: 1 << 8,
  TCP_WSR: 1 << 9,
  TCP_FO: 1 << 10,
  TCP_FR: 1 << 11,
  NAT: 1 << 12,
  NAT_SRC: 1 << 13,
  NAT_SRC_IP: 1 << 14,
  NAT_SRC_PORT: 1 << 15,
  NAT_DST: 1 << 16,
  NAT_DST_IP: 1 << 17,
  NAT_DST_PORT: 1 << 18,
  /**
   * synproxy present and all zero: what the kernel reports for every entry created over ctnetlink
   * (a commit's, a peer's, a load generator's). Kept as a bit, not as a side entry: a side Map
   * entry and a copied object per flow cost ~200 bytes of heap each and most of a 100k-entry
   * cache filled by commits was in the side table.
   */
  SYNPROXY_ZERO: 1 << 19
} as const

/** P1 bits: the slot's bookkeeping (owned by flow-table.ts and the cache). */
export const P1 = {
  /** The slot holds an entry. */
  USED: 1 << 0,
  /** The side table holds the EXTRA_KEYS fields of this entry. */
  EXTRA: 1 << 1,
  /** The side table holds the whole flow (pack refused it); the record has only the key. */
  WHOLE: 1 << 2,
  /** conntrackd object status 'alive' (else 'new'). */
  ALIVE: 1 << 3
} as const

/**
 * Flow fields kept beside the record: rare on a firewall (SCTP and DCCP protoinfo, FTP/SIP helper
 * state) or variable in size. 17 bytes of SCTP/DCCP state in every record would cost more than
 * the side entries of the few flows that have them.
 */
export const EXTRA_KEYS = ['sctp', 'dccp', 'seqAdj', 'helper', 'labels', 'master', 'synproxy', 'counters'] as const
export type FlowExtra = Pick<Flow, typeof EXTRA_KEYS[number]>

export function recordLayout (family: FlowFamily): RecordLayout {
  const L = family === 'ipv4' ? 4 : 16
  let o = K_SRC + 2 * L
  const keyLen = o
  const at = (n: number): number => { const r = o; o += n; return r }
  const hash = at(4)
  const p0 = at(4)
  const p1 = at(4)
  const rFlags = at(1)
  const rSrc = at(L)
  const rDst = at(L)
  const rL4 = at(6)
  const rZone = at(2)
  const status = at(4)
  const timeout = at(4)
  const mark = at(4)
  const id = at(4)
  const use = at(4)
  const tcp = at(7)
  const natSrcIp = at(L)
  const natSrcPort = at(2)
  const natDstIp = at(L)
  const natDstPort = at(2)
  const since = at(8)
  const lastUpdate = at(8)
  return {
    family, addrLen: L, keyLen, size: o, hash, p0, p1, rFlags, rSrc, rDst, rL4, rZone, status, timeout, mark, id, use,
    tcp, natSrcIp, natSrcPort, natDstIp, natDstPort, since, lastUpdate
  }
}

const isU8 = (v: number): boolean => (v & 0xff) === v
const isU16 = (v: number): boolean => (v & 0xffff) === v
const isU32 = (v: number): boolean => (v >>> 0) === v

/** Address text → bytes at `off`; IPv6 must be canonical text so that decoding gives it back. */
function packAddr (lay: RecordLayout, text: string, u8: Uint8Array, off: number): boolean {
  if (typeof text !== 'string') return false
  if (lay.addrLen === 4) return parseIPv4Into(text, u8, off) // accepts canonical text only
  const b = parseIPv6(text)
  if (b === null || formatIPv6(b) !== text) return false
  u8.set(b, off)
  return true
}

function addrText (lay: RecordLayout, u8: Uint8Array, off: number): string {
  return lay.addrLen === 4 ? formatIPv4(u8, off) : formatIPv6(u8, off)
}

/**
 * The l4 fields of a tuple at `off` (u16 × 3) and its T_ flags; -1 when a value is out of range.
 * `strict`: fields of the other kind (ports on ICMP, ICMP fields on TCP) refuse the tuple; the key
 * ignores them as flowKey does.
 */
function packL4 (t: FlowTuple, icmp: boolean, dv: DataView, off: number, strict: boolean): number {
  let flags = 0
  const a = icmp ? t.icmpType : t.sport
  const b = icmp ? t.icmpCode : t.dport
  const c = icmp ? t.icmpId : undefined
  if (strict && (icmp ? (t.sport !== undefined || t.dport !== undefined) : (t.icmpType !== undefined || t.icmpCode !== undefined || t.icmpId !== undefined))) return -1
  dv.setUint32(off, 0)
  dv.setUint16(off + 4, 0)
  if (a !== undefined) {
    if (!(icmp ? isU8(a) : isU16(a))) return -1
    dv.setUint16(off, a)
    flags |= T_A
  }
  if (b !== undefined) {
    if (!(icmp ? isU8(b) : isU16(b))) return -1
    dv.setUint16(off + 2, b)
    flags |= T_B
  }
  if (c !== undefined) {
    if (!isU16(c)) return -1
    dv.setUint16(off + 4, c)
    flags |= T_C
  }
  return flags
}

function unpackL4 (t: FlowTuple, icmp: boolean, flags: number, dv: DataView, off: number): void {
  if (icmp) {
    if ((flags & T_A) !== 0) t.icmpType = dv.getUint16(off)
    if ((flags & T_B) !== 0) t.icmpCode = dv.getUint16(off + 2)
    if ((flags & T_C) !== 0) t.icmpId = dv.getUint16(off + 4)
  } else {
    if ((flags & T_A) !== 0) t.sport = dv.getUint16(off)
    if ((flags & T_B) !== 0) t.dport = dv.getUint16(off + 2)
  }
}

/**
 * Write the key region of `flow` at `off`; false when the key cannot be packed (unknown family for
 * this layout, an address that does not parse, a number out of range): such a flow is kept by its
 * flowKey string instead (flow-store.ts).
 */
export function packKey (lay: RecordLayout, flow: Flow, u8: Uint8Array, dv: DataView, off: number): boolean {
  const o = flow.orig
  if (flow.family !== lay.family || o === undefined || o === null) return false
  const proto = o.l4proto
  if (!isU8(proto)) return false
  const zone = flow.zone ?? 0
  if (!isU16(zone)) return false
  const flags = packL4(o, isIcmp(proto), dv, off + K_L4, false)
  if (flags < 0) return false
  let kf = flags
  if (o.zone !== undefined) {
    if (!isU16(o.zone)) return false
    kf |= T_ZONE
    dv.setUint16(off + K_OZONE, o.zone)
  } else {
    dv.setUint16(off + K_OZONE, 0)
  }
  dv.setUint16(off + K_ZONE, zone)
  u8[off + K_PROTO] = proto
  u8[off + K_FLAGS] = kf
  return packAddr(lay, o.src, u8, off + K_SRC) && packAddr(lay, o.dst, u8, off + K_SRC + lay.addrLen)
}

/** 32-bit hash of the key region at `off` (FNV-1a, then murmur3's finaliser to spread the low bits). */
export function hashKey (lay: RecordLayout, u8: Uint8Array, off: number): number {
  let h = 0x811c9dc5
  for (let i = off, end = off + lay.keyLen; i < end; i++) {
    h ^= u8[i] as number
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export function sameKey (lay: RecordLayout, u8: Uint8Array, a: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < lay.keyLen; i++) if (u8[a + i] !== b[bOff + i]) return false
  return true
}

/**
 * Pack every non-key field of `flow` at `off` (the key region must already be packed) and set the
 * P0 bits. The EXTRA_KEYS fields are not written: `hasExtra` tells whether the flow has any.
 * Returns false when some value does not fit; the record is then partly written and must be
 * discarded (pack into a scratch record first).
 */
export function packBody (lay: RecordLayout, flow: Flow, u8: Uint8Array, dv: DataView, off: number): boolean {
  const o = flow.orig
  const r = flow.reply
  const icmp = isIcmp(o.l4proto)
  if (packL4(o, icmp, dv, off + K_L4, true) < 0) return false
  if (r === undefined || r === null || r.l4proto !== o.l4proto) return false
  let rf = packL4(r, icmp, dv, off + lay.rL4, true)
  if (rf < 0) return false
  if (r.zone !== undefined) {
    if (!isU16(r.zone)) return false
    rf |= T_ZONE
    dv.setUint16(off + lay.rZone, r.zone)
  }
  u8[off + lay.rFlags] = rf
  if (!packAddr(lay, r.src, u8, off + lay.rSrc) || !packAddr(lay, r.dst, u8, off + lay.rDst)) return false
  let p = 0
  const u32 = (v: number | undefined, bit: number, at: number): boolean => {
    if (v === undefined) return true
    if (!isU32(v)) return false
    dv.setUint32(off + at, v)
    p |= bit
    return true
  }
  if (!u32(flow.status, P0.STATUS, lay.status) || !u32(flow.timeout, P0.TIMEOUT, lay.timeout) ||
    !u32(flow.mark, P0.MARK, lay.mark) || !u32(flow.id, P0.ID, lay.id) || !u32(flow.use, P0.USE, lay.use)) return false
  if (flow.zone !== undefined) p |= P0.ZONE // its value is in the key (zone ?? 0)
  const u8f = (v: number | undefined, bit: number, at: number): boolean => {
    if (v === undefined) return true
    if (!isU8(v)) return false
    u8[off + at] = v
    p |= bit
    return true
  }
  const tcp = flow.tcp
  if (tcp !== undefined) {
    p |= P0.TCP
    const t = lay.tcp
    if (!u8f(tcp.state, P0.TCP_STATE, t) || !u8f(tcp.wscaleOrig, P0.TCP_WSO, t + 1) || !u8f(tcp.wscaleReply, P0.TCP_WSR, t + 2)) return false
    if (tcp.flagsOrig !== undefined && !(u8f(tcp.flagsOrig.flags, P0.TCP_FO, t + 3) && u8f(tcp.flagsOrig.mask, P0.TCP_FO, t + 4) && tcp.flagsOrig.flags !== undefined && tcp.flagsOrig.mask !== undefined)) return false
    if (tcp.flagsReply !== undefined && !(u8f(tcp.flagsReply.flags, P0.TCP_FR, t + 5) && u8f(tcp.flagsReply.mask, P0.TCP_FR, t + 6) && tcp.flagsReply.flags !== undefined && tcp.flagsReply.mask !== undefined)) return false
  }
  const nat = flow.nat
  if (nat !== undefined) {
    p |= P0.NAT
    for (const [b, bind, ipBit, portBit, ipAt, portAt] of [
      [P0.NAT_SRC, nat.src, P0.NAT_SRC_IP, P0.NAT_SRC_PORT, lay.natSrcIp, lay.natSrcPort],
      [P0.NAT_DST, nat.dst, P0.NAT_DST_IP, P0.NAT_DST_PORT, lay.natDstIp, lay.natDstPort]
    ] as const) {
      if (bind === undefined) continue
      p |= b
      if (bind.ip !== undefined) {
        if (!packAddr(lay, bind.ip, u8, off + ipAt)) return false
        p |= ipBit
      }
      if (bind.port !== undefined) {
        if (!isU16(bind.port)) return false
        dv.setUint16(off + portAt, bind.port)
        p |= portBit
      }
    }
  }
  if (zeroSynproxy(flow)) p |= P0.SYNPROXY_ZERO
  dv.setUint32(off + lay.p0, p)
  return true
}

/** A synproxy field with nothing in it (P0.SYNPROXY_ZERO). */
function zeroSynproxy (flow: Flow): boolean {
  const s = flow.synproxy
  return s !== undefined && s.isn === 0 && s.its === 0 && s.tsoff === 0 && Object.keys(s).length === 3
}

/** The EXTRA_KEYS fields of a flow, or undefined when it has none (a zero synproxy is a P0 bit). */
export function flowExtra (flow: Flow): FlowExtra | undefined {
  let out: Record<string, unknown> | undefined
  for (const k of EXTRA_KEYS) {
    const v = flow[k]
    if (v === undefined) continue
    if (k === 'synproxy' && zeroSynproxy(flow)) continue
    out ??= {}
    out[k] = v
  }
  return out as FlowExtra | undefined
}

/** The Flow a packed record holds (without its EXTRA_KEYS fields: the caller adds them). */
export function unpackFlow (lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number): Flow {
  const proto = u8[off + K_PROTO] as number
  const icmp = isIcmp(proto)
  const kf = u8[off + K_FLAGS] as number
  const orig: FlowTuple = { src: addrText(lay, u8, off + K_SRC), dst: addrText(lay, u8, off + K_SRC + lay.addrLen), l4proto: proto }
  unpackL4(orig, icmp, kf, dv, off + K_L4)
  if ((kf & T_ZONE) !== 0) orig.zone = dv.getUint16(off + K_OZONE)
  const rf = u8[off + lay.rFlags] as number
  const reply: FlowTuple = { src: addrText(lay, u8, off + lay.rSrc), dst: addrText(lay, u8, off + lay.rDst), l4proto: proto }
  unpackL4(reply, icmp, rf, dv, off + lay.rL4)
  if ((rf & T_ZONE) !== 0) reply.zone = dv.getUint16(off + lay.rZone)
  const f: Flow = { family: lay.family, orig, reply }
  const p = dv.getUint32(off + lay.p0)
  if ((p & P0.STATUS) !== 0) f.status = dv.getUint32(off + lay.status)
  if ((p & P0.TIMEOUT) !== 0) f.timeout = dv.getUint32(off + lay.timeout)
  if ((p & P0.MARK) !== 0) f.mark = dv.getUint32(off + lay.mark)
  if ((p & P0.ZONE) !== 0) f.zone = dv.getUint16(off + K_ZONE)
  if ((p & P0.ID) !== 0) f.id = dv.getUint32(off + lay.id)
  if ((p & P0.USE) !== 0) f.use = dv.getUint32(off + lay.use)
  if ((p & P0.TCP) !== 0) {
    const t = off + lay.tcp
    f.tcp = {}
    if ((p & P0.TCP_STATE) !== 0) f.tcp.state = u8[t] as number
    if ((p & P0.TCP_WSO) !== 0) f.tcp.wscaleOrig = u8[t + 1] as number
    if ((p & P0.TCP_WSR) !== 0) f.tcp.wscaleReply = u8[t + 2] as number
    if ((p & P0.TCP_FO) !== 0) f.tcp.flagsOrig = { flags: u8[t + 3] as number, mask: u8[t + 4] as number }
    if ((p & P0.TCP_FR) !== 0) f.tcp.flagsReply = { flags: u8[t + 5] as number, mask: u8[t + 6] as number }
  }
  if ((p & P0.NAT) !== 0) {
    f.nat = {}
    if ((p & P0.NAT_SRC) !== 0) {
      f.nat.src = {}
      if ((p & P0.NAT_SRC_IP) !== 0) f.nat.src.ip = addrText(lay, u8, off + lay.natSrcIp)
      if ((p & P0.NAT_SRC_PORT) !== 0) f.nat.src.port = dv.getUint16(off + lay.natSrcPort)
    }
    if ((p & P0.NAT_DST) !== 0) {
      f.nat.dst = {}
      if ((p & P0.NAT_DST_IP) !== 0) f.nat.dst.ip = addrText(lay, u8, off + lay.natDstIp)
      if ((p & P0.NAT_DST_PORT) !== 0) f.nat.dst.port = dv.getUint16(off + lay.natDstPort)
    }
  }
  if ((p & P0.SYNPROXY_ZERO) !== 0) f.synproxy = { isn: 0, its: 0, tsoff: 0 }
  return f
}

/** The TCP state of a packed record without decoding it (the monotonic rule's hot path). */
export function packedTcpState (lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number): number | undefined {
  const p = dv.getUint32(off + lay.p0)
  return (p & P0.TCP_STATE) !== 0 ? u8[off + lay.tcp] : undefined
}

/** The conntrack id of a packed record, if it has one. */
export function packedId (lay: RecordLayout, dv: DataView, off: number): number | undefined {
  return (dv.getUint32(off + lay.p0) & P0.ID) !== 0 ? dv.getUint32(off + lay.id) : undefined
}

const TCP_FIELDS: ReadonlyArray<readonly [number, number, number]> = [
  // [P0 bit, byte offset in the tcp field, bytes]
  [P0.TCP_STATE, 0, 1], [P0.TCP_WSO, 1, 1], [P0.TCP_WSR, 2, 1], [P0.TCP_FO, 3, 2], [P0.TCP_FR, 5, 2]
]
const NAT_BITS = P0.NAT | P0.NAT_SRC | P0.NAT_SRC_IP | P0.NAT_SRC_PORT | P0.NAT_DST | P0.NAT_DST_IP | P0.NAT_DST_PORT

/** Copy n bytes (a record's fields are a few bytes: a loop beats TypedArray.set's call cost). */
export function copyBytes (to: Uint8Array, at: number, from: Uint8Array, fromAt: number, n: number): void {
  for (let i = 0; i < n; i++) to[at + i] = from[fromAt + i] as number
}

/** Whether u8[a, a+n) and u8[b, b+n) hold the same bytes (two fields of one record). */
export function sameBytes (u8: Uint8Array, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (u8[a + i] !== u8[b + i]) return false
  return true
}

/**
 * mergeFlow (codec/flow.ts: fields present overwrite, absent ones are kept; TCP info field by
 * field) on two packed records with the same key: the update at src[sOff] merged into dst[dOff].
 * Only the record's own fields: the caller handles side-table data (EXTRA / WHOLE entries) and the
 * bookkeeping fields. The reply tuple is always present in an update, so it is replaced.
 */
export function mergeRecord (lay: RecordLayout, dst: Uint8Array, dDv: DataView, dOff: number, src: Uint8Array, sDv: DataView, sOff: number): void {
  const sp = sDv.getUint32(sOff + lay.p0)
  let p = dDv.getUint32(dOff + lay.p0)
  copyBytes(dst, dOff + lay.rFlags, src, sOff + lay.rFlags, lay.rZone + 2 - lay.rFlags)
  if ((sp & P0.STATUS) !== 0) dDv.setUint32(dOff + lay.status, sDv.getUint32(sOff + lay.status))
  if ((sp & P0.TIMEOUT) !== 0) dDv.setUint32(dOff + lay.timeout, sDv.getUint32(sOff + lay.timeout))
  if ((sp & P0.MARK) !== 0) dDv.setUint32(dOff + lay.mark, sDv.getUint32(sOff + lay.mark))
  if ((sp & P0.ID) !== 0) dDv.setUint32(dOff + lay.id, sDv.getUint32(sOff + lay.id))
  if ((sp & P0.USE) !== 0) dDv.setUint32(dOff + lay.use, sDv.getUint32(sOff + lay.use))
  p |= sp & (P0.STATUS | P0.TIMEOUT | P0.MARK | P0.ID | P0.USE)
  if ((sp & P0.ZONE) !== 0) p |= P0.ZONE // the value is in the key, equal in both
  if ((sp & P0.TCP) !== 0) {
    p |= P0.TCP
    for (const [bit, at, n] of TCP_FIELDS) {
      if ((sp & bit) === 0) continue
      copyBytes(dst, dOff + lay.tcp + at, src, sOff + lay.tcp + at, n)
      p |= bit
    }
  }
  if ((sp & P0.NAT) !== 0) { // the NAT object is replaced whole, as mergeFlow replaces `nat`
    p = (p & ~NAT_BITS) | (sp & NAT_BITS)
    copyBytes(dst, dOff + lay.natSrcIp, src, sOff + lay.natSrcIp, lay.natDstPort + 2 - lay.natSrcIp)
  }
  if ((sp & P0.SYNPROXY_ZERO) !== 0) p |= P0.SYNPROXY_ZERO
  dDv.setUint32(dOff + lay.p0, p)
}
