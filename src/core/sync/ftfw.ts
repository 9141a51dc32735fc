/**
 * conntrackd FTFW, the reliable sync protocol, as one sans-IO state machine (specs/conntrackd-ftfw.md §3).
 *
 *   createFtfw(config, initialSeq, now) → state
 *   stepFtfw(state, input, now) → { state, datagrams, deliver, resyncRequested, peerRestarted, resyncAcked,
 *                                   nacksOutstanding, deadline, counters }
 *
 * The runtime arms one timer at `deadline` and feeds `{ kind: 'timeout' }` when it fires. No clock is read here.
 *
 * Transmit rounds. conntrackd drains its tx queue in a main-loop iteration right after the input that filled it
 * (§1.1), so changes made by one batch of kernel events share a round and coalesce. Here a round runs on
 * `{ kind: 'flush' }`, or on `{ kind: 'timeout' }` at the deadline, which is "now" whenever something is
 * queued (a zero-delay deadline). A runtime may therefore feed a batch of inputs and then `flush`, or simply
 * honour the deadline: both give the batching conntrackd has.
 *
 * RESYNC and bulk. `requestResync` is held until a first message from the peer has been accepted (see there);
 * when the peer asks (`resyncRequested`), the runtime answers with one `bulk` input in the same tick, which goes
 * ahead of any ACK already queued, as conntrackd's bulk does. core/sync/bulk.ts relies on both.
 *
 * Ownership. The resend queue holds up to 131072 entries and a sync link carries thousands of messages per
 * second, so the queues are mutated in place: `stepFtfw` advances `state` and returns it. Like str0m's `Rtc`,
 * the state is owned by one caller, which must continue with the returned value and never share it.
 *
 * Hardenings over conntrackd 1.4.7 that change nothing on the wire (all in `receiveOne`):
 * - conntrackd flushes its resend queue on EVERY message that carries HELLO, and a peer says HELLO until our
 *   HELLO_BACK reaches it. Under loss that flushes the answer to the peer's startup RESYNC while the peer may
 *   still NACK parts of it (its own comment: "we are unreliable until the helloing finishes"). We flush once per
 *   restart: at the first HELLO of a handshake, when everything we had sent predates the new peer.
 * - conntrackd skips the sequence check on every HELLO message, so a duplicated or reordered HELLO message is
 *   applied again (an older flow state over a newer one) and taken for a restart. We bypass the check only for
 *   the HELLO that opens a handshake (or one before it: a second restart); later HELLO messages of the same
 *   handshake are sequenced normally, and a copy of a HELLO message already accepted is dropped as stale.
 * - On a HELLO that opens a handshake we also drop a pending acknowledgement of the old peer instance instead of
 *   stretching it over the new one's numbers (conntrackd may then ACK messages of the new peer it never got).
 */
import { CodecError } from '../../codec/errors.js'
import {
  decodeDatagram, writeCtBodyMessage, writeCtMessage, writeCtlMessage, DatagramPacker, NetFlag, PackArena, type CtdMalformed, type CtdPayloadModeMessage, type NetHeader
} from '../../codec/conntrackd.js'
import { isDue, type Deadline, type Millis } from '../time.js'
import { seq as toSeq, seqAfter, seqBetween, seqBefore, seqDistance, seqNext, type Seq } from './seq.js'
import {
  ackRange, createQueues, enqueueBulk, enqueueCtl, enqueueObject, flushResend, nackRange, nacksAfter, recordSent, releaseNode, takeTx,
  type QueueNode, type Queues
} from './txqueue.js'
import {
  FTFW_DROP_REASONS, type CtAttrs, type FtfwConfig, type FtfwCounters, type FtfwDelivery, type FtfwDropReason, type FtfwInput,
  type FtfwStepResult
} from './types.js'

export * from './types.js'

/** Our side of the HELLO handshake (§3.6): INIT until the first send, SAY until a HELLO_BACK arrives. */
export type HelloState = 'init' | 'say' | 'done'

/** Receiver state (§3.2). One peer: FTFW is a two-node protocol (§3.9). */
export interface FtfwReceiver {
  /** `local_seq_set`: a message has been accepted. */
  seqSet: boolean
  /** `last_seq_recv` */
  lastSeq: Seq
  /** `ack_from` / `ack_from_set`: first sequence of the range not yet acknowledged. */
  ackFrom: Seq
  ackPending: boolean
  /** Messages left before a window ACK. */
  window: number
  /** The peer is saying HELLO: a handshake we accepted is not finished (its messages still carry HELLO). */
  handshake: boolean
  /** The latest handshake (valid once `helloSeen`): its first HELLO, and the first message after it without HELLO. */
  helloSeen: boolean
  helloBase: Seq
  helloEnd: Seq
  /** When that handshake was opened. */
  helloAt: Millis
}

export interface FtfwState {
  readonly config: FtfwConfig
  /** Sequence number of our next message (post-incremented for every message sent, §3.1). */
  nextSeq: Seq
  hello: HelloState
  /** A HELLO was received: put HELLO_BACK on our next message, once (§3.6). */
  sayHelloBack: boolean
  readonly rx: FtfwReceiver
  readonly queues: Queues
  /** When the oldest queued tx item was queued: the transmit round is due from then (null: nothing queued). */
  txSince: Millis | null
  /** A RESYNC was asked for before any message from the peer was accepted: sent once one is. */
  resyncDeferred: boolean
  /** Sequence number of our latest RESYNC the peer acknowledged (null: none yet). */
  resyncAckedSeq: Seq | null
  /** ALIVE / idle-ACK timer (§3.5): re-armed after every transmit round. */
  aliveAt: Millis
  readonly counters: FtfwCounters
  /** Where transmit rounds write their datagrams (codec/conntrackd.ts PackArena): bytes, no protocol state. */
  readonly arena: PackArena
}

export class FtfwConfigError extends RangeError {
  override name = 'FtfwConfigError'
}

function checkConfig (c: FtfwConfig): void {
  const int = (v: number, min: number, name: string): void => {
    if (!Number.isInteger(v) || v < min) throw new FtfwConfigError(`ftfw: ${name} must be an integer ≥ ${min}, got ${v}`)
  }
  int(c.ackWindowSize, 1, 'ackWindowSize')
  int(c.resendQueueSize, 1, 'resendQueueSize')
  int(c.aliveIntervalMs, 1, 'aliveIntervalMs')
  // Room for one 16-byte control message after the 28 bytes of IP + UDP headers (§1.1).
  int(c.mtu, 28 + 16 + 1, 'mtu')
}

function zeroCounters (): FtfwCounters {
  const drops = Object.fromEntries(FTFW_DROP_REASONS.map(r => [r, 0])) as Record<FtfwDropReason, number>
  return {
    localEvents: 0,
    coalesced: 0,
    txMessages: 0,
    txData: 0,
    txAck: 0,
    txNack: 0,
    txResync: 0,
    txAlive: 0,
    txRetransmits: 0,
    txDatagrams: 0,
    txBytes: 0,
    rxDatagrams: 0,
    rxMessages: 0,
    rxData: 0,
    rxAck: 0,
    rxNack: 0,
    rxResync: 0,
    rxAlive: 0,
    rxHello: 0,
    rxHelloBack: 0,
    peerRestarts: 0,
    gaps: 0,
    lost: 0,
    ackReleased: 0,
    nackRequeued: 0,
    helloFlushed: 0,
    delivered: 0,
    drops
  }
}

/**
 * A fresh FTFW endpoint. `initialSeq` is the first sequence number we send (conntrackd uses the Unix time at
 * startup, §3.1; the runtime passes it). The ALIVE timer is armed at `now + aliveIntervalMs`, as conntrackd arms
 * it at init: a lone node announces itself (ALIVE + HELLO) one interval after start.
 */
export function createFtfw (config: FtfwConfig, initialSeq: Seq, now: Millis): FtfwState {
  checkConfig(config)
  if (!Number.isInteger(initialSeq) || initialSeq < 0 || initialSeq > 0xffffffff) {
    throw new FtfwConfigError(`ftfw: initialSeq must be a u32, got ${initialSeq}`)
  }
  return {
    config,
    nextSeq: initialSeq,
    hello: 'init',
    sayHelloBack: false,
    rx: { seqSet: false, lastSeq: 0, ackFrom: 0, ackPending: false, window: config.ackWindowSize, handshake: false, helloSeen: false, helloBase: 0, helloEnd: 0, helloAt: now },
    queues: createQueues(),
    txSince: null,
    resyncDeferred: false,
    resyncAckedSeq: null,
    aliveAt: now + config.aliveIntervalMs,
    counters: zeroCounters(),
    arena: new PackArena()
  }
}

/** The instant the state wants to be stepped with `timeout`: a queued transmit round, else the ALIVE timer. */
export function ftfwDeadline (s: FtfwState): Deadline {
  // earliest(txSince, aliveAt) without its argument list: this runs once per step.
  return s.txSince !== null && s.txSince < s.aliveAt ? s.txSince : s.aliveAt
}

const NONE: readonly never[] = Object.freeze([])

function copyCounters (c: FtfwCounters): FtfwCounters {
  return { ...c, drops: { ...c.drops } }
}

/**
 * What one step produced, filled as it goes, and returned as is: one object per step. The lists start as the
 * shared empty list and are created by their first entry (most steps have none). `counters` is copied when
 * read, not at every step: a local change is a step, and copying some forty counters for each of them cost
 * more than queueing the change.
 */
class StepOutput implements FtfwStepResult<FtfwState> {
  datagrams: readonly Buffer[] = NONE
  deliver: readonly FtfwDelivery[] = NONE
  resyncRequested = false
  peerRestarted = false
  resyncAcked = false
  nacksOutstanding = 0
  deadline: Deadline = null
  constructor (readonly state: FtfwState) {}

  get counters (): Readonly<FtfwCounters> {
    return copyCounters(this.state.counters)
  }
}

function addDatagrams (out: StepOutput, datagrams: Buffer[]): void {
  if (out.datagrams === NONE) out.datagrams = datagrams
  else (out.datagrams as Buffer[]).push(...datagrams)
}

function addDelivery (out: StepOutput, d: FtfwDelivery): void {
  if (out.deliver === NONE) out.deliver = [d]
  else (out.deliver as FtfwDelivery[]).push(d)
}

/** Advance `state` by one input at `now` (mutates and returns it, see "Ownership" above). */
export function stepFtfw (state: FtfwState, input: FtfwInput, now: Millis): FtfwStepResult<FtfwState> {
  const out = new StepOutput(state)
  switch (input.kind) {
    case 'local':
      state.counters.localEvents++
      if (enqueueObject(state.queues, input)) state.counters.coalesced++
      markQueued(state, now)
      break
    case 'locals':
      state.counters.localEvents += input.entries.length
      for (const e of input.entries) if (enqueueObject(state.queues, e)) state.counters.coalesced++
      markQueued(state, now)
      break
    case 'bulk':
      state.counters.localEvents += input.entries.length
      state.counters.coalesced += enqueueBulk(state.queues, input.entries)
      markQueued(state, now)
      break
    case 'requestResync':
      // §3.7: RESYNC with from = to = 0; the peer answers with a bulk of ordinary data messages. Held until we
      // have accepted a first message from the peer: a receiver without a sequence base takes whatever arrives
      // first as its base, so bulk messages lost before that would never be NACKed. The peer sends at least
      // one message per ALIVE interval, so the wait is at most about one interval.
      if (state.rx.seqSet) enqueueCtl(state.queues, 'resync')
      else state.resyncDeferred = true
      markQueued(state, now)
      break
    case 'datagram':
      receive(state, input.buf, now, out)
      break
    case 'flush':
      transmit(state, now, out)
      break
    case 'timeout':
      if (isDue(state.aliveAt, now)) fireAlive(state, now)
      if (state.queues.tx.length > 0) transmit(state, now, out)
      break
  }
  out.nacksOutstanding = nacksAfter(state.queues, state.resyncAckedSeq)
  out.deadline = ftfwDeadline(state)
  return out
}

function markQueued (s: FtfwState, now: Millis): void {
  if (s.txSince === null && s.queues.tx.length > 0) s.txSince = now
}

/**
 * ALIVE timer (§3.5): acknowledge what is pending up to the last sequence received, or say ALIVE. conntrackd
 * re-arms it here and again after the transmit round that follows at once.
 */
function fireAlive (s: FtfwState, now: Millis): void {
  const rx = s.rx
  if (rx.ackPending && rx.seqSet) {
    enqueueCtl(s.queues, 'ack', rx.ackFrom, rx.lastSeq)
    rx.ackPending = false
  } else {
    enqueueCtl(s.queues, 'alive')
  }
  s.aliveAt = now + s.config.aliveIntervalMs
  markQueued(s, now)
}

// ---------------------------------------------------------------------------------------------- transmit

function countTx (c: FtfwCounters, node: QueueNode): void {
  if (node.type === 'obj') { c.txData++; return }
  switch (node.kind) {
    case 'ack': c.txAck++; break
    case 'nack': c.txNack++; break
    case 'resync': c.txResync++; break
    case 'alive': c.txAlive++; break
  }
}

/**
 * One transmit round (§3.5): every queued node in order gets the next sequence number, HELLO while we are not
 * DONE, HELLO_BACK on the first message after a received HELLO; the messages are packed into datagrams
 * (§1.1) and the ALIVE timer is re-armed. Each message is encoded straight into the datagram it travels in.
 */
function transmit (s: FtfwState, now: Millis, out: StepOutput): void {
  const nodes = takeTx(s.queues)
  s.txSince = null
  const c = s.counters
  const packer = new DatagramPacker(s.config.mtu, s.arena)
  let sent = 0
  for (const node of nodes) {
    const seq = s.nextSeq
    const hello = s.hello !== 'done'
    let len: number
    try {
      len = node.type === 'obj'
        ? node.body !== null
          ? writeCtBodyMessage(packer.buf, packer.end, node.event, node.body, seq, hello, s.sayHelloBack)
          : writeCtMessage(packer.buf, packer.end, node.event, node.attrs as CtAttrs, seq, hello, s.sayHelloBack)
        : writeCtlMessage(packer.buf, packer.end, node.kind, node.from, node.to, seq, hello, s.sayHelloBack)
    } catch (e) {
      // Only a local object can be unencodable (controls are u32 ranges): drop it, spend no sequence number.
      if (!(e instanceof CodecError)) throw e
      c.drops[e.code as FtfwDropReason]++
      releaseNode(s.queues, node)
      continue
    }
    packer.commit(len)
    sent++
    if (s.hello === 'init') s.hello = 'say'
    s.sayHelloBack = false
    if (node.sent > 0) c.txRetransmits++
    c.txMessages++
    countTx(c, node)
    if (recordSent(s.queues, node, seq, s.config.resendQueueSize) !== null) c.drops.resendQueueFull++
    s.nextSeq = seqNext(seq)
  }
  if (sent === 0) return
  const datagrams = packer.finish()
  c.txDatagrams += datagrams.length
  for (const d of datagrams) c.txBytes += d.length
  addDatagrams(out, datagrams)
  s.aliveAt = now + s.config.aliveIntervalMs
}

// ----------------------------------------------------------------------------------------------- receive

/** What digesting a message found (§3.4): conntrackd's MSG_DATA, MSG_CTL, MSG_BAD. */
type Digest = 'data' | 'ctl' | 'bad'

/** The header facts sequencing needs, from a decoded message or from the header of a malformed one. */
interface Seen {
  seq: Seq
  hello: boolean
  helloBack: boolean
}

/**
 * A received datagram: messages in wire order (§1.1), each through the receive algorithm (§3.3). Malformed
 * entries are counted by code; those with a valid header are still sequenced as conntrackd does: a bad payload
 * is acknowledged and lost (§3.4), a bad type or flags is MSG_BAD, a bad version never reaches FTFW.
 */
function receive (s: FtfwState, buf: Uint8Array, now: Millis, out: StepOutput): void {
  s.counters.rxDatagrams++
  const { messages, malformed } = decodeDatagram(buf, 'payload')
  let m = 0
  for (let i = 0; i <= messages.length; i++) {
    for (let bad = malformed[m]; bad !== undefined && bad.index === i; bad = malformed[++m]) receiveMalformed(s, bad, now, out)
    const msg = messages[i]
    if (msg === undefined) continue
    s.counters.rxMessages++
    receiveOne(s, msg, msg, 'bad', now, out)
  }
  markQueued(s, now)
}

function receiveMalformed (s: FtfwState, bad: CtdMalformed, now: Millis, out: StepOutput): void {
  s.counters.drops[bad.code]++
  const h: NetHeader | undefined = bad.header
  // Framing errors have no trustworthy header; a bad version is dropped before FTFW (`do_channel_handler_step`).
  if (h === undefined || bad.code === 'CTD_BAD_VERSION') return
  s.counters.rxMessages++
  const seen = { seq: h.seq, hello: (h.flags & NetFlag.HELLO) !== 0, helloBack: (h.flags & NetFlag.HELLO_BACK) !== 0 }
  // Type or flags conntrackd cannot classify: MSG_BAD. Otherwise a data message whose payload failed to parse.
  const kind: Digest = bad.code === 'CTD_BAD_TYPE' || bad.code === 'CTD_BAD_FLAGS' ? 'bad' : 'data'
  receiveOne(s, seen, null, kind, now, out)
}

/**
 * `digest_msg` (§3.4): data is delivered; ACK releases and NACK re-queues resend entries in [from, to];
 * RESYNC asks the runtime for a bulk; ALIVE does nothing. A range with `to` before `from` is MSG_BAD.
 */
function digest (s: FtfwState, msg: CtdPayloadModeMessage, out: StepOutput): Digest {
  const c = s.counters
  switch (msg.kind) {
    case 'ctPayload':
    case 'exp':
      c.rxData++
      c.delivered++
      addDelivery(out, msg.kind === 'ctPayload'
        ? { kind: 'ct', event: msg.event, payload: msg.payload }
        : { kind: 'exp', event: msg.event, attrs: msg.attrs })
      return 'data'
    case 'ack': {
      if (seqBefore(msg.to, msg.from)) { c.drops.badAckRange++; return 'bad' }
      c.rxAck++
      const r = ackRange(s.queues, msg.from, msg.to)
      c.ackReleased += r.released
      if (r.resync !== null) {
        out.resyncAcked = true
        s.resyncAckedSeq = r.resync
      }
      return 'ctl'
    }
    case 'nack':
      if (seqBefore(msg.to, msg.from)) { c.drops.badAckRange++; return 'bad' }
      c.rxNack++
      c.nackRequeued += nackRange(s.queues, msg.from, msg.to)
      return 'ctl'
    case 'resync':
      c.rxResync++
      out.resyncRequested = true
      return 'ctl'
    case 'alive':
      c.rxAlive++
      return 'ctl'
  }
}

/** `nethdr_track_seq` (§3.2). */
function track (rx: FtfwReceiver, seq: Seq): 'unset' | 'inSync' | 'after' | 'before' {
  if (!rx.seqSet) return 'unset'
  const exp = seqNext(rx.lastSeq)
  if (seq === exp) return 'inSync'
  return seqAfter(seq, exp) ? 'after' : 'before'
}

/**
 * What digesting the message being received gives: `digest` of the decoded message, or, for a malformed one
 * (`msg` null), the kind its header implies.
 */
function digestOf (s: FtfwState, msg: CtdPayloadModeMessage | null, malformed: Digest, out: StepOutput): Digest {
  return msg === null ? malformed : digest(s, msg, out)
}

/**
 * `ftfw_recv` (§3.3), with the two handshake hardenings described at the top of this file. `seen` is the
 * message itself when it decoded (`msg`), else its header; the message is digested only where conntrackd does.
 */
function receiveOne (s: FtfwState, seen: Seen, msg: CtdPayloadModeMessage | null, malformed: Digest, now: Millis, out: StepOutput): void {
  const rx = s.rx
  const c = s.counters
  const W = s.config.ackWindowSize
  if (seen.helloBack) {
    c.rxHelloBack++
    if (s.hello === 'say') s.hello = 'done'
  }
  let opensHandshake = false
  if (seen.hello) {
    c.rxHello++
    if (isStaleHello(rx, seen.seq, now, s.config.aliveIntervalMs)) {
      // A duplicate or late copy of a HELLO message of a handshake we already accepted: not a restart. Not
      // answered either; a peer that really restarted onto these numbers keeps saying HELLO and gets past them.
      c.drops.staleSeq++
      return
    }
    // §3.6: answer every HELLO with HELLO_BACK on our next message.
    s.sayHelloBack = true
    opensHandshake = !rx.handshake || seqBefore(seen.seq, rx.helloBase)
  }

  let kind: Digest
  if (opensHandshake) {
    // §3.3 (a): the peer (re)started and knows nothing of what we sent: release our resend queue, accept its
    // sequence base. Its old instance's unacknowledged range is forgotten too (it cannot take an ACK for it).
    c.peerRestarts++
    out.peerRestarted = true
    c.helloFlushed += flushResend(s.queues)
    rx.ackPending = false
    rx.window = W
    kind = digestInSync(s, seen.seq, msg, malformed, out)
  } else {
    const t = track(rx, seen.seq)
    if (t === 'before') {
      // §3.3 (c): stale, duplicate or reordered: dropped, not acknowledged, the sequence is not moved.
      c.drops.staleSeq++
      return
    }
    if (t === 'after') {
      // §3.3 (b): a gap. The message itself is applied (nothing is buffered); the gap is NACKed.
      const exp = seqNext(rx.lastSeq)
      c.gaps++
      c.lost += seqDistance(exp, seen.seq)
      kind = digestOf(s, msg, malformed, out)
      if (kind !== 'bad') {
        if (rx.ackPending) enqueueCtl(s.queues, 'ack', rx.ackFrom, rx.lastSeq)
        enqueueCtl(s.queues, 'nack', exp, toSeq(seen.seq - 1))
        rx.window = W - 1
        rx.ackFrom = seen.seq
        rx.ackPending = true
      }
    } else {
      kind = digestInSync(s, seen.seq, msg, malformed, out)
    }
  }
  if (kind === 'bad') return
  // §3.3 (e)
  rx.lastSeq = seen.seq
  rx.seqSet = true
  if (s.resyncDeferred) {
    s.resyncDeferred = false
    enqueueCtl(s.queues, 'resync')
  }
  if (opensHandshake) {
    rx.handshake = true
    rx.helloSeen = true
    rx.helloBase = seen.seq
    rx.helloAt = now
  }
  if (!seen.hello && rx.handshake) {
    // The peer got our HELLO_BACK: every HELLO message of this instance has a sequence number before this one.
    rx.handshake = false
    rx.helloEnd = seen.seq
  }
}

/**
 * A HELLO message that belongs to the latest handshake we accepted, not a new restart:
 * - between its first HELLO and, while it lasts, the last sequence received, or, once it is over, the first
 *   message without HELLO (every HELLO message of that instance comes before it);
 * - or before its first HELLO but arriving within one ALIVE interval of it: a late copy of the burst that
 *   opened it (the first messages of a restarted peer, reordered on the way). A peer that restarts again that
 *   fast keeps saying HELLO and is accepted one interval later.
 * A restarted peer's new base (its Unix start time) lands in the first range only if it restarts within as many
 * seconds as its handshake took messages; it then passes the range within as many messages.
 */
function isStaleHello (rx: FtfwReceiver, seq: Seq, now: Millis, lateMs: Millis): boolean {
  if (!rx.helloSeen) return false
  const last = rx.handshake ? rx.lastSeq : toSeq(rx.helloEnd - 1)
  if (seqBetween(seq, rx.helloBase, last)) return true
  return seqBefore(seq, rx.helloBase) && now - rx.helloAt < lateMs
}

/** §3.3 (d): SEQ_UNSET / SEQ_IN_SYNC (and the HELLO bypass): count toward the window, ACK when it is full. */
function digestInSync (s: FtfwState, seq: Seq, msg: CtdPayloadModeMessage | null, malformed: Digest, out: StepOutput): Digest {
  const rx = s.rx
  const kind = digestOf(s, msg, malformed, out)
  if (kind === 'bad') return kind
  if (!rx.ackPending) {
    rx.ackFrom = seq
    rx.ackPending = true
  }
  if (--rx.window <= 0) {
    enqueueCtl(s.queues, 'ack', rx.ackFrom, seq)
    rx.window = s.config.ackWindowSize
    rx.ackPending = false
  }
  return kind
}

/** Status view (hafwctl show sync). */
export interface FtfwSnapshot {
  readonly nextSeq: Seq
  readonly hello: HelloState
  readonly lastSeqReceived: Seq | null
  readonly txQueued: number
  readonly resendQueued: number
  readonly objectsQueued: number
  readonly nacksOutstanding: number
  readonly resyncDeferred: boolean
  readonly deadline: Deadline
  readonly counters: Readonly<FtfwCounters>
}

export function ftfwSnapshot (s: FtfwState): FtfwSnapshot {
  return {
    nextSeq: s.nextSeq,
    hello: s.hello,
    lastSeqReceived: s.rx.seqSet ? s.rx.lastSeq : null,
    txQueued: s.queues.tx.length,
    resendQueued: s.queues.rs.size,
    objectsQueued: s.queues.objects.size,
    nacksOutstanding: s.queues.nacks.size,
    resyncDeferred: s.resyncDeferred,
    deadline: ftfwDeadline(s),
    counters: copyCounters(s.counters)
  }
}
