/**
 * The main thread's handle on the conntrack worker (./conntrack-protocol.ts): the same surface
 * the daemon, the executor and the control commands used on the in-thread ConntrackRuntime —
 * effect handlers, a status, a dump — carried by messages.
 *
 * - Effects are requests; each resolves when the worker replied. ctCommit is also bounded here by
 *   its budget on the main thread's own clock: the VIPs never wait longer than `budgetMs`, even
 *   if the worker is slow to answer (the commit goes on there, as it does past its budget).
 * - status() is synchronous (the status API and metrics read it per request): the latest
 *   snapshot the worker pushed, at most SNAPSHOT_INTERVAL_MS old, and fresh after any request.
 * - The worker's counters are shown beside the main thread's (Counters.merge).
 */
import type { LoopDelay } from './loop-delay.js'
import type { CacheDumpRow } from '../core/conntrack/cache.js'
import type { FilterCidr } from '../core/conntrack/filter.js'
import type { ConntrackModel } from '../config/normalize.js'
import type { ConntrackStatus } from './conntrack.js'
import type { ConntrackEffect, ConntrackRequest, FromWorker, Port, ToWorker } from './conntrack-protocol.js'
import type { EffectHandlers } from './executor.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

/** What the daemon and the control commands need of the conntrack module, wherever it runs. */
export interface ConntrackHandle {
  handlers: () => EffectHandlers
  status: () => ConntrackStatus
  dump: (cache: 'internal' | 'external') => Promise<readonly CacheDumpRow[]>
  setLocalAddresses: (cidrs: readonly FilterCidr[]) => void
  /** Authenticated sync: the re-read keys (SIGHUP); ignored when auth is off. */
  setSyncKeys?: (keys: readonly Uint8Array[]) => void
  /** How late the worker's loop runs (its last snapshot); null before one. */
  loopDelay: () => LoopDelay | null
  start: () => Promise<void>
  close: () => Promise<void>
}

export class WorkerError extends Error {
  override readonly name = 'WorkerError'
}

interface Pending {
  resolve: (value: readonly CacheDumpRow[] | undefined) => void
  reject: (err: Error) => void
}

type Outgoing = ConntrackRequest extends infer R ? R extends { id: number } ? Omit<R, 'id'> : never : never

export interface ClientOptions {
  readonly counters: Counters
  readonly log: Logger
  /** The startup bulk's priority offset (architecture decision 5), applied to every router. */
  readonly onDemotion: (offset: number) => void
  /** A startup bulk state change (runtime/transitions.ts logs, counts and pushes it). */
  readonly onBulk?: (t: { from: string, to: string, event: string, at: number }) => void
  /** The sync peer's liveness changed (runtime/transitions.ts logs it: warn when lost). */
  readonly onPeer?: (t: { from: string, to: string, at: number }) => void
}

export class ConntrackClient implements ConntrackHandle {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private last: ConntrackStatus | null = null
  private lastLoopDelay: LoopDelay | null = null
  private workerCounters: Readonly<Record<string, number>> = {}
  private failed: string | null = null
  private localAddresses: readonly FilterCidr[] = []
  private port: Port<FromWorker, ToWorker>

  constructor (port: Port<FromWorker, ToWorker>, private readonly o: ClientOptions) {
    this.port = port
    port.on('message', (m) => { this.onMessage(m) })
    o.counters.merge(() => this.workerCounters)
  }

  /** The node's addresses as last told (a restarted worker opens with them). */
  get addresses (): readonly FilterCidr[] { return this.localAddresses }

  /**
   * Talk to a new worker (a restart after a failure): requests go there from now on. The caller
   * opens and starts it; until then the last snapshot stays visible and requests wait.
   */
  attach (port: Port<FromWorker, ToWorker>): void {
    this.port = port
    this.failed = null
    port.on('message', (m) => { if (this.port === port) this.onMessage(m) })
  }

  /** Open the worker's ports for a model (refusals carry the worker's message, which names the key). */
  async open (model: ConntrackModel, localAddresses: readonly FilterCidr[], logLevel: string): Promise<void> {
    this.localAddresses = localAddresses
    await this.request({ type: 'open', model, localAddresses, logLevel })
  }

  async start (): Promise<void> {
    await this.request({ type: 'start' })
  }

  handlers (): EffectHandlers {
    const effect = async (e: ConntrackEffect): Promise<void> => { await this.request({ type: 'effect', effect: e }) }
    return {
      ctCommit: async (e) => { await this.commitWithin(e) },
      ctFlush: effect,
      ctResyncFromKernel: effect,
      syncBulkSend: effect,
      syncRequestResync: effect,
      ctShortenTimers: effect
    }
  }

  status (): ConntrackStatus {
    if (this.last === null) throw new WorkerError(this.failed ?? 'the conntrack worker has not reported yet')
    return this.last
  }

  /** How late the worker's loop ran, as of its last snapshot; null before one (or in tests). */
  loopDelay (): LoopDelay | null {
    return this.lastLoopDelay
  }

  async dump (cache: 'internal' | 'external'): Promise<readonly CacheDumpRow[]> {
    return (await this.request({ type: 'dump', cache })) ?? []
  }

  setSyncKeys (keys: readonly Uint8Array[]): void {
    if (this.failed === null) this.port.postMessage({ type: 'syncKeys', keys })
  }

  setLocalAddresses (cidrs: readonly FilterCidr[]): void {
    this.localAddresses = cidrs
    if (this.failed === null) this.port.postMessage({ type: 'localAddresses', cidrs })
  }

  async close (): Promise<void> {
    if (this.failed !== null) return
    await this.request({ type: 'close' })
  }

  /** The worker died: every waiting request fails with the reason, later ones at once. */
  fail (reason: string): void {
    this.failed = reason
    for (const p of this.pending.values()) p.reject(new WorkerError(reason))
    this.pending.clear()
  }

  private async commitWithin (e: Extract<ConntrackEffect, { kind: 'ctCommit' }>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const budget = new Promise<'budget'>(resolve => { timer = setTimeout(() => { resolve('budget') }, e.budgetMs) })
    const first = await Promise.race([this.request({ type: 'effect', effect: e }).then(() => 'done' as const), budget])
    clearTimeout(timer)
    if (first === 'budget') {
      this.o.counters.inc('ct.commit.budgetOnMain')
      this.o.log.warn({ budgetMs: e.budgetMs }, 'commit not answered within its budget: the VIPs go up, the commit goes on in the conntrack worker')
    }
  }

  private async request (msg: Outgoing): Promise<readonly CacheDumpRow[] | undefined> {
    if (this.failed !== null) throw new WorkerError(this.failed)
    const id = this.nextId++
    const done = new Promise<readonly CacheDumpRow[] | undefined>((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
    this.port.postMessage({ ...msg, id } as ToWorker)
    return await done
  }

  private onMessage (m: FromWorker): void {
    switch (m.type) {
      case 'snapshot':
        this.last = m.status
        this.workerCounters = m.counters
        this.lastLoopDelay = m.loopDelay ?? null
        return
      case 'demotion':
        this.o.onDemotion(m.offset)
        return
      case 'bulk':
        this.o.onBulk?.({ from: m.from, to: m.to, event: m.event, at: m.at })
        return
      case 'peer':
        this.o.onPeer?.({ from: m.from, to: m.to, at: m.at })
        return
      case 'log':
        if (m.fields === undefined) this.o.log[m.level](m.msg)
        else this.o.log[m.level](m.fields, m.msg)
        return
      case 'reply': {
        const p = this.pending.get(m.id)
        if (p === undefined) return
        this.pending.delete(m.id)
        if (m.ok) p.resolve(m.value)
        else p.reject(new WorkerError(m.error))
      }
    }
  }
}
