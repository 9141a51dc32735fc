/**
 * Messages between the VRRP thread and the conntrack worker (architecture decision 1: "VRRP
 * timing is isolated from the data path"). The conntrack engine — ctnetlink sockets, the caches,
 * FTFW, the startup bulk, commit, purge — runs in a worker_threads Worker with its own event
 * loop and its own heap, so no event storm, bulk send, GC pause or 100k-entry commit there can
 * delay an advert or a Master_Down timer on the main thread. The two sides share nothing but
 * these structured-clone messages.
 *
 *   main → worker   open (ports), start, an effect of a transition plan, local addresses, dump,
 *                   close
 *   worker → main   reply (to a request id), snapshot (status + counters, pushed), demotion
 *                   (the startup bulk's priority offset, architecture decision 5), bulk (its
 *                   state changes, for the one transition log), log (a record to write)
 *
 * Every request carries an id and gets exactly one reply; the worker pushes a snapshot before
 * each reply, so a command that awaited its reply reads a status that includes its own effect.
 */
import type { LoopDelay } from './loop-delay.js'
import type { ConntrackModel } from '../config/normalize.js'
import type { CacheDumpRow } from '../core/conntrack/cache.js'
import type { FilterCidr } from '../core/conntrack/filter.js'
import type { Effect } from '../core/effects.js'
import type { ConntrackStatus } from './conntrack.js'
import type { WorkerLogRecord } from './worker-log.js'

/** The effects the conntrack worker executes (core/orchestrator.ts plans them). */
export type ConntrackEffect = Extract<Effect, { kind: 'ctCommit' | 'ctFlush' | 'ctResyncFromKernel' | 'syncBulkSend' | 'syncRequestResync' | 'ctShortenTimers' }>

export type ConntrackRequest =
  | { readonly type: 'open', readonly id: number, readonly model: ConntrackModel, readonly localAddresses: readonly FilterCidr[], readonly logLevel: string }
  | { readonly type: 'start', readonly id: number }
  | { readonly type: 'effect', readonly id: number, readonly effect: ConntrackEffect }
  | { readonly type: 'dump', readonly id: number, readonly cache: 'internal' | 'external' }
  | { readonly type: 'close', readonly id: number }

/** Fire-and-forget: no reply. */
export type ConntrackNotice =
  | { readonly type: 'localAddresses', readonly cidrs: readonly FilterCidr[] }
  /** conntrack.sync.auth keys re-read on reload (the first one sends). */
  | { readonly type: 'syncKeys', readonly keys: readonly Uint8Array[] }

export type ToWorker = ConntrackRequest | ConntrackNotice

export type ConntrackReply =
  | { readonly type: 'reply', readonly id: number, readonly ok: true, readonly value?: readonly CacheDumpRow[] }
  | { readonly type: 'reply', readonly id: number, readonly ok: false, readonly error: string }

export interface ConntrackSnapshot {
  readonly type: 'snapshot'
  readonly status: ConntrackStatus
  /** The worker's named counters (ct.*, sync.*); the main thread shows them beside its own. */
  readonly counters: Readonly<Record<string, number>>
  /** How late the worker's own loop runs (./loop-delay.ts). */
  readonly loopDelay?: LoopDelay
}

export type FromWorker =
  | ConntrackReply
  | ConntrackSnapshot
  | { readonly type: 'demotion', readonly offset: number }
  /** A startup bulk state change (the main thread logs, counts and pushes it with the others). */
  | { readonly type: 'bulk', readonly from: string, readonly to: string, readonly event: string, readonly at: number }
  /** The sync peer's liveness changed (heard / lost), for the same transition log. */
  | { readonly type: 'peer', readonly from: string, readonly to: string, readonly at: number }
  /** A log record of the worker, written by the main thread's logger (./worker-log.ts says why). */
  | WorkerLogRecord

/** The slice of a MessagePort both ends use (a Worker, parentPort, or a MessageChannel port in tests). */
export interface Port<In, Out> {
  postMessage: (message: Out) => void
  on: (event: 'message', listener: (message: In) => void) => unknown
}

/** How often the worker pushes a snapshot while nothing asks (the status API's freshness). */
export const SNAPSHOT_INTERVAL_MS = 250

/** The priority-offset source of the startup bulk's demotion (a `demotion` message), as the VRRP routers show it. */
export const BULK_SYNC_SOURCE = 'bulkSync'
