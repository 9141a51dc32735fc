/**
 * A simulated LAN for N hafwd nodes (each one NodeState from src/core/node.ts), driven by an
 * earliest-event scheduler in the spirit of str0m's tests/common.rs `progress()`:
 *
 *   repeat: pick the earliest of (every live node's deadline, every queued packet delivery);
 *           jump the clock there; step that node with that input; route its sendAdvert
 *           effects to the other nodes as advert inputs (built from the sender's RouterConfig
 *           and the effect's priority); record everything with its timestamp.
 *
 * Deterministic: loss uses a seeded PRNG (mulberry32), ties are broken by a fixed order
 * (packets before timers at the same instant, then queue order / node order). Nothing sleeps.
 *
 * Topology: a router's adverts reach every router on another node with the same segment
 * (default: the same ifname), VRID, family and version. A link between two nodes has a delay,
 * a loss ratio and can be cut (partition), per segment or for every segment. A node's "cable" on
 * a segment can be pulled (packets neither leave nor arrive); the test tells the node about it
 * separately with an `interface` input, as the kernel would.
 */
import type { Effect } from '../../src/core/effects.js'
import type { Millis } from '../../src/core/time.js'
import { createNode, stepNode, type NodeDrop, type NodeInput, type NodeState, type NodeStepResult } from '../../src/core/node.js'
import type { SyncGroupConfig, GroupTransitionEvent } from '../../src/core/group/sync-group.js'
import type { RouterConfig, RouterState, TransitionEvent } from '../../src/core/vrrp/types.js'
import { mulberry32 } from './prng.js'

export interface SimNodeSpec {
  readonly name: string
  readonly routers: readonly RouterConfig[]
  readonly groups?: readonly SyncGroupConfig[]
}

export interface LinkParams {
  /** One-way delay in ms. */
  readonly delayMs: number
  /** Probability in [0, 1) that a packet is lost. */
  readonly loss: number
}

export interface NetSimOptions {
  readonly seed?: number
  /** Default link parameters (delay 1 ms, no loss). */
  readonly link?: Partial<LinkParams>
  /** The segment a router sits on (default: its ifname). */
  readonly segmentOf?: (node: string, config: RouterConfig) => string
}

/** One advert on the wire, from the sender's view. */
export interface SimPacket {
  readonly from: string
  readonly to: string
  readonly routerId: string
  readonly targetRouterId: string
  readonly priority: number
  readonly sentAt: Millis
}

export type SimRecord =
  | { readonly kind: 'effect', readonly at: Millis, readonly node: string, readonly effect: Effect, readonly step: number }
  | { readonly kind: 'transition', readonly at: Millis, readonly node: string, readonly event: TransitionEvent }
  | { readonly kind: 'group', readonly at: Millis, readonly node: string, readonly event: GroupTransitionEvent }
  | { readonly kind: 'drop', readonly at: Millis, readonly node: string, readonly drop: NodeDrop }
  | { readonly kind: 'deliver', readonly at: Millis, readonly packet: SimPacket }
  | { readonly kind: 'lost', readonly at: Millis, readonly packet: SimPacket, readonly why: 'loss' | 'partition' | 'cable' | 'dead' }

interface SimNode {
  readonly spec: SimNodeSpec
  state: NodeState
  alive: boolean
  deadline: Millis | null
  /** Segments whose cable is pulled. */
  readonly cablesOut: Set<string>
}

interface Queued {
  readonly at: Millis
  readonly seq: number
  readonly packet: SimPacket
}


export class NetSim {
  now: Millis = 0
  readonly log: SimRecord[] = []
  private readonly nodes = new Map<string, SimNode>()
  private readonly order: string[] = []
  private queue: Queued[] = []
  private seq = 0
  private steps = 0
  private readonly rand: () => number
  private readonly defaultLink: LinkParams
  private readonly links = new Map<string, LinkParams>()
  /** Cut links: key `a|b|segment` or `a|b|*`. */
  private readonly cuts = new Set<string>()
  private readonly segmentOf: (node: string, config: RouterConfig) => string

  constructor (specs: readonly SimNodeSpec[], opts: NetSimOptions = {}) {
    this.rand = mulberry32(opts.seed ?? 1)
    this.defaultLink = { delayMs: opts.link?.delayMs ?? 1, loss: opts.link?.loss ?? 0 }
    this.segmentOf = opts.segmentOf ?? ((_n, c) => c.ifname)
    for (const spec of specs) {
      this.nodes.set(spec.name, { spec, state: createNode(spec.routers, spec.groups ?? []), alive: true, deadline: null, cablesOut: new Set() })
      this.order.push(spec.name)
    }
  }

  // --- driving -----------------------------------------------------------------------------

  /** Feed one input to a node at the current instant. */
  input (node: string, input: NodeInput): NodeStepResult {
    const n = this.node(node)
    if (!n.alive) throw new Error(`netsim: node ${node} is dead`)
    return this.step(n, input)
  }

  /** Startup of every router of these nodes (all nodes when none given), at the current instant. */
  start (...names: string[]): void {
    for (const name of names.length > 0 ? names : this.order) this.input(name, { kind: 'all', input: { kind: 'startup' } })
  }

  /** Clean stop (hafwd SIGTERM): Shutdown to every router (priority-0 adverts from Masters), then the node is gone. */
  stop (name: string): void {
    this.input(name, { kind: 'all', input: { kind: 'shutdown' } })
    this.node(name).alive = false
  }

  /** SIGKILL: the node vanishes without a word; its state is frozen and nothing reaches it. */
  kill (name: string): void {
    this.node(name).alive = false
  }

  /** A fresh process on the node (state rebuilt from the spec) and started now. */
  restart (name: string): void {
    const n = this.node(name)
    n.state = createNode(n.spec.routers, n.spec.groups ?? [])
    n.alive = true
    n.deadline = null
    this.start(name)
  }

  /** Run every event up to and including `until`, then leave the clock at `until`. */
  runUntil (until: Millis): void {
    for (;;) {
      const next = this.nextEvent()
      if (next === null || next.at > until) break
      this.now = next.at
      if (next.kind === 'packet') {
        this.queue = this.queue.filter(q => q !== next.q)
        this.deliver(next.q.packet)
      } else {
        this.step(next.node, { kind: 'timeout' })
      }
    }
    if (until > this.now) this.now = until
  }

  runFor (ms: Millis): void {
    this.runUntil(this.now + ms)
  }

  // --- topology ----------------------------------------------------------------------------

  setLink (a: string, b: string, params: Partial<LinkParams>): void {
    const cur = this.link(a, b)
    this.links.set(pairKey(a, b), { ...cur, ...params })
  }

  /** Cut the link between two nodes (both directions), on one segment or on all. */
  partition (a: string, b: string, segment = '*'): void {
    this.cuts.add(`${pairKey(a, b)}|${segment}`)
  }

  heal (a: string, b: string, segment = '*'): void {
    this.cuts.delete(`${pairKey(a, b)}|${segment}`)
  }

  /** Pull or plug a node's cable on a segment (the node is not told; send it an `interface` input). */
  setCable (node: string, segment: string, up: boolean): void {
    const n = this.node(node)
    if (up) n.cablesOut.delete(segment)
    else n.cablesOut.add(segment)
  }

  // --- observation -------------------------------------------------------------------------

  nodeState (name: string): NodeState {
    return this.node(name).state
  }

  stateOf (node: string, routerId: string): RouterState {
    const r = this.node(node).state.routers[routerId]
    if (r === undefined) throw new Error(`netsim: no router ${routerId} on ${node}`)
    return r.state
  }

  transitions (filter: { node?: string, routerId?: string, to?: RouterState } = {}): Array<{ at: Millis, node: string, event: TransitionEvent }> {
    const out: Array<{ at: Millis, node: string, event: TransitionEvent }> = []
    for (const rec of this.log) {
      if (rec.kind !== 'transition') continue
      if (filter.node !== undefined && rec.node !== filter.node) continue
      if (filter.routerId !== undefined && rec.event.routerId !== filter.routerId) continue
      if (filter.to !== undefined && rec.event.to !== filter.to) continue
      out.push({ at: rec.at, node: rec.node, event: rec.event })
    }
    return out
  }

  effects (filter: { node?: string, kind?: Effect['kind'], since?: Millis } = {}): Array<{ at: Millis, node: string, effect: Effect, step: number }> {
    const out: Array<{ at: Millis, node: string, effect: Effect, step: number }> = []
    for (const rec of this.log) {
      if (rec.kind !== 'effect') continue
      if (filter.node !== undefined && rec.node !== filter.node) continue
      if (filter.kind !== undefined && rec.effect.kind !== filter.kind) continue
      if (filter.since !== undefined && rec.at < filter.since) continue
      out.push({ at: rec.at, node: rec.node, effect: rec.effect, step: rec.step })
    }
    return out
  }

  deliveries (filter: { from?: string, to?: string, routerId?: string } = {}): SimPacket[] {
    return this.log.flatMap(r => r.kind === 'deliver' && matches(r.packet, filter) ? [r.packet] : [])
  }

  // --- internals ---------------------------------------------------------------------------

  private node (name: string): SimNode {
    const n = this.nodes.get(name)
    if (n === undefined) throw new Error(`netsim: unknown node ${name}`)
    return n
  }

  private link (a: string, b: string): LinkParams {
    return this.links.get(pairKey(a, b)) ?? this.defaultLink
  }

  private nextEvent (): { kind: 'packet', at: Millis, q: Queued } | { kind: 'timer', at: Millis, node: SimNode } | null {
    let best: { kind: 'packet', at: Millis, q: Queued } | { kind: 'timer', at: Millis, node: SimNode } | null = null
    for (const q of this.queue) {
      if (best === null || q.at < best.at || (q.at === best.at && best.kind === 'packet' && q.seq < best.q.seq)) best = { kind: 'packet', at: q.at, q }
    }
    for (const name of this.order) {
      const n = this.node(name)
      if (!n.alive || n.deadline === null) continue
      // Packets first at equal instants; among nodes, the configuration order.
      if (best === null || n.deadline < best.at) best = { kind: 'timer', at: n.deadline, node: n }
    }
    return best
  }

  private step (n: SimNode, input: NodeInput): NodeStepResult {
    const res = stepNode(n.state, input, this.now)
    const step = ++this.steps
    n.state = res.node
    n.deadline = res.deadline
    const name = n.spec.name
    for (const event of res.transitions) this.log.push({ kind: 'transition', at: this.now, node: name, event })
    for (const event of res.groupTransitions) this.log.push({ kind: 'group', at: this.now, node: name, event })
    for (const drop of res.drops) this.log.push({ kind: 'drop', at: this.now, node: name, drop })
    for (const effect of res.effects) {
      this.log.push({ kind: 'effect', at: this.now, node: name, effect, step })
      if (effect.kind === 'sendAdvert') this.transmit(n, effect.routerId, effect.priority)
    }
    return res
  }

  private transmit (from: SimNode, routerId: string, priority: number): void {
    const cfg = from.spec.routers.find(r => r.id === routerId)
    if (cfg === undefined) throw new Error(`netsim: ${from.spec.name} sent for unknown router ${routerId}`)
    const segment = this.segmentOf(from.spec.name, cfg)
    for (const toName of this.order) {
      if (toName === from.spec.name) continue
      const to = this.node(toName)
      for (const target of to.spec.routers) {
        if (target.vrid !== cfg.vrid || target.family !== cfg.family || target.version !== cfg.version) continue
        if (this.segmentOf(toName, target) !== segment) continue
        const packet: SimPacket = { from: from.spec.name, to: toName, routerId, targetRouterId: target.id, priority, sentAt: this.now }
        const key = pairKey(from.spec.name, toName)
        const why = from.cablesOut.has(segment) || to.cablesOut.has(segment)
          ? 'cable'
          : this.cuts.has(`${key}|*`) || this.cuts.has(`${key}|${segment}`)
            ? 'partition'
            : null
        const link = this.link(from.spec.name, toName)
        // Draw the loss decision for every packet, so a partition does not shift the PRNG sequence.
        const lost = this.rand() < link.loss
        if (why !== null) { this.log.push({ kind: 'lost', at: this.now, packet, why }); continue }
        if (lost) { this.log.push({ kind: 'lost', at: this.now, packet, why: 'loss' }); continue }
        this.queue.push({ at: this.now + link.delayMs, seq: this.seq++, packet })
      }
    }
  }

  private deliver (packet: SimPacket): void {
    const to = this.node(packet.to)
    if (!to.alive) { this.log.push({ kind: 'lost', at: this.now, packet, why: 'dead' }); return }
    const sender = this.node(packet.from).spec.routers.find(r => r.id === packet.routerId) as RouterConfig
    this.log.push({ kind: 'deliver', at: this.now, packet })
    this.step(to, {
      kind: 'router',
      routerId: packet.targetRouterId,
      input: {
        kind: 'advert',
        src: sender.primaryAddress,
        priority: packet.priority,
        adverIntervalCs: sender.advertIntervalCs,
        addresses: sender.vips.filter(v => v.family === sender.family).map(v => v.address)
      }
    })
  }
}

function pairKey (a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}

function matches (p: SimPacket, f: { from?: string, to?: string, routerId?: string }): boolean {
  return (f.from === undefined || p.from === f.from) && (f.to === undefined || p.to === f.to) && (f.routerId === undefined || p.routerId === f.routerId)
}

/**
 * A RouterConfig for tests, with RFC/keepalived defaults: v3, IPv4, priority 100, 100 cs adverts,
 * preempt on, no delay, one VIP, one announce round of 5 packets (no second round, no refresh).
 */
export function routerConfig (over: Partial<RouterConfig> & { primaryAddress: string }): RouterConfig {
  const family = over.family ?? 'ipv4'
  return {
    id: 'eth1/51',
    ifname: 'eth1',
    family,
    vrid: 51,
    version: 3,
    priority: 100,
    advertIntervalCs: 100,
    preempt: true,
    preemptDelayMs: 0,
    acceptMode: false,
    vips: family === 'ipv4'
      ? [{ address: '192.0.2.100', prefix: 24, family: 'ipv4' }]
      : [{ address: '2001:db8::100', prefix: 64, family: 'ipv6' }],
    announce: { delayMs: 0, repeat: 5, refreshMs: 0 },
    track: {},
    ...over
  }
}

/**
 * Sync-group steps that broke all-or-nothing on `node`: a step whose vipAdd/vipDel effects are
 * not one kind for exactly `members` routers. Empty when every such step moved the whole group.
 * Returns the offending steps as "step N: kind:router,…".
 */
export function splitGroupSteps (sim: NetSim, node: string, members = 2): string[] {
  const byStep = new Map<number, Set<string>>()
  for (const x of sim.effects({ node })) {
    if (x.effect.kind !== 'vipAdd' && x.effect.kind !== 'vipDel') continue
    const set = byStep.get(x.step) ?? new Set<string>()
    set.add(`${x.effect.kind}:${x.effect.routerId}`)
    byStep.set(x.step, set)
  }
  const split: string[] = []
  for (const [step, set] of byStep) {
    const kinds = new Set([...set].map(s => s.split(':')[0]))
    if (kinds.size !== 1 || set.size !== members) split.push(`step ${step}: ${[...set].join(',')}`)
  }
  return split
}

/** Steps of `node` that added or removed VIPs. */
export function vipSteps (sim: NetSim, node: string): number {
  return new Set(sim.effects({ node }).filter(x => x.effect.kind === 'vipAdd' || x.effect.kind === 'vipDel').map(x => x.step)).size
}
