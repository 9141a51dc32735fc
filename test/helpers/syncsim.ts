/**
 * Two hafwd conntrack engines (src/core/conntrack/engine.ts, the code the daemon runs) on a
 * simulated link, driven by an earliest-event scheduler with a fake clock (the str0m `progress()`
 * model, code-models §3). Each node has a kernel table the test changes (kernel events go to its
 * engine as inputs); the engine's effects are executed here: `send` puts a datagram on the link,
 * `dump` and `apply` read and write the node's kernel table and come back as inputs at once,
 * `demote`, `bulkTransition`, `count` and `complete` are recorded.
 *
 * The link loses, duplicates and holds back each datagram independently (seeded mulberry32); a held-back datagram
 * is overtaken by later ones (reordering). Otherwise datagrams keep their order, as on one link: a transmit
 * round's burst is not shuffled. Packets due at the same instant go before timers. Nothing sleeps.
 *
 * Nothing of the runtime glue is modelled here: RESYNC answered by a bulk, `peerRestarted` → RESYNC, the
 * startup bulk and its demotion are the engine's own.
 */
import { isDeepStrictEqual } from 'node:util'
import type { CtAttrs, CtdMessage } from '../../src/codec/conntrackd.js'
import { decodeDatagram } from '../../src/codec/conntrackd.js'
import { flowFromAttrs, flowToAttrs } from '../../src/core/conntrack/attrs-map.js'
import { cacheSnapshot, type FlowCache } from '../../src/core/conntrack/cache.js'
import { createEngine, engineDeadline, stepEngine } from '../../src/core/conntrack/engine.js'
import type { ConntrackCommand, EngineConfig, EngineEffect, EngineInput, EngineState, KernelAnswer, KernelRequest } from '../../src/core/conntrack/engine.js'
import type { Flow } from '../../src/core/conntrack/flow.js'
import { BULK_DEFAULTS, type Bulk, type BulkConfig, type BulkTransition } from '../../src/core/sync/bulk.js'
import { FTFW_DEFAULTS, type FtfwConfig, type FtfwState } from '../../src/core/sync/ftfw.js'
import { isDue, type Millis } from '../../src/core/time.js'
import { mulberry32 } from './prng.js'
import { plainRequest } from './ct-request.js'

export { mulberry32 }

/** A TCP flow's attributes, numbered (port `10000 + n`), in a given TCP state with a timeout. */
export function tcpFlow (n: number, tcpState = 3, timeout = 432000): CtAttrs {
  return {
    src: '10.1.' + String((n >> 8) & 0xff) + '.' + String(n & 0xff),
    dst: '192.0.2.80',
    l4proto: 6,
    sport: 10000 + (n % 50000),
    dport: 80,
    status: 0x0e,
    tcpState,
    timeout
  }
}

/** The kernel-table key of the sim (original tuple, §4.1). */
export function flowKey (a: CtAttrs): string {
  return `${a.l4proto ?? '?'}|${a.src ?? '?'}|${a.dst ?? '?'}|${a.sport ?? '-'}|${a.dport ?? '-'}|${a.icmpType ?? '-'}|${a.icmpCode ?? '-'}|${a.icmpId ?? '-'}|${a.zone ?? 0}`
}

/** Every message of some datagrams, in order (throws if anything is malformed). */
export function messagesOf (datagrams: readonly Uint8Array[]): CtdMessage[] {
  return datagrams.flatMap(d => {
    const r = decodeDatagram(d)
    if (r.malformed.length > 0) throw new Error(`malformed datagram: ${JSON.stringify(r.malformed)}`)
    return r.messages
  })
}

function toFlow (a: CtAttrs): Flow {
  const r = flowFromAttrs(a)
  if (!r.ok) throw new Error(`sim: unmappable attrs ${r.code}`)
  return r.flow
}

/** A cache as the wire sees it: key → attributes (what the peer would be sent for the entry). */
function cacheView (c: FlowCache): Map<string, CtAttrs> {
  return new Map(cacheSnapshot(c).map(e => [e.key, flowToAttrs(e.flow)] as const))
}

export interface LinkModel {
  /** One-way base delay (datagrams otherwise arrive in the order they were sent, as on one link). */
  readonly delayMs: number
  /** Probability a datagram is held back by an extra 1..reorderMs ms, so later ones overtake it. */
  readonly reorder: number
  readonly reorderMs: number
  /** Probability a datagram is lost. */
  readonly loss: number
  /** Probability a datagram is delivered twice. */
  readonly duplicate: number
}

export type PeerName = 'a' | 'b'

export interface SimPeerOptions {
  readonly initialSeq: number
  readonly config?: Partial<FtfwConfig>
  /** Run the startup bulk when the peer starts (default: only on restart). */
  readonly bulkAtStart?: boolean
  readonly bulk?: Partial<BulkConfig>
  /** Entries per commit batch. */
  readonly commitBatch?: number
}

export interface SyncSimOptions {
  readonly seed: number
  readonly link?: Partial<LinkModel>
  readonly a: SimPeerOptions
  readonly b: SimPeerOptions
}

export class SimPeer {
  /** The daemon's engine (null while it is down). */
  engine: EngineState | null = null
  /** The node's kernel conntrack table, by the sim's key: it survives daemon restarts. */
  readonly kernel = new Map<string, CtAttrs>()
  readonly bulkTransitions: BulkTransition[] = []
  /** Every priority offset output, with its time. */
  readonly priorityOffsets: Array<{ at: Millis, offset: number }> = []
  /** Datagrams this peer put on the link. */
  sent = 0
  /** Whether the daemon's event socket is in the NEW group (`listenNew`); a restart joins it. */
  newEvents = true
  /** The external cache when the bulk reported `complete` (a copy). */
  externalAtBulkComplete: Map<string, CtAttrs> | null = null
  /** Every `apply` effect (kernel requests), in order. */
  readonly applies: KernelRequest[][] = []
  /** Counter effects, summed. */
  readonly counters = new Map<string, number>()
  /** Commands answered (`complete`), with their time. */
  readonly completed = new Map<number, { at: Millis, error: string | null }>()
  /** Every effect of every step (when the sim's `record` is set). */
  readonly effects: EngineEffect[] = []

  constructor (readonly name: PeerName, readonly options: SimPeerOptions) {}

  get up (): boolean {
    return this.engine !== null
  }

  get ftfw (): FtfwState | null {
    return this.engine?.ftfw ?? null
  }

  /** The startup bulk FSM, when this run of the daemon has one. */
  get bulk (): Bulk | null {
    return this.engine === null || this.engine.config.bulk === null ? null : this.engine.bulk
  }

  /** The engine's internal cache (what it replicates), key → attributes. */
  get internal (): Map<string, CtAttrs> {
    return this.engine === null ? new Map() : cacheView(this.engine.internal)
  }

  /** The engine's external cache (what the peer told it). */
  get external (): Map<string, CtAttrs> {
    return this.engine === null ? new Map() : cacheView(this.engine.external)
  }
}

interface Packet {
  readonly at: Millis
  readonly order: number
  readonly to: PeerName
  readonly buf: Buffer
}

export class SyncSim {
  now: Millis = 0
  readonly a: SimPeer
  readonly b: SimPeer
  readonly link: LinkModel
  private readonly rng: () => number
  private packets: Packet[] = []
  private order = 0
  private nextId = 1
  /** Datagrams lost / duplicated by the link. */
  lost = 0
  duplicated = 0
  /** Record every effect (memory heavy: only for small tests). */
  record = false
  /** Every datagram put on the link, with its fate (when `record` is set). */
  readonly trace: Array<{ at: Millis, to: PeerName, buf: Buffer, fate: 'lost' | 'sent' | 'duplicated' }> = []

  constructor (opts: SyncSimOptions) {
    this.rng = mulberry32(opts.seed)
    this.link = { delayMs: 1, reorder: 0, reorderMs: 5, loss: 0, duplicate: 0, ...opts.link }
    this.a = new SimPeer('a', opts.a)
    this.b = new SimPeer('b', opts.b)
  }

  peer (name: PeerName): SimPeer {
    return name === 'a' ? this.a : this.b
  }

  other (name: PeerName): SimPeer {
    return name === 'a' ? this.b : this.a
  }

  /** Start a peer's daemon: a fresh engine reads the kernel table (nothing sent), then the startup bulk if asked. */
  start (name: PeerName, initialSeq = this.peer(name).options.initialSeq, withBulk = this.peer(name).options.bulkAtStart === true): void {
    const p = this.peer(name)
    const config: EngineConfig = {
      filter: { protocols: { mode: 'ignore', list: [] }, ignoreAddresses: [], tcpStates: null },
      alwaysIgnore: [],
      ftfw: { ...FTFW_DEFAULTS, ...p.options.config },
      bulk: withBulk ? { ...BULK_DEFAULTS, ...p.options.bulk } : null,
      disableExternalCache: false,
      commitBatch: p.options.commitBatch ?? 2000,
      initialSeq
    }
    p.engine = createEngine(config, [], this.now)
    this.input(p, { kind: 'start', id: this.nextId++ })
  }

  /** The daemon dies: its engine (FTFW state, caches) is gone; packets to it are lost. The kernel table stays. */
  kill (name: PeerName): void {
    const p = this.peer(name)
    p.engine = null
    p.newEvents = true
  }

  restart (name: PeerName, initialSeq: number): void {
    this.kill(name)
    this.start(name, initialSeq, true)
  }

  /** A kernel event on `name`: the kernel table changes, the engine hears the event. */
  change (name: PeerName, event: 'new' | 'upd' | 'del', attrs: CtAttrs): void {
    const p = this.peer(name)
    const key = flowKey(attrs)
    let full: CtAttrs
    if (event === 'del') {
      full = p.kernel.get(key) ?? attrs
      p.kernel.delete(key)
    } else {
      full = event === 'new' ? attrs : { ...(p.kernel.get(key) ?? {}), ...attrs }
      p.kernel.set(key, full)
    }
    // out of the NEW group (a takeover commit), the kernel builds no NEW event for the daemon
    if (event === 'new' && !p.newEvents) return
    this.input(p, { kind: 'kernelEvent', event: event === 'upd' ? 'update' : event === 'del' ? 'destroy' : 'new', flow: toFlow(full) })
  }

  /** Ask a peer for its state (the operator's `conntrackd -n`). */
  requestResync (name: PeerName): void {
    this.command(name, { kind: 'syncRequestResync' })
  }

  /** Give a transition-plan effect to a peer's engine; returns its id (see `completed`). */
  command (name: PeerName, effect: ConntrackCommand): number {
    const id = this.nextId++
    this.input(this.peer(name), { kind: 'command', id, effect })
    return id
  }

  /** One input and everything it causes: the kernel answers `dump` and `apply` at once (same instant). */
  private input (p: SimPeer, first: EngineInput): void {
    const work: EngineInput[] = [first]
    for (let input = work.shift(); input !== undefined; input = work.shift()) {
      if (p.engine === null) return
      const r = stepEngine(p.engine, input, this.now)
      p.engine = r.state
      for (const e of r.effects) {
        if (this.record) p.effects.push(e)
        const next = this.execute(p, e)
        if (next !== null) work.push(next)
      }
    }
  }

  /** The sim's effect handlers (the daemon's are in runtime/conntrack.ts). */
  private execute (p: SimPeer, e: EngineEffect): EngineInput | null {
    switch (e.kind) {
      case 'send':
        this.send(p.name === 'a' ? 'b' : 'a', e.datagram)
        p.sent++
        return null
      case 'dump':
        return { kind: 'dumped', purpose: e.purpose, flows: [...p.kernel.values()].map(toFlow) }
      case 'apply':
        p.applies.push([...e.requests])
        return { kind: 'applied', purpose: e.purpose, results: e.requests.map(req => this.kernelApply(p, req)) }
      case 'listenNew':
        p.newEvents = e.on
        return null
      case 'demote': {
        p.priorityOffsets.push({ at: this.now, offset: e.offset })
        return null
      }
      case 'bulkTransition':
        p.bulkTransitions.push({ from: e.from, to: e.to, event: e.event, at: e.at })
        if (e.to === 'done' && p.engine?.bulk.outcome === 'complete') p.externalAtBulkComplete = p.external
        return null
      case 'count':
        p.counters.set(e.name, (p.counters.get(e.name) ?? 0) + e.by)
        return null
      case 'log':
      case 'peer':
        return null
      case 'complete':
        p.completed.set(e.id, { at: this.now, error: e.error })
        return null
    }
  }

  /** A kernel request on the sim's table: exclusive create of an existing entry is EEXIST, delete of a missing one ENOENT. */
  private kernelApply (p: SimPeer, request: KernelRequest): KernelAnswer {
    const req = plainRequest(request)
    if (req.op === 'flush') { p.kernel.clear(); return { ok: true } }
    const o = req.flow.orig
    const key = flowKey({ ...o, zone: req.flow.zone })
    switch (req.op) {
      case 'create':
        if (req.exclusive !== false && p.kernel.has(key)) return { ok: false, errno: 'EEXIST' }
        p.kernel.set(key, flowToAttrs(req.flow))
        return { ok: true }
      case 'update':
        if (!p.kernel.has(key)) return { ok: false, errno: 'ENOENT' }
        p.kernel.set(key, { ...p.kernel.get(key), ...flowToAttrs(req.flow) })
        return { ok: true }
      case 'delete':
        return p.kernel.delete(key) ? { ok: true } : { ok: false, errno: 'ENOENT' }
      default:
        return { ok: false, errno: 'EOPNOTSUPP' }
    }
  }

  private send (to: PeerName, buf: Buffer): void {
    if (this.rng() < this.link.loss) {
      this.lost++
      if (this.record) this.trace.push({ at: this.now, to, buf, fate: 'lost' })
      return
    }
    const copies = this.rng() < this.link.duplicate ? 2 : 1
    if (copies === 2) this.duplicated++
    if (this.record) this.trace.push({ at: this.now, to, buf, fate: copies === 2 ? 'duplicated' : 'sent' })
    for (let i = 0; i < copies; i++) {
      const late = this.rng() < this.link.reorder ? 1 + Math.floor(this.rng() * this.link.reorderMs) : 0
      const at = this.now + this.link.delayMs + late
      const pkt: Packet = { at, order: this.order++, to, buf }
      // Keep the flight list sorted by (at, order).
      let lo = 0
      let hi = this.packets.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        const m = this.packets[mid] as Packet
        if (m.at < at || (m.at === at && m.order < pkt.order)) lo = mid + 1
        else hi = mid
      }
      this.packets.splice(lo, 0, pkt)
    }
  }

  private peerDeadline (p: SimPeer): Millis | null {
    return p.engine === null ? null : engineDeadline(p.engine)
  }

  /** Run every event up to and including `t`, then set the clock to `t`. */
  runUntil (t: Millis): void {
    for (;;) {
      const pkt = this.packets[0]
      let timerPeer: SimPeer | null = null
      let timerAt = Infinity
      for (const p of [this.a, this.b]) {
        const d = this.peerDeadline(p)
        if (d !== null && d < timerAt) { timerAt = d; timerPeer = p }
      }
      const pktAt = pkt?.at ?? Infinity
      const next = Math.min(pktAt, timerAt)
      if (next > t) break
      this.now = Math.max(this.now, next)
      if (pkt !== undefined && pktAt <= timerAt) {
        this.packets.shift()
        this.input(this.peer(pkt.to), { kind: 'datagram', buf: pkt.buf })
      } else if (timerPeer !== null && isDue(this.peerDeadline(timerPeer), this.now)) {
        this.input(timerPeer, { kind: 'timeout' })
      }
    }
    this.now = Math.max(this.now, t)
  }

  runFor (ms: Millis): void {
    this.runUntil(this.now + ms)
  }

  /** Each peer's external cache equals the other's internal cache. */
  converged (): boolean {
    return sameCache(this.a.external, this.b.internal) && sameCache(this.b.external, this.a.internal)
  }

  /** Run until converged and quiet (no NACK in flight), checking every `stepMs`; returns when, or null. */
  settle (maxMs: Millis, stepMs = 100): Millis | null {
    const end = this.now + maxMs
    while (this.now < end) {
      this.runFor(stepMs)
      if (this.converged()) return this.now
    }
    return null
  }
}

export function sameCache (x: ReadonlyMap<string, CtAttrs>, y: ReadonlyMap<string, CtAttrs>): boolean {
  if (x.size !== y.size) return false
  for (const [k, v] of x) {
    const w = y.get(k)
    if (w === undefined || !isDeepStrictEqual(v, w)) return false
  }
  return true
}

/** Describe how two caches differ (for assertion messages). */
export function cacheDiff (x: ReadonlyMap<string, CtAttrs>, y: ReadonlyMap<string, CtAttrs>): string {
  const missing = [...y.keys()].filter(k => !x.has(k))
  const extra = [...x.keys()].filter(k => !y.has(k))
  const differ = [...x.keys()].filter(k => y.has(k) && !isDeepStrictEqual(x.get(k), y.get(k)))
  return `missing ${missing.length} [${missing.slice(0, 3).join(', ')}], extra ${extra.length} [${extra.slice(0, 3).join(', ')}], differ ${differ.length}`
}

/**
 * A random workload on `peer`: `count` kernel events over flows 0..flows-1, spaced `gapMs` apart (several per
 * ms when gapMs < 1 rounds down, so events share transmit rounds): a missing flow is created (NEW), an existing
 * one is updated (UPD, new TCP state and timeout) or, one time in four, destroyed (DEL).
 */
export function runWorkload (sim: SyncSim, peer: PeerName, rng: () => number, count: number, flows: number, gapMs: number): void {
  const kernel = sim.peer(peer).kernel
  let t = sim.now
  for (let i = 0; i < count; i++) {
    const n = Math.floor(rng() * flows)
    const base = tcpFlow(n)
    const exists = kernel.has(flowKey(base))
    if (!exists) sim.change(peer, 'new', tcpFlow(n, 1 + Math.floor(rng() * 3)))
    else if (rng() < 0.25) sim.change(peer, 'del', base)
    else sim.change(peer, 'upd', { ...base, tcpState: 3 + Math.floor(rng() * 5), timeout: Math.floor(rng() * 432000) })
    t += gapMs
    sim.runUntil(Math.floor(t))
  }
}
