/**
 * ctnetlink (NETLINK_NETFILTER, subsystem CTNETLINK) messages ⇄ Flow.
 *
 * Decoding is table-driven: each attribute id maps to {name, minimum payload size, apply}. Unknown
 * attribute ids are skipped (newer kernels add attributes; that is not an error), known ones shorter
 * than their minimum are rejected. Requests are built in ./ctnetlink-request.ts (re-exported here).
 *
 * Validation order for one message (each failure is a CodecError with a stable code):
 *   1. netlink framing (netlink.ts: NLMSG_*), then the nfgenmsg header (NFGENMSG_TRUNCATED);
 *   2. attribute framing at every nesting level (nlattr.ts: NLA_*);
 *   3. per known attribute: payload size (CT_ATTR_TOO_SHORT);
 *   4. the tuples: both present (CT_MISSING_TUPLE), each with addresses and a protocol number
 *      (CT_INCOMPLETE_TUPLE), addresses of the message's family (CT_FAMILY_MISMATCH).
 *
 * Event classification (spec §5.4, [K] ctnetlink_conntrack_event): CT_NEW with CREATE|EXCL = 'new',
 * other CT_NEW (events with flags 0, dump replies with MULTI) = 'update', CT_DELETE = 'destroy'.
 */
import { CodecError } from './errors.js'
import { formatIPv4, formatIPv6 } from './ip.js'
import { checkAttrs, nlAlign, NLA_HDRLEN, NLA_TYPE_MASK, type NlattrErrorCode, NLATTR_ERROR_CODES } from './nlattr.js'
import {
  splitMessages, decodeNlError, decodeNfGenMsg, NlMsgType, NlmF, AF, NFGENMSG_LEN, NLMSG_HDRLEN,
  NETLINK_ERROR_CODES, type NlMessage, type NlMsgHeader, type NfGenMsg, type NetlinkErrorCode
} from './netlink.js'
import {
  CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTOINFO_SCTP,
  CTA_PROTOINFO_DCCP, CTA_NAT, CTA_PROTONAT, CTA_SEQADJ, CTA_COUNTERS, CTA_HELP, CTA_SYNPROXY,
  IPCTNL_MSG, NFNL_SUBSYS_CTNETLINK
} from './ctnetlink-attrs.js'
import {
  deriveNat, type Flow, type FlowFamily, type FlowTuple, type TcpInfo, type SctpInfo, type DccpInfo,
  type NatBinding, type SeqAdj, type Synproxy, type FlowCounters
} from './flow.js'

export * from './ctnetlink-request.js'

export type CtnetlinkOwnErrorCode =
  | 'CT_ATTR_TOO_SHORT'
  | 'CT_MISSING_TUPLE'
  | 'CT_INCOMPLETE_TUPLE'
  | 'CT_FAMILY_MISMATCH'
  | 'CT_NOT_CONNTRACK'
  | 'CT_ENCODE_NO_TIMEOUT'
  | 'CT_ENCODE_BAD_ADDRESS'
export type CtnetlinkErrorCode = CtnetlinkOwnErrorCode | NlattrErrorCode | NetlinkErrorCode
/** The closed set of codes this codec (with its netlink/nlattr layers) can throw. */
export const CTNETLINK_ERROR_CODES: readonly CtnetlinkErrorCode[] = [
  'CT_ATTR_TOO_SHORT', 'CT_MISSING_TUPLE', 'CT_INCOMPLETE_TUPLE', 'CT_FAMILY_MISMATCH', 'CT_NOT_CONNTRACK',
  'CT_ENCODE_NO_TIMEOUT', 'CT_ENCODE_BAD_ADDRESS', ...NLATTR_ERROR_CODES, ...NETLINK_ERROR_CODES
]

export type CtEvent = 'new' | 'update' | 'destroy'

/** A decoded conntrack message (event or dump/get reply). */
export interface CtFlowMessage {
  kind: 'conntrack'
  event: CtEvent
  flow: Flow
  /** nlmsg_pid: port id of the socket whose request caused it, 0 for packet-driven events. */
  pid: number
  seq: number
  flags: number
}

/** Everything a ctnetlink socket can receive. */
export type CtnlMessage =
  | CtFlowMessage
  | { kind: 'error', errno: number, request: NlMsgHeader, seq: number }
  | { kind: 'done', seq: number, pid: number }
  | { kind: 'overrun', seq: number }
  | { kind: 'noop' }
  /** Another nfnetlink message (e.g. expectations): not ours to decode. */
  | { kind: 'other', type: number, seq: number, pid: number }

// ---------------------------------------------------------------------------------------------
// Table-driven attribute decoding, by offset: attributes are walked in place in the root buffer (no
// NlAttr objects, no Buffer views per attribute; a dump decodes 100k entries). Each level's framing
// is checked first (checkAttrs), then its attributes are applied in wire order.

interface AttrSpec<T> {
  readonly name: string
  /** Minimum payload bytes. */
  readonly min: number
  /** `v`: payload offset in ctx.root; `len`: payload length (>= min). */
  readonly apply: (target: T, ctx: DecodeCtx, v: number, len: number) => void
}
type AttrTable<T> = Readonly<Record<number, AttrSpec<T>>>

/** The buffer being decoded; every offset (and every error offset) is an index into it. */
interface DecodeCtx { readonly root: Buffer }

const u8At = (b: Buffer, o: number): number => b[o] as number
const be16At = (b: Buffer, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number)
const be32At = (b: Buffer, o: number): number =>
  (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0
/** be64 as a JS number, rounded like Number(BigInt): exact below 2^53. */
const be64At = (b: Buffer, o: number): number => be32At(b, o) * 0x100000000 + be32At(b, o + 4)
/** NUL-terminated latin1 string in b[v, v + len); a missing terminator is tolerated. */
function cStringAt (b: Buffer, v: number, len: number): string {
  let end = v
  while (end < v + len && b[end] !== 0) end++
  return b.toString('latin1', v, end)
}

/** Apply `table` to the attributes in ctx.root[start, end) (one nesting level). */
function walk<T> (table: AttrTable<T>, ctx: DecodeCtx, start: number, end: number, target: T): T {
  const b = ctx.root
  checkAttrs(b, start, end)
  for (let o = start; o < end;) {
    const len = (b[o] as number) | ((b[o + 1] as number) << 8)
    const spec = table[((b[o + 2] as number) | ((b[o + 3] as number) << 8)) & NLA_TYPE_MASK]
    if (spec !== undefined) { // unknown attribute: skip, not fatal
      if (len - NLA_HDRLEN < spec.min) {
        throw new CodecError<CtnetlinkErrorCode>('CT_ATTR_TOO_SHORT', `${spec.name}: ${len - NLA_HDRLEN} bytes, needs ${spec.min}`, o)
      }
      spec.apply(target, ctx, o + NLA_HDRLEN, len - NLA_HDRLEN)
    }
    o += nlAlign(len)
  }
  return target
}

interface DecodedTuple { tuple: FlowTuple, family: FlowFamily }

/** CT_ATTR_TOO_SHORT unless a known attribute's payload (at `v`, `len` bytes) has its minimum. */
function need (len: number, min: number, name: string, v: number): void {
  if (len < min) throw new CodecError<CtnetlinkErrorCode>('CT_ATTR_TOO_SHORT', `${name}: ${len} bytes, needs ${min}`, v - NLA_HDRLEN)
}

const attrLen = (b: Buffer, o: number): number => (b[o] as number) | ((b[o + 1] as number) << 8)
const attrType = (b: Buffer, o: number): number => ((b[o + 2] as number) | ((b[o + 3] as number) << 8)) & NLA_TYPE_MASK

/**
 * Decode one tuple nest (payload at `v`); complete or CT_INCOMPLETE_TUPLE. Hand-written rather than
 * table-driven like the rest: every event and dump entry has two or three tuples, and a closure
 * call per attribute plus a draft object per tuple were most of the decoding time of a 100k dump.
 * Same checks in the same order as `walk`: each level's framing first, then its attributes in wire
 * order, unknown ones skipped, known ones held to their minimum size.
 */
function decodeTuple (ctx: DecodeCtx, v: number, len: number, name: string): DecodedTuple {
  const b = ctx.root
  let src: string | undefined
  let dst: string | undefined
  let v4 = false
  let v6 = false
  let l4proto: number | undefined
  let sport: number | undefined
  let dport: number | undefined
  let icmpType: number | undefined
  let icmpCode: number | undefined
  let icmpId: number | undefined
  let zone: number | undefined
  const end = v + len
  checkAttrs(b, v, end)
  for (let o = v; o < end; o += nlAlign(attrLen(b, o))) {
    const p = o + NLA_HDRLEN
    const plen = attrLen(b, o) - NLA_HDRLEN
    switch (attrType(b, o)) {
      case CTA_TUPLE.IP: {
        checkAttrs(b, p, p + plen)
        for (let q = p; q < p + plen; q += nlAlign(attrLen(b, q))) {
          const x = q + NLA_HDRLEN
          const n = attrLen(b, q) - NLA_HDRLEN
          switch (attrType(b, q)) {
            case CTA_IP.V4_SRC: need(n, 4, 'CTA_IP_V4_SRC', x); src = formatIPv4(b, x); v4 = true; break
            case CTA_IP.V4_DST: need(n, 4, 'CTA_IP_V4_DST', x); dst = formatIPv4(b, x); v4 = true; break
            case CTA_IP.V6_SRC: need(n, 16, 'CTA_IP_V6_SRC', x); src = formatIPv6(b, x); v6 = true; break
            case CTA_IP.V6_DST: need(n, 16, 'CTA_IP_V6_DST', x); dst = formatIPv6(b, x); v6 = true; break
          }
        }
        break
      }
      case CTA_TUPLE.PROTO: {
        checkAttrs(b, p, p + plen)
        for (let q = p; q < p + plen; q += nlAlign(attrLen(b, q))) {
          const x = q + NLA_HDRLEN
          const n = attrLen(b, q) - NLA_HDRLEN
          switch (attrType(b, q)) {
            case CTA_PROTO.NUM: need(n, 1, 'CTA_PROTO_NUM', x); l4proto = u8At(b, x); break
            case CTA_PROTO.SRC_PORT: need(n, 2, 'CTA_PROTO_SRC_PORT', x); sport = be16At(b, x); break
            case CTA_PROTO.DST_PORT: need(n, 2, 'CTA_PROTO_DST_PORT', x); dport = be16At(b, x); break
            case CTA_PROTO.ICMP_ID: need(n, 2, 'CTA_PROTO_ICMP_ID', x); icmpId = be16At(b, x); break
            case CTA_PROTO.ICMP_TYPE: need(n, 1, 'CTA_PROTO_ICMP_TYPE', x); icmpType = u8At(b, x); break
            case CTA_PROTO.ICMP_CODE: need(n, 1, 'CTA_PROTO_ICMP_CODE', x); icmpCode = u8At(b, x); break
            case CTA_PROTO.ICMPV6_ID: need(n, 2, 'CTA_PROTO_ICMPV6_ID', x); icmpId = be16At(b, x); break
            case CTA_PROTO.ICMPV6_TYPE: need(n, 1, 'CTA_PROTO_ICMPV6_TYPE', x); icmpType = u8At(b, x); break
            case CTA_PROTO.ICMPV6_CODE: need(n, 1, 'CTA_PROTO_ICMPV6_CODE', x); icmpCode = u8At(b, x); break
          }
        }
        break
      }
      case CTA_TUPLE.ZONE: need(plen, 2, 'CTA_TUPLE_ZONE', p); zone = be16At(b, p); break
    }
  }
  if (src === undefined || dst === undefined || l4proto === undefined) {
    const missing = [src === undefined ? 'src' : '', dst === undefined ? 'dst' : '', l4proto === undefined ? 'protocol' : ''].filter(Boolean).join(', ')
    throw new CodecError<CtnetlinkErrorCode>('CT_INCOMPLETE_TUPLE', `${name} lacks ${missing}`, v - NLA_HDRLEN)
  }
  if (v4 && v6) {
    throw new CodecError<CtnetlinkErrorCode>('CT_FAMILY_MISMATCH', `${name} mixes IPv4 and IPv6 addresses`, v - NLA_HDRLEN)
  }
  const tuple: FlowTuple = { src, dst, l4proto }
  // fixed field order keeps decoded flows deep-equal to hand-written ones
  if (sport !== undefined) tuple.sport = sport
  if (dport !== undefined) tuple.dport = dport
  if (icmpType !== undefined) tuple.icmpType = icmpType
  if (icmpCode !== undefined) tuple.icmpCode = icmpCode
  if (icmpId !== undefined) tuple.icmpId = icmpId
  if (zone !== undefined) tuple.zone = zone
  return { tuple, family: v6 ? 'ipv6' : 'ipv4' }
}

const tcpTable: AttrTable<TcpInfo> = {
  [CTA_PROTOINFO_TCP.STATE]: { name: 'CTA_PROTOINFO_TCP_STATE', min: 1, apply: (t, c, v) => { t.state = u8At(c.root, v) } },
  [CTA_PROTOINFO_TCP.WSCALE_ORIGINAL]: { name: 'CTA_PROTOINFO_TCP_WSCALE_ORIGINAL', min: 1, apply: (t, c, v) => { t.wscaleOrig = u8At(c.root, v) } },
  [CTA_PROTOINFO_TCP.WSCALE_REPLY]: { name: 'CTA_PROTOINFO_TCP_WSCALE_REPLY', min: 1, apply: (t, c, v) => { t.wscaleReply = u8At(c.root, v) } },
  [CTA_PROTOINFO_TCP.FLAGS_ORIGINAL]: { name: 'CTA_PROTOINFO_TCP_FLAGS_ORIGINAL', min: 2, apply: (t, c, v) => { t.flagsOrig = { flags: u8At(c.root, v), mask: u8At(c.root, v + 1) } } },
  [CTA_PROTOINFO_TCP.FLAGS_REPLY]: { name: 'CTA_PROTOINFO_TCP_FLAGS_REPLY', min: 2, apply: (t, c, v) => { t.flagsReply = { flags: u8At(c.root, v), mask: u8At(c.root, v + 1) } } }
}

const sctpTable: AttrTable<SctpInfo> = {
  [CTA_PROTOINFO_SCTP.STATE]: { name: 'CTA_PROTOINFO_SCTP_STATE', min: 1, apply: (s, c, v) => { s.state = u8At(c.root, v) } },
  [CTA_PROTOINFO_SCTP.VTAG_ORIGINAL]: { name: 'CTA_PROTOINFO_SCTP_VTAG_ORIGINAL', min: 4, apply: (s, c, v) => { s.vtagOrig = be32At(c.root, v) } },
  [CTA_PROTOINFO_SCTP.VTAG_REPLY]: { name: 'CTA_PROTOINFO_SCTP_VTAG_REPLY', min: 4, apply: (s, c, v) => { s.vtagReply = be32At(c.root, v) } }
}

const dccpTable: AttrTable<DccpInfo> = {
  [CTA_PROTOINFO_DCCP.STATE]: { name: 'CTA_PROTOINFO_DCCP_STATE', min: 1, apply: (s, c, v) => { s.state = u8At(c.root, v) } },
  [CTA_PROTOINFO_DCCP.ROLE]: { name: 'CTA_PROTOINFO_DCCP_ROLE', min: 1, apply: (s, c, v) => { s.role = u8At(c.root, v) } },
  [CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ]: { name: 'CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ', min: 8, apply: (s, c, v) => { s.handshakeSeq = be64At(c.root, v) } }
}

/** Top-level state while decoding: the fields as seen, checked and ordered at the end. */
interface FlowDraft {
  status: number | undefined
  timeout: number | undefined
  mark: number | undefined
  zone: number | undefined
  id: number | undefined
  use: number | undefined
  tcp: TcpInfo | undefined
  sctp: SctpInfo | undefined
  dccp: DccpInfo | undefined
  seqAdj: Flow['seqAdj']
  helper: string | undefined
  labels: Uint8Array | undefined
  synproxy: Synproxy | undefined
  counters: Flow['counters']
  orig: DecodedTuple | undefined
  reply: DecodedTuple | undefined
  master: DecodedTuple | undefined
  natSrc: NatBinding | undefined
  natDst: NatBinding | undefined
}

const protoinfoTable: AttrTable<FlowDraft> = {
  [CTA_PROTOINFO.TCP]: { name: 'CTA_PROTOINFO_TCP', min: 0, apply: (d, c, v, len) => { d.tcp = walk<TcpInfo>(tcpTable, c, v, v + len, {}) } },
  [CTA_PROTOINFO.DCCP]: { name: 'CTA_PROTOINFO_DCCP', min: 0, apply: (d, c, v, len) => { d.dccp = walk<DccpInfo>(dccpTable, c, v, v + len, {}) } },
  [CTA_PROTOINFO.SCTP]: { name: 'CTA_PROTOINFO_SCTP', min: 0, apply: (d, c, v, len) => { d.sctp = walk<SctpInfo>(sctpTable, c, v, v + len, {}) } }
}

/** NAT range as sent in requests (the kernel never reports one); MINIP/PORT_MIN are the binding. */
const protoNatTable: AttrTable<NatBinding> = {
  [CTA_PROTONAT.PORT_MIN]: { name: 'CTA_PROTONAT_PORT_MIN', min: 2, apply: (b, c, v) => { b.port = be16At(c.root, v) } },
  [CTA_PROTONAT.PORT_MAX]: { name: 'CTA_PROTONAT_PORT_MAX', min: 2, apply: () => {} }
}
const natTable: AttrTable<NatBinding> = {
  [CTA_NAT.V4_MINIP]: { name: 'CTA_NAT_V4_MINIP', min: 4, apply: (b, c, v) => { b.ip = formatIPv4(c.root, v) } },
  [CTA_NAT.V4_MAXIP]: { name: 'CTA_NAT_V4_MAXIP', min: 4, apply: () => {} },
  [CTA_NAT.PROTO]: { name: 'CTA_NAT_PROTO', min: 0, apply: (b, c, v, len) => { walk(protoNatTable, c, v, v + len, b) } },
  [CTA_NAT.V6_MINIP]: { name: 'CTA_NAT_V6_MINIP', min: 16, apply: (b, c, v) => { b.ip = formatIPv6(c.root, v) } },
  [CTA_NAT.V6_MAXIP]: { name: 'CTA_NAT_V6_MAXIP', min: 16, apply: () => {} }
}

const seqAdjTable: AttrTable<Partial<SeqAdj>> = {
  [CTA_SEQADJ.CORRECTION_POS]: { name: 'CTA_SEQADJ_CORRECTION_POS', min: 4, apply: (s, c, v) => { s.correctionPos = be32At(c.root, v) } },
  [CTA_SEQADJ.OFFSET_BEFORE]: { name: 'CTA_SEQADJ_OFFSET_BEFORE', min: 4, apply: (s, c, v) => { s.offsetBefore = be32At(c.root, v) } },
  [CTA_SEQADJ.OFFSET_AFTER]: { name: 'CTA_SEQADJ_OFFSET_AFTER', min: 4, apply: (s, c, v) => { s.offsetAfter = be32At(c.root, v) } }
}

const countersTable: AttrTable<Partial<FlowCounters>> = {
  [CTA_COUNTERS.PACKETS]: { name: 'CTA_COUNTERS_PACKETS', min: 8, apply: (x, c, v) => { x.packets = be64At(c.root, v) } },
  [CTA_COUNTERS.BYTES]: { name: 'CTA_COUNTERS_BYTES', min: 8, apply: (x, c, v) => { x.bytes = be64At(c.root, v) } },
  [CTA_COUNTERS.PACKETS32]: { name: 'CTA_COUNTERS32_PACKETS', min: 4, apply: (x, c, v) => { x.packets = be32At(c.root, v) } },
  [CTA_COUNTERS.BYTES32]: { name: 'CTA_COUNTERS32_BYTES', min: 4, apply: (x, c, v) => { x.bytes = be32At(c.root, v) } }
}

const helpTable: AttrTable<FlowDraft> = {
  [CTA_HELP.NAME]: { name: 'CTA_HELP_NAME', min: 1, apply: (d, c, v, len) => { d.helper = cStringAt(c.root, v, len) } }
}

const synproxyTable: AttrTable<Partial<Synproxy>> = {
  [CTA_SYNPROXY.ISN]: { name: 'CTA_SYNPROXY_ISN', min: 4, apply: (s, c, v) => { s.isn = be32At(c.root, v) } },
  [CTA_SYNPROXY.ITS]: { name: 'CTA_SYNPROXY_ITS', min: 4, apply: (s, c, v) => { s.its = be32At(c.root, v) } },
  [CTA_SYNPROXY.TSOFF]: { name: 'CTA_SYNPROXY_TSOFF', min: 4, apply: (s, c, v) => { s.tsoff = be32At(c.root, v) } }
}

function decodeSeqAdj (c: DecodeCtx, v: number, len: number): SeqAdj {
  const s = walk<Partial<SeqAdj>>(seqAdjTable, c, v, v + len, {})
  return { correctionPos: s.correctionPos ?? 0, offsetBefore: s.offsetBefore ?? 0, offsetAfter: s.offsetAfter ?? 0 }
}
function decodeCounters (c: DecodeCtx, v: number, len: number): FlowCounters {
  const x = walk<Partial<FlowCounters>>(countersTable, c, v, v + len, {})
  return { packets: x.packets ?? 0, bytes: x.bytes ?? 0 }
}
const ignore: AttrSpec<FlowDraft>['apply'] = () => {}

/** The top-level attributes decodeFlowAttrs does not decode inline (tuples, status, timeout, mark, use, id). */
const ctTable: AttrTable<FlowDraft> = {
  [CTA.PROTOINFO]: { name: 'CTA_PROTOINFO', min: 0, apply: (d, c, v, len) => { walk(protoinfoTable, c, v, v + len, d) } },
  [CTA.HELP]: { name: 'CTA_HELP', min: 0, apply: (d, c, v, len) => { walk(helpTable, c, v, v + len, d) } },
  [CTA.NAT_SRC]: { name: 'CTA_NAT_SRC', min: 0, apply: (d, c, v, len) => { d.natSrc = walk<NatBinding>(natTable, c, v, v + len, {}) } },
  [CTA.COUNTERS_ORIG]: { name: 'CTA_COUNTERS_ORIG', min: 0, apply: (d, c, v, len) => { d.counters = { ...d.counters, orig: decodeCounters(c, v, len) } } },
  [CTA.COUNTERS_REPLY]: { name: 'CTA_COUNTERS_REPLY', min: 0, apply: (d, c, v, len) => { d.counters = { ...d.counters, reply: decodeCounters(c, v, len) } } },
  [CTA.NAT_DST]: { name: 'CTA_NAT_DST', min: 0, apply: (d, c, v, len) => { d.natDst = walk<NatBinding>(natTable, c, v, v + len, {}) } },
  [CTA.TUPLE_MASTER]: { name: 'CTA_TUPLE_MASTER', min: 0, apply: (d, c, v, len) => { d.master = decodeTuple(c, v, len, 'CTA_TUPLE_MASTER') } },
  [CTA.SEQ_ADJ_ORIG]: { name: 'CTA_SEQ_ADJ_ORIG', min: 0, apply: (d, c, v, len) => { d.seqAdj = { ...d.seqAdj, orig: decodeSeqAdj(c, v, len) } } },
  [CTA.SEQ_ADJ_REPLY]: { name: 'CTA_SEQ_ADJ_REPLY', min: 0, apply: (d, c, v, len) => { d.seqAdj = { ...d.seqAdj, reply: decodeSeqAdj(c, v, len) } } },
  [CTA.SECMARK]: { name: 'CTA_SECMARK', min: 0, apply: ignore },
  [CTA.ZONE]: { name: 'CTA_ZONE', min: 2, apply: (d, c, v) => { d.zone = be16At(c.root, v) } },
  [CTA.SECCTX]: { name: 'CTA_SECCTX', min: 0, apply: ignore },
  [CTA.TIMESTAMP]: { name: 'CTA_TIMESTAMP', min: 0, apply: ignore },
  [CTA.MARK_MASK]: { name: 'CTA_MARK_MASK', min: 0, apply: ignore },
  [CTA.LABELS]: { name: 'CTA_LABELS', min: 0, apply: (d, c, v, len) => { d.labels = Uint8Array.from(c.root.subarray(v, v + len)) } },
  [CTA.LABELS_MASK]: { name: 'CTA_LABELS_MASK', min: 0, apply: ignore },
  [CTA.SYNPROXY]: {
    name: 'CTA_SYNPROXY',
    min: 0,
    apply: (d, c, v, len) => {
      const s = walk<Partial<Synproxy>>(synproxyTable, c, v, v + len, {})
      d.synproxy = { isn: s.isn ?? 0, its: s.its ?? 0, tsoff: s.tsoff ?? 0 }
    }
  },
  [CTA.FILTER]: { name: 'CTA_FILTER', min: 0, apply: ignore },
  [CTA.STATUS_MASK]: { name: 'CTA_STATUS_MASK', min: 0, apply: ignore },
  [CTA.TIMESTAMP_EVENT]: { name: 'CTA_TIMESTAMP_EVENT', min: 0, apply: ignore }
}

function sameFamily (t: DecodedTuple, family: FlowFamily, at: number): void {
  if (t.family !== family) throw new CodecError<CtnetlinkErrorCode>('CT_FAMILY_MISMATCH', `${t.family} tuple in a ${family} message`, at)
}

/**
 * Decode the attributes of a CT_NEW/CT_DELETE message (after the nfgenmsg) into a Flow.
 * `nfFamily` is nfgen_family (AF_INET/AF_INET6, or AF_UNSPEC to take the family from the tuple).
 */
export function decodeFlowAttrs (root: Buffer, start: number, end: number, nfFamily: number): Flow {
  const ctx: DecodeCtx = { root }
  const d: FlowDraft = {
    status: undefined,
    timeout: undefined,
    mark: undefined,
    zone: undefined,
    id: undefined,
    use: undefined,
    tcp: undefined,
    sctp: undefined,
    dccp: undefined,
    seqAdj: undefined,
    helper: undefined,
    labels: undefined,
    synproxy: undefined,
    counters: undefined,
    orig: undefined,
    reply: undefined,
    master: undefined,
    natSrc: undefined,
    natDst: undefined
  }
  // As walk(ctTable, ...), with the attributes every event and dump entry has decoded inline.
  checkAttrs(root, start, end)
  for (let o = start; o < end; o += nlAlign(attrLen(root, o))) {
    const p = o + NLA_HDRLEN
    const plen = attrLen(root, o) - NLA_HDRLEN
    const type = attrType(root, o)
    switch (type) {
      case CTA.TUPLE_ORIG: d.orig = decodeTuple(ctx, p, plen, 'CTA_TUPLE_ORIG'); break
      case CTA.TUPLE_REPLY: d.reply = decodeTuple(ctx, p, plen, 'CTA_TUPLE_REPLY'); break
      case CTA.STATUS: need(plen, 4, 'CTA_STATUS', p); d.status = be32At(root, p); break
      case CTA.TIMEOUT: need(plen, 4, 'CTA_TIMEOUT', p); d.timeout = be32At(root, p); break
      case CTA.MARK: need(plen, 4, 'CTA_MARK', p); d.mark = be32At(root, p); break
      case CTA.USE: need(plen, 4, 'CTA_USE', p); d.use = be32At(root, p); break
      case CTA.ID: need(plen, 4, 'CTA_ID', p); d.id = be32At(root, p); break
      default: {
        const spec = ctTable[type]
        if (spec !== undefined) { // unknown attribute: skip, not fatal
          need(plen, spec.min, spec.name, p)
          spec.apply(d, ctx, p, plen)
        }
      }
    }
  }
  if (d.orig === undefined || d.reply === undefined) {
    throw new CodecError<CtnetlinkErrorCode>('CT_MISSING_TUPLE', `message lacks ${d.orig === undefined ? 'CTA_TUPLE_ORIG' : 'CTA_TUPLE_REPLY'}`, start)
  }
  const family: FlowFamily = nfFamily === AF.INET ? 'ipv4' : nfFamily === AF.INET6 ? 'ipv6' : d.orig.family
  sameFamily(d.orig, family, start)
  sameFamily(d.reply, family, start)
  if (d.master !== undefined) sameFamily(d.master, family, start)
  const flow: Flow = { family, orig: d.orig.tuple, reply: d.reply.tuple }
  // fixed field order (stable output for logs and deep-equality)
  if (d.status !== undefined) flow.status = d.status
  if (d.timeout !== undefined) flow.timeout = d.timeout
  if (d.mark !== undefined) flow.mark = d.mark
  if (d.zone !== undefined) flow.zone = d.zone
  if (d.id !== undefined) flow.id = d.id
  if (d.use !== undefined) flow.use = d.use
  if (d.tcp !== undefined) flow.tcp = d.tcp
  if (d.sctp !== undefined) flow.sctp = d.sctp
  if (d.dccp !== undefined) flow.dccp = d.dccp
  if (d.seqAdj !== undefined) flow.seqAdj = d.seqAdj
  if (d.helper !== undefined) flow.helper = d.helper
  if (d.labels !== undefined) flow.labels = d.labels
  if (d.synproxy !== undefined) flow.synproxy = d.synproxy
  if (d.counters !== undefined) flow.counters = d.counters
  // NAT: explicit ranges (requests) win; otherwise derive it from the tuples as conntrackd does
  if (d.natSrc !== undefined || d.natDst !== undefined) {
    flow.nat = {}
    if (d.natSrc !== undefined) flow.nat.src = d.natSrc
    if (d.natDst !== undefined) flow.nat.dst = d.natDst
  } else if (flow.status !== undefined) {
    const nat = deriveNat(flow.orig, flow.reply, flow.status)
    if (nat !== undefined) flow.nat = nat
  }
  if (d.master !== undefined) flow.master = d.master.tuple
  return flow
}

/**
 * Decode one ctnetlink conntrack message (CT_NEW or CT_DELETE). `root`, when given, is the buffer `msg`
 * was split from (splitMessages), so error offsets point into it.
 */
export function decodeConntrack (msg: NlMessage, root?: Buffer): CtFlowMessage {
  const { header } = msg
  const sub = header.type >> 8
  const op = header.type & 0xff
  if (sub !== NFNL_SUBSYS_CTNETLINK || (op !== IPCTNL_MSG.CT_NEW && op !== IPCTNL_MSG.CT_DELETE)) {
    throw new CodecError<CtnetlinkErrorCode>('CT_NOT_CONNTRACK', `nlmsg_type 0x${header.type.toString(16)} is not CT_NEW/CT_DELETE`, msg.offset)
  }
  const buf = root ?? msg.payload
  const payloadStart = root === undefined ? 0 : msg.payload.byteOffset - root.byteOffset
  const nf: NfGenMsg = decodeNfGenMsg(msg.payload, msg.offset + NLMSG_HDRLEN)
  const flow = decodeFlowAttrs(buf, payloadStart + NFGENMSG_LEN, payloadStart + msg.payload.length, nf.family)
  let event: CtEvent
  if (op === IPCTNL_MSG.CT_DELETE) event = 'destroy'
  else event = (header.flags & (NlmF.CREATE | NlmF.EXCL)) !== 0 ? 'new' : 'update'
  return { kind: 'conntrack', event, flow, pid: header.pid, seq: header.seq, flags: header.flags }
}

/** Classify and decode one message from a ctnetlink socket. */
export function decodeCtnlMessage (msg: NlMessage, root?: Buffer): CtnlMessage {
  const { header } = msg
  switch (header.type) {
    case NlMsgType.NOOP: return { kind: 'noop' }
    case NlMsgType.ERROR: {
      const e = decodeNlError(msg)
      return { kind: 'error', errno: e.errno, request: e.request, seq: header.seq }
    }
    case NlMsgType.DONE: return { kind: 'done', seq: header.seq, pid: header.pid }
    case NlMsgType.OVERRUN: return { kind: 'overrun', seq: header.seq }
  }
  const op = header.type & 0xff
  if (header.type >> 8 === NFNL_SUBSYS_CTNETLINK && (op === IPCTNL_MSG.CT_NEW || op === IPCTNL_MSG.CT_DELETE)) {
    return decodeConntrack(msg, root)
  }
  return { kind: 'other', type: header.type, seq: header.seq, pid: header.pid }
}

/** Split one recv() buffer and decode every message; the first malformed one throws. */
export function decodeCtnl (buf: Buffer): CtnlMessage[] {
  return splitMessages(buf).map(m => decodeCtnlMessage(m, buf))
}
