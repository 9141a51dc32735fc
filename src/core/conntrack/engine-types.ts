/**
 * Types of the conntrack engine (./engine.ts): its configuration, state, inputs and effects.
 *
 * The engine is the whole conntrack module of one node as one sans-IO step (architecture decision
 * 1): kernel table ⇄ internal cache → FTFW → peer, peer → FTFW → external cache → kernel on commit,
 * the startup bulk, the purge after PurgeTimeout. Everything that touches the world is an effect
 * (data); everything the world answers is an input. The runtime (runtime/conntrack.ts) executes
 * the effects through a named handler table and arms one timer at `deadline`.
 */
import type { CtRequest } from '../../codec/ctnetlink-request.js'
import type { Effect } from '../effects.js'
import type { Deadline, Millis } from '../time.js'
import type { Bulk, BulkConfig, BulkEvent, BulkState } from '../sync/bulk.js'
import type { FtfwConfig, FtfwSnapshot, FtfwState } from '../sync/ftfw.js'
import type { CacheStats, FlowCache, ResyncRun } from './cache.js'
import type { CommitProgress, CommitRequest, CommitState } from './commit.js'
import type { FilterCidr, FilterConfig, FlowFilter } from './filter.js'
import type { KernelEventBatch, RecordBatch } from './record-batch.js'
import type { BodyWriter } from './record-attrs.js'
import type { PeerRecordPacker } from './peer-record.js'
import type { RecordAt } from './flow-store.js'
import type { CompiledSourcePolicy, SyncSourcePolicy } from '../sync/source.js'
import type { ReplayWindow } from '../sync/replay.js'
import type { Flow } from './flow.js'

/** A request the kernel port applies (io/conntrack-port.ts CtMutation, which the core may not import). */
export type KernelRequest = Exclude<CtRequest, { op: 'dump' }>

/** One answer of the kernel port, in request order (io/conntrack-port.ts ApplyResult). */
export type KernelAnswer = { readonly ok: true } | { readonly ok: false, readonly errno: string }

/** The effects of the transition plans this engine executes (core/orchestrator.ts). */
export type ConntrackCommandKind = 'ctCommit' | 'ctFlush' | 'ctResyncFromKernel' | 'syncBulkSend' | 'syncRequestResync' | 'ctShortenTimers'
export type ConntrackCommand = Extract<Effect, { kind: ConntrackCommandKind }>

export interface EngineConfig {
  readonly filter: FilterConfig
  /**
   * Addresses the filter always ignores besides the configured ones and the node's own: the
   * multicast sync group (runtime/conntrack.ts syncChannelCidrs explains why).
   */
  readonly alwaysIgnore: readonly FilterCidr[]
  readonly ftfw: FtfwConfig
  /** The startup bulk (architecture decision 5); null = no startup resync (startupResyncTimeout 0). */
  readonly bulk: BulkConfig | null
  /** DisableExternalCache: peer updates go straight to the kernel (conntrackd's inject path). */
  readonly disableExternalCache: boolean
  /** Entries per commit batch: one netlink send of create requests. */
  readonly commitBatch: number
  /** Unix time in seconds: the first FTFW sequence number, as conntrackd's (spec §3.1). */
  readonly initialSeq: number
  /**
   * Who may send us datagrams (core/sync/source.ts), checked before anything is parsed. The daemon
   * always sets it; null/absent only in simulations that have no addresses.
   */
  readonly syncSource?: SyncSourcePolicy | null
  /**
   * Datagrams must carry a valid keyed MAC (conntrack.sync.auth): the I/O layer verifies it and
   * passes the verdict with the datagram; the engine keeps the replay window.
   */
  readonly auth?: boolean
  /**
   * The peer is `lost` when nothing passed the checks for this long (default 3 ALIVE intervals: an idle
   * peer sends ALIVE every interval, spec §3.5).
   */
  readonly peerLostMs?: number
  /**
   * Addresses that are never the ORIGINAL or REPLY source of a peer entry we accept or commit: loopback and
   * the VIPs (the node's interface addresses come with `localAddresses`). They are the flows our own filter
   * never replicates (filter.ts), so a peer entry with one is forged or misconfigured.
   */
  readonly ownAddresses?: readonly FilterCidr[]
  /**
   * conntrack.commitRanges: when given, a peer entry is accepted and committed only if its ORIGINAL source
   * (the side that opened the connection) is in one of these prefixes.
   */
  readonly commitRanges?: readonly FilterCidr[] | null
}

/** Why a dump was asked for; echoed back with the flows. */
export type DumpPurpose =
  /** `start`: the internal cache starts from the kernel table (nothing sent), then the bulk starts. */
  | { readonly kind: 'start', readonly id: number }
  /** ctResyncFromKernel (conntrackd -R): nothing sent, nothing purged. */
  | { readonly kind: 'resync', readonly id: number }
  /** After lost kernel events (conntrackd NetlinkOverrunResync): purge and send the differences. */
  /** `requestedAt`: when the dump was asked for; entries an event touched since then are not purged. */
  | { readonly kind: 'overrun', readonly requestedAt: Millis }
  /** PurgeTimeout reached (conntrackd -t): delete what we replicate. */
  | { readonly kind: 'purge' }

/** Why requests were applied; echoed back with the answers. */
export type ApplyPurpose =
  /** One commit batch (the commit's own request ids are kept in the engine state). */
  | { readonly kind: 'commit' }
  | { readonly kind: 'purge', readonly dumped: number, readonly doomed: number }
  | { readonly kind: 'inject' }

export type EngineInput =
  /** Read the kernel table into the internal cache, then start the startup bulk; `complete{id}` when done. */
  | { readonly kind: 'start', readonly id: number }
  | { readonly kind: 'kernelEvent', readonly event: 'new' | 'update' | 'destroy', readonly flow: Flow }
  /**
   * Kernel events of one receive batch as packed records (the byte path, record-batch.ts); the batch
   * is read during the step only (its buffers are reused after).
   */
  | { readonly kind: 'kernelRecords', readonly batch: KernelEventBatch }
  /** Kernel events were lost (netlink ENOBUFS). */
  | { readonly kind: 'overrun', readonly count: number, readonly reason: string }
  /**
   * A datagram from the sync channel. `from`: its source address (checked against `syncSource`). `auth`: the
   * I/O layer's MAC verdict when `config.auth` is on (the payload without the trailer in `buf`).
   */
  | { readonly kind: 'datagram', readonly buf: Uint8Array, readonly from?: string, readonly auth?: AuthVerdict }
  /** The deadline was reached. */
  | { readonly kind: 'timeout' }
  /**
   * Part of a dump (a receive batch), before its `dumped`: the chunks of one dump, then `dumped` with
   * the last entries (or none), in order. A whole dump may also come as one `dumped`. A chunk is
   * packed records (record-batch.ts): a resync merges them without a Flow per entry.
   */
  | { readonly kind: 'dumpPart', readonly purpose: DumpPurpose, readonly batch: RecordBatch }
  | { readonly kind: 'dumped', readonly purpose: DumpPurpose, readonly flows: readonly Flow[] }
  | { readonly kind: 'dumpFailed', readonly purpose: DumpPurpose, readonly error: string }
  /** One answer per request of the `apply` effect, in order (missing answers are failures). */
  | { readonly kind: 'applied', readonly purpose: ApplyPurpose, readonly results: readonly KernelAnswer[] }
  | { readonly kind: 'applyFailed', readonly purpose: ApplyPurpose, readonly error: string }
  /** A transition-plan effect; answered by `complete{id}`. */
  | { readonly kind: 'command', readonly id: number, readonly effect: ConntrackCommand }
  /** The node's own addresses changed (rtnetlink): the filter ignores them. */
  | { readonly kind: 'localAddresses', readonly cidrs: readonly FilterCidr[] }

/** The MAC check of an authenticated datagram (io/sync-auth.ts), with its sender counter when the MAC is good. */
export type AuthVerdict =
  | { readonly ok: true, readonly counter: number, readonly key: number }
  | { readonly ok: false, readonly reason: 'authMissing' | 'authBadMac' }

/** Is the peer talking to us (the sync link's liveness, issue 12): unknown until a first datagram passes. */
export type PeerLiveness = 'unknown' | 'heard' | 'lost'

export type LogLevel = 'info' | 'warn' | 'error'

export type EngineEffect =
  | { readonly kind: 'send', readonly datagram: Buffer }
  | { readonly kind: 'dump', readonly purpose: DumpPurpose }
  | { readonly kind: 'apply', readonly purpose: ApplyPurpose, readonly requests: readonly KernelRequest[] }
  /** Leave (false) or join again (true) the kernel's NEW event group (engine-commit.ts says when). */
  | { readonly kind: 'listenNew', readonly on: boolean }
  /** The VRRP priority offset of the startup bulk (source `bulkSync`). */
  | { readonly kind: 'demote', readonly offset: number }
  | { readonly kind: 'bulkTransition', readonly from: BulkState, readonly to: BulkState, readonly event: BulkEvent, readonly at: Millis }
  | { readonly kind: 'count', readonly name: string, readonly by: number }
  | { readonly kind: 'log', readonly level: LogLevel, readonly msg: string, readonly fields: Readonly<Record<string, unknown>> | null }
  /** The peer's liveness changed (runtime/transitions.ts logs it once: warn when lost). */
  | { readonly kind: 'peer', readonly from: PeerLiveness, readonly to: PeerLiveness, readonly at: Millis }
  /** A command (or start) is answered: resolve it, or reject it with `error`. */
  | { readonly kind: 'complete', readonly id: number, readonly error: string | null }

export interface LastCommit {
  readonly entries: number
  readonly ok: number
  readonly failed: number
  readonly ms: number
  readonly withinBudget: boolean
}

/** A commit of the external cache, from its ctCommit until the last answer. */
export interface CommitRun {
  plan: CommitState
  /** The batch handed out and not answered yet (one at a time, as the runtime's loop did). */
  batch: readonly CommitRequest[] | null
  readonly startedAt: Millis
  readonly budgetMs: number
  /** The ctCommit command still waiting for the commit or its budget (null once answered). */
  waiting: number | null
  running: boolean
  /** NEW events are off for this takeover commit until its command is answered (engine-commit.ts). */
  newEventsOff: boolean
}

/** The pending conntrackd -t: the kernel purge runs at `at` unless a commit or flush cancels it. */
export interface PurgeTimer {
  readonly at: Millis
}

/**
 * The engine's state. Owned by one caller and mutated in place by `stepEngine` (the caches and the
 * FTFW queues are large; see ftfw.ts "Ownership"): continue with the returned value, never share it.
 */
export interface EngineState {
  readonly config: EngineConfig
  internal: FlowCache
  external: FlowCache
  filter: FlowFilter
  ftfw: FtfwState
  bulk: Bulk
  /** The priority offset last asked for (a `demote` effect goes out only on a change). */
  demotion: number
  commit: CommitRun | null
  lastCommit: LastCommit | null
  purge: PurgeTimer | null
  /** An overrun resync dump is out: further overruns wait for it. */
  overrunPending: boolean
  /** Events were lost again while that dump was out: it may miss what they announced, dump once more after it. */
  overrunAgain: boolean
  /**
   * The overrun dump out is the first of its episode: a kernel event during it asks for one more dump
   * (overrunAgain). The kernel reports ENOBUFS once per congestion episode (netlink's congested bit
   * clears only when the queue drains), so events it drops while the first dump runs are reported by
   * nobody; the dump after it, once the storm has passed, finds their entries.
   */
  overrunFirst: boolean
  /** The dump whose chunks (`dumpPart`) are arriving, until its `dumped` or `dumpFailed`. */
  dumpRun: DumpRun | null
  /** config.syncSource compiled (null: no check). */
  readonly source: CompiledSourcePolicy | null
  /** Sender counters already seen (config.auth). */
  replay: ReplayWindow
  /** Own addresses + VIPs + the node's interface addresses: refused as sources of peer entries. */
  own: FlowFilter
  /** config.commitRanges compiled (null: any origin). */
  readonly commitRanges: FlowFilter | null
  peer: { state: PeerLiveness, heardAt: Millis | null }
  /** Where the sender's byte path writes FTFW bodies, and its cursor into the internal cache. */
  readonly bodies: BodyWriter
  readonly recordAt: RecordAt
  /** The receiver's byte path: peer entries packed into records (peer-record.ts). */
  readonly peerPacker: PeerRecordPacker
}

/** A dump arriving in chunks: a resync merges each chunk at once; a purge holds them (it decides on the whole table). */
export interface DumpRun {
  readonly purpose: DumpPurpose
  readonly resync: ResyncRun
  readonly held: Flow[]
}

export interface EngineStepResult {
  readonly state: EngineState
  readonly effects: readonly EngineEffect[]
  /** The earliest of the FTFW, bulk, commit-budget and purge deadlines. */
  readonly deadline: Deadline
}

export interface ConntrackStatus {
  readonly internal: CacheStats
  readonly external: CacheStats
  readonly sync: FtfwSnapshot
  readonly bulk: BulkState
  readonly commit: (CommitProgress & { readonly running: boolean }) | null
  readonly lastCommit: LastCommit | null
  readonly purgePending: boolean
  /** The sync peer's liveness and when a datagram of it last passed the checks (engine clock). */
  readonly liveness: { readonly state: PeerLiveness, readonly heardAt: Millis | null, readonly lostAfterMs: number }
}
