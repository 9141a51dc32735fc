/**
 * The canonical conntrack entry (`Flow`) shared by the ctnetlink codec, the conntrackd FTFW codec and
 * the caches.
 *
 * Plain data only: numbers are host integers (wire byte order is the codec's business), addresses are
 * canonical text (dotted quad, RFC 5952 IPv6 via codec/ip.ts), binary blobs are Uint8Array.
 * Every field except `family` and the tuples is optional because kernel events are partial: ctnetlink
 * sends protoinfo only when it changed, mark only when set or changed, destroy events without most
 * meta data (conntrackd-ftfw spec §5.4). Absent means "not told", never "zero".
 */

export type FlowFamily = 'ipv4' | 'ipv6'

/** IP protocol numbers that conntrack knows by name. */
export const L4Proto = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  DCCP: 33,
  GRE: 47,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136
} as const

/** Protocols whose tuple carries 16-bit source/destination "ports" (GRE: the keys). */
export function hasPorts (l4proto: number): boolean {
  return l4proto === L4Proto.TCP || l4proto === L4Proto.UDP || l4proto === L4Proto.UDPLITE ||
    l4proto === L4Proto.SCTP || l4proto === L4Proto.DCCP || l4proto === L4Proto.GRE
}

/** Protocols whose tuple carries ICMP type, code and id instead of ports. */
export function isIcmp (l4proto: number): boolean {
  return l4proto === L4Proto.ICMP || l4proto === L4Proto.ICMPV6
}

/**
 * One direction of a connection (`struct nf_conntrack_tuple`).
 * Ports are host integers 0..65535 (be16 on the ctnetlink wire); for GRE they hold the 16-bit keys
 * as the kernel's tuple does. ICMP(v6) tuples use `icmpType`/`icmpCode` (u8) and `icmpId` (u16).
 */
export interface FlowTuple {
  /** Source address, canonical text. */
  src: string
  /** Destination address, canonical text. */
  dst: string
  /** IP protocol number (L4Proto). */
  l4proto: number
  sport?: number
  dport?: number
  icmpType?: number
  icmpCode?: number
  icmpId?: number
  /** Direction-specific zone (CTA_TUPLE_ZONE), only when the kernel/peer gave one. */
  zone?: number
}

/** IPS_* status bits ([UAPI] nf_conntrack_common.h). */
export const IPS = {
  EXPECTED: 0x1,
  SEEN_REPLY: 0x2,
  ASSURED: 0x4,
  CONFIRMED: 0x8,
  SRC_NAT: 0x10,
  DST_NAT: 0x20,
  SEQ_ADJUST: 0x40,
  SRC_NAT_DONE: 0x80,
  DST_NAT_DONE: 0x100,
  DYING: 0x200,
  FIXED_TIMEOUT: 0x400,
  TEMPLATE: 0x800,
  UNTRACKED: 0x1000,
  HELPER: 0x2000,
  OFFLOAD: 0x4000,
  HW_OFFLOAD: 0x8000
} as const

/** NAT related status bits: not settable through ctnetlink, stripped before an update. */
export const IPS_NAT_MASK = IPS.SRC_NAT | IPS.DST_NAT | IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE

/** TCP conntrack states (enum tcp_conntrack), index = wire value of CTA_PROTOINFO_TCP_STATE. */
export const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT',
  'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'] as const

/** SCTP conntrack states (enum sctp_conntrack), index = wire value of CTA_PROTOINFO_SCTP_STATE. */
export const SCTP_STATES = ['NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT',
  'SHUTDOWN_RECD', 'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT'] as const

/** IP_CT_TCP_FLAG_BE_LIBERAL: conntrackd sets it on commit unless TCPWindowTracking is on (spec §4.3). */
export const TCP_FLAG_BE_LIBERAL = 0x08

/** `struct nf_ct_tcp_flags`: the flag bits and which of them the sender means to change. */
export interface TcpFlags { flags: number, mask: number }

export interface TcpInfo {
  /** enum tcp_conntrack (TCP_STATES). */
  state?: number
  /** Window scale shift, per direction. */
  wscaleOrig?: number
  wscaleReply?: number
  flagsOrig?: TcpFlags
  flagsReply?: TcpFlags
}

export interface SctpInfo {
  /** enum sctp_conntrack (SCTP_STATES). */
  state?: number
  /** Verification tags as u32 host integers (be32 on the ctnetlink wire). */
  vtagOrig?: number
  vtagReply?: number
}

export interface DccpInfo {
  state?: number
  role?: number
  /** 48-bit handshake sequence (be64 on the wire); exact as a JS number. */
  handshakeSeq?: number
}

/**
 * What NAT did, in conntrackd's terms (NTA_SNAT/DNAT/SPAT/DPAT): derived from the reply tuple, never
 * sent by the kernel as such.
 * - `src` (SNAT): the address/port the responder sees as our source = reply.dst / reply.dport.
 * - `dst` (DNAT): the real destination = reply.src / reply.sport.
 * A field is present only when it differs from the original tuple.
 */
export interface NatBinding { ip?: string, port?: number }
export interface FlowNat { src?: NatBinding, dst?: NatBinding }

/** `struct nf_ct_seqadj` for one direction (u32 each, be32 on the wire). */
export interface SeqAdj { correctionPos: number, offsetBefore: number, offsetAfter: number }

/** SYNPROXY state (u32 each, be32 on the wire). */
export interface Synproxy { isn: number, its: number, tsoff: number }

/** Per-direction counters; be64 on the wire, exact below 2^53. */
export interface FlowCounters { packets: number, bytes: number }

export interface Flow {
  family: FlowFamily
  orig: FlowTuple
  reply: FlowTuple
  /** IPS_* bit set. */
  status?: number
  /** Seconds until the entry expires. */
  timeout?: number
  /** ct mark, u32. */
  mark?: number
  /** Conntrack zone (CTA_ZONE), u16. Absent = default zone 0. */
  zone?: number
  /** Kernel conntrack id (CTA_ID), u32; not part of the key. */
  id?: number
  /** Reference count (CTA_USE); informational. */
  use?: number
  tcp?: TcpInfo
  sctp?: SctpInfo
  dccp?: DccpInfo
  nat?: FlowNat
  seqAdj?: { orig?: SeqAdj, reply?: SeqAdj }
  /** Helper name (CTA_HELP_NAME), e.g. "ftp". */
  helper?: string
  /** Connlabel bitmap, raw bytes in the kernel's native layout (CTA_LABELS is not byte-swapped). */
  labels?: Uint8Array
  /** Original tuple of the master connection, for RELATED entries. */
  master?: FlowTuple
  synproxy?: Synproxy
  counters?: { orig?: FlowCounters, reply?: FlowCounters }
}

const ICMP_REPLY_TYPE: Readonly<Record<number, number>> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 }
const ICMPV6_REPLY_TYPE: Readonly<Record<number, number>> = { 128: 129, 129: 128, 139: 140, 140: 139 }

/** The ICMP type of the reply to `type` (invertTuple's mapping; unknown types are kept). */
export function icmpReplyType (l4proto: number, type: number): number {
  return (l4proto === L4Proto.ICMPV6 ? ICMPV6_REPLY_TYPE : ICMP_REPLY_TYPE)[type] ?? type
}

/**
 * The tuple seen in the other direction: addresses and ports swapped; ICMP echo/timestamp/info/mask
 * requests become replies (the kernel's invmap). Unknown ICMP types are kept as they are.
 */
export function invertTuple (t: FlowTuple): FlowTuple {
  const out: FlowTuple = { src: t.dst, dst: t.src, l4proto: t.l4proto }
  if (t.sport !== undefined || t.dport !== undefined) {
    if (t.dport !== undefined) out.sport = t.dport
    if (t.sport !== undefined) out.dport = t.sport
  }
  if (t.icmpType !== undefined) {
    const table = t.l4proto === L4Proto.ICMPV6 ? ICMPV6_REPLY_TYPE : ICMP_REPLY_TYPE
    out.icmpType = table[t.icmpType] ?? t.icmpType
  }
  if (t.icmpCode !== undefined) out.icmpCode = t.icmpCode
  if (t.icmpId !== undefined) out.icmpId = t.icmpId
  if (t.zone !== undefined) out.zone = t.zone
  return out
}

/** Stable text key of one tuple: protocol, addresses, then ports or ICMP type/code/id. */
export function tupleKey (t: FlowTuple): string {
  const l4 = isIcmp(t.l4proto)
    ? `${t.icmpType ?? ''}/${t.icmpCode ?? ''}/${t.icmpId ?? ''}`
    : `${t.sport ?? ''}/${t.dport ?? ''}`
  return `${t.l4proto}|${t.src}|${t.dst}|${l4}`
}

/**
 * Cache key of a flow: family, the ORIGINAL tuple and the zone, as conntrackd 1.4.7 hashes entries
 * (spec §4.1). The id and everything else are not part of it.
 */
export function flowKey (flow: Flow): string {
  const oz = flow.orig.zone === undefined ? '' : `|oz${flow.orig.zone}`
  return `${flow.family}|${tupleKey(flow.orig)}|z${flow.zone ?? 0}${oz}`
}

/**
 * The NAT a flow shows, derived like libnetfilter_conntrack's NFCT_GOPT_IS_SNAT/DNAT/SPAT/DPAT:
 * the *_NAT_DONE bit must be set and the reply tuple must differ from the inverted original.
 * Returns undefined when no NAT changed anything (null bindings set the DONE bits too).
 */
export function deriveNat (orig: FlowTuple, reply: FlowTuple, status: number): FlowNat | undefined {
  if ((status & (IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)) === 0) return undefined // most flows: nothing to build
  const nat: FlowNat = {}
  if ((status & IPS.SRC_NAT_DONE) !== 0) {
    const b: NatBinding = {}
    if (reply.dst !== orig.src) b.ip = reply.dst
    if (hasPorts(orig.l4proto) && reply.dport !== undefined && reply.dport !== orig.sport) b.port = reply.dport
    if (b.ip !== undefined || b.port !== undefined) nat.src = b
  }
  if ((status & IPS.DST_NAT_DONE) !== 0) {
    const b: NatBinding = {}
    if (reply.src !== orig.dst) b.ip = reply.src
    if (hasPorts(orig.l4proto) && reply.sport !== undefined && reply.sport !== orig.dport) b.port = reply.sport
    if (b.ip !== undefined || b.port !== undefined) nat.dst = b
  }
  return nat.src === undefined && nat.dst === undefined ? undefined : nat
}

/**
 * Merge a partial update into a known flow (conntrackd CT_UPD semantics, spec §4.1): every field the
 * update carries overwrites, absent fields keep their old values. Protocol info is merged field by
 * field because events carry it only when it changed.
 */
export function mergeFlow (base: Flow, update: Flow): Flow {
  const out: Flow = { ...base }
  for (const [k, v] of Object.entries(update) as Array<[keyof Flow, Flow[keyof Flow]]>) {
    if (v === undefined) continue
    if (k === 'tcp' || k === 'sctp' || k === 'dccp' || k === 'seqAdj' || k === 'counters') {
      (out as unknown as Record<string, unknown>)[k] = { ...(base[k] ?? {}), ...(v as object) }
    } else {
      (out as unknown as Record<string, unknown>)[k] = v
    }
  }
  return out
}
