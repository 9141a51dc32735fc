/**
 * Conntrack payload of conntrackd NEW/UPD/DEL messages: NTA_* attributes ⇄ `CtAttrs`.
 *
 * `CtAttrs` is the wire content in plain form, one optional field per NTA_* attribute (specs/conntrackd-ftfw.md
 * §1.6). Only the original tuple travels; NAT is carried as the SNAT/DNAT address and port. Which fields a sender
 * should fill (e.g. SNAT only with IPS_SRC_NAT_DONE, §1.7 item 8) is the caller's decision, not the codec's: the
 * encoder writes every field that is present, in conntrackd's own order (`ct2msg`, src/build.c).
 */
import { CodecError } from './errors.js'
import { parseIPv4Into, parseIPv6Into } from './ip.js'
import {
  CT_ATTR_RULES, NTA, NTA_HDR_SIZE, align4, ipText, putAttrHeader, putU16be, putU16le, putU32be, u16be, u16le, u32be,
  type AttrErrorCode
} from './conntrackd-attrs.js'

/** NTA_NAT_SEQ_ADJ: six u32 in this order. */
export interface NatSeqAdj {
  origCorrectionPos: number
  origOffsetBefore: number
  origOffsetAfter: number
  replCorrectionPos: number
  replOffsetBefore: number
  replOffsetAfter: number
}

/** NTA_SYNPROXY: three u32 in this order. */
export interface Synproxy {
  its: number
  isn: number
  tsoff: number
}

/**
 * Decoded conntrack attributes. Addresses are canonical text (src/codec/ip.ts); the family of an address field
 * selects NTA_IPV4 vs NTA_IPV6 (and the MASTER/SNAT/DNAT variants) when encoding.
 */
export interface CtAttrs {
  /** NTA_IPV4 / NTA_IPV6: original-direction source and destination (both or neither). */
  src?: string
  dst?: string
  /** NTA_L4PROTO */
  l4proto?: number
  /** NTA_PORT: original-direction ports (both or neither). */
  sport?: number
  dport?: number
  /** NTA_TCP_STATE: kernel TCP conntrack state (0 NONE … 3 ESTABLISHED … 7 TIME_WAIT …). */
  tcpState?: number
  /** NTA_STATUS: IPS_* bits. */
  status?: number
  /** NTA_TIMEOUT: seconds left. */
  timeout?: number
  /** NTA_MARK */
  mark?: number
  /** NTA_MASTER_IPV4 / NTA_MASTER_IPV6 (both or neither). */
  masterSrc?: string
  masterDst?: string
  /** NTA_MASTER_L4PROTO */
  masterL4proto?: number
  /** NTA_MASTER_PORT (both or neither). */
  masterSport?: number
  masterDport?: number
  /** NTA_SNAT_IPV4 / NTA_SNAT_IPV6: the reply-direction destination address. */
  snatAddr?: string
  /** NTA_DNAT_IPV4 / NTA_DNAT_IPV6: the reply-direction source address. */
  dnatAddr?: string
  /** NTA_SPAT_PORT: the reply-direction destination port (little-endian on the wire). */
  spatPort?: number
  /** NTA_DPAT_PORT: the reply-direction source port (little-endian on the wire). */
  dpatPort?: number
  /** NTA_NAT_SEQ_ADJ */
  natSeqAdj?: NatSeqAdj
  /** NTA_SCTP_STATE, NTA_SCTP_VTAG_ORIG, NTA_SCTP_VTAG_REPL */
  sctpState?: number
  sctpVtagOrig?: number
  sctpVtagRepl?: number
  /** NTA_DCCP_STATE, NTA_DCCP_ROLE */
  dccpState?: number
  dccpRole?: number
  /** NTA_ICMP_TYPE, NTA_ICMP_CODE (original direction), NTA_ICMP_ID (little-endian on the wire). */
  icmpType?: number
  icmpCode?: number
  icmpId?: number
  /** NTA_TCP_WSCALE_ORIG / _REPL (only sent with TCPWindowTracking on). */
  tcpWscaleOrig?: number
  tcpWscaleRepl?: number
  /** NTA_HELPER_NAME: at most 11 characters (NUL-terminated, nta_len ≤ 16). */
  helper?: string
  /** NTA_LABELS: the connlabel bitmap as u32 words; bit b of word i is label 32·i + b. */
  labels?: number[]
  /** NTA_SYNPROXY */
  synproxy?: Synproxy
  /** NTA_ZONE */
  zone?: number
}

const HELPER_MAX_CHARS = 11
const LABELS_MAX_WORDS = 256

function invalid (message: string): CodecError {
  return new CodecError('CTD_ENCODE_INVALID', message)
}

/** The family parseIP would give `text` (it decides on ':'); the address itself is checked when written. */
function familyOf (text: string): 'ipv4' | 'ipv6' {
  return text.includes(':') ? 'ipv6' : 'ipv4'
}

/** Write the address `text` of family `fam` at `off` (4 or 16 bytes). */
function putAddr (out: Uint8Array, off: number, text: string, fam: 'ipv4' | 'ipv6', field: string): void {
  if (fam === 'ipv4') {
    if (!parseIPv4Into(text, out, off)) throw invalid(`${field}: not an IP address: ${text}`)
    return
  }
  if (!parseIPv6Into(text, out, off)) throw invalid(`${field}: not an IP address: ${text}`)
}

function checkInt (v: number, bits: 8 | 16 | 32, field: string): number {
  // `v >>> 0 === v`: an integer in [0, 2^32) (not NaN, not a fraction, not a string).
  if ((v >>> 0) !== v || v > (bits === 32 ? 0xffffffff : bits === 16 ? 0xffff : 0xff)) throw invalid(`${field}: ${v} is not a u${bits}`)
  return v
}

function bothOrNeither (a: unknown, b: unknown, names: string): boolean {
  if (a === undefined && b === undefined) return false
  if (a === undefined || b === undefined) throw invalid(`${names}: set both or neither`)
  return true
}

function addrPair (out: Uint8Array, off: number, src: string | undefined, dst: string | undefined, v4: number, v6: number, names: string): number {
  if (!bothOrNeither(src, dst, names)) return off
  const fam = familyOf(src as string)
  if (familyOf(dst as string) !== fam) throw invalid(`${names}: mixed address families`)
  const size = fam === 'ipv4' ? 4 : 16
  const p = putAttrHeader(out, off, fam === 'ipv4' ? v4 : v6, 2 * size)
  putAddr(out, p, src as string, fam, names)
  putAddr(out, p + size, dst as string, fam, names)
  return p + 2 * size
}

function portPair (out: Uint8Array, off: number, id: number, sport: number | undefined, dport: number | undefined, names: string): number {
  if (!bothOrNeither(sport, dport, names)) return off
  const p = putAttrHeader(out, off, id, 4)
  putU16be(out, p, checkInt(sport as number, 16, names))
  putU16be(out, p + 2, checkInt(dport as number, 16, names))
  return p + 4
}

function natAddr (out: Uint8Array, off: number, text: string | undefined, v4: number, v6: number, field: string): number {
  if (text === undefined) return off
  const fam = familyOf(text)
  const p = putAttrHeader(out, off, fam === 'ipv4' ? v4 : v6, fam === 'ipv4' ? 4 : 16)
  putAddr(out, p, text, fam, field)
  return fam === 'ipv4' ? p + 4 : p + 16
}

function attrU8 (out: Uint8Array, off: number, id: number, v: number | undefined, field: string): number {
  if (v === undefined) return off
  const p = putAttrHeader(out, off, id, 1)
  out[p] = checkInt(v, 8, field)
  return p + 4 // 1 byte + 3 of padding
}

function attrU16le (out: Uint8Array, off: number, id: number, v: number | undefined, field: string): number {
  if (v === undefined) return off
  const p = putAttrHeader(out, off, id, 2)
  putU16le(out, p, checkInt(v, 16, field))
  return p + 4
}

function attrU32 (out: Uint8Array, off: number, id: number, v: number | undefined, field: string): number {
  if (v === undefined) return off
  const p = putAttrHeader(out, off, id, 4)
  putU32be(out, p, checkInt(v, 32, field))
  return p + 4
}

/** Several u32 in one attribute (NAT_SEQ_ADJ, SYNPROXY). */
function attrU32s (out: Uint8Array, off: number, id: number, vs: readonly number[], field: string): number {
  let p = putAttrHeader(out, off, id, 4 * vs.length)
  for (const v of vs) { putU32be(out, p, checkInt(v, 32, field)); p += 4 }
  return p
}

/**
 * Write the attributes at `out[off…]` in conntrackd's emission order (§1.7): L3 addresses first (NTA_IPV4/6 must
 * precede NTA_ICMP_TYPE, §1.5), then status, L4 protocol, per-protocol fields, timeout, mark, master, NAT, seq
 * adjustment, helper, labels, synproxy, zone. Returns the offset after the last attribute (padding included).
 * `out` needs CT_ATTRS_MAX_BYTES from `off`. Throws CTD_ENCODE_INVALID for a value that cannot be put on the
 * wire, leaving `out` partly written.
 */
export function writeCtAttrs (a: CtAttrs, out: Uint8Array, off: number): number {
  off = addrPair(out, off, a.src, a.dst, NTA.IPV4, NTA.IPV6, 'src/dst')
  off = attrU32(out, off, NTA.STATUS, a.status, 'status')
  off = attrU8(out, off, NTA.L4PROTO, a.l4proto, 'l4proto')
  off = portPair(out, off, NTA.PORT, a.sport, a.dport, 'sport/dport')
  off = attrU8(out, off, NTA.TCP_STATE, a.tcpState, 'tcpState')
  off = attrU8(out, off, NTA.TCP_WSCALE_ORIG, a.tcpWscaleOrig, 'tcpWscaleOrig')
  off = attrU8(out, off, NTA.TCP_WSCALE_REPL, a.tcpWscaleRepl, 'tcpWscaleRepl')
  off = attrU8(out, off, NTA.SCTP_STATE, a.sctpState, 'sctpState')
  off = attrU32(out, off, NTA.SCTP_VTAG_ORIG, a.sctpVtagOrig, 'sctpVtagOrig')
  off = attrU32(out, off, NTA.SCTP_VTAG_REPL, a.sctpVtagRepl, 'sctpVtagRepl')
  off = attrU8(out, off, NTA.DCCP_STATE, a.dccpState, 'dccpState')
  off = attrU8(out, off, NTA.DCCP_ROLE, a.dccpRole, 'dccpRole')
  off = attrU8(out, off, NTA.ICMP_TYPE, a.icmpType, 'icmpType')
  off = attrU8(out, off, NTA.ICMP_CODE, a.icmpCode, 'icmpCode')
  off = attrU16le(out, off, NTA.ICMP_ID, a.icmpId, 'icmpId')
  off = attrU32(out, off, NTA.TIMEOUT, a.timeout, 'timeout')
  off = attrU32(out, off, NTA.MARK, a.mark, 'mark')
  off = addrPair(out, off, a.masterSrc, a.masterDst, NTA.MASTER_IPV4, NTA.MASTER_IPV6, 'masterSrc/masterDst')
  off = attrU8(out, off, NTA.MASTER_L4PROTO, a.masterL4proto, 'masterL4proto')
  off = portPair(out, off, NTA.MASTER_PORT, a.masterSport, a.masterDport, 'masterSport/masterDport')
  off = natAddr(out, off, a.snatAddr, NTA.SNAT_IPV4, NTA.SNAT_IPV6, 'snatAddr')
  off = natAddr(out, off, a.dnatAddr, NTA.DNAT_IPV4, NTA.DNAT_IPV6, 'dnatAddr')
  off = attrU16le(out, off, NTA.SPAT_PORT, a.spatPort, 'spatPort')
  off = attrU16le(out, off, NTA.DPAT_PORT, a.dpatPort, 'dpatPort')
  if (a.natSeqAdj !== undefined) {
    const s = a.natSeqAdj
    off = attrU32s(out, off, NTA.NAT_SEQ_ADJ, [s.origCorrectionPos, s.origOffsetBefore, s.origOffsetAfter, s.replCorrectionPos, s.replOffsetBefore, s.replOffsetAfter], 'natSeqAdj')
  }
  if (a.helper !== undefined) {
    // Helper names are ASCII kernel identifiers; one byte per character plus the terminating NUL.
    const h = a.helper
    if (h.length > HELPER_MAX_CHARS || !/^[\x01-\x7f]*$/.test(h)) throw invalid(`helper: must be at most ${HELPER_MAX_CHARS} ASCII characters`)
    const p = putAttrHeader(out, off, NTA.HELPER_NAME, h.length + 1)
    for (let i = 0; i < h.length; i++) out[p + i] = h.charCodeAt(i)
    out[p + h.length] = 0
    off = p + align4(h.length + 1)
  }
  if (a.labels !== undefined && a.labels.length > 0) {
    if (a.labels.length > LABELS_MAX_WORDS) throw invalid(`labels: more than ${LABELS_MAX_WORDS} words`)
    off = attrU32s(out, off, NTA.LABELS, a.labels, 'labels')
  }
  if (a.synproxy !== undefined) off = attrU32s(out, off, NTA.SYNPROXY, [a.synproxy.its, a.synproxy.isn, a.synproxy.tsoff], 'synproxy')
  if (a.zone !== undefined) {
    const p = putAttrHeader(out, off, NTA.ZONE, 2)
    putU16be(out, p, checkInt(a.zone, 16, 'zone'))
    off = p + 4
  }
  return off
}

/**
 * Decode the attribute area [start, end) of a conntrack message; duplicates overwrite (as in `msg2ct`). The walk
 * and its checks are walkAttrs's (conntrackd-attrs.ts, same order, same codes), inlined to read each value in
 * place: no list of attributes, no subarray per value.
 */
export function readCtAttrs (buf: Uint8Array, start: number, end: number): CtAttrs {
  const a: CtAttrs = {}
  let off = start
  while (end - off > NTA_HDR_SIZE) {
    const ntaLen = u16be(buf, off)
    const id = u16be(buf, off + 2)
    checkAttr(id, ntaLen, off, end)
    const p = off + NTA_HDR_SIZE
    switch (id) {
      case NTA.IPV4: a.src = ipText(buf, p, 'ipv4'); a.dst = ipText(buf, p + 4, 'ipv4'); break
      case NTA.IPV6: a.src = ipText(buf, p, 'ipv6'); a.dst = ipText(buf, p + 16, 'ipv6'); break
      case NTA.L4PROTO: a.l4proto = buf[p] as number; break
      case NTA.PORT: a.sport = u16be(buf, p); a.dport = u16be(buf, p + 2); break
      case NTA.TCP_STATE: a.tcpState = buf[p] as number; break
      case NTA.STATUS: a.status = u32be(buf, p); break
      case NTA.TIMEOUT: a.timeout = u32be(buf, p); break
      case NTA.MARK: a.mark = u32be(buf, p); break
      case NTA.MASTER_IPV4: a.masterSrc = ipText(buf, p, 'ipv4'); a.masterDst = ipText(buf, p + 4, 'ipv4'); break
      case NTA.MASTER_IPV6: a.masterSrc = ipText(buf, p, 'ipv6'); a.masterDst = ipText(buf, p + 16, 'ipv6'); break
      case NTA.MASTER_L4PROTO: a.masterL4proto = buf[p] as number; break
      case NTA.MASTER_PORT: a.masterSport = u16be(buf, p); a.masterDport = u16be(buf, p + 2); break
      case NTA.SNAT_IPV4: a.snatAddr = ipText(buf, p, 'ipv4'); break
      case NTA.DNAT_IPV4: a.dnatAddr = ipText(buf, p, 'ipv4'); break
      case NTA.SPAT_PORT: a.spatPort = u16le(buf, p); break // HOST-LE quirk, §1.6
      case NTA.DPAT_PORT: a.dpatPort = u16le(buf, p); break // HOST-LE quirk, §1.6
      case NTA.NAT_SEQ_ADJ:
        a.natSeqAdj = {
          origCorrectionPos: u32be(buf, p),
          origOffsetBefore: u32be(buf, p + 4),
          origOffsetAfter: u32be(buf, p + 8),
          replCorrectionPos: u32be(buf, p + 12),
          replOffsetBefore: u32be(buf, p + 16),
          replOffsetAfter: u32be(buf, p + 20)
        }
        break
      case NTA.SCTP_STATE: a.sctpState = buf[p] as number; break
      case NTA.SCTP_VTAG_ORIG: a.sctpVtagOrig = u32be(buf, p); break
      case NTA.SCTP_VTAG_REPL: a.sctpVtagRepl = u32be(buf, p); break
      case NTA.DCCP_STATE: a.dccpState = buf[p] as number; break
      case NTA.DCCP_ROLE: a.dccpRole = buf[p] as number; break
      case NTA.ICMP_TYPE: a.icmpType = buf[p] as number; break
      case NTA.ICMP_CODE: a.icmpCode = buf[p] as number; break
      case NTA.ICMP_ID: a.icmpId = u16le(buf, p); break // HOST-LE quirk, §1.6
      case NTA.TCP_WSCALE_ORIG: a.tcpWscaleOrig = buf[p] as number; break
      case NTA.TCP_WSCALE_REPL: a.tcpWscaleRepl = buf[p] as number; break
      case NTA.HELPER_NAME: {
        // conntrackd copies the NUL-terminated string; anything after the first NUL is ignored.
        let h = ''
        for (let i = p; i < off + ntaLen && buf[i] !== 0; i++) h += String.fromCharCode(buf[i] as number)
        a.helper = h
        break
      }
      case NTA.LABELS: {
        // Whole words only, as conntrackd's parser reads (nta_len - 4) / 4 words.
        const words: number[] = []
        for (let o = p; o + 4 <= off + ntaLen; o += 4) words.push(u32be(buf, o))
        a.labels = words
        break
      }
      case NTA.SNAT_IPV6: a.snatAddr = ipText(buf, p, 'ipv6'); break
      case NTA.DNAT_IPV6: a.dnatAddr = ipText(buf, p, 'ipv6'); break
      case NTA.SYNPROXY: a.synproxy = { its: u32be(buf, p), isn: u32be(buf, p + 4), tsoff: u32be(buf, p + 8) }; break
      case NTA.ZONE: a.zone = u16be(buf, p); break
    }
    off += align4(ntaLen)
  }
  return a
}

/**
 * readCtAttrs's walk and checks without decoding the values: throws what readCtAttrs would throw on the
 * same bytes (the receiver validates a message before it is sequenced; its attributes are read later, from
 * the bytes, by whoever takes the entry).
 */
export function checkCtAttrs (buf: Uint8Array, start: number, end: number): void {
  let off = start
  while (end - off > NTA_HDR_SIZE) {
    const ntaLen = u16be(buf, off)
    checkAttr(u16be(buf, off + 2), ntaLen, off, end)
    off += align4(ntaLen)
  }
}

/** walkAttrs's checks for one conntrack attribute (conntrackd-attrs.ts lists them), in its order. */
function checkAttr (id: number, ntaLen: number, off: number, end: number): void {
  if (ntaLen > end - off) throw new CodecError<AttrErrorCode>('CTD_ATTR_TRUNCATED', `attribute ${id} nta_len ${ntaLen} exceeds the ${end - off} bytes left`, off)
  if (ntaLen < NTA_HDR_SIZE) throw new CodecError<AttrErrorCode>('CTD_BAD_ATTR_LEN', `attribute ${id} nta_len ${ntaLen} < 4`, off)
  const rule = CT_ATTR_RULES[id]
  if (rule === undefined) throw new CodecError<AttrErrorCode>('CTD_ATTR_OUT_OF_RANGE', `attribute id ${id} ≥ ${CT_ATTR_RULES.length}`, off)
  if ('size' in rule) {
    if (ntaLen !== NTA_HDR_SIZE + rule.size) throw new CodecError<AttrErrorCode>('CTD_BAD_ATTR_LEN', `attribute ${id} nta_len ${ntaLen}, expected ${NTA_HDR_SIZE + rule.size}`, off)
  } else if (ntaLen > rule.maxLen) {
    throw new CodecError<AttrErrorCode>('CTD_ATTR_TOO_LONG', `attribute ${id} nta_len ${ntaLen} > max ${rule.maxLen}`, off)
  }
}
