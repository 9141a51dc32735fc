/**
 * Types of the FTFW reliability machine (src/core/sync/ftfw.ts). Wire facts: specs/conntrackd-ftfw.md §3.
 */
import { CTD_ERROR_CODES, type CtAttrs, type CtEvent, type ExpAttr } from '../../codec/conntrackd.js'
import type { Deadline, Millis } from '../time.js'

export interface FtfwConfig {
  /** `ACKWindowSize`: acknowledge after this many in-sequence messages (§3.8, conntrackd default 300). */
  readonly ackWindowSize: number
  /** `ResendQueueSize`: sent objects and ACK/NACK/RESYNC kept for retransmission (§3.5, default 131072). */
  readonly resendQueueSize: number
  /** ALIVE / idle-ACK interval after the last transmit round (§3.5; conntrackd hard-codes 1 s). */
  readonly aliveIntervalMs: number
  /** MTU of the sync interface: datagrams carry at most `mtu − 28` bytes of messages (§1.1). */
  readonly mtu: number
}

/** conntrackd's defaults (§3.8) and a 1500-byte Ethernet MTU. */
export const FTFW_DEFAULTS: FtfwConfig = {
  ackWindowSize: 300,
  resendQueueSize: 131072,
  aliveIntervalMs: 1000,
  mtu: 1500
}

/**
 * One flow of our internal cache to replicate: its attributes, or its NTA attributes already encoded
 * (`body`, the entry's whole state as the sender's byte path writes it from the cache record; owned by
 * the queue from then on). `key` names the flow: changes with equal keys coalesce (txqueue.ts).
 */
export type FtfwLocalChange =
  | { readonly key: string, readonly event: CtEvent, readonly attrs: CtAttrs }
  | { readonly key: string, readonly event: CtEvent, readonly body: Uint8Array }

/**
 * Inputs of `stepFtfw`:
 * - `local`: a change of our internal cache to replicate. `key` identifies the flow (one queue node per key,
 *   §3.5); `attrs` is the flow's current state (a DEL may carry only the tuple: the last known state is kept).
 *   Changes coalesce until the next transmit round (see `coalesce` in txqueue.ts).
 * - `bulk`: our whole internal cache, in answer to `resyncRequested` (or pushed unsolicited, like `conntrackd -B`).
 *   Each entry is queued like `local`, but ahead of the control messages waiting in the tx queue: an ACK that
 *   covers the peer's RESYNC must leave after the bulk, as with conntrackd (§3.4, §3.5), because the peer's
 *   completion rule relies on it (core/sync/bulk.ts). Feed it in the same tick as the step that reported
 *   `resyncRequested`, before any `flush` or `timeout`.
 * - `flush`: run a transmit round now (everything queued goes out, packed into datagrams).
 * - `datagram`: bytes received on the sync channel. conntrackd never checks the source (§1.1); the engine does, before
 *   this machine sees the datagram (core/sync/source.ts), so a refused one never touches the sequence state.
 * - `requestResync`: queue a RESYNC (from = to = 0): the peer answers with its whole internal cache (§3.7).
 * - `timeout`: the deadline was reached: fire the ALIVE/idle-ACK timer if due and transmit what is queued.
 */
export type FtfwInput =
  | ({ readonly kind: 'local' } & FtfwLocalChange)
  /** Several local changes in a row, as that many `local` inputs (one step for a kernel receive batch). */
  | { readonly kind: 'locals', readonly entries: ReadonlyArray<FtfwLocalChange> }
  | { readonly kind: 'bulk', readonly entries: ReadonlyArray<FtfwLocalChange> }
  | { readonly kind: 'flush' }
  | { readonly kind: 'datagram', readonly buf: Uint8Array }
  | { readonly kind: 'requestResync' }
  | { readonly kind: 'timeout' }

/** A peer update for our external cache, in wire order. Expectations are passed through undecoded. */
export type FtfwDelivery =
  /** `payload`: the message's NTA attribute area, checked (checkCtAttrs), not decoded: readCtAttrs, or a byte reader. */
  | { readonly kind: 'ct', readonly event: CtEvent, readonly payload: Uint8Array }
  | { readonly kind: 'exp', readonly event: CtEvent, readonly attrs: readonly ExpAttr[] }

/**
 * Reasons a message (or a queued object) is dropped, one counter each: every codec code (CTD_ENCODE_INVALID: a
 * local object whose attributes the encoder refused; it is not sent and uses no sequence number), plus
 * - `staleSeq`: SEQ_BEFORE (§3.3 c): a duplicate, reordered or stale message, or a repeat of a HELLO already seen;
 * - `badAckRange`: an ACK or NACK whose `to` is before `from`, conntrackd's MSG_BAD (§3.4);
 * - `resendQueueFull`: the resend queue was full, its oldest entry was dropped and cannot be retransmitted (§3.5).
 */
export const FTFW_DROP_REASONS = [...CTD_ERROR_CODES, 'staleSeq', 'badAckRange', 'resendQueueFull'] as const
export type FtfwDropReason = (typeof FTFW_DROP_REASONS)[number]

/** Cumulative counters (status API, metrics). */
export interface FtfwCounters {
  /** Local changes accepted, and how many of them merged into an object already queued. */
  localEvents: number
  coalesced: number
  /** Messages sent, by kind, and the datagrams/bytes carrying them. */
  txMessages: number
  txData: number
  txAck: number
  txNack: number
  txResync: number
  txAlive: number
  /** Messages sent again after a NACK (with a new sequence number, §3.1). */
  txRetransmits: number
  txDatagrams: number
  txBytes: number
  /** Received datagrams and well-framed messages, by kind. */
  rxDatagrams: number
  rxMessages: number
  rxData: number
  rxAck: number
  rxNack: number
  rxResync: number
  rxAlive: number
  rxHello: number
  rxHelloBack: number
  /** Peer (re)starts: a HELLO that opened a new handshake (§3.6). */
  peerRestarts: number
  /** Sequence gaps seen (each one NACKed) and the number of messages they span (conntrackd `msg_rcv_lost`). */
  gaps: number
  lost: number
  /** Resend queue entries released by ACK, re-queued by NACK, flushed by a peer HELLO. */
  ackReleased: number
  nackRequeued: number
  helloFlushed: number
  /** Data messages decoded and handed to `deliver`. */
  delivered: number
  drops: Record<FtfwDropReason, number>
}

export interface FtfwStepResult<S> {
  /** The successor state (the same object, advanced: see `stepFtfw`). */
  readonly state: S
  /**
   * Datagrams to send to the peer, in order (one transmit round packed as conntrackd does, §1.1). Views into a
   * shared chunk (codec/conntrackd.ts PackArena), never written again: send them as they are, copy them before
   * passing them to another thread (never transfer their ArrayBuffer).
   */
  readonly datagrams: readonly Buffer[]
  /** Peer updates to apply to our external cache, in order. */
  readonly deliver: readonly FtfwDelivery[]
  /** The peer sent RESYNC: feed our whole internal cache back as one `bulk` input, in the same tick (§3.4). */
  readonly resyncRequested: boolean
  /** A peer HELLO opened a new handshake: the peer (re)started and knows nothing of our past (§3.6). */
  readonly peerRestarted: boolean
  /** An ACK released a RESYNC we sent: the peer queued its whole bulk before this ACK (see core/sync/bulk.ts). */
  readonly resyncAcked: boolean
  /**
   * NACKs we queued or sent after our latest acknowledged RESYNC (all of them before one is acknowledged) that the
   * peer has not acknowledged yet: 0 = nothing we re-requested since is still in flight. Older ones are left out:
   * a NACK lost before the peer accepted our sequence base (right after a restart) is never acknowledged.
   */
  readonly nacksOutstanding: number
  readonly deadline: Deadline
  /**
   * Snapshot of the cumulative counters, taken when this property is read: read it before the next step (a copy
   * per step would cost more than a local change itself; ftfwSnapshot and the state's own `counters` remain).
   */
  readonly counters: Readonly<FtfwCounters>
}

export type { CtAttrs, CtEvent, ExpAttr, Millis }
