/**
 * ctnetlink requests (conntrackd-ftfw spec §4.3, §5.3), as data → bytes.
 *
 * Attribute order follows libnetfilter_conntrack's build_mnl.c (what `conntrack -I` and conntrackd put
 * on the wire, checked against captures): tuples, master, status, timeout, mark, protoinfo, NAT src/dst,
 * seq-adjust, helper, zone, labels, synproxy. Inside a tuple: IP {src, dst}, PROTO {num, ports or ICMP
 * code, type, id}, zone.
 */
import { CodecError } from './errors.js'
import { parseIPv4, parseIPv4Into, parseIPv6 } from './ip.js'
import { NLA_HDRLEN, nlAlign, writeAttrHeader, writeBe16Attr, writeBe32Attr, writeNestEnd, writeU8Attr, writeU8PairAttr } from './nlattr.js'
import { NLMSG_HDRLEN, NFGENMSG_LEN, NlmF, AF, NFNETLINK_V0, writeNlMsgHeader, writeNfGenMsg } from './netlink.js'
import {
  CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTOINFO_SCTP, CTA_PROTOINFO_DCCP,
  CTA_NAT, CTA_PROTONAT, CTA_SEQADJ, CTA_HELP, CTA_SYNPROXY, IPCTNL_MSG, ctMsgType
} from './ctnetlink-attrs.js'
import {
  IPS, IPS_NAT_MASK, L4Proto, isIcmp, type Flow, type FlowFamily, type FlowTuple, type NatBinding, type SeqAdj
} from './flow.js'

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
  /**
   * A create (exclusive, as `create`) whose attributes are already encoded: a commit writes them
   * straight from a cached entry's packed record (core/conntrack/record-request.ts), the same bytes
   * `create` would encode for the entry's Flow. Copied as they are, not checked here.
   */
  | { op: 'createAttrs', family: FlowFamily, attrs: Uint8Array }
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

// ---------------------------------------------------------------------------------------------
// Encoding: one pass over the request that either measures (`buf` null) or writes into a buffer of
// exactly the measured size. encodeRequest measures, allocates once and writes; there is no
// attribute tree and no per-attribute Buffer (100k creates per commit; the tree cost ~6 µs each).
// Both passes run the same code, so the attribute order lives in one place. Validation errors
// (bad address, be64 out of range) are raised by both passes in attribute order, as the tree
// builder did; nla_len overflow (a programming error, RangeError) only when writing.

/**
 * Where a pass writes: a Buffer; `null` = measure and validate (encodingLength); `undefined` = measure
 * only (encodeRequest, whose write pass validates).
 */
type Out = Buffer | null | undefined

const afOf = (f: FlowFamily | undefined): number => f === 'ipv4' ? AF.INET : f === 'ipv6' ? AF.INET6 : AF.UNSPEC

function checkLen (type: number, len: number): void {
  // encoding our own data: a programming error, not wire input, hence not a CodecError
  if (len > 0xffff) throw new RangeError(`attribute ${type} too long for nla_len: ${len}`)
}

/** Close a nest opened at `start` (4 header bytes reserved); flagged NLA_F_NESTED like the kernel. */
function endNest (buf: Out, start: number, end: number, type: number): number {
  return buf != null ? writeNestEnd(buf, start, end, type) : end
}

function putU8 (buf: Out, o: number, type: number, n: number): number {
  return buf != null ? writeU8Attr(buf, o, type, n) : o + 8
}

function putU8Pair (buf: Out, o: number, type: number, a: number, b: number): number {
  return buf != null ? writeU8PairAttr(buf, o, type, a, b) : o + 8
}

function putBe16 (buf: Out, o: number, type: number, n: number): number {
  return buf != null ? writeBe16Attr(buf, o, type, n) : o + 8
}

function putBe32 (buf: Out, o: number, type: number, n: number): number {
  return buf != null ? writeBe32Attr(buf, o, type, n) : o + 8
}

/** be64 through BigInt, so out-of-range and fractional values fail as they always did. */
function putBe64 (buf: Out, o: number, type: number, n: number): number {
  if (buf != null) {
    writeAttrHeader(buf, o, 12, type)
    buf.writeBigUInt64BE(BigInt(n), o + 4)
  } else if (buf === null) {
    Buffer.alloc(8).writeBigUInt64BE(BigInt(n))
  }
  return o + 12
}

function putBytes (buf: Out, o: number, type: number, value: Uint8Array): number {
  const len = NLA_HDRLEN + value.length
  const end = o + nlAlign(len)
  if (buf != null) {
    checkLen(type, len)
    buf.set(value, o + NLA_HDRLEN)
    writeAttrHeader(buf, o, len, type)
    buf.fill(0, o + len, end)
  }
  return end
}

/** NUL-terminated latin1 string (one byte per UTF-16 unit, as Buffer.from(…, 'latin1')). */
function putCString (buf: Out, o: number, type: number, s: string): number {
  const len = NLA_HDRLEN + s.length + 1
  const end = o + nlAlign(len)
  if (buf != null) {
    checkLen(type, len)
    buf.write(s, o + NLA_HDRLEN, s.length, 'latin1')
    buf[o + len - 1] = 0
    writeAttrHeader(buf, o, len, type)
    buf.fill(0, o + len, end)
  }
  return end
}

function badAddress (family: FlowFamily, text: string): CodecError {
  return new CodecError('CT_ENCODE_BAD_ADDRESS', `not an ${family} address: ${text}`)
}

/** An address of the flow's family (anything but 'ipv4' is IPv6), parsed straight into the buffer. */
function putAddr (buf: Out, o: number, family: FlowFamily, v4Type: number, v6Type: number, text: string): number {
  if (family === 'ipv4') {
    if (buf != null) {
      if (!parseIPv4Into(text, buf, o + NLA_HDRLEN)) throw badAddress(family, text)
      writeAttrHeader(buf, o, 8, v4Type)
    } else if (buf === null && parseIPv4(text) === null) {
      throw badAddress(family, text)
    }
    return o + 8
  }
  if (buf !== undefined) {
    const b = parseIPv6(text)
    if (b === null) throw badAddress(family, text)
    if (buf !== null) {
      writeAttrHeader(buf, o, 20, v6Type)
      buf.set(b, o + NLA_HDRLEN)
    }
  }
  return o + 20
}

/** A tuple nest: IP {src, dst}, PROTO {num, ICMP code/type/id or ports}, zone. */
function putTuple (buf: Out, o: number, type: number, family: FlowFamily, t: FlowTuple): number {
  const start = o
  o += NLA_HDRLEN
  const ip = o
  o += NLA_HDRLEN
  o = putAddr(buf, o, family, CTA_IP.V4_SRC, CTA_IP.V6_SRC, t.src)
  o = putAddr(buf, o, family, CTA_IP.V4_DST, CTA_IP.V6_DST, t.dst)
  o = endNest(buf, ip, o, CTA_TUPLE.IP)
  const proto = o
  o += NLA_HDRLEN
  o = putU8(buf, o, CTA_PROTO.NUM, t.l4proto)
  if (isIcmp(t.l4proto)) {
    const v6 = t.l4proto === L4Proto.ICMPV6
    if (t.icmpCode !== undefined) o = putU8(buf, o, v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, t.icmpCode)
    if (t.icmpType !== undefined) o = putU8(buf, o, v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, t.icmpType)
    if (t.icmpId !== undefined) o = putBe16(buf, o, v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, t.icmpId)
  } else {
    if (t.sport !== undefined) o = putBe16(buf, o, CTA_PROTO.SRC_PORT, t.sport)
    if (t.dport !== undefined) o = putBe16(buf, o, CTA_PROTO.DST_PORT, t.dport)
  }
  o = endNest(buf, proto, o, CTA_TUPLE.PROTO)
  if (t.zone !== undefined) o = putBe16(buf, o, CTA_TUPLE.ZONE, t.zone)
  return endNest(buf, start, o, type)
}

function putProtoinfo (buf: Out, o: number, flow: Flow): number {
  if (flow.tcp === undefined && flow.sctp === undefined && flow.dccp === undefined) return o
  const start = o
  o += NLA_HDRLEN
  if (flow.tcp !== undefined) {
    const t = flow.tcp
    const n = o
    o += NLA_HDRLEN
    if (t.state !== undefined) o = putU8(buf, o, CTA_PROTOINFO_TCP.STATE, t.state)
    if (t.flagsOrig !== undefined) o = putU8Pair(buf, o, CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, t.flagsOrig.flags, t.flagsOrig.mask)
    if (t.flagsReply !== undefined) o = putU8Pair(buf, o, CTA_PROTOINFO_TCP.FLAGS_REPLY, t.flagsReply.flags, t.flagsReply.mask)
    if (t.wscaleOrig !== undefined) o = putU8(buf, o, CTA_PROTOINFO_TCP.WSCALE_ORIGINAL, t.wscaleOrig)
    if (t.wscaleReply !== undefined) o = putU8(buf, o, CTA_PROTOINFO_TCP.WSCALE_REPLY, t.wscaleReply)
    o = endNest(buf, n, o, CTA_PROTOINFO.TCP)
  }
  if (flow.sctp !== undefined) {
    const s = flow.sctp
    const n = o
    o += NLA_HDRLEN
    if (s.state !== undefined) o = putU8(buf, o, CTA_PROTOINFO_SCTP.STATE, s.state)
    if (s.vtagOrig !== undefined) o = putBe32(buf, o, CTA_PROTOINFO_SCTP.VTAG_ORIGINAL, s.vtagOrig)
    if (s.vtagReply !== undefined) o = putBe32(buf, o, CTA_PROTOINFO_SCTP.VTAG_REPLY, s.vtagReply)
    o = endNest(buf, n, o, CTA_PROTOINFO.SCTP)
  }
  if (flow.dccp !== undefined) {
    const s = flow.dccp
    const n = o
    o += NLA_HDRLEN
    if (s.state !== undefined) o = putU8(buf, o, CTA_PROTOINFO_DCCP.STATE, s.state)
    if (s.role !== undefined) o = putU8(buf, o, CTA_PROTOINFO_DCCP.ROLE, s.role)
    if (s.handshakeSeq !== undefined) o = putBe64(buf, o, CTA_PROTOINFO_DCCP.HANDSHAKE_SEQ, s.handshakeSeq)
    o = endNest(buf, n, o, CTA_PROTOINFO.DCCP)
  }
  return endNest(buf, start, o, CTA.PROTOINFO)
}

/**
 * A NAT nest as conntrackd builds it: MINIP only (the kernel takes a missing MAXIP as MAXIP = MINIP),
 * and a PROTO nest with PORT_MIN = PORT_MAX for TCP and UDP (empty for other protocols) when a
 * port is known.
 */
function putNat (buf: Out, o: number, type: number, family: FlowFamily, l4proto: number, b: NatBinding): number {
  const start = o
  o += NLA_HDRLEN
  if (b.ip !== undefined) o = putAddr(buf, o, family, CTA_NAT.V4_MINIP, CTA_NAT.V6_MINIP, b.ip)
  if (b.port !== undefined) {
    const p = o
    o += NLA_HDRLEN
    if (l4proto === L4Proto.TCP || l4proto === L4Proto.UDP) {
      o = putBe16(buf, o, CTA_PROTONAT.PORT_MIN, b.port)
      o = putBe16(buf, o, CTA_PROTONAT.PORT_MAX, b.port)
    }
    o = endNest(buf, p, o, CTA_NAT.PROTO)
  }
  return endNest(buf, start, o, type)
}

function putSeqAdj (buf: Out, o: number, type: number, s: SeqAdj): number {
  const start = o
  o = putBe32(buf, o + NLA_HDRLEN, CTA_SEQADJ.CORRECTION_POS, s.correctionPos)
  o = putBe32(buf, o, CTA_SEQADJ.OFFSET_BEFORE, s.offsetBefore)
  o = putBe32(buf, o, CTA_SEQADJ.OFFSET_AFTER, s.offsetAfter)
  return endNest(buf, start, o, type)
}

/**
 * Status for create/update (spec §5.3): any change of EXPECTED, CONFIRMED or DYING is EBUSY, and the
 * entry is CONFIRMED once it exists, so send CONFIRMED set and EXPECTED/DYING clear; SEEN_REPLY and
 * ASSURED are kept (they can be set, never cleared).
 */
export function requestStatus (status: number): number {
  return ((status | IPS.CONFIRMED) & ~(IPS.EXPECTED | IPS.DYING)) >>> 0
}

/** All attributes of a create (with NAT, master, helper) or update (without) request. */
function putFlow (buf: Out, o: number, flow: Flow, create: boolean): number {
  const { family } = flow
  o = putTuple(buf, o, CTA.TUPLE_ORIG, family, flow.orig)
  o = putTuple(buf, o, CTA.TUPLE_REPLY, family, flow.reply)
  if (create && flow.master !== undefined) o = putTuple(buf, o, CTA.TUPLE_MASTER, family, flow.master)
  if (flow.status !== undefined) {
    const status = create ? flow.status : flow.status & ~IPS_NAT_MASK
    o = putBe32(buf, o, CTA.STATUS, requestStatus(status))
  }
  if (flow.timeout !== undefined) o = putBe32(buf, o, CTA.TIMEOUT, flow.timeout)
  if (flow.mark !== undefined) o = putBe32(buf, o, CTA.MARK, flow.mark)
  o = putProtoinfo(buf, o, flow)
  if (create && flow.nat?.src !== undefined) o = putNat(buf, o, CTA.NAT_SRC, family, flow.orig.l4proto, flow.nat.src)
  if (create && flow.nat?.dst !== undefined) o = putNat(buf, o, CTA.NAT_DST, family, flow.orig.l4proto, flow.nat.dst)
  if (flow.seqAdj?.orig !== undefined) o = putSeqAdj(buf, o, CTA.SEQ_ADJ_ORIG, flow.seqAdj.orig)
  if (flow.seqAdj?.reply !== undefined) o = putSeqAdj(buf, o, CTA.SEQ_ADJ_REPLY, flow.seqAdj.reply)
  if (create && flow.helper !== undefined) {
    const start = o
    o = putCString(buf, o + NLA_HDRLEN, CTA_HELP.NAME, flow.helper)
    o = endNest(buf, start, o, CTA.HELP)
  }
  if (flow.zone !== undefined) o = putBe16(buf, o, CTA.ZONE, flow.zone)
  if (flow.labels !== undefined) o = putBytes(buf, o, CTA.LABELS, flow.labels)
  if (flow.synproxy !== undefined) {
    const start = o
    o = putBe32(buf, o + NLA_HDRLEN, CTA_SYNPROXY.ISN, flow.synproxy.isn)
    o = putBe32(buf, o, CTA_SYNPROXY.ITS, flow.synproxy.its)
    o = putBe32(buf, o, CTA_SYNPROXY.TSOFF, flow.synproxy.tsoff)
    o = endNest(buf, start, o, CTA.SYNPROXY)
  }
  return o
}

/** A flow named by its original tuple: tuple, then (delete only) CTA_ID, then CTA_ZONE. */
function putRef (buf: Out, o: number, ref: FlowRef, withId: boolean, timeout: number | undefined): number {
  o = putTuple(buf, o, CTA.TUPLE_ORIG, ref.family, ref.orig)
  if (timeout !== undefined) o = putBe32(buf, o, CTA.TIMEOUT, timeout)
  if (withId && ref.id !== undefined) o = putBe32(buf, o, CTA.ID, ref.id)
  if (ref.zone !== undefined) o = putBe16(buf, o, CTA.ZONE, ref.zone)
  return o
}

const { REQUEST, ACK, DUMP, CREATE, EXCL } = NlmF

/** The attributes of `req` from offset `o`; returns the offset after them. */
function putBody (buf: Out, o: number, req: CtRequest): number {
  switch (req.op) {
    case 'dump':
    case 'flush':
      return o
    case 'create':
      if (req.flow.timeout === undefined) {
        // the kernel answers EINVAL without CTA_TIMEOUT (spec §5.3); refuse before sending
        throw new CodecError('CT_ENCODE_NO_TIMEOUT', 'create needs flow.timeout')
      }
      return putFlow(buf, o, req.flow, true)
    case 'createAttrs':
      if (buf != null) buf.set(req.attrs, o)
      return o + req.attrs.length
    case 'update':
      return putFlow(buf, o, req.flow, false)
    case 'delete':
      return putRef(buf, o, req.flow, true, undefined)
    case 'get':
      return putRef(buf, o, req.flow, false, undefined)
    case 'setTimeout':
      return putRef(buf, o, req.flow, false, req.timeout)
  }
}

/** nlmsg_type low byte (IPCTNL_MSG), nlmsg_flags and nfgen_family of a request. */
function messageOf (req: CtRequest): number {
  switch (req.op) {
    case 'dump': return IPCTNL_MSG.CT_GET
    case 'create': case 'createAttrs': case 'update': case 'setTimeout': return IPCTNL_MSG.CT_NEW
    case 'delete': case 'flush': return IPCTNL_MSG.CT_DELETE
    case 'get': return IPCTNL_MSG.CT_GET
  }
}

function flagsOf (req: CtRequest): number {
  switch (req.op) {
    case 'dump': return REQUEST | DUMP
    case 'create': return REQUEST | CREATE | ACK | (req.exclusive === false ? 0 : EXCL)
    case 'createAttrs': return REQUEST | CREATE | ACK | EXCL
    default: return REQUEST | ACK
  }
}

const familyOf = (req: CtRequest): number => afOf(req.op === 'dump' || req.op === 'flush' || req.op === 'createAttrs' ? req.family : req.flow.family)

/** Bytes the request takes (nlmsghdr + nfgenmsg + attributes). */
export function encodingLength (req: CtRequest): number {
  return putBody(null, NLMSG_HDRLEN + NFGENMSG_LEN, req)
}

/**
 * Room a request may need: nla_len is 16 bits, so no attribute and hence no message of ours is
 * larger (a request's nests hold a few small attributes; labels and helper names are short).
 */
export const MAX_REQUEST_BYTES = 65536

/**
 * Encode a request at `buf[offset..]` in one pass (no measuring pass, no Buffer of its own): the
 * committer writes a datagram's requests back to back. `buf` must have MAX_REQUEST_BYTES of room
 * from `offset`. Returns the offset after the message. On a codec error nothing is promised about
 * the bytes from `offset` (the caller does not advance).
 */
export function encodeRequestInto (req: CtRequest, seq: number, pid: number, buf: Buffer, offset: number): number {
  if (buf.length - offset < MAX_REQUEST_BYTES) throw new RangeError(`encodeRequestInto: ${buf.length - offset} bytes of room, needs ${MAX_REQUEST_BYTES}`)
  const end = putBody(buf, offset + NLMSG_HDRLEN + NFGENMSG_LEN, req)
  writeNlMsgHeader(buf, offset, { len: end - offset, type: ctMsgType(messageOf(req)), flags: flagsOf(req), seq, pid })
  writeNfGenMsg(buf, offset + NLMSG_HDRLEN, { family: familyOf(req), version: NFNETLINK_V0, resId: 0 })
  return end
}

/** Encode a request. `pid` 0 lets the kernel route by socket; `seq` matches the ACK/error. */
export function encodeRequest (req: CtRequest, seq: number, pid = 0): Buffer {
  const len = putBody(undefined, NLMSG_HDRLEN + NFGENMSG_LEN, req)
  // every byte is written below (padding included), so the pooled unzeroed allocation is safe
  const buf = Buffer.allocUnsafe(len)
  writeNlMsgHeader(buf, 0, { len, type: ctMsgType(messageOf(req)), flags: flagsOf(req), seq, pid })
  writeNfGenMsg(buf, NLMSG_HDRLEN, { family: familyOf(req), version: NFNETLINK_V0, resId: 0 })
  const end = putBody(buf, NLMSG_HDRLEN + NFGENMSG_LEN, req)
  if (end !== len) throw new RangeError(`ctnetlink encoder: wrote ${end} bytes of ${len}`)
  return buf
}
