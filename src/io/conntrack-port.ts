/**
 * Port: the kernel conntrack table as the runtime sees it (architecture: "each io adapter implements a
 * port interface; tests use fakes that pass the same contract suite").
 *
 * Implemented by the ctnetlink adapter (./ctnetlink.ts) and by test/helpers/fake-conntrack.ts; both
 * pass test/contract/conntrack.contract.ts.
 *
 * Semantics every implementation keeps (conntrackd-ftfw spec §5.3–§5.7):
 * - `apply` runs the requests in order and answers one result per request, in the same order. A
 *   failure is per entry (EEXIST on an exclusive create, ENOENT on update/delete/get/setTimeout of a
 *   missing entry, …) and never fails the others; the caller decides (e.g. retry EEXIST as update).
 * - Changes this port makes itself are NOT reported through `onEvent` (the kernel stamps their events
 *   with our commit socket's port id and we drop them, as conntrackd's origin check does), so a
 *   commit does not echo back to the peer.
 * - `onOverrun` says events were lost (netlink ENOBUFS or NLMSG_OVERRUN); listening goes on.
 *   The runtime answers with a rate-limited resync from `dump()`.
 */
import type { CtEvent, CtRequest } from '../codec/ctnetlink.js'
import type { Flow, FlowFamily } from '../core/conntrack/flow.js'
import type { KernelEventBatch, RecordBatch } from '../core/conntrack/record-batch.js'

/** A request `apply` accepts: every ctnetlink request except the dump (that is `dump()`). */
export type CtMutation = Exclude<CtRequest, { op: 'dump' }>

/**
 * The outcome of one request.
 * `errno` is the kernel's errno name (`EEXIST`, `ENOENT`, `EINVAL`, `EBUSY`, `EOPNOTSUPP`, …) or one
 * of the adapter's own reasons: `ETIMEDOUT` (no answer within the reply timeout: the outcome is
 * unknown), `ECLOSED` (the port was closed before the answer), or a codec code such as
 * `CT_ENCODE_NO_TIMEOUT` when the request could not be encoded (it was never sent).
 */
export type ApplyResult = { readonly ok: true } | { readonly ok: false, readonly errno: string }

/** A kernel conntrack event caused by someone other than this port (packets, other tools). */
export interface ConntrackEvent {
  readonly event: CtEvent
  readonly flow: Flow
}

export interface OverrunInfo {
  /** Overruns seen since the port was opened, this one included. */
  readonly count: number
  /**
   * Why events were lost: the kernel's ENOBUFS (or NLMSG_OVERRUN). `listener-restarted` is kept so
   * consumers and fakes written against the old child-process listener still type-check; the
   * ctnetlink adapter no longer reports it (its event socket lives in the adapter's thread and
   * survives an overflow).
   */
  readonly reason: 'enobufs' | 'listener-restarted'
}

export interface ConntrackControl {
  /** The whole table (family undefined = AF_UNSPEC), or one family. */
  dump: (family?: FlowFamily) => Promise<Flow[]>
  /**
   * The same, a receive batch at a time, as packed records (core/conntrack/record-batch.ts): no
   * object per entry and nothing kept, so a dump of 250k entries never holds them all (the daemon's
   * resyncs). Resolves with the count when the dump is complete.
   */
  dumpChunks: (onChunk: (batch: RecordBatch) => void, family?: FlowFamily) => Promise<number>
  /** Batched create/update/delete/get/setTimeout/flush; one result per request, in order. */
  apply: (requests: readonly CtMutation[]) => Promise<ApplyResult[]>
  /** Flush the whole table (every family). Throws when the kernel refuses. */
  flush: () => Promise<void>
  onEvent: (handler: (event: ConntrackEvent) => void) => void
  /**
   * Optional: events as packed records, a receive batch at a time (core/conntrack/record-batch.ts
   * KernelEventBatch, valid during the call only). With a handler registered, `onEvent` gets only
   * the events a record cannot hold, in order with the batches.
   */
  onEventRecords?: (handler: (batch: KernelEventBatch) => void) => void
  onOverrun: (handler: (info: OverrunInfo) => void) => void
  /**
   * Optional: stop (false) or resume (true) NEW events, e.g. for a takeover commit: the kernel then
   * builds no event for each entry the commit creates (io/ctnetlink-events.ts). Throws when the
   * kernel refuses.
   */
  listenNew?: (on: boolean) => void
  close: () => Promise<void>
}
