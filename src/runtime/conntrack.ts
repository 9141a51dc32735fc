/**
 * The conntrack module at run time: kernel table (ctnetlink port) ⇄ internal cache → FTFW → peer,
 * and peer → FTFW → external cache → kernel on commit. It owns the conntrack effects of the
 * transition plans (core/orchestrator.ts):
 *
 *   ctCommit           commit the external cache (core/conntrack/commit.ts), blocking the plan at
 *                      most `budgetMs`; what is left continues in the background, counted
 *   ctFlush            flush the internal and/or external cache
 *   ctResyncFromKernel dump the kernel table into the internal cache (nothing sent)
 *   syncBulkSend       the whole internal cache to the peer
 *   syncRequestResync  RESYNC: ask the peer for its whole state
 *   ctShortenTimers    conntrackd -t: after PurgeTimeout, delete the kernel entries we replicate
 *                      (not the ones the filter ignores) and flush the internal cache; cancelled
 *                      by a later commit or flush
 *
 * and the start-up policy of architecture decision 5: while the bulk resync from the peer is
 * pending, every VRRP router advertises a demoted priority (source `bulkSync`), bounded in time
 * (core/sync/bulk.ts).
 *
 * All protocol logic is in the pure modules; this class only moves data between them, the ports
 * and one timer (the earliest of the FTFW and bulk deadlines).
 */
import type { ConntrackModel } from '../config/normalize.js'
import type { ConntrackControl, CtMutation } from '../io/conntrack-port.js'
import type { SyncTransport } from '../io/ports.js'
import type { Effect } from '../core/effects.js'
import { earliest } from '../core/time.js'
import type { Deadline } from '../core/time.js'
import { applyKernelEvent, applyPeerUpdate, cacheSnapshot, cacheStats, createCache, dumpCache, flushCache, resyncFromDump } from '../core/conntrack/cache.js'
import type { CacheChange, FlowCache } from '../core/conntrack/cache.js'
import { compileFilter, filterFlow, withLocalAddresses } from '../core/conntrack/filter.js'
import type { FilterCidr, FlowFilter } from '../core/conntrack/filter.js'
import { flowFromAttrs, flowToAttrs } from '../core/conntrack/attrs-map.js'
import { applyCommitResults, commitDone, commitProgress, nextCommitBatch, planCommit } from '../core/conntrack/commit.js'
import type { CommitProgress, CommitResult, CommitState } from '../core/conntrack/commit.js'
import type { Flow } from '../core/conntrack/flow.js'
import { createFtfw, ftfwDeadline, ftfwSnapshot, stepFtfw } from '../core/sync/ftfw.js'
import type { FtfwInput, FtfwLocalChange, FtfwSnapshot, FtfwState } from '../core/sync/ftfw.js'
import { BULK_DEFAULTS, bulkDeadline, createBulk, stepBulk } from '../core/sync/bulk.js'
import type { Bulk, BulkInput, BulkState } from '../core/sync/bulk.js'
import type { EffectHandlers } from './executor.js'
import type { Clock } from './clock.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

/** Entries per commit batch: one netlink send of create requests. */
export const COMMIT_BATCH = 2000
export const BULK_SYNC_SOURCE = 'bulkSync'

export interface ConntrackRuntimeOptions {
  readonly model: ConntrackModel
  readonly ct: ConntrackControl
  readonly sync: SyncTransport
  readonly clock: Clock
  readonly log: Logger
  readonly counters: Counters
  /** Unix time in seconds: the first FTFW sequence number, as conntrackd's (spec §3.1). */
  readonly unixSeconds: number
  /** The node's own addresses (the filter ignores them besides the configured list and the VIPs). */
  readonly localAddresses: readonly FilterCidr[]
  /** Apply the bulk-sync demotion to every VRRP router (priorityOffset input). */
  readonly setDemotion: (offset: number) => void
  /** A startup bulk state change, for the daemon's one transition log (runtime/transitions.ts). */
  readonly onBulkTransition: (t: { from: BulkState, to: BulkState, event: string, at: number }) => void
}

export interface LastCommit {
  readonly entries: number
  readonly ok: number
  readonly failed: number
  readonly ms: number
  readonly withinBudget: boolean
}

export interface ConntrackStatus {
  readonly internal: ReturnType<typeof cacheStats>
  readonly external: ReturnType<typeof cacheStats>
  readonly sync: FtfwSnapshot
  readonly bulk: BulkState
  readonly commit: (CommitProgress & { readonly running: boolean }) | null
  readonly lastCommit: LastCommit | null
  readonly purgePending: boolean
}

const EVENT_TO_WIRE = { new: 'new', update: 'upd', destroy: 'del' } as const

/**
 * The sync channel's own flows are never replicated. Unicast ones already match a local address
 * (ours as the orig source of what we send, as the reply source of what we receive), but the
 * peer's datagrams to a multicast group match neither: orig.src is the peer, reply.src the group.
 * Ignoring the group catches them (seen in the lab: each conntrackd restart added one such entry).
 */
function syncChannelCidrs (m: ConntrackModel): FilterCidr[] {
  return m.sync.transport === 'multicast' ? [{ address: m.sync.group, prefix: 32, family: 'ipv4' }] : []
}

export class ConntrackRuntime {
  private internal: FlowCache = createCache('internal')
  private external: FlowCache = createCache('external')
  private filter: FlowFilter
  private ftfw: FtfwState
  private bulk: Bulk
  private timer: NodeJS.Timeout | null = null
  private armedFor: Deadline = null
  private commit: CommitState | null = null
  private commitRun: Promise<void> | null = null
  private lastCommit: LastCommit | null = null
  private purgeTimer: NodeJS.Timeout | null = null
  private demotion = 0
  private closed = false

  constructor (private readonly o: ConntrackRuntimeOptions) {
    const m = o.model
    this.filter = compileFilter(m.filter, [...o.localAddresses, ...syncChannelCidrs(m)])
    this.ftfw = createFtfw({ ackWindowSize: m.sync.ftfw.ackWindowSize, resendQueueSize: m.sync.ftfw.resendQueueSize, aliveIntervalMs: m.sync.ftfw.aliveIntervalMs, mtu: 1500 }, o.unixSeconds >>> 0, o.clock())
    this.bulk = createBulk({ ...BULK_DEFAULTS, startupResyncTimeoutMs: Math.max(1, m.startupResyncTimeoutMs) })
  }

  /** Subscribe to the kernel and the peer; start the startup resync (demoting VRRP while it runs). */
  async start (): Promise<void> {
    this.o.ct.onEvent(ev => { this.onKernelEvent(ev.event, ev.flow) })
    this.o.ct.onOverrun(info => {
      this.o.counters.inc('ct.overrun')
      this.o.log.warn({ count: info.count, reason: info.reason }, 'kernel conntrack events were lost: resync from a dump')
      void this.overrunResync()
    })
    this.o.sync.onDatagram(buf => { this.ftfwInput({ kind: 'datagram', buf }) })
    // The internal cache starts from the kernel table: what this node forwards now.
    await this.resyncInternal(false)
    if (this.o.model.startupResyncTimeoutMs > 0) this.bulkInput({ kind: 'start' })
    this.arm()
  }

  /** The filter follows the node's addresses (rtnetlink events). */
  setLocalAddresses (local: readonly FilterCidr[]): void {
    this.filter = withLocalAddresses(this.filter, [...local, ...syncChannelCidrs(this.o.model)])
  }

  handlers (): EffectHandlers {
    return {
      ctCommit: async (e) => { await this.commitExternal(e.budgetMs) },
      ctFlush: async (e) => { this.flush(e.caches) },
      ctResyncFromKernel: async () => { await this.resyncInternal(false) },
      syncBulkSend: async () => { this.ftfwInput({ kind: 'bulk', entries: this.bulkEntries() }) },
      syncRequestResync: async () => { this.ftfwInput({ kind: 'requestResync' }) },
      ctShortenTimers: async (e) => { this.schedulePurge(e.purgeTimeoutS) }
    }
  }

  status (): ConntrackStatus {
    return {
      internal: cacheStats(this.internal),
      external: cacheStats(this.external),
      sync: ftfwSnapshot(this.ftfw),
      bulk: this.bulk.state,
      commit: this.commit === null ? null : { ...commitProgress(this.commit), running: this.commitRun !== null },
      lastCommit: this.lastCommit,
      purgePending: this.purgeTimer !== null
    }
  }

  dump (which: 'internal' | 'external'): ReturnType<typeof dumpCache> {
    return dumpCache(which === 'internal' ? this.internal : this.external, this.o.clock())
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    if (this.purgeTimer !== null) clearTimeout(this.purgeTimer)
    this.timer = null
    this.purgeTimer = null
    await this.commitRun?.catch(() => undefined)
  }

  // --- kernel side -------------------------------------------------------------------------

  private onKernelEvent (event: 'new' | 'update' | 'destroy', flow: Flow): void {
    const r = applyKernelEvent(this.internal, { event, flow, origin: 'other' }, this.o.clock(), this.filter)
    this.internal = r.cache
    if (r.refused !== null) this.o.counters.inc(`ct.internal.refused.${r.refused}${r.filterReason !== undefined ? `.${r.filterReason}` : ''}`)
    if (r.change !== null) this.propagate([r.change])
  }

  private propagate (changes: readonly CacheChange[]): void {
    for (const c of changes) {
      if (!c.propagate) continue
      this.ftfwInput({ kind: 'local', key: c.key, event: EVENT_TO_WIRE[c.type], attrs: flowToAttrs(c.flow) })
    }
  }

  private async resyncInternal (purgeAndSend: boolean): Promise<void> {
    const flows = await this.o.ct.dump()
    const r = resyncFromDump(this.internal, flows, this.o.clock(), { filter: this.filter, purge: purgeAndSend, propagate: purgeAndSend })
    this.internal = r.cache
    if (purgeAndSend) this.propagate(r.changes)
    this.o.counters.inc('ct.resync.kernel')
  }

  private overrunPending = false
  /** conntrackd NetlinkOverrunResync: one dump + purge, however many overruns arrive meanwhile. */
  private async overrunResync (): Promise<void> {
    if (this.overrunPending || this.closed) return
    this.overrunPending = true
    try {
      await this.resyncInternal(true)
    } catch (err) {
      this.o.log.error({ err: String(err) }, 'resync after an overrun failed')
    } finally {
      this.overrunPending = false
    }
  }

  private flush (caches: 'internal' | 'external' | 'both'): void {
    if (caches !== 'external') this.internal = flushCache(this.internal)
    if (caches !== 'internal') this.external = flushCache(this.external)
    // conntrackd: -f cancels a pending -t flush.
    this.cancelPurge()
  }

  // --- commit -------------------------------------------------------------------------------

  /**
   * Commit the external cache. Resolves when done or when `budgetMs` has passed, whichever is
   * first: the VIPs must not wait forever for a huge table, and the rest keeps going.
   */
  private async commitExternal (budgetMs: number): Promise<void> {
    if (this.commitRun !== null) {
      this.o.counters.inc('ct.commit.skippedRunning')
      return
    }
    this.cancelPurge()
    const started = this.o.clock()
    this.commit = planCommit(cacheSnapshot(this.external), started, { batchSize: COMMIT_BATCH })
    const run = this.runCommit(started, budgetMs).finally(() => { this.commitRun = null })
    this.commitRun = run
    let timer: NodeJS.Timeout | undefined
    const budget = new Promise<'budget'>(resolve => { timer = setTimeout(() => { resolve('budget') }, budgetMs) })
    const first = await Promise.race([run.then(() => 'done' as const), budget])
    clearTimeout(timer)
    if (first === 'budget') {
      this.o.counters.inc('ct.commit.overBudget')
      this.o.log.warn({ budgetMs, progress: commitProgress(this.commit) }, 'commit budget spent: VIPs go up, the rest of the commit continues in the background')
    }
  }

  private async runCommit (started: number, budgetMs: number): Promise<void> {
    for (;;) {
      const state = this.commit as CommitState
      if (commitDone(state)) break
      const batch = nextCommitBatch(state, this.o.clock())
      this.commit = batch.state
      if (batch.requests.length === 0) break
      const answers = await this.o.ct.apply(batch.requests.map(r => r.request as CtMutation))
      // One answer per request (the port's contract); a missing one is a failure, never an ACK.
      const results: CommitResult[] = batch.requests.map((r, i) => {
        const a = answers[i]
        return { id: r.id, error: a === undefined ? 'ENOANSWER' : a.ok ? null : a.errno }
      })
      this.commit = applyCommitResults(this.commit, results)
    }
    const p = commitProgress(this.commit as CommitState)
    const ms = this.o.clock() - started
    this.lastCommit = { entries: p.total, ok: p.ok, failed: p.failed, ms, withinBudget: ms <= budgetMs }
    this.o.counters.inc('ct.commit.done')
    this.o.counters.inc('ct.commit.entries', p.ok)
    if (p.failed > 0) this.o.counters.inc('ct.commit.failed', p.failed)
    this.o.log.info({ entries: p.total, ok: p.ok, failed: p.failed, failedBy: p.failedBy, ms: Math.round(ms * 10) / 10 }, 'external cache committed')
  }

  // --- shorten timers (conntrackd -t) ---------------------------------------------------------

  private schedulePurge (purgeTimeoutS: number): void {
    if (this.purgeTimer !== null || this.closed) return
    this.purgeTimer = setTimeout(() => {
      this.purgeTimer = null
      void this.purgeKernel().catch((err: unknown) => { this.o.log.error({ err: String(err) }, 'kernel purge failed') })
    }, purgeTimeoutS * 1000)
  }

  private cancelPurge (): void {
    if (this.purgeTimer === null) return
    clearTimeout(this.purgeTimer)
    this.purgeTimer = null
    this.o.counters.inc('ct.purge.cancelled')
  }

  /** Delete the kernel entries we replicate (the filter's ignored ones stay), flush the internal cache. */
  private async purgeKernel (): Promise<void> {
    const flows = await this.o.ct.dump()
    const doomed = flows.filter(f => filterFlow(this.filter, f).accept)
    const results = await this.o.ct.apply(doomed.map(f => ({ op: 'delete', flow: f }) as CtMutation))
    const ok = results.filter(r => r.ok).length
    this.internal = flushCache(this.internal)
    this.o.counters.inc('ct.purge.deleted', ok)
    this.o.log.info({ deleted: ok, kept: flows.length - doomed.length }, 'kernel table purged after PurgeTimeout (this node no longer forwards)')
  }

  // --- FTFW and the startup bulk --------------------------------------------------------------

  private bulkEntries (): FtfwLocalChange[] {
    return cacheSnapshot(this.internal).map(e => ({ key: e.key, event: e.status === 'new' ? 'new' : 'upd', attrs: flowToAttrs(e.flow) }))
  }

  private ftfwInput (input: FtfwInput): void {
    if (this.closed) return
    const now = this.o.clock()
    const r = stepFtfw(this.ftfw, input, now)
    this.ftfw = r.state
    for (const d of r.datagrams) {
      this.o.sync.send(d).catch((err: unknown) => {
        this.o.counters.inc('sync.tx.error')
        this.o.log.warn({ err: String(err) }, 'sync send failed')
      })
    }
    for (const d of r.deliver) {
      if (d.kind !== 'ct') { this.o.counters.inc('sync.rx.expectationIgnored'); continue }
      const mapped = flowFromAttrs(d.attrs)
      if (!mapped.ok) { this.o.counters.inc(`sync.rx.drop.${mapped.code}`); continue }
      if (this.o.model.disableExternalCache) { void this.inject(d.event, mapped.flow); continue }
      const a = applyPeerUpdate(this.external, { event: d.event, flow: mapped.flow }, now)
      this.external = a.cache
      if (a.refused !== null) this.o.counters.inc(`ct.external.refused.${a.refused}`)
    }
    // §3.4: a RESYNC from the peer is answered with our whole internal cache, in the same tick.
    if (r.resyncRequested) this.ftfwInput({ kind: 'bulk', entries: this.bulkEntries() })
    // The peer restarted: its kernel table is the truth now, ask for it.
    if (r.peerRestarted) {
      this.o.log.info('sync peer (re)started: requesting its state')
      this.ftfwInput({ kind: 'requestResync' })
    }
    if (this.bulk.state === 'requested' || this.bulk.state === 'receiving') {
      this.bulkInput({ kind: 'ftfw', resyncAcked: r.resyncAcked, nacksOutstanding: r.nacksOutstanding, peerRestarted: r.peerRestarted })
    }
    this.arm()
  }

  /** DisableExternalCache: peer updates go straight to the kernel (conntrackd's inject path). */
  private async inject (event: 'new' | 'upd' | 'del', flow: Flow): Promise<void> {
    const req: CtMutation = event === 'del' ? { op: 'delete', flow } : { op: 'create', flow, exclusive: false }
    const [r] = await this.o.ct.apply([req])
    this.o.counters.inc(r?.ok === true ? 'ct.inject.ok' : `ct.inject.failed.${r?.ok === false ? r.errno : 'unknown'}`)
  }

  private bulkInput (input: BulkInput): void {
    const r = stepBulk(this.bulk, input, this.o.clock())
    this.bulk = r.bulk
    for (const t of r.transitions) this.o.onBulkTransition({ from: t.from, to: t.to, event: t.event, at: this.o.clock() })
    if (r.priorityOffset !== this.demotion) {
      this.demotion = r.priorityOffset
      this.o.setDemotion(r.priorityOffset)
    }
    if (r.requestResync) this.ftfwInput({ kind: 'requestResync' })
  }

  private deadline (): Deadline {
    return earliest(ftfwDeadline(this.ftfw), bulkDeadline(this.bulk))
  }

  /** One timer at the earliest of the FTFW and bulk deadlines; zero delay batches a transmit round. */
  private arm (): void {
    if (this.closed) return
    const d = this.deadline()
    // Kernel events come in bursts: an armed timer that fires no later than the new deadline is
    // kept (firing early is harmless: nothing is due, and it re-arms).
    if (this.timer !== null && this.armedFor !== null && d !== null && d >= this.armedFor) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.armedFor = d
    if (d === null) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.armedFor = null
      const now = this.o.clock()
      const bd = bulkDeadline(this.bulk)
      if (bd !== null && bd <= now) this.bulkInput({ kind: 'timeout' })
      this.ftfwInput({ kind: 'timeout' })
    }, Math.max(0, Math.ceil(d - this.o.clock())))
  }
}

/** Which effects this module executes (the executor counts the others as skipped when it is off). */
export const CONNTRACK_EFFECTS: ReadonlySet<Effect['kind']> = new Set(['ctCommit', 'ctFlush', 'ctResyncFromKernel', 'syncBulkSend', 'syncRequestResync', 'ctShortenTimers'])
