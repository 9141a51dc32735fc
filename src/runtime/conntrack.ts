/**
 * The conntrack module at run time: a thin runner over the pure engine (core/conntrack/engine.ts),
 * which decides everything — caches, filter, FTFW, the startup bulk, the commit and its budget, the
 * purge after PurgeTimeout, the overrun resync. This class only:
 *
 *   - turns what the world says into engine inputs (kernel events and overruns from the ctnetlink
 *     port, datagrams from the sync channel, the transition plans' conntrack effects as commands,
 *     the answers of its own dumps and applies);
 *   - executes the engine's effects through one named handler table (EFFECT_HANDLERS below);
 *   - arms one timer at the engine's deadline.
 *
 * The transition-plan effects it serves (ctCommit, ctFlush, ctResyncFromKernel, syncBulkSend,
 * syncRequestResync, ctShortenTimers) resolve when the engine answers them (`complete`): ctCommit
 * when the commit is done or its budget is spent, the commit continuing afterwards.
 */
import type { ConntrackModel } from '../config/normalize.js'
import type { ConntrackControl } from '../io/conntrack-port.js'
import type { SyncTransport } from '../io/ports.js'
import type { Effect } from '../core/effects.js'
import type { Deadline } from '../core/time.js'
import { dumpCache } from '../core/conntrack/cache.js'
import { createEngine, engineDeadline, engineStatus, stepEngine } from '../core/conntrack/engine.js'
import type { AuthVerdict, ConntrackCommand, ConntrackStatus, EngineConfig, EngineEffect, EngineInput, EngineState, PeerLiveness } from '../core/conntrack/engine.js'
import type { SyncSourcePolicy } from '../core/sync/source.js'
import type { FilterCidr } from '../core/conntrack/filter.js'
import { BULK_DEFAULTS } from '../core/sync/bulk.js'
import type { BulkState } from '../core/sync/bulk.js'
import type { EffectHandlers } from './executor.js'
import type { Clock } from './clock.js'
import type { LogSink } from './worker-log.js'
import type { Counters } from './stats.js'

export type { ConntrackStatus, LastCommit } from '../core/conntrack/engine.js'

/** Entries per commit batch: one netlink send of create requests. */
export const COMMIT_BATCH = 2000

export interface ConntrackRuntimeOptions {
  readonly model: ConntrackModel
  readonly ct: ConntrackControl
  readonly sync: SyncTransport
  readonly clock: Clock
  readonly log: LogSink
  readonly counters: Counters
  /** Unix time in seconds: the first FTFW sequence number, as conntrackd's (spec §3.1). */
  readonly unixSeconds: number
  /** The node's own addresses (the filter ignores them besides the configured list and the VIPs). */
  readonly localAddresses: readonly FilterCidr[]
  /** Apply the bulk-sync demotion to every VRRP router (priorityOffset input). */
  readonly setDemotion: (offset: number) => void
  /** A startup bulk state change, for the daemon's one transition log (runtime/transitions.ts). */
  readonly onBulkTransition: (t: { from: BulkState, to: BulkState, event: string, at: number }) => void
  /** The sync peer's liveness changed (heard / lost), for the same transition log. */
  readonly onPeerTransition?: (t: { from: PeerLiveness, to: PeerLiveness, at: number }) => void
}

/**
 * The sync channel's own flows are never replicated. Unicast ones already match a local address
 * (ours as the orig source of what we send, as the reply source of what we receive), but the
 * peer's datagrams to a multicast group match neither: orig.src is the peer, reply.src the group.
 * Ignoring the group catches them (seen in the lab: each conntrackd restart added one such entry).
 */
function syncChannelCidrs (m: ConntrackModel): FilterCidr[] {
  return m.sync.transport === 'multicast' ? [{ address: m.sync.group, prefix: 32, family: 'ipv4' }] : []
}

/** The engine's configuration from the config model. */
export function engineConfig (m: ConntrackModel, unixSeconds: number): EngineConfig {
  return {
    filter: m.filter,
    alwaysIgnore: syncChannelCidrs(m),
    ftfw: { ackWindowSize: m.sync.ftfw.ackWindowSize, resendQueueSize: m.sync.ftfw.resendQueueSize, aliveIntervalMs: m.sync.ftfw.aliveIntervalMs, mtu: 1500 },
    bulk: m.startupResyncTimeoutMs > 0 ? { ...BULK_DEFAULTS, startupResyncTimeoutMs: m.startupResyncTimeoutMs } : null,
    disableExternalCache: m.disableExternalCache,
    commitBatch: COMMIT_BATCH,
    initialSeq: unixSeconds,
    syncSource: syncSourcePolicy(m),
    auth: m.sync.auth !== null,
    ownAddresses: m.ownAddresses,
    commitRanges: m.commitRanges
  }
}

/** Issue 12: only the configured peer (unicast) or the members, never our own address (multicast). */
export function syncSourcePolicy (m: ConntrackModel): SyncSourcePolicy {
  return m.sync.transport === 'udp'
    ? { kind: 'unicast', peer: m.sync.peer }
    : { kind: 'multicast', own: m.sync.interfaceAddress, members: m.sync.members }
}

type Handler<K extends EngineEffect['kind']> = (r: ConntrackRuntime, e: Extract<EngineEffect, { kind: K }>) => void
type HandlerTable = { readonly [K in EngineEffect['kind']]: Handler<K> }

/**
 * What each engine effect does in the world. Sends and kernel requests run in the background and
 * come back as inputs (`dumped`, `applied`, or their failures); the rest is synchronous.
 */
const EFFECT_HANDLERS: HandlerTable = {
  send: (r, e) => { r.sendDatagram(e.datagram) },
  dump: (r, e) => {
    // A chunk per receive batch, each its own engine step (engine.ts dumpPart): the thread never
    // holds the whole table, builds no object per entry (packed records), and events and
    // datagrams are served between chunks.
    r.io(r.o.ct.dumpChunks(batch => { r.step({ kind: 'dumpPart', purpose: e.purpose, batch }) }).then(
      () => { r.step({ kind: 'dumped', purpose: e.purpose, flows: [] }) },
      (err: unknown) => { r.step({ kind: 'dumpFailed', purpose: e.purpose, error: String(err) }) }))
  },
  apply: (r, e) => {
    r.io(r.o.ct.apply(e.requests).then(
      results => { r.step({ kind: 'applied', purpose: e.purpose, results }) },
      (err: unknown) => { r.step({ kind: 'applyFailed', purpose: e.purpose, error: String(err) }) }))
  },
  listenNew: (r, e) => {
    // An optimisation of the takeover commit: if the kernel refuses to let us leave, the commit
    // goes on with the events. If it refuses to let us join again, NEW events stay lost until we
    // are back in: an error, retried after every later step (runtime.retryJoinNew), then a resync.
    if (!e.on) {
      try {
        r.o.ct.listenNew?.(false)
      } catch (err) {
        r.o.counters.inc('ct.events.leaveFailed', 1)
        r.o.log.warn({ err: String(err) }, 'cannot leave the conntrack NEW event group for the commit; committing with it')
      }
      return
    }
    r.joinNewOwed = true
    r.retryJoinNew()
  },
  demote: (r, e) => { r.o.setDemotion(e.offset) },
  bulkTransition: (r, e) => { r.o.onBulkTransition({ from: e.from, to: e.to, event: e.event, at: e.at }) },
  peer: (r, e) => { r.o.onPeerTransition?.({ from: e.from, to: e.to, at: e.at }) },
  count: (r, e) => { r.o.counters.inc(e.name, e.by) },
  log: (r, e) => { if (e.fields === null) r.o.log[e.level](e.msg); else r.o.log[e.level](e.fields, e.msg) },
  complete: (r, e) => { r.settle(e.id, e.error) }
}

interface Waiting {
  resolve: () => void
  reject: (err: Error) => void
}

export class ConntrackRuntime {
  private state: EngineState
  private timer: NodeJS.Timeout | null = null
  private armedFor: Deadline = null
  private closed = false
  private nextId = 1
  private readonly waiting = new Map<number, Waiting>()
  private readonly pendingIo = new Set<Promise<void>>()

  constructor (readonly o: ConntrackRuntimeOptions) {
    this.state = createEngine(engineConfig(o.model, o.unixSeconds), o.localAddresses, o.clock())
  }

  /** Subscribe to the kernel and the peer; read the kernel table, then start the startup resync (demoting VRRP while it runs). */
  async start (): Promise<void> {
    // The byte path when the port has it (one engine step per receive batch); declined events still come as Flows.
    this.o.ct.onEventRecords?.(batch => { this.step({ kind: 'kernelRecords', batch }) })
    this.o.ct.onEvent(ev => { this.step({ kind: 'kernelEvent', event: ev.event, flow: ev.flow }) })
    this.o.ct.onOverrun(info => { this.step({ kind: 'overrun', count: info.count, reason: info.reason }) })
    this.o.sync.onDatagram((buf, from, auth) => { this.o.counters.inc('sync.rx.bytes', buf.length); this.step(auth === undefined ? { kind: 'datagram', buf, from } : { kind: 'datagram', buf, from, auth }) })
    await this.request(id => ({ kind: 'start', id }))
  }

  /** The filter follows the node's addresses (rtnetlink events). */
  setLocalAddresses (local: readonly FilterCidr[]): void {
    this.step({ kind: 'localAddresses', cidrs: local })
  }

  handlers (): EffectHandlers {
    const run = async (effect: ConntrackCommand): Promise<void> => { await this.request(id => ({ kind: 'command', id, effect })) }
    return {
      ctCommit: run,
      ctFlush: run,
      ctResyncFromKernel: run,
      syncBulkSend: run,
      syncRequestResync: run,
      ctShortenTimers: run
    }
  }

  status (): ConntrackStatus {
    return engineStatus(this.state)
  }

  dump (which: 'internal' | 'external'): ReturnType<typeof dumpCache> {
    return dumpCache(which === 'internal' ? this.state.internal : this.state.external, this.o.clock())
  }

  /** Stop: no more inputs (a running commit stops after its batch in flight), waiting commands fail. */
  /** A `listenNew on` the kernel refused, to retry (EFFECT_HANDLERS.listenNew). */
  joinNewOwed = false
  private joinNewFailures = 0

  /**
   * Join the NEW event group if a join is owed. The first failure is logged at error, each counted;
   * once in again after failures, the internal cache missed NEW events: a resync, through the
   * engine's overrun path, as its own step.
   */
  retryJoinNew (): void {
    if (!this.joinNewOwed || this.closed) return
    try {
      this.o.ct.listenNew?.(true)
    } catch (err) {
      this.o.counters.inc('ct.events.rejoinFailed', 1)
      if (this.joinNewFailures++ === 0) this.o.log.error({ err: String(err) }, 'cannot join the conntrack NEW event group again: new connections are not replicated until it works (retried at every step)')
      return
    }
    this.joinNewOwed = false
    if (this.joinNewFailures === 0) return
    this.o.log.info({ failures: this.joinNewFailures }, 'joined the conntrack NEW event group again: resyncing from the kernel')
    this.joinNewFailures = 0
    this.io(Promise.resolve().then(() => { this.step({ kind: 'overrun', count: 0, reason: 'new-events-rejoined' }) }))
  }

  async close (): Promise<void> {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id)
      w.reject(new Error('the conntrack module closed'))
    }
    await Promise.all([...this.pendingIo])
  }

  // --- the loop ------------------------------------------------------------------------------

  /** One engine step at the clock's now, its effects in order, then the timer. */
  step (input: EngineInput): void {
    if (this.closed) return
    const r = stepEngine(this.state, input, this.o.clock())
    this.state = r.state
    for (const e of r.effects) (EFFECT_HANDLERS[e.kind] as Handler<typeof e.kind>)(this, e as never)
    // after a refused join of the NEW event group: try again at every step until it works
    if (this.joinNewOwed && !r.effects.some(e => e.kind === 'listenNew')) this.retryJoinNew()
    this.arm(r.deadline)
  }

  /** Feed an input that the engine answers with `complete{id}`. */
  private async request (input: (id: number) => EngineInput): Promise<void> {
    const id = this.nextId++
    const done = new Promise<void>((resolve, reject) => { this.waiting.set(id, { resolve, reject }) })
    if (this.closed) this.settle(id, 'the conntrack module closed')
    else this.step(input(id))
    await done
  }

  settle (id: number, error: string | null): void {
    const w = this.waiting.get(id)
    if (w === undefined) return
    this.waiting.delete(id)
    if (error === null) w.resolve()
    else w.reject(new Error(error))
  }

  sendDatagram (d: Buffer): void {
    this.o.sync.send(d).catch((err: unknown) => {
      this.o.counters.inc('sync.tx.error')
      this.o.log.warn({ err: String(err) }, 'sync send failed')
    })
  }

  /** Track a port call in flight (close waits for it; its answer is dropped once closed). */
  io (p: Promise<void>): void {
    const tracked = p.catch((err: unknown) => { this.o.log.error({ err: String(err) }, 'conntrack engine step failed') })
      .finally(() => { this.pendingIo.delete(tracked) })
    this.pendingIo.add(tracked)
  }

  /** One timer at the engine's deadline; zero delay batches a transmit round. */
  private arm (d: Deadline): void {
    if (this.closed) return
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
      this.step({ kind: 'timeout' })
    }, Math.max(0, Math.ceil(d - this.o.clock())))
  }

  /** The engine's current deadline (tests). */
  deadline (): Deadline {
    return engineDeadline(this.state)
  }
}

/** Which effects this module executes (the executor counts the others as skipped when it is off). */
export const CONNTRACK_EFFECTS: ReadonlySet<Effect['kind']> = new Set(['ctCommit', 'ctFlush', 'ctResyncFromKernel', 'syncBulkSend', 'syncRequestResync', 'ctShortenTimers'])
