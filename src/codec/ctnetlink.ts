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
import {
  parseAttrs, readU8, readBe16, readBe32, readBe64, readCString, type NlAttr, type NlattrErrorCode,
  NLATTR_ERROR_CODES
} from './nlattr.js'
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
} from '../core/conntrack/flow.js'

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
// Table-driven attribute decoding

interface AttrSpec<T> {
  readonly name: string
  /** Minimum payload bytes. */
  readonly min: number
  readonly apply: (target: T, a: NlAttr, ctx: DecodeCtx) => void
}
type AttrTable<T> = Readonly<Record<number, AttrSpec<T>>>

/** The buffer all views point into, so nested errors report offsets in it. */
interface DecodeCtx { readonly root: Buffer }

function absOffset (ctx: DecodeCtx, view: Buffer): number {
  return view.byteOffset - ctx.root.byteOffset
}

function applyTable<T> (table: AttrTable<T>, attrs: NlAttr[], target: T, ctx: DecodeCtx): void {
  for (const a of attrs) {
    const spec = table[a.type]
    if (spec === undefined) continue // unknown attribute: skip, not fatal
    if (a.value.length < spec.min) {
      throw new CodecError<CtnetlinkErrorCode>('CT_ATTR_TOO_SHORT', `${spec.name}: ${a.value.length} bytes, needs ${spec.min}`, absOffset(ctx, a.value) - 4)
    }
    spec.apply(target, a, ctx)
  }
}

function nested (a: NlAttr, ctx: DecodeCtx): NlAttr[] {
  const start = absOffset(ctx, a.value)
  return parseAttrs(ctx.root, start, start + a.value.length)
}

function decodeNest<T> (table: AttrTable<T>, a: NlAttr, ctx: DecodeCtx, target: T): T {
  applyTable(table, nested(a, ctx), target, ctx)
  return target
}

/** A tuple while it is being assembled; `v6` records which address attributes were used. */
interface TupleDraft { src?: string, dst?: string, v4?: boolean, v6?: boolean, t: Partial<FlowTuple> }

const ipTable: AttrTable<TupleDraft> = {
  [CTA_IP.V4_SRC]: { name: 'CTA_IP_V4_SRC', min: 4, apply: (d, a) => { d.src = formatIPv4(a.value); d.v4 = true } },
  [CTA_IP.V4_DST]: { name: 'CTA_IP_V4_DST', min: 4, apply: (d, a) => { d.dst = formatIPv4(a.value); d.v4 = true } },
  [CTA_IP.V6_SRC]: { name: 'CTA_IP_V6_SRC', min: 16, apply: (d, a) => { d.src = formatIPv6(a.value); d.v6 = true } },
  [CTA_IP.V6_DST]: { name: 'CTA_IP_V6_DST', min: 16, apply: (d, a) => { d.dst = formatIPv6(a.value); d.v6 = true } }
}

const protoTable: AttrTable<TupleDraft> = {
  [CTA_PROTO.NUM]: { name: 'CTA_PROTO_NUM', min: 1, apply: (d, a) => { d.t.l4proto = readU8(a.value) } },
  [CTA_PROTO.SRC_PORT]: { name: 'CTA_PROTO_SRC_PORT', min: 2, apply: (d, a) => { d.t.sport = readBe16(a.value) } },
  [CTA_PROTO.DST_PORT]: { name: 'CTA_PROTO_DST_PORT', min: 2, apply: (d, a) => { d.t.dport = readBe16(a.value) } },
  [CTA_PROTO.ICMP_ID]: { name: 'CTA_PROTO_ICMP_ID', min: 2, apply: (d, a) => { d.t.icmpId = readBe16(a.value) } },
  [CTA_PROTO.ICMP_TYPE]: { name: 'CTA_PROTO_ICMP_TYPE', min: 1, apply: (d, a) => { d.t.icmpType = readU8(a.value) } },
  [CTA_PROTO.ICMP_CODE]: { name: 'CTA_PROTO_ICMP_CODE', min: 1, apply: (d, a) => { d.t.icmpCode = readU8(a.value) } },
  [CTA_PROTO.ICMPV6_ID]: { name: 'CTA_PROTO_ICMPV6_ID', min: 2, apply: (d, a) => { d.t.icmpId = readBe16(a.value) } },
  [CTA_PROTO.ICMPV6_TYPE]: { name: 'CTA_PROTO_ICMPV6_TYPE', min: 1, apply: (d, a) => { d.t.icmpType = readU8(a.value) } },
  [CTA_PROTO.ICMPV6_CODE]: { name: 'CTA_PROTO_ICMPV6_CODE', min: 1, apply: (d, a) => { d.t.icmpCode = readU8(a.value) } }
}

const tupleTable: AttrTable<TupleDraft> = {
  [CTA_TUPLE.IP]: { name: 'CTA_TUPLE_IP', min: 0, apply: (d, a, ctx) => { decodeNest(ipTable, a, ctx, d) } },
  [CTA_TUPLE.PROTO]: { name: 'CTA_TUPLE_PROTO', min: 0, apply: (d, a, ctx) => { decodeNest(protoTable, a, ctx, d) } },
  [CTA_TUPLE.ZONE]: { name: 'CTA_TUPLE_ZONE', min: 2, apply: (d, a) => { d.t.zone = readBe16(a.value) } }
}

/** Decode one tuple nest; complete or CT_INCOMPLETE_TUPLE. */
function decodeTuple (a: NlAttr, ctx: DecodeCtx, name: string): { tuple: FlowTuple, family: FlowFamily } {
  const d = decodeNest<TupleDraft>(tupleTable, a, ctx, { t: {} })
  if (d.src === undefined || d.dst === undefined || d.t.l4proto === undefined) {
    const missing = [d.src === undefined ? 'src' : '', d.dst === undefined ? 'dst' : '', d.t.l4proto === undefined ? 'protocol' : ''].filter(Boolean).join(', ')
    throw new CodecError<CtnetlinkErrorCode>('CT_INCOMPLETE_TUPLE', `${name} lacks ${missing}`, absOffset(ctx, a.value) - 4)
  }
  if (d.v4 === true && d.v6 === true) {
    throw new CodecError<CtnetlinkErrorCode>('CT_FAMILY_MISMATCH', `${name} mixes IPv4 and IPv6 addresses`, absOffset(ctx, a.value) - 4)
  }
  const tuple: FlowTuple = { src: d.src, dst: d.dst, l4proto: d.t.l4proto }
  // fixed field order keeps decoded flows deep-equal to hand-written ones
  for (const k of ['sport', 'dport', 'icmpType', 'icmpCode', 'icmpId', 'zone'] as const) {
    const v = d.t[k]
    if (v !== undefined) tuple[k] = v
  }
  return { tuple, family: d.v6 === true ? 'ipv6' : 'ipv4' }
}

const tcpTable: AttrTable<TcpInfo> = {
  [CTA_PROTOINFO_TCP.STATE]: { name: 'CTA_PROTOINFO_TCP_STATE', min: 1, apply: (t, a) => { t.state = readU8(a.value) } },
  [CTA_PROTOINFO_TCP.WSCALE_ORIGINAL]: { name: 'CTA_PROTOINFO_TCP_WSCALE_ORIGINAL', min: 1, apply: (t, a) => { t.wscaleOrig = readU8(a.value) } },
  [CTA_PROTOINFO_TCP.WSCALE_REPLY]: { name: 'CTA_PROTOINFO_TCP_WSCALE_REPLY', min: 1, apply: (t, a) => { t.wscaleReply = readU8(a.value) } },
  [CTA_PROTOINFO_TCP.FLAGS_ORIGINAL]: { name: 'CTA_PROTOINFO_TCP_FLAGS_ORIGINAL', min: 2, apply: (t, a) => { t.flagsOrig = { flags: readU8(a.value), mask: a.value.readUInt8(1) } } },
  [CTA_PROTOINFO_TCP.FLAGS_REPLY]: { name: 'CTA_PROTOINFO_TCP_FLAGS_REPLY', min: 2, apply: (t, a) => { t.flagsReply = { flags: readU8(a.value), mask: a.value.readUInt8(1) } } }
}

const sctpTable: AttrTable<SctpInfo> = {
  [CTA_PROTOINFO_SCTP.STATE]: { name: 'CTA_PROTOINFO_SCTP_STATE', min: 1, apply: (s, a) => { s.state = readU8(a.value) } },
  [CTA_PROTOINFO_SCTP.VTAG_ORIGINAL]: { name: 'CTA_PROTOINFO_SCTP_VTAG_ORIGINAL', min: 4, apply: (s, a) => { s.vtagOrig = readBe32(a.value) } },
  [CTA_PROTOINFO_SCTP.VTAG_REPLY]: { name: 'CTA_PROTOINFO_SCTP_VTAG_REPLY', min: 4, apply: (s, a) => { s.vtagReply = readBe32(a.value) } }
}

const dccpTable: AttrTable<DccpInfo> = {
  [CTA_PROTOINFO_DCCP.STATE]: { name: 'CTA_PROTOINFO_DCCP_STATE', min: 1, apply: (s, a) => { s.state = readU8(a.value) } },
  [CTA_PROTOINFO_DCCP.ROLE]: { name: 'CTA_PROTOINFO_DCCP_ROLE', min: 1, apply: (s, a) => { s.role = readU8(a.value) } },
  [CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ]: { name: 'CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ', min: 8, apply: (s, a) => { s.handshakeSeq = readBe64(a.value) } }
}

const protoinfoTable: AttrTable<Flow> = {
  [CTA_PROTOINFO.TCP]: { name: 'CTA_PROTOINFO_TCP', min: 0, apply: (f, a, ctx) => { f.tcp = decodeNest(tcpTable, a, ctx, {}) } },
  [CTA_PROTOINFO.DCCP]: { name: 'CTA_PROTOINFO_DCCP', min: 0, apply: (f, a, ctx) => { f.dccp = decodeNest(dccpTable, a, ctx, {}) } },
  [CTA_PROTOINFO.SCTP]: { name: 'CTA_PROTOINFO_SCTP', min: 0, apply: (f, a, ctx) => { f.sctp = decodeNest(sctpTable, a, ctx, {}) } }
}

/** NAT range as sent in requests (the kernel never reports one); MINIP/PORT_MIN are the binding. */
const protoNatTable: AttrTable<NatBinding> = {
  [CTA_PROTONAT.PORT_MIN]: { name: 'CTA_PROTONAT_PORT_MIN', min: 2, apply: (b, a) => { b.port = readBe16(a.value) } },
  [CTA_PROTONAT.PORT_MAX]: { name: 'CTA_PROTONAT_PORT_MAX', min: 2, apply: () => {} }
}
const natTable: AttrTable<NatBinding> = {
  [CTA_NAT.V4_MINIP]: { name: 'CTA_NAT_V4_MINIP', min: 4, apply: (b, a) => { b.ip = formatIPv4(a.value) } },
  [CTA_NAT.V4_MAXIP]: { name: 'CTA_NAT_V4_MAXIP', min: 4, apply: () => {} },
  [CTA_NAT.PROTO]: { name: 'CTA_NAT_PROTO', min: 0, apply: (b, a, ctx) => { decodeNest(protoNatTable, a, ctx, b) } },
  [CTA_NAT.V6_MINIP]: { name: 'CTA_NAT_V6_MINIP', min: 16, apply: (b, a) => { b.ip = formatIPv6(a.value) } },
  [CTA_NAT.V6_MAXIP]: { name: 'CTA_NAT_V6_MAXIP', min: 16, apply: () => {} }
}

const seqAdjTable: AttrTable<Partial<SeqAdj>> = {
  [CTA_SEQADJ.CORRECTION_POS]: { name: 'CTA_SEQADJ_CORRECTION_POS', min: 4, apply: (s, a) => { s.correctionPos = readBe32(a.value) } },
  [CTA_SEQADJ.OFFSET_BEFORE]: { name: 'CTA_SEQADJ_OFFSET_BEFORE', min: 4, apply: (s, a) => { s.offsetBefore = readBe32(a.value) } },
  [CTA_SEQADJ.OFFSET_AFTER]: { name: 'CTA_SEQADJ_OFFSET_AFTER', min: 4, apply: (s, a) => { s.offsetAfter = readBe32(a.value) } }
}

const countersTable: AttrTable<Partial<FlowCounters>> = {
  [CTA_COUNTERS.PACKETS]: { name: 'CTA_COUNTERS_PACKETS', min: 8, apply: (c, a) => { c.packets = readBe64(a.value) } },
  [CTA_COUNTERS.BYTES]: { name: 'CTA_COUNTERS_BYTES', min: 8, apply: (c, a) => { c.bytes = readBe64(a.value) } },
  [CTA_COUNTERS.PACKETS32]: { name: 'CTA_COUNTERS32_PACKETS', min: 4, apply: (c, a) => { c.packets = readBe32(a.value) } },
  [CTA_COUNTERS.BYTES32]: { name: 'CTA_COUNTERS32_BYTES', min: 4, apply: (c, a) => { c.bytes = readBe32(a.value) } }
}

const helpTable: AttrTable<Flow> = {
  [CTA_HELP.NAME]: { name: 'CTA_HELP_NAME', min: 1, apply: (f, a) => { f.helper = readCString(a.value) } }
}

const synproxyTable: AttrTable<Partial<Synproxy>> = {
  [CTA_SYNPROXY.ISN]: { name: 'CTA_SYNPROXY_ISN', min: 4, apply: (s, a) => { s.isn = readBe32(a.value) } },
  [CTA_SYNPROXY.ITS]: { name: 'CTA_SYNPROXY_ITS', min: 4, apply: (s, a) => { s.its = readBe32(a.value) } },
  [CTA_SYNPROXY.TSOFF]: { name: 'CTA_SYNPROXY_TSOFF', min: 4, apply: (s, a) => { s.tsoff = readBe32(a.value) } }
}

/** Top-level state while decoding: the Flow plus tuples/NAT as seen, checked at the end. */
interface FlowDraft {
  flow: Partial<Flow> & { seqAdj?: Flow['seqAdj'], counters?: Flow['counters'] }
  orig?: { tuple: FlowTuple, family: FlowFamily }
  reply?: { tuple: FlowTuple, family: FlowFamily }
  master?: { tuple: FlowTuple, family: FlowFamily }
  natSrc?: NatBinding
  natDst?: NatBinding
}

const completeSeqAdj = (s: Partial<SeqAdj>): SeqAdj =>
  ({ correctionPos: s.correctionPos ?? 0, offsetBefore: s.offsetBefore ?? 0, offsetAfter: s.offsetAfter ?? 0 })
const completeCounters = (c: Partial<FlowCounters>): FlowCounters => ({ packets: c.packets ?? 0, bytes: c.bytes ?? 0 })
const ignore: AttrSpec<FlowDraft>['apply'] = () => {}

const ctTable: AttrTable<FlowDraft> = {
  [CTA.TUPLE_ORIG]: { name: 'CTA_TUPLE_ORIG', min: 0, apply: (d, a, ctx) => { d.orig = decodeTuple(a, ctx, 'CTA_TUPLE_ORIG') } },
  [CTA.TUPLE_REPLY]: { name: 'CTA_TUPLE_REPLY', min: 0, apply: (d, a, ctx) => { d.reply = decodeTuple(a, ctx, 'CTA_TUPLE_REPLY') } },
  [CTA.STATUS]: { name: 'CTA_STATUS', min: 4, apply: (d, a) => { d.flow.status = readBe32(a.value) } },
  [CTA.PROTOINFO]: { name: 'CTA_PROTOINFO', min: 0, apply: (d, a, ctx) => { applyTable(protoinfoTable, nested(a, ctx), d.flow as Flow, ctx) } },
  [CTA.HELP]: { name: 'CTA_HELP', min: 0, apply: (d, a, ctx) => { applyTable(helpTable, nested(a, ctx), d.flow as Flow, ctx) } },
  [CTA.NAT_SRC]: { name: 'CTA_NAT_SRC', min: 0, apply: (d, a, ctx) => { d.natSrc = decodeNest(natTable, a, ctx, {}) } },
  [CTA.TIMEOUT]: { name: 'CTA_TIMEOUT', min: 4, apply: (d, a) => { d.flow.timeout = readBe32(a.value) } },
  [CTA.MARK]: { name: 'CTA_MARK', min: 4, apply: (d, a) => { d.flow.mark = readBe32(a.value) } },
  [CTA.COUNTERS_ORIG]: { name: 'CTA_COUNTERS_ORIG', min: 0, apply: (d, a, ctx) => { d.flow.counters = { ...d.flow.counters, orig: completeCounters(decodeNest(countersTable, a, ctx, {})) } } },
  [CTA.COUNTERS_REPLY]: { name: 'CTA_COUNTERS_REPLY', min: 0, apply: (d, a, ctx) => { d.flow.counters = { ...d.flow.counters, reply: completeCounters(decodeNest(countersTable, a, ctx, {})) } } },
  [CTA.USE]: { name: 'CTA_USE', min: 4, apply: (d, a) => { d.flow.use = readBe32(a.value) } },
  [CTA.ID]: { name: 'CTA_ID', min: 4, apply: (d, a) => { d.flow.id = readBe32(a.value) } },
  [CTA.NAT_DST]: { name: 'CTA_NAT_DST', min: 0, apply: (d, a, ctx) => { d.natDst = decodeNest(natTable, a, ctx, {}) } },
  [CTA.TUPLE_MASTER]: { name: 'CTA_TUPLE_MASTER', min: 0, apply: (d, a, ctx) => { d.master = decodeTuple(a, ctx, 'CTA_TUPLE_MASTER') } },
  [CTA.SEQ_ADJ_ORIG]: { name: 'CTA_SEQ_ADJ_ORIG', min: 0, apply: (d, a, ctx) => { d.flow.seqAdj = { ...d.flow.seqAdj, orig: completeSeqAdj(decodeNest(seqAdjTable, a, ctx, {})) } } },
  [CTA.SEQ_ADJ_REPLY]: { name: 'CTA_SEQ_ADJ_REPLY', min: 0, apply: (d, a, ctx) => { d.flow.seqAdj = { ...d.flow.seqAdj, reply: completeSeqAdj(decodeNest(seqAdjTable, a, ctx, {})) } } },
  [CTA.SECMARK]: { name: 'CTA_SECMARK', min: 0, apply: ignore },
  [CTA.ZONE]: { name: 'CTA_ZONE', min: 2, apply: (d, a) => { d.flow.zone = readBe16(a.value) } },
  [CTA.SECCTX]: { name: 'CTA_SECCTX', min: 0, apply: ignore },
  [CTA.TIMESTAMP]: { name: 'CTA_TIMESTAMP', min: 0, apply: ignore },
  [CTA.MARK_MASK]: { name: 'CTA_MARK_MASK', min: 0, apply: ignore },
  [CTA.LABELS]: { name: 'CTA_LABELS', min: 0, apply: (d, a) => { d.flow.labels = Uint8Array.from(a.value) } },
  [CTA.LABELS_MASK]: { name: 'CTA_LABELS_MASK', min: 0, apply: ignore },
  [CTA.SYNPROXY]: {
    name: 'CTA_SYNPROXY',
    min: 0,
    apply: (d, a, ctx) => {
      const s = decodeNest<Partial<Synproxy>>(synproxyTable, a, ctx, {})
      d.flow.synproxy = { isn: s.isn ?? 0, its: s.its ?? 0, tsoff: s.tsoff ?? 0 }
    }
  },
  [CTA.FILTER]: { name: 'CTA_FILTER', min: 0, apply: ignore },
  [CTA.STATUS_MASK]: { name: 'CTA_STATUS_MASK', min: 0, apply: ignore },
  [CTA.TIMESTAMP_EVENT]: { name: 'CTA_TIMESTAMP_EVENT', min: 0, apply: ignore }
}

/** Field order of decoded flows (stable output for logs and deep-equality). */
const FLOW_FIELDS = ['status', 'timeout', 'mark', 'zone', 'id', 'use', 'tcp', 'sctp', 'dccp', 'seqAdj', 'helper',
  'labels', 'synproxy', 'counters'] as const

/**
 * Decode the attributes of a CT_NEW/CT_DELETE message (after the nfgenmsg) into a Flow.
 * `nfFamily` is nfgen_family (AF_INET/AF_INET6, or AF_UNSPEC to take the family from the tuple).
 */
export function decodeFlowAttrs (root: Buffer, start: number, end: number, nfFamily: number): Flow {
  const ctx: DecodeCtx = { root }
  const d: FlowDraft = { flow: {} }
  applyTable(ctTable, parseAttrs(root, start, end), d, ctx)
  if (d.orig === undefined || d.reply === undefined) {
    throw new CodecError<CtnetlinkErrorCode>('CT_MISSING_TUPLE', `message lacks ${d.orig === undefined ? 'CTA_TUPLE_ORIG' : 'CTA_TUPLE_REPLY'}`, start)
  }
  const family: FlowFamily = nfFamily === AF.INET ? 'ipv4' : nfFamily === AF.INET6 ? 'ipv6' : d.orig.family
  for (const t of [d.orig, d.reply, d.master]) {
    if (t !== undefined && t.family !== family) {
      throw new CodecError<CtnetlinkErrorCode>('CT_FAMILY_MISMATCH', `${t.family} tuple in a ${family} message`, start)
    }
  }
  const flow: Flow = { family, orig: d.orig.tuple, reply: d.reply.tuple }
  for (const k of FLOW_FIELDS) {
    const v = d.flow[k]
    if (v !== undefined) (flow as unknown as Record<string, unknown>)[k] = v
  }
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
