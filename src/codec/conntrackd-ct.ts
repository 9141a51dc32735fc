/**
 * Conntrack payload of conntrackd NEW/UPD/DEL messages: NTA_* attributes ⇄ `CtAttrs`.
 *
 * `CtAttrs` is the wire content in plain form, one optional field per NTA_* attribute (specs/conntrackd-ftfw.md
 * §1.6). Only the original tuple travels; NAT is carried as the SNAT/DNAT address and port. Which fields a sender
 * should fill (e.g. SNAT only with IPS_SRC_NAT_DONE, §1.7 item 8) is the caller's decision, not the codec's: the
 * encoder writes every field that is present, in conntrackd's own order (`ct2msg`, src/build.c).
 */
import { CodecError } from './errors.js'
import { parseIP } from './ip.js'
import {
  AttrWriter, CT_ATTR_RULES, NTA, ipBytes, ipText, u16be, u16le, u32be, walkAttrs
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

function familyOf (text: string, field: string): 'ipv4' | 'ipv6' {
  const p = parseIP(text)
  if (p === null) throw new CodecError('CTD_ENCODE_INVALID', `${field}: not an IP address: ${text}`)
  return p.family
}

function checkInt (v: number, bits: 8 | 16 | 32, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) throw new CodecError('CTD_ENCODE_INVALID', `${field}: ${v} is not a u${bits}`)
  return v
}

function pair<T> (a: T | undefined, b: T | undefined, names: string): [T, T] | null {
  if (a === undefined && b === undefined) return null
  if (a === undefined || b === undefined) throw new CodecError('CTD_ENCODE_INVALID', `${names}: set both or neither`)
  return [a, b]
}

function addrPair (w: AttrWriter, src: string | undefined, dst: string | undefined, ids: { v4: number, v6: number }, names: string): void {
  const p = pair(src, dst, names)
  if (p === null) return
  const fam = familyOf(p[0], names)
  if (familyOf(p[1], names) !== fam) throw new CodecError('CTD_ENCODE_INVALID', `${names}: mixed address families`)
  const b = new Uint8Array(fam === 'ipv4' ? 8 : 32)
  b.set(ipBytes(p[0], fam, names), 0)
  b.set(ipBytes(p[1], fam, names), b.length / 2)
  w.put(fam === 'ipv4' ? ids.v4 : ids.v6, b)
}

function portPair (w: AttrWriter, id: number, sport: number | undefined, dport: number | undefined, names: string): void {
  const p = pair(sport, dport, names)
  if (p === null) return
  w.put(id, Uint8Array.of(checkInt(p[0], 16, names) >>> 8, p[0] & 0xff, checkInt(p[1], 16, names) >>> 8, p[1] & 0xff))
}

/**
 * Write the attributes in conntrackd's emission order (§1.7): L3 addresses first (NTA_IPV4/6 must precede
 * NTA_ICMP_TYPE, §1.5), then status, L4 protocol, per-protocol fields, timeout, mark, master, NAT, seq
 * adjustment, helper, labels, synproxy, zone.
 */
export function writeCtAttrs (a: CtAttrs): AttrWriter {
  const w = new AttrWriter()
  const u8 = (id: number, v: number | undefined, f: string): void => { if (v !== undefined) w.u8(id, checkInt(v, 8, f)) }
  const u32 = (id: number, v: number | undefined, f: string): void => { if (v !== undefined) w.u32be(id, checkInt(v, 32, f)) }
  const u16le = (id: number, v: number | undefined, f: string): void => { if (v !== undefined) w.u16le(id, checkInt(v, 16, f)) }

  addrPair(w, a.src, a.dst, { v4: NTA.IPV4, v6: NTA.IPV6 }, 'src/dst')
  u32(NTA.STATUS, a.status, 'status')
  u8(NTA.L4PROTO, a.l4proto, 'l4proto')
  portPair(w, NTA.PORT, a.sport, a.dport, 'sport/dport')
  u8(NTA.TCP_STATE, a.tcpState, 'tcpState')
  u8(NTA.TCP_WSCALE_ORIG, a.tcpWscaleOrig, 'tcpWscaleOrig')
  u8(NTA.TCP_WSCALE_REPL, a.tcpWscaleRepl, 'tcpWscaleRepl')
  u8(NTA.SCTP_STATE, a.sctpState, 'sctpState')
  u32(NTA.SCTP_VTAG_ORIG, a.sctpVtagOrig, 'sctpVtagOrig')
  u32(NTA.SCTP_VTAG_REPL, a.sctpVtagRepl, 'sctpVtagRepl')
  u8(NTA.DCCP_STATE, a.dccpState, 'dccpState')
  u8(NTA.DCCP_ROLE, a.dccpRole, 'dccpRole')
  u8(NTA.ICMP_TYPE, a.icmpType, 'icmpType')
  u8(NTA.ICMP_CODE, a.icmpCode, 'icmpCode')
  u16le(NTA.ICMP_ID, a.icmpId, 'icmpId')
  u32(NTA.TIMEOUT, a.timeout, 'timeout')
  u32(NTA.MARK, a.mark, 'mark')
  addrPair(w, a.masterSrc, a.masterDst, { v4: NTA.MASTER_IPV4, v6: NTA.MASTER_IPV6 }, 'masterSrc/masterDst')
  u8(NTA.MASTER_L4PROTO, a.masterL4proto, 'masterL4proto')
  portPair(w, NTA.MASTER_PORT, a.masterSport, a.masterDport, 'masterSport/masterDport')
  if (a.snatAddr !== undefined) {
    const fam = familyOf(a.snatAddr, 'snatAddr')
    w.put(fam === 'ipv4' ? NTA.SNAT_IPV4 : NTA.SNAT_IPV6, ipBytes(a.snatAddr, fam, 'snatAddr'))
  }
  if (a.dnatAddr !== undefined) {
    const fam = familyOf(a.dnatAddr, 'dnatAddr')
    w.put(fam === 'ipv4' ? NTA.DNAT_IPV4 : NTA.DNAT_IPV6, ipBytes(a.dnatAddr, fam, 'dnatAddr'))
  }
  u16le(NTA.SPAT_PORT, a.spatPort, 'spatPort')
  u16le(NTA.DPAT_PORT, a.dpatPort, 'dpatPort')
  if (a.natSeqAdj !== undefined) {
    const s = a.natSeqAdj
    w.u32be(NTA.NAT_SEQ_ADJ, ...[s.origCorrectionPos, s.origOffsetBefore, s.origOffsetAfter, s.replCorrectionPos, s.replOffsetBefore, s.replOffsetAfter]
      .map(v => checkInt(v, 32, 'natSeqAdj')))
  }
  if (a.helper !== undefined) {
    // Helper names are ASCII kernel identifiers; one byte per character plus the terminating NUL.
    if (a.helper.length > HELPER_MAX_CHARS || !/^[\x01-\x7f]*$/.test(a.helper)) {
      throw new CodecError('CTD_ENCODE_INVALID', `helper: must be at most ${HELPER_MAX_CHARS} ASCII characters`)
    }
    const b = new Uint8Array(a.helper.length + 1)
    for (let i = 0; i < a.helper.length; i++) b[i] = a.helper.charCodeAt(i)
    w.put(NTA.HELPER_NAME, b)
  }
  if (a.labels !== undefined && a.labels.length > 0) {
    if (a.labels.length > LABELS_MAX_WORDS) throw new CodecError('CTD_ENCODE_INVALID', `labels: more than ${LABELS_MAX_WORDS} words`)
    w.u32be(NTA.LABELS, ...a.labels.map(v => checkInt(v, 32, 'labels')))
  }
  if (a.synproxy !== undefined) {
    w.u32be(NTA.SYNPROXY, ...[a.synproxy.its, a.synproxy.isn, a.synproxy.tsoff].map(v => checkInt(v, 32, 'synproxy')))
  }
  if (a.zone !== undefined) w.u16be(NTA.ZONE, checkInt(a.zone, 16, 'zone'))
  return w
}

/** Decode the attribute area [start, end) of a conntrack message; duplicates overwrite (as in `msg2ct`). */
export function readCtAttrs (buf: Uint8Array, start: number, end: number): CtAttrs {
  const a: CtAttrs = {}
  for (const { id, value: v } of walkAttrs(buf, start, end, CT_ATTR_RULES)) {
    switch (id) {
      case NTA.IPV4: a.src = ipText(v, 0, 'ipv4'); a.dst = ipText(v, 4, 'ipv4'); break
      case NTA.IPV6: a.src = ipText(v, 0, 'ipv6'); a.dst = ipText(v, 16, 'ipv6'); break
      case NTA.L4PROTO: a.l4proto = v[0] as number; break
      case NTA.PORT: a.sport = u16be(v, 0); a.dport = u16be(v, 2); break
      case NTA.TCP_STATE: a.tcpState = v[0] as number; break
      case NTA.STATUS: a.status = u32be(v); break
      case NTA.TIMEOUT: a.timeout = u32be(v); break
      case NTA.MARK: a.mark = u32be(v); break
      case NTA.MASTER_IPV4: a.masterSrc = ipText(v, 0, 'ipv4'); a.masterDst = ipText(v, 4, 'ipv4'); break
      case NTA.MASTER_IPV6: a.masterSrc = ipText(v, 0, 'ipv6'); a.masterDst = ipText(v, 16, 'ipv6'); break
      case NTA.MASTER_L4PROTO: a.masterL4proto = v[0] as number; break
      case NTA.MASTER_PORT: a.masterSport = u16be(v, 0); a.masterDport = u16be(v, 2); break
      case NTA.SNAT_IPV4: a.snatAddr = ipText(v, 0, 'ipv4'); break
      case NTA.DNAT_IPV4: a.dnatAddr = ipText(v, 0, 'ipv4'); break
      case NTA.SPAT_PORT: a.spatPort = u16le(v); break // HOST-LE quirk, §1.6
      case NTA.DPAT_PORT: a.dpatPort = u16le(v); break // HOST-LE quirk, §1.6
      case NTA.NAT_SEQ_ADJ:
        a.natSeqAdj = {
          origCorrectionPos: u32be(v, 0),
          origOffsetBefore: u32be(v, 4),
          origOffsetAfter: u32be(v, 8),
          replCorrectionPos: u32be(v, 12),
          replOffsetBefore: u32be(v, 16),
          replOffsetAfter: u32be(v, 20)
        }
        break
      case NTA.SCTP_STATE: a.sctpState = v[0] as number; break
      case NTA.SCTP_VTAG_ORIG: a.sctpVtagOrig = u32be(v); break
      case NTA.SCTP_VTAG_REPL: a.sctpVtagRepl = u32be(v); break
      case NTA.DCCP_STATE: a.dccpState = v[0] as number; break
      case NTA.DCCP_ROLE: a.dccpRole = v[0] as number; break
      case NTA.ICMP_TYPE: a.icmpType = v[0] as number; break
      case NTA.ICMP_CODE: a.icmpCode = v[0] as number; break
      case NTA.ICMP_ID: a.icmpId = u16le(v); break // HOST-LE quirk, §1.6
      case NTA.TCP_WSCALE_ORIG: a.tcpWscaleOrig = v[0] as number; break
      case NTA.TCP_WSCALE_REPL: a.tcpWscaleRepl = v[0] as number; break
      case NTA.HELPER_NAME: {
        // conntrackd copies the NUL-terminated string; anything after the first NUL is ignored.
        const nul = v.indexOf(0)
        a.helper = String.fromCharCode(...v.subarray(0, nul < 0 ? v.length : nul))
        break
      }
      case NTA.LABELS: {
        // Whole words only, as conntrackd's parser reads (nta_len - 4) / 4 words.
        const words: number[] = []
        for (let o = 0; o + 4 <= v.length; o += 4) words.push(u32be(v, o))
        a.labels = words
        break
      }
      case NTA.SNAT_IPV6: a.snatAddr = ipText(v, 0, 'ipv6'); break
      case NTA.DNAT_IPV6: a.dnatAddr = ipText(v, 0, 'ipv6'); break
      case NTA.SYNPROXY: a.synproxy = { its: u32be(v, 0), isn: u32be(v, 4), tsoff: u32be(v, 8) }; break
      case NTA.ZONE: a.zone = u16be(v); break
    }
  }
  return a
}
