/**
 * Flow ⇄ CtAttrs: the canonical conntrack entry and the content of a conntrackd 1.4.x NEW / UPD / DEL
 * message (codec/conntrackd-ct.ts), both directions.
 *
 * flowToAttrs is conntrackd's `ct2msg` (src/build.c, spec §1.7): what a sender puts on the wire for
 * an internal-cache entry. The same attributes for all three message types; which ones depends on
 * what is known about the flow:
 *   1. addresses, 2. status (always), 3. L4 protocol (always),
 *   4. per protocol: TCP/UDP/SCTP/DCCP ports (always, since 1.4.7); TCP state, plus both window
 *      scales with TCPWindowTracking; SCTP state + vtags; DCCP state + role; ICMP type/code/id.
 *      Other protocols (UDPlite, GRE, ...): nothing,
 *   5. timeout, 6. mark, 7. master tuple, 8. NAT (below), 9. seq-adjust (both directions),
 *   10. helper, 11. labels (only with a bit set), 12. synproxy, 13. zone.
 * Never sent: counters, the conntrack id, use, TCP flags.
 *
 * NAT (libnetfilter_conntrack NFCT_GOPT_IS_SNAT/DNAT/SPAT/DPAT): the *_NAT_DONE status bit AND a
 * real difference between the reply tuple and the inverted original:
 *   SNAT addr = reply.dst  when SRC_NAT_DONE and reply.dst ≠ orig.src
 *   DNAT addr = reply.src  when DST_NAT_DONE and reply.src ≠ orig.dst
 *   SPAT port = reply.dport when SRC_NAT_DONE and reply.dport ≠ orig.sport
 *   DPAT port = reply.sport when DST_NAT_DONE and reply.sport ≠ orig.dport
 * ICMP quirk (seen in the captures, test/fixtures/captures/conntrackd/README.md): conntrackd's cached
 * object keeps no L4 data for the reply tuple of an ICMP flow, so the port comparison runs against
 * zero: with SRC_NAT_DONE it sends SPAT = 0 whenever the ICMP id is not 0, with DST_NAT_DONE it sends
 * DPAT = 0 whenever type or code is not 0. We reproduce it byte for byte; a receiver ignores ports
 * on ICMP anyway.
 *
 * flowFromAttrs is the receiving side (src/parse.c + what commit needs, spec §4.3): only the original
 * tuple travels, so the reply tuple is the inverted original (ICMP request types become replies)
 * with the NAT attributes applied, i.e. the tuple the kernel will show once the entry is committed.
 * Status, timeout and everything else are kept as received; the commit planner (commit.ts) does
 * conntrackd's pre-create sanitising.
 */
import { ipFamily } from '../../codec/ip.js'
import type { CtAttrs } from '../../codec/conntrackd-ct.js'
import {
  IPS, L4Proto, hasPorts, invertTuple, isIcmp, type Flow, type FlowNat, type FlowTuple, type NatBinding
} from './flow.js'

export interface FlowToAttrsOptions {
  /** conntrackd `TCPWindowTracking on`: also send NTA_TCP_WSCALE_ORIG/REPL. Default false. */
  readonly tcpWindowTracking?: boolean
}

/** Protocols whose ports conntrackd puts in NTA_PORT (spec §1.7 item 4). */
function sendsPorts (l4proto: number): boolean {
  return l4proto === L4Proto.TCP || l4proto === L4Proto.UDP || l4proto === L4Proto.SCTP || l4proto === L4Proto.DCCP
}

/** Connlabel bitmap (kernel native layout, little-endian words on x86/arm64) → u32 words. */
export function labelsToWords (labels: Uint8Array): number[] {
  const words: number[] = []
  for (let o = 0; o < labels.length; o += 4) {
    let w = 0
    for (let i = 3; i >= 0; i--) w = (w * 256) + (labels[o + i] ?? 0)
    words.push(w)
  }
  return words
}

/** u32 words → connlabel bitmap in the kernel's native (little-endian) layout. */
export function wordsToLabels (words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4)
  words.forEach((w, i) => {
    out[4 * i] = w & 0xff
    out[4 * i + 1] = (w >>> 8) & 0xff
    out[4 * i + 2] = (w >>> 16) & 0xff
    out[4 * i + 3] = (w >>> 24) & 0xff
  })
  return out
}

function natAttrs (flow: Flow, a: CtAttrs): void {
  const status = flow.status ?? 0
  const { orig, reply } = flow
  const snat = (status & IPS.SRC_NAT_DONE) !== 0
  const dnat = (status & IPS.DST_NAT_DONE) !== 0
  if (snat && reply.dst !== orig.src) a.snatAddr = reply.dst
  if (dnat && reply.src !== orig.dst) a.dnatAddr = reply.src
  if (isIcmp(orig.l4proto)) {
    // ICMP quirk, module comment.
    if (snat && (orig.icmpId ?? 0) !== 0) a.spatPort = 0
    if (dnat && ((orig.icmpType ?? 0) !== 0 || (orig.icmpCode ?? 0) !== 0)) a.dpatPort = 0
  } else if (hasPorts(orig.l4proto)) {
    if (snat && reply.dport !== undefined && reply.dport !== orig.sport) a.spatPort = reply.dport
    if (dnat && reply.sport !== undefined && reply.sport !== orig.dport) a.dpatPort = reply.sport
  }
}

/** What conntrackd sends for this flow (module comment). */
export function flowToAttrs (flow: Flow, opts: FlowToAttrsOptions = {}): CtAttrs {
  const { orig } = flow
  const proto = orig.l4proto
  const a: CtAttrs = { src: orig.src, dst: orig.dst, status: flow.status ?? 0, l4proto: proto }
  if (sendsPorts(proto) && orig.sport !== undefined && orig.dport !== undefined) {
    a.sport = orig.sport
    a.dport = orig.dport
  }
  if (proto === L4Proto.TCP && flow.tcp?.state !== undefined) {
    a.tcpState = flow.tcp.state
    if (opts.tcpWindowTracking === true) {
      if (flow.tcp.wscaleOrig !== undefined) a.tcpWscaleOrig = flow.tcp.wscaleOrig
      if (flow.tcp.wscaleReply !== undefined) a.tcpWscaleRepl = flow.tcp.wscaleReply
    }
  } else if (proto === L4Proto.SCTP && flow.sctp?.state !== undefined) {
    a.sctpState = flow.sctp.state
    if (flow.sctp.vtagOrig !== undefined) a.sctpVtagOrig = flow.sctp.vtagOrig
    if (flow.sctp.vtagReply !== undefined) a.sctpVtagRepl = flow.sctp.vtagReply
  } else if (proto === L4Proto.DCCP && flow.dccp?.state !== undefined) {
    a.dccpState = flow.dccp.state
    if (flow.dccp.role !== undefined) a.dccpRole = flow.dccp.role
  } else if (isIcmp(proto) && orig.icmpType !== undefined) {
    a.icmpType = orig.icmpType
    if (orig.icmpCode !== undefined) a.icmpCode = orig.icmpCode
    if (orig.icmpId !== undefined) a.icmpId = orig.icmpId
  }
  if (flow.timeout !== undefined) a.timeout = flow.timeout
  if (flow.mark !== undefined) a.mark = flow.mark
  if (flow.master !== undefined) {
    const m = flow.master
    a.masterSrc = m.src
    a.masterDst = m.dst
    a.masterL4proto = m.l4proto
    if (m.sport !== undefined && m.dport !== undefined) {
      a.masterSport = m.sport
      a.masterDport = m.dport
    }
  }
  natAttrs(flow, a)
  const sa = flow.seqAdj
  if (sa?.orig !== undefined && sa.reply !== undefined) {
    a.natSeqAdj = {
      origCorrectionPos: sa.orig.correctionPos,
      origOffsetBefore: sa.orig.offsetBefore,
      origOffsetAfter: sa.orig.offsetAfter,
      replCorrectionPos: sa.reply.correctionPos,
      replOffsetBefore: sa.reply.offsetBefore,
      replOffsetAfter: sa.reply.offsetAfter
    }
  }
  if (flow.helper !== undefined) a.helper = flow.helper
  if (flow.labels !== undefined && flow.labels.some(b => b !== 0)) a.labels = labelsToWords(flow.labels)
  if (flow.synproxy !== undefined) a.synproxy = { ...flow.synproxy }
  if (flow.zone !== undefined) a.zone = flow.zone
  return a
}

/** Why a received attribute set cannot become a Flow; each is a named drop counter. */
export type AttrsMapErrorCode = 'CTMAP_NO_ADDRESS' | 'CTMAP_NO_L4PROTO' | 'CTMAP_BAD_ADDRESS'
export const ATTRS_MAP_ERROR_CODES: readonly AttrsMapErrorCode[] = ['CTMAP_NO_ADDRESS', 'CTMAP_NO_L4PROTO', 'CTMAP_BAD_ADDRESS']

export type FlowFromAttrsResult = { readonly ok: true, readonly flow: Flow } | { readonly ok: false, readonly code: AttrsMapErrorCode }

/**
 * The Flow a received message describes (module comment). Checks, in order: both addresses present
 * (CTMAP_NO_ADDRESS), the L4 protocol present (CTMAP_NO_L4PROTO), NAT addresses of the same family
 * as the tuple (CTMAP_BAD_ADDRESS).
 */
export function flowFromAttrs (a: CtAttrs): FlowFromAttrsResult {
  if (a.src === undefined || a.dst === undefined) return { ok: false, code: 'CTMAP_NO_ADDRESS' }
  if (a.l4proto === undefined) return { ok: false, code: 'CTMAP_NO_L4PROTO' }
  const fam = ipFamily(a.src)
  if (fam === null) return { ok: false, code: 'CTMAP_BAD_ADDRESS' }
  if (a.snatAddr !== undefined && ipFamily(a.snatAddr) !== fam) return { ok: false, code: 'CTMAP_BAD_ADDRESS' }
  if (a.dnatAddr !== undefined && ipFamily(a.dnatAddr) !== fam) return { ok: false, code: 'CTMAP_BAD_ADDRESS' }
  const proto = a.l4proto
  const orig: FlowTuple = { src: a.src, dst: a.dst, l4proto: proto }
  if (a.sport !== undefined) orig.sport = a.sport
  if (a.dport !== undefined) orig.dport = a.dport
  if (isIcmp(proto)) {
    if (a.icmpType !== undefined) orig.icmpType = a.icmpType
    if (a.icmpCode !== undefined) orig.icmpCode = a.icmpCode
    if (a.icmpId !== undefined) orig.icmpId = a.icmpId
  }
  const reply = invertTuple(orig)
  // NAT bindings only when the message carries NAT (most flows do not): no empty objects per flow.
  let nat: FlowNat | undefined
  const portNat = hasPorts(proto) // SPAT/DPAT of ICMP are the zeros of the quirk: meaningless
  const spat = portNat ? a.spatPort : undefined
  const dpat = portNat ? a.dpatPort : undefined
  if (a.snatAddr !== undefined || spat !== undefined) {
    const src: NatBinding = {}
    if (a.snatAddr !== undefined) { reply.dst = a.snatAddr; src.ip = a.snatAddr }
    if (spat !== undefined) { reply.dport = spat; src.port = spat }
    nat = { src }
  }
  if (a.dnatAddr !== undefined || dpat !== undefined) {
    const dst: NatBinding = {}
    if (a.dnatAddr !== undefined) { reply.src = a.dnatAddr; dst.ip = a.dnatAddr }
    if (dpat !== undefined) { reply.sport = dpat; dst.port = dpat }
    if (nat === undefined) nat = { dst }
    else nat.dst = dst
  }

  const flow: Flow = { family: fam, orig, reply }
  if (a.status !== undefined) flow.status = a.status
  if (a.timeout !== undefined) flow.timeout = a.timeout
  if (a.mark !== undefined) flow.mark = a.mark
  if (a.zone !== undefined) flow.zone = a.zone
  if (a.tcpState !== undefined || a.tcpWscaleOrig !== undefined || a.tcpWscaleRepl !== undefined) {
    flow.tcp = {}
    if (a.tcpState !== undefined) flow.tcp.state = a.tcpState
    if (a.tcpWscaleOrig !== undefined) flow.tcp.wscaleOrig = a.tcpWscaleOrig
    if (a.tcpWscaleRepl !== undefined) flow.tcp.wscaleReply = a.tcpWscaleRepl
  }
  if (a.sctpState !== undefined || a.sctpVtagOrig !== undefined || a.sctpVtagRepl !== undefined) {
    flow.sctp = {}
    if (a.sctpState !== undefined) flow.sctp.state = a.sctpState
    if (a.sctpVtagOrig !== undefined) flow.sctp.vtagOrig = a.sctpVtagOrig
    if (a.sctpVtagRepl !== undefined) flow.sctp.vtagReply = a.sctpVtagRepl
  }
  if (a.dccpState !== undefined || a.dccpRole !== undefined) {
    flow.dccp = {}
    if (a.dccpState !== undefined) flow.dccp.state = a.dccpState
    if (a.dccpRole !== undefined) flow.dccp.role = a.dccpRole
  }
  if (nat !== undefined) flow.nat = nat
  if (a.masterSrc !== undefined && a.masterDst !== undefined && ipFamily(a.masterSrc) === fam) {
    const m: FlowTuple = { src: a.masterSrc, dst: a.masterDst, l4proto: a.masterL4proto ?? proto }
    if (a.masterSport !== undefined) m.sport = a.masterSport
    if (a.masterDport !== undefined) m.dport = a.masterDport
    flow.master = m
  }
  if (a.natSeqAdj !== undefined) {
    const s = a.natSeqAdj
    flow.seqAdj = {
      orig: { correctionPos: s.origCorrectionPos, offsetBefore: s.origOffsetBefore, offsetAfter: s.origOffsetAfter },
      reply: { correctionPos: s.replCorrectionPos, offsetBefore: s.replOffsetBefore, offsetAfter: s.replOffsetAfter }
    }
  }
  if (a.helper !== undefined) flow.helper = a.helper
  if (a.labels !== undefined) flow.labels = wordsToLabels(a.labels)
  if (a.synproxy !== undefined) flow.synproxy = { ...a.synproxy }
  return { ok: true, flow }
}
