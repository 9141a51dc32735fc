/**
 * hafwd wiring: config model → adapters → core node → runner. Everything that can be refused is
 * checked before anything is changed on the system (no VIP is touched, no advert sent), so a bad
 * start leaves the box as it was.
 */
import { arpingAvailable } from '../io/arping.js'
import { createAnnouncer } from '../io/announcer.js'
import { RtnlLinkControl } from '../io/rtnl.js'
import { openVrrpSocket } from '../io/vrrp-socket.js'
import type { LinkControl, LinkInfo, VrrpFrame, VrrpTransport } from '../io/ports.js'
import type { Model } from '../config/normalize.js'
import { createNode, stepNode } from '../core/node.js'
import { createOrchestrator, orchestrate } from '../core/orchestrator.js'
import type { Vip } from '../core/effects.js'
import { assemble } from './assemble.js'
import type { Assembly } from './assemble.js'
import { monotonicClock } from './clock.js'
import type { Clock } from './clock.js'
import { Executor } from './executor.js'
import type { Logger } from './log.js'
import { Runner } from './runner.js'
import { startTrackers } from './trackers.js'
import { localCidrs, openConntrack } from './conntrack-wiring.js'
import type { ConntrackWiring } from './conntrack-wiring.js'
import { BULK_SYNC_SOURCE } from './conntrack.js'
import { Counters } from './stats.js'
import { Transitions } from './transitions.js'
import { startControlServer } from '../control/server.js'
import { startMetricsServer } from '../control/metrics.js'
import { createDaemonCommands, withMaintenanceTrack } from './commands.js'
import type { DaemonCommands } from './commands.js'
import { runnerStatusSource } from '../control/source.js'
import { egress, indexRouters, ingress } from './vrrp-wire.js'
import type { RouterWire } from './vrrp-wire.js'

export class StartupError extends Error {
  override readonly name = 'StartupError'
}

export interface Daemon {
  readonly runner: Runner
  readonly counters: Counters
  /** The running assembly (replaced by a successful reload). */
  readonly assembly: () => Assembly
  /**
   * Apply a new, already validated model as a diff. Refused (running config kept, nothing
   * changed) when it does not fit the system, e.g. a missing interface; the error says why.
   */
  reload: (model: Model) => Promise<{ ok: true, changes: Record<string, string> } | { ok: false, error: string }>
  /** The control commands (hafwctl reload, maintenance, conntrack); SIGHUP uses its reload too. */
  readonly commands: DaemonCommands
  stop: () => Promise<void>
}

export interface DaemonOptions {
  readonly model: Model
  readonly log: Logger
  readonly clock?: Clock
  /** The file the model was loaded from: what `hafwctl reload` re-reads. */
  readonly configPath?: string
}

function transportKey (ifname: string, family: string): string { return `${ifname}/${family}` }

export async function startDaemon (opts: DaemonOptions): Promise<Daemon> {
  const { model, log } = opts
  const clock = opts.clock ?? monotonicClock
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new StartupError('hafwd needs root (or CAP_NET_RAW + CAP_NET_ADMIN): it opens raw sockets and changes interface addresses')
  }
  const needsArp = model.routers.some(r => r.family === 'ipv4')
  if (needsArp && !(await arpingAvailable())) {
    throw new StartupError('arping from iputils is not installed (Debian: apt-get install iputils-arping); it sends the gratuitous ARPs for IPv4 VIPs')
  }
  const links: LinkControl = new RtnlLinkControl()
  let linkList: LinkInfo[]
  let assembly: Assembly
  try {
    linkList = await links.links()
    assembly = withMaintenanceTrack(assemble(model, linkList, await links.addresses()))
  } catch (err) {
    links.close()
    throw new StartupError(err instanceof Error ? err.message : String(err))
  }
  const counters = new Counters()
  const transitions = new Transitions(log.child({ component: 'transitions' }), counters)
  // The wiring of the running assembly; a reload swaps it as a whole.
  let wires = new Map<string, RouterWire>()
  let primary = new Map<string, string>()
  let byIndex = indexRouters([])
  const adopt = (a: Assembly): void => {
    assembly = a
    wires = new Map(a.wires.map(w => [w.id, w]))
    primary = new Map(a.routers.map(r => [r.id, r.primaryAddress]))
    byIndex = indexRouters(a.wires)
  }
  adopt(assembly)

  let running: Runner | null = null

  // One raw socket per (interface, family) in use.
  const transports = new Map<string, VrrpTransport>()
  const openTransports = (a: Assembly, known: readonly LinkInfo[]): void => {
    for (const w of a.wires) {
      const key = transportKey(w.ifname, w.family)
      if (transports.has(key)) continue
      const link = known.find(l => l.ifname === w.ifname) as LinkInfo
      const multicast = a.wires.some(o => o.ifname === w.ifname && o.family === w.family && o.unicastPeers === null)
      const t = openVrrpSocket({ ifname: w.ifname, ifindex: link.index, family: w.family, multicast })
      t.onFrame(frame => { onFrame(frame) })
      if (!t.ipv6HopLimitChecked) log.warn({ ifname: w.ifname }, 'the vrrp6 addon is not built (npm ci builds it): IPv6 adverts are accepted without the RFC 5798 §7.1 hop-limit check')
      transports.set(key, t)
    }
  }
  try {
    openTransports(assembly, linkList)
  } catch (err) {
    for (const t of transports.values()) t.close()
    links.close()
    throw new StartupError(`cannot open the VRRP raw socket: ${String(err)}`)
  }

  // Link facts (index, MAC) for the NA sockets come from the start-up list and link events:
  // concurrent rtnetlink dumps on one socket confuse the netlink package.
  const linkByName = new Map(linkList.map(l => [l.ifname, l]))
  const announcer = createAnnouncer({ router: true, link: async (ifname) => linkByName.get(ifname) })
  const wireOf = (id: string): RouterWire => {
    const w = wires.get(id)
    if (w === undefined) throw new Error(`no router ${id}`)
    return w
  }
  const eachVip = async (vips: readonly Vip[], f: (v: Vip) => Promise<void>): Promise<void> => {
    const errors: unknown[] = []
    for (const v of vips) await f(v).catch((e: unknown) => { errors.push(e) })
    if (errors.length > 0) throw new AggregateError(errors, errors.map(String).join('; '))
  }
  // The conntrack module (null when conntrack is off). Its ports open before anything changes.
  const addressList = new Map((await links.addresses()).map(a => [`${a.ifname}/${a.address}`, a]))
  let conntrack: ConntrackWiring | null
  try {
    conntrack = await openConntrack(model, {
      log: log.child({ component: 'conntrack' }),
      counters,
      addresses: [...addressList.values()],
      transitions,
      setDemotion: (offset) => { void runner.dispatch({ kind: 'all', input: { kind: 'priorityOffset', source: BULK_SYNC_SOURCE, offset } }) }
    })
  } catch (err) {
    for (const t of transports.values()) t.close()
    links.close()
    throw new StartupError(err instanceof Error ? err.message : String(err))
  }
  const executor = new Executor({
    ...(conntrack?.runtime.handlers() ?? {}),
    sendAdvert: async (e) => {
      const w = wireOf(e.routerId)
      const t = transports.get(transportKey(w.ifname, w.family)) as VrrpTransport
      const src = primary.get(e.routerId) as string
      for (const p of egress(w, e.priority, src)) await t.send(p.payload, src, p.dst)
    },
    vipAdd: async (e) => { const w = wireOf(e.routerId); await eachVip(e.vips, async v => await links.addVip(w.ifname, v)) },
    vipDel: async (e) => {
      const w = wireOf(e.routerId)
      for (const v of e.vips) announcer.cancel(v.address)
      await eachVip(e.vips, async v => await links.delVip(w.ifname, v))
    },
    garp: async (e) => { const w = wireOf(e.routerId); await eachVip(e.vips, async v => await announcer.garp(v.dev ?? w.ifname, v.address, e.count)) },
    unsolicitedNa: async (e) => { const w = wireOf(e.routerId); await eachVip(e.vips, async v => await announcer.unsolicitedNa(v.dev ?? w.ifname, v.address, e.count)) }
  }, counters, log.child({ component: 'executor' }), clock)

  const runner = new Runner(createNode(assembly.routers, assembly.groups), clock, executor, log.child({ component: 'vrrp' }), counters, transitions)
  running = runner
  if (model.conntrack !== null) runner.setConntrackPlan(model.conntrack)
  // Control API (hafwctl) up before the Startup event, so a watcher sees the first transitions.
  const commands = createDaemonCommands({ runner, conntrack: conntrack?.runtime ?? null, counters, log: log.child({ component: 'commands' }), model, configPath: opts.configPath ?? null, reload: async (m) => await reload(m) })
  const source = runnerStatusSource({ runner, counters, transitions, nodeName: model.node.name, clock, maintenance: commands.maintenanceView, ...(conntrack !== null ? { conntrack: () => conntrack?.runtime.status() } : {}) })
  const startupFailed = (err: unknown): never => {
    for (const t of transports.values()) t.close()
    announcer.close()
    links.close()
    void conntrack?.close()
    throw new StartupError(err instanceof Error ? err.message : String(err))
  }
  const control = await startControlServer({ socket: model.control.socket, tcp: model.control.tcp, log: log.child({ component: 'control' }), commands, source })
    .catch(startupFailed)
  // Prometheus metrics on loopback, when configured.
  const metrics = model.metrics === null
    ? null
    : await startMetricsServer({ listen: model.metrics.listen, source, log: log.child({ component: 'metrics' }) })
      .catch(async (err: unknown) => { await control.close(); return startupFailed(err) })

  function onFrame (frame: VrrpFrame): void {
    counters.inc('rx.frames')
    // The sockets open before the node exists (everything that can fail is opened first): a
    // peer's advert arriving in between is counted and dropped, never dereferenced.
    if (running === null) { counters.inc('rx.drop.beforeStart'); return }
    const r = ingress(frame, byIndex)
    if (!r.ok) {
      counters.inc(`rx.drop.${r.reason}`)
      log.debug({ ifname: frame.ifname, src: frame.src, reason: r.reason, detail: r.detail }, 'advert dropped')
      return
    }
    void runner.dispatch({ kind: 'router', routerId: r.routerId, input: r.input })
  }

  // Link and address events: interface state, tracked interfaces, and VIPs someone else removed.
  let tracked = new Set(model.routers.flatMap(r => r.track.interfaces.map(i => i.name)))
  const lastUp = new Map(linkList.map(l => [l.ifname, l.up]))
  links.onEvent(ev => {
    if (ev.kind === 'link') {
      linkByName.set(ev.link.ifname, ev.link)
      if (lastUp.get(ev.link.ifname) === ev.link.up) return
      lastUp.set(ev.link.ifname, ev.link.up)
      log.info({ ifname: ev.link.ifname, up: ev.link.up }, `link ${ev.link.ifname} ${ev.link.up ? 'up' : 'down'}`)
      void runner.dispatch({ kind: 'interface', ifname: ev.link.ifname, up: ev.link.up })
      if (tracked.has(ev.link.ifname)) void runner.dispatch({ kind: 'track', name: `if:${ev.link.ifname}`, up: ev.link.up })
    } else if (ev.kind === 'addressAdded') {
      addressList.set(`${ev.address.ifname}/${ev.address.address}`, ev.address)
      conntrack?.runtime.setLocalAddresses(localCidrs([...addressList.values()]))
    } else if (ev.kind === 'addressRemoved') {
      addressList.delete(`${ev.address.ifname}/${ev.address.address}`)
      conntrack?.runtime.setLocalAddresses(localCidrs([...addressList.values()]))
      for (const r of Object.values(runner.state.routers)) {
        if (r.state !== 'master') continue
        const vip = r.config.vips.find(v => v.address === ev.address.address && (v.dev ?? r.config.ifname) === ev.address.ifname)
        if (vip === undefined) continue
        counters.inc('vip.restored')
        log.warn({ routerId: r.config.id, vip: vip.address }, 'a VIP was removed behind our back while MASTER: putting it back')
        links.addVip(r.config.ifname, vip).catch((e: unknown) => { log.error({ err: String(e) }, 'cannot restore VIP') })
      }
    }
  })

  // A previous hafwd that was killed (SIGKILL, crash) leaves its VIPs behind. A router starts in
  // Backup (RFC 5798 §6.4.1), which owns no VIP, so clear them before the Startup event; the
  // address owner (255) goes to Master at once and adds them back.
  for (const w of assembly.wires) {
    for (const v of w.vips) {
      await links.delVip(w.ifname, v).catch((e: unknown) => { log.warn({ routerId: w.id, vip: v.address, err: String(e) }, 'cannot clear a stale VIP') })
    }
  }

  // Interfaces already down at start: tell the core before the Startup event.
  for (const l of linkList) {
    if (!l.up) {
      await runner.dispatch({ kind: 'interface', ifname: l.ifname, up: false })
      if (tracked.has(l.ifname)) await runner.dispatch({ kind: 'track', name: `if:${l.ifname}`, up: false })
    }
  }
  // Conntrack first: the internal cache from the kernel, and the startup resync request whose
  // demotion must be in place before the first advert (architecture decision 5).
  warmTakeoverPath(assembly, model, log)
  await conntrack?.runtime.start()
  await runner.dispatch({ kind: 'all', input: { kind: 'startup' } })
  let trackers = startTrackers(model, input => { void runner.dispatch(input) }, log.child({ component: 'track' }), counters)
  log.info({ routers: assembly.routers.map(r => r.id), groups: assembly.groups.map(g => g.name) }, 'hafwd started')

  const reload = async (next: Model): Promise<{ ok: true, changes: Record<string, string> } | { ok: false, error: string }> => {
    let a: Assembly
    try {
      const known = await links.links()
      a = withMaintenanceTrack(assemble(next, known, await links.addresses()))
      openTransports(a, known)
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) }
    }
    let outcome
    try {
      outcome = runner.reconfigure(a.routers, a.groups)
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) }
    }
    // Adopt the new wiring before the effects run: the shutdown adverts of removed routers were
    // encoded from the old wiring in the executor's queue order, so keep both until they ran.
    const oldWires = wires
    const oldPrimary = primary
    adopt(a)
    for (const [id, w] of oldWires) if (!wires.has(id)) wires.set(id, w)
    for (const [id, p] of oldPrimary) if (!primary.has(id)) primary.set(id, p)
    tracked = new Set(next.routers.flatMap(r => r.track.interfaces.map(i => i.name)))
    trackers.stop()
    trackers = startTrackers(next, input => { void runner.dispatch(input) }, log.child({ component: 'track' }), counters)
    await outcome.done
    wires = new Map(a.wires.map(w => [w.id, w]))
    primary = new Map(a.routers.map(r => [r.id, r.primaryAddress]))
    const changes = outcome.result.changes
    log.info({ changes }, 'configuration reloaded')
    return { ok: true, changes }
  }

  let stopping: Promise<void> | null = null
  return {
    runner,
    counters,
    assembly: () => assembly,
    reload,
    commands,
    stop: async () => {
      stopping ??= (async () => {
        trackers.stop()
        await runner.shutdown()
        await conntrack?.close()
        await control.close()
        await metrics?.close()
        for (const t of transports.values()) t.close()
        announcer.close()
        links.close()
      })()
      await stopping
    }
  }
}

/**
 * Run the pure half of a takeover once, on a throwaway copy of the node, before the real one
 * starts: the first real takeover of a freshly started backup was measured 15–36 ms later than
 * the next ones (cold code in the core, the orchestrator and the advert encoder). Nothing here
 * touches the system; a failure only costs that warm-up.
 */
function warmTakeoverPath (a: Assembly, model: Model, log: Logger): void {
  try {
    let node = createNode(a.routers, a.groups)
    node = stepNode(node, { kind: 'all', input: { kind: 'startup' } }, 0).node
    const takeover = stepNode(node, { kind: 'timeout' }, 1e9)
    orchestrate(createOrchestrator(), takeover, model.conntrack)
    for (const r of a.routers) {
      const w = a.wires.find(x => x.id === r.id)
      if (w !== undefined) egress(w, r.priority, r.primaryAddress)
    }
  } catch (err) {
    log.debug({ err: String(err) }, 'takeover warm-up skipped')
  }
}

