/**
 * ctnetlink requests (conntrackd-ftfw spec §4.3, §5.3), as data → bytes.
 *
 * Attribute order follows libnetfilter_conntrack's build_mnl.c (what `conntrack -I` and conntrackd put
 * on the wire, checked against captures): tuples, master, status, timeout, mark, protoinfo, NAT src/dst,
 * seq-adjust, helper, zone, labels, synproxy. Inside a tuple: IP {src, dst}, PROTO {num, ports or ICMP
 * code, type, id}, zone.
 */
import { CodecError } from './errors.js'
import { parseIPv4, parseIPv6 } from './ip.js'
import {
  attrBe16, attrBe32, attrBe64, attrBytes, attrCString, attrNest, attrU8, attrsLength, writeAttrs,
  type AttrNode
} from './nlattr.js'
import { NLMSG_HDRLEN, NFGENMSG_LEN, NlmF, AF, NFNETLINK_V0, writeNlMsgHeader, writeNfGenMsg } from './netlink.js'
import {
  CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTOINFO_SCTP, CTA_PROTOINFO_DCCP,
  CTA_NAT, CTA_PROTONAT, CTA_SEQADJ, CTA_HELP, CTA_SYNPROXY, IPCTNL_MSG, ctMsgType
} from './ctnetlink-attrs.js'
import {
  IPS, IPS_NAT_MASK, L4Proto, isIcmp, type Flow, type FlowFamily, type FlowTuple, type NatBinding, type SeqAdj
} from '../core/conntrack/flow.js'

/** A flow identified by its original tuple (+ zone), for get/delete/set-timeout. */
export type FlowRef = Pick<Flow, 'family' | 'orig'> & Partial<Pick<Flow, 'zone' | 'id'>>

export type CtRequest =
  /** Dump the table (CT_GET + DUMP); family undefined = AF_UNSPEC = every family. */
  | { op: 'dump', family?: FlowFamily }
  /**
   * Create (CT_NEW REQUEST|CREATE|EXCL|ACK). `exclusive: false` drops EXCL: create-or-update.
   * The flow's timeout is required by the kernel. The reply tuple is sent as given: conntrackd sends
   * invertTuple(orig) plus NAT ranges and lets the kernel derive the mangled reply.
   */
  | { op: 'create', flow: Flow, exclusive?: boolean }
  /** Update an existing entry (CT_NEW REQUEST|ACK); NAT, master and helper are not sent (EOPNOTSUPP). */
  | { op: 'update', flow: Flow }
  /** Delete one entry (CT_DELETE REQUEST|ACK with CTA_TUPLE_ORIG, optional CTA_ID and CTA_ZONE). */
  | { op: 'delete', flow: FlowRef }
  /** Get one entry (CT_GET REQUEST|ACK). */
  | { op: 'get', flow: FlowRef }
  /** Flush the table (CT_DELETE without tuple). Version 0: every family whatever `family` says. */
  | { op: 'flush', family?: FlowFamily }
  /** Set the remaining timeout of one entry, in seconds (shorten timers). */
  | { op: 'setTimeout', flow: FlowRef, timeout: number }

interface Plan { msg: number, flags: number, family: number, attrs: AttrNode[] }

const afOf = (f: FlowFamily | undefined): number => f === 'ipv4' ? AF.INET : f === 'ipv6' ? AF.INET6 : AF.UNSPEC

function addr (family: FlowFamily, text: string): Uint8Array {
  const b = family === 'ipv4' ? parseIPv4(text) : parseIPv6(text)
  if (b === null) throw new CodecError('CT_ENCODE_BAD_ADDRESS', `not an ${family} address: ${text}`)
  return b
}

function tupleAttrs (family: FlowFamily, t: FlowTuple): AttrNode[] {
  const v4 = family === 'ipv4'
  const ip = attrNest(CTA_TUPLE.IP, [
    attrBytes(v4 ? CTA_IP.V4_SRC : CTA_IP.V6_SRC, addr(family, t.src)),
    attrBytes(v4 ? CTA_IP.V4_DST : CTA_IP.V6_DST, addr(family, t.dst))
  ])
  const proto: AttrNode[] = [attrU8(CTA_PROTO.NUM, t.l4proto)]
  if (isIcmp(t.l4proto)) {
    const v6 = t.l4proto === L4Proto.ICMPV6
    if (t.icmpCode !== undefined) proto.push(attrU8(v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, t.icmpCode))
    if (t.icmpType !== undefined) proto.push(attrU8(v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, t.icmpType))
    if (t.icmpId !== undefined) proto.push(attrBe16(v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, t.icmpId))
  } else {
    if (t.sport !== undefined) proto.push(attrBe16(CTA_PROTO.SRC_PORT, t.sport))
    if (t.dport !== undefined) proto.push(attrBe16(CTA_PROTO.DST_PORT, t.dport))
  }
  const out = [ip, attrNest(CTA_TUPLE.PROTO, proto)]
  if (t.zone !== undefined) out.push(attrBe16(CTA_TUPLE.ZONE, t.zone))
  return out
}

function protoinfoAttrs (flow: Flow): AttrNode[] {
  const out: AttrNode[] = []
  if (flow.tcp !== undefined) {
    const t = flow.tcp
    const n: AttrNode[] = []
    if (t.state !== undefined) n.push(attrU8(CTA_PROTOINFO_TCP.STATE, t.state))
    if (t.flagsOrig !== undefined) n.push(attrBytes(CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, Uint8Array.of(t.flagsOrig.flags, t.flagsOrig.mask)))
    if (t.flagsReply !== undefined) n.push(attrBytes(CTA_PROTOINFO_TCP.FLAGS_REPLY, Uint8Array.of(t.flagsReply.flags, t.flagsReply.mask)))
    if (t.wscaleOrig !== undefined) n.push(attrU8(CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, t.wscaleOrig))
    if (t.wscaleReply !== undefined) n.push(attrU8(CTA_PROTOINFO_TCP.WSCALE_REPLY, t.wscaleReply))
    out.push(attrNest(CTA_PROTOINFO.TCP, n))
  }
  if (flow.sctp !== undefined) {
    const s = flow.sctp
    const n: AttrNode[] = []
    if (s.state !== undefined) n.push(attrU8(CTA_PROTOINFO_SCTP.STATE, s.state))
    if (s.vtagOrig !== undefined) n.push(attrBe32(CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, s.vtagOrig))
    if (s.vtagReply !== undefined) n.push(attrBe32(CTA_PROTOINFO_SCTP.VTAG_REPLY, s.vtagReply))
    out.push(attrNest(CTA_PROTOINFO.SCTP, n))
  }
  if (flow.dccp !== undefined) {
    const s = flow.dccp
    const n: AttrNode[] = []
    if (s.state !== undefined) n.push(attrU8(CTA_PROTOINFO_DCCP.STATE, s.state))
    if (s.role !== undefined) n.push(attrU8(CTA_PROTOINFO_DCCP.ROLE, s.role))
    if (s.handshakeSeq !== undefined) n.push(attrBe64(CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ, s.handshakeSeq))
    out.push(attrNest(CTA_PROTOINFO.DCCP, n))
  }
  return out.length === 0 ? [] : [attrNest(CTA.PROTOINFO, out)]
}

/**
 * A NAT nest as conntrackd builds it: MINIP only (the kernel takes a missing MAXIP as MAXIP = MINIP),
 * and a PROTO nest with PORT_MIN = PORT_MAX for TCP and UDP (empty for other protocols) when a
 * port is known.
 */
function natAttrs (type: number, family: FlowFamily, l4proto: number, b: NatBinding): AttrNode {
  const n: AttrNode[] = []
  if (b.ip !== undefined) n.push(attrBytes(family === 'ipv4' ? CTA_NAT.V4_MINIP : CTA_NAT.V6_MINIP, addr(family, b.ip)))
  if (b.port !== undefined) {
    const ports = l4proto === L4Proto.TCP || l4proto === L4Proto.UDP
      ? [attrBe16(CTA_PROTONAT.PORT_MIN, b.port), attrBe16(CTA_PROTONAT.PORT_MAX, b.port)]
      : []
    n.push(attrNest(CTA_NAT.PROTO, ports))
  }
  return attrNest(type, n)
}

const seqAdjAttrs = (type: number, s: SeqAdj): AttrNode => attrNest(type, [
  attrBe32(CTA_SEQADJ.CORRECTION_POS, s.correctionPos),
  attrBe32(CTA_SEQADJ.OFFSET_BEFORE, s.offsetBefore),
  attrBe32(CTA_SEQADJ.OFFSET_AFTER, s.offsetAfter)
])

/**
 * Status for create/update (spec §5.3): any change of EXPECTED, CONFIRMED or DYING is EBUSY, and the
 * entry is CONFIRMED once it exists, so send CONFIRMED set and EXPECTED/DYING clear; SEEN_REPLY and
 * ASSURED are kept (they can be set, never cleared).
 */
export function requestStatus (status: number): number {
  return ((status | IPS.CONFIRMED) & ~(IPS.EXPECTED | IPS.DYING)) >>> 0
}

/** All attributes of a create (`withNat`) or update (no NAT, master or helper) request. */
function flowAttrs (flow: Flow, mode: 'create' | 'update'): AttrNode[] {
  const { family } = flow
  const out: AttrNode[] = [
    attrNest(CTA.TUPLE_ORIG, tupleAttrs(family, flow.orig)),
    attrNest(CTA.TUPLE_REPLY, tupleAttrs(family, flow.reply))
  ]
  if (mode === 'create' && flow.master !== undefined) out.push(attrNest(CTA.TUPLE_MASTER, tupleAttrs(family, flow.master)))
  if (flow.status !== undefined) {
    const status = mode === 'update' ? flow.status & ~IPS_NAT_MASK : flow.status
    out.push(attrBe32(CTA.STATUS, requestStatus(status)))
  }
  if (flow.timeout !== undefined) out.push(attrBe32(CTA.TIMEOUT, flow.timeout))
  if (flow.mark !== undefined) out.push(attrBe32(CTA.MARK, flow.mark))
  out.push(...protoinfoAttrs(flow))
  if (mode === 'create' && flow.nat?.src !== undefined) out.push(natAttrs(CTA.NAT_SRC, family, flow.orig.l4proto, flow.nat.src))
  if (mode === 'create' && flow.nat?.dst !== undefined) out.push(natAttrs(CTA.NAT_DST, family, flow.orig.l4proto, flow.nat.dst))
  if (flow.seqAdj?.orig !== undefined) out.push(seqAdjAttrs(CTA.SEQ_ADJ_ORIG, flow.seqAdj.orig))
  if (flow.seqAdj?.reply !== undefined) out.push(seqAdjAttrs(CTA.SEQ_ADJ_REPLY, flow.seqAdj.reply))
  if (mode === 'create' && flow.helper !== undefined) out.push(attrNest(CTA.HELP, [attrCString(CTA_HELP.NAME, flow.helper)]))
  if (flow.zone !== undefined) out.push(attrBe16(CTA.ZONE, flow.zone))
  if (flow.labels !== undefined) out.push(attrBytes(CTA.LABELS, flow.labels))
  if (flow.synproxy !== undefined) {
    out.push(attrNest(CTA.SYNPROXY, [
      attrBe32(CTA_SYNPROXY.ISN, flow.synproxy.isn),
      attrBe32(CTA_SYNPROXY.ITS, flow.synproxy.its),
      attrBe32(CTA_SYNPROXY.TSOFF, flow.synproxy.tsoff)
    ]))
  }
  return out
}

function refAttrs (ref: FlowRef, withId: boolean): AttrNode[] {
  const out = [attrNest(CTA.TUPLE_ORIG, tupleAttrs(ref.family, ref.orig))]
  if (withId && ref.id !== undefined) out.push(attrBe32(CTA.ID, ref.id))
  if (ref.zone !== undefined) out.push(attrBe16(CTA.ZONE, ref.zone))
  return out
}

const { REQUEST, ACK, DUMP, CREATE, EXCL } = NlmF

function plan (req: CtRequest): Plan {
  switch (req.op) {
    case 'dump':
      return { msg: IPCTNL_MSG.CT_GET, flags: REQUEST | DUMP, family: afOf(req.family), attrs: [] }
    case 'create':
      if (req.flow.timeout === undefined) {
        // the kernel answers EINVAL without CTA_TIMEOUT (spec §5.3); refuse before sending
        throw new CodecError('CT_ENCODE_NO_TIMEOUT', 'create needs flow.timeout')
      }
      return {
        msg: IPCTNL_MSG.CT_NEW,
        flags: REQUEST | CREATE | ACK | (req.exclusive === false ? 0 : EXCL),
        family: afOf(req.flow.family),
        attrs: flowAttrs(req.flow, 'create')
      }
    case 'update':
      return { msg: IPCTNL_MSG.CT_NEW, flags: REQUEST | ACK, family: afOf(req.flow.family), attrs: flowAttrs(req.flow, 'update') }
    case 'delete':
      return { msg: IPCTNL_MSG.CT_DELETE, flags: REQUEST | ACK, family: afOf(req.flow.family), attrs: refAttrs(req.flow, true) }
    case 'get':
      return { msg: IPCTNL_MSG.CT_GET, flags: REQUEST | ACK, family: afOf(req.flow.family), attrs: refAttrs(req.flow, false) }
    case 'flush':
      return { msg: IPCTNL_MSG.CT_DELETE, flags: REQUEST | ACK, family: afOf(req.family), attrs: [] }
    case 'setTimeout': {
      const [tuple, ...rest] = refAttrs(req.flow, false)
      return {
        msg: IPCTNL_MSG.CT_NEW,
        flags: REQUEST | ACK,
        family: afOf(req.flow.family),
        attrs: [...(tuple === undefined ? [] : [tuple]), attrBe32(CTA.TIMEOUT, req.timeout), ...rest]
      }
    }
  }
}

/** Bytes the request takes (nlmsghdr + nfgenmsg + attributes). */
export function encodingLength (req: CtRequest): number {
  return NLMSG_HDRLEN + NFGENMSG_LEN + attrsLength(plan(req).attrs)
}

/** Encode a request. `pid` 0 lets the kernel route by socket; `seq` matches the ACK/error. */
export function encodeRequest (req: CtRequest, seq: number, pid = 0): Buffer {
  const p = plan(req)
  const len = NLMSG_HDRLEN + NFGENMSG_LEN + attrsLength(p.attrs)
  const buf = Buffer.alloc(len)
  writeNlMsgHeader(buf, 0, { len, type: ctMsgType(p.msg), flags: p.flags, seq, pid })
  writeNfGenMsg(buf, NLMSG_HDRLEN, { family: p.family, version: NFNETLINK_V0, resId: 0 })
  writeAttrs(buf, NLMSG_HDRLEN + NFGENMSG_LEN, p.attrs)
  return buf
}
