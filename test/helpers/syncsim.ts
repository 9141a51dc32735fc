/**
 * Two FTFW peers on a simulated link, driven by an earliest-event scheduler with a fake clock (the str0m
 * `progress()` model, code-models §3). Each peer has an internal cache (what its kernel holds: the test
 * changes it) and an external cache (what the other peer told it: deliveries applied as conntrackd does, §4.1).
 *
 * The link loses, duplicates and holds back each datagram independently (seeded mulberry32); a held-back datagram
 * is overtaken by later ones (reordering). Otherwise datagrams keep their order, as on one link: a transmit
 * round's burst is not shuffled. Packets due at the same instant go before timers. Nothing sleeps.
 *
 * The runtime glue modelled here is the one hafwd's runtime should have:
 * - every FTFW step's datagrams go on the link, deliveries go into the external cache;
 * - `resyncRequested` → one `bulk` input with the whole internal cache (as UPD), in the same tick;
 * - `peerRestarted` → `requestResync` (the restarted peer's kernel table is the truth: pull it);
 * - a restarted peer runs the startup bulk FSM (core/sync/bulk.ts): RESYNC + demotion until complete.
 */
import { isDeepStrictEqual } from 'node:util'
import type { CtAttrs, CtdMessage, CtEvent } from '../../src/codec/conntrackd.js'
import { decodeDatagram } from '../../src/codec/conntrackd.js'
import { bulkDeadline, createBulk, stepBulk, BULK_DEFAULTS, type Bulk, type BulkConfig, type BulkInput, type BulkTransition } from '../../src/core/sync/bulk.js'
import {
  createFtfw, ftfwDeadline, stepFtfw, FTFW_DEFAULTS, type FtfwConfig, type FtfwInput, type FtfwState, type FtfwStepResult
} from '../../src/core/sync/ftfw.js'
import { earliest, isDue, type Millis } from '../../src/core/time.js'
import { mulberry32 } from './prng.js'

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

/** The external-cache key (original tuple, §4.1). */
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

/** Apply a peer update to an external cache as conntrackd does (§4.1): NEW replaces, UPD merges or inserts. */
export function applyDelivery (cache: Map<string, CtAttrs>, event: CtEvent, attrs: CtAttrs): void {
  const key = flowKey(attrs)
  if (event === 'new') cache.set(key, attrs)
  else if (event === 'upd') cache.set(key, { ...(cache.get(key) ?? {}), ...attrs })
  else cache.delete(key)
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
  /** Run the startup bulk FSM when the peer starts (default: only on restart). */
  readonly bulkAtStart?: boolean
  readonly bulk?: Partial<BulkConfig>
}

export interface SyncSimOptions {
  readonly seed: number
  readonly link?: Partial<LinkModel>
  readonly a: SimPeerOptions
  readonly b: SimPeerOptions
}

export class SimPeer {
  ftfw: FtfwState | null = null
  bulk: Bulk | null = null
  readonly internal = new Map<string, CtAttrs>()
  external = new Map<string, CtAttrs>()
  readonly bulkTransitions: BulkTransition[] = []
  /** Every priority offset output, with its time. */
  readonly priorityOffsets: Array<{ at: Millis, offset: number }> = []
  /** Datagrams this peer put on the link. */
  sent = 0
  /** The external cache when the bulk FSM reported `complete` (a copy). */
  externalAtBulkComplete: Map<string, CtAttrs> | null = null
  readonly results: Array<FtfwStepResult<FtfwState>> = []

  constructor (readonly name: PeerName, readonly options: SimPeerOptions) {}

  get up (): boolean {
    return this.ftfw !== null
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
  /** Datagrams lost / duplicated by the link. */
  lost = 0
  duplicated = 0
  /** Record every FTFW step result (memory heavy: only for small tests). */
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

  /** Start a peer's daemon (keeps its internal cache: the kernel table survives a daemon restart). */
  start (name: PeerName, initialSeq = this.peer(name).options.initialSeq, withBulk = this.peer(name).options.bulkAtStart === true): void {
    const p = this.peer(name)
    p.ftfw = createFtfw({ ...FTFW_DEFAULTS, ...p.options.config }, initialSeq, this.now)
    p.external = new Map()
    p.bulk = null
    if (withBulk) {
      p.bulk = createBulk({ ...BULK_DEFAULTS, ...p.options.bulk })
      this.bulkInput(p, { kind: 'start' })
    }
  }

  /** The daemon dies: its FTFW state and external cache are gone; packets to it are lost. */
  kill (name: PeerName): void {
    const p = this.peer(name)
    p.ftfw = null
    p.bulk = null
    p.external = new Map()
  }

  restart (name: PeerName, initialSeq: number): void {
    this.kill(name)
    this.start(name, initialSeq, true)
  }

  /** A kernel event on `name`: update its internal cache and replicate. */
  change (name: PeerName, event: CtEvent, attrs: CtAttrs): void {
    const p = this.peer(name)
    const key = flowKey(attrs)
    let full: CtAttrs
    if (event === 'del') {
      full = p.internal.get(key) ?? attrs
      p.internal.delete(key)
    } else {
      full = event === 'new' ? attrs : { ...(p.internal.get(key) ?? {}), ...attrs }
      p.internal.set(key, full)
    }
    if (p.ftfw !== null) this.ftfwInput(p, { kind: 'local', key, event, attrs: full })
  }

  /** Ask a peer for its state (the operator's `conntrackd -n`). */
  requestResync (name: PeerName): void {
    const p = this.peer(name)
    if (p.ftfw !== null) this.ftfwInput(p, { kind: 'requestResync' })
  }

  private ftfwInput (p: SimPeer, input: FtfwInput): void {
    if (p.ftfw === null) return
    const r = stepFtfw(p.ftfw, input, this.now)
    p.ftfw = r.state
    if (this.record) p.results.push(r)
    for (const d of r.datagrams) this.send(p.name === 'a' ? 'b' : 'a', d)
    p.sent += r.datagrams.length
    for (const d of r.deliver) if (d.kind === 'ct') applyDelivery(p.external, d.event, d.attrs)
    if (r.resyncRequested) {
      this.ftfwInput(p, { kind: 'bulk', entries: [...p.internal].map(([key, attrs]) => ({ key, event: 'upd' as const, attrs })) })
    }
    if (r.peerRestarted) this.ftfwInput(p, { kind: 'requestResync' })
    if (p.bulk !== null) {
      this.bulkInput(p, { kind: 'ftfw', resyncAcked: r.resyncAcked, nacksOutstanding: r.nacksOutstanding, peerRestarted: r.peerRestarted })
    }
  }

  private bulkInput (p: SimPeer, input: BulkInput): void {
    if (p.bulk === null) return
    const r = stepBulk(p.bulk, input, this.now)
    p.bulk = r.bulk
    p.bulkTransitions.push(...r.transitions)
    const last = p.priorityOffsets[p.priorityOffsets.length - 1]
    if (last === undefined || last.offset !== r.priorityOffset) p.priorityOffsets.push({ at: this.now, offset: r.priorityOffset })
    if (r.transitions.some(t => t.to === 'done') && r.bulk.outcome === 'complete') p.externalAtBulkComplete = new Map(p.external)
    if (r.requestResync) this.ftfwInput(p, { kind: 'requestResync' })
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
    if (p.ftfw === null) return null
    return earliest(ftfwDeadline(p.ftfw), p.bulk === null ? null : bulkDeadline(p.bulk))
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
        const p = this.peer(pkt.to)
        this.ftfwInput(p, { kind: 'datagram', buf: pkt.buf })
      } else if (timerPeer !== null) {
        const p = timerPeer
        if (p.ftfw !== null && isDue(ftfwDeadline(p.ftfw), this.now)) this.ftfwInput(p, { kind: 'timeout' })
        if (p.bulk !== null) this.bulkInput(p, { kind: 'timeout' })
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
  const internal = sim.peer(peer).internal
  let t = sim.now
  for (let i = 0; i < count; i++) {
    const n = Math.floor(rng() * flows)
    const base = tcpFlow(n)
    const exists = internal.has(flowKey(base))
    if (!exists) sim.change(peer, 'new', tcpFlow(n, 1 + Math.floor(rng() * 3)))
    else if (rng() < 0.25) sim.change(peer, 'del', base)
    else sim.change(peer, 'upd', { ...base, tcpState: 3 + Math.floor(rng() * 5), timeout: Math.floor(rng() * 432000) })
    t += gapMs
    sim.runUntil(Math.floor(t))
  }
}
