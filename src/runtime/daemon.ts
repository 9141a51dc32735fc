/**
 * hafwd wiring: config model → adapters → core node → runner. Everything that can be refused is
 * checked before anything is changed on the system (no VIP is touched, no advert sent), so a bad
 * start leaves the box as it was.
 */
import { LoopDelayMonitor } from './loop-delay.js'
import { startMemoryTrim } from './memory-trim.js'
import { loadNfct } from '../io/nfct.js'
import { arpingAvailable } from '../io/arping.js'
import { RtnlLinkControl } from '../io/rtnl.js'
import { RtnlRouteControl } from '../io/rtnl-route.js'
import { VmacControl, vmacHostWarning, type VmacSpec } from '../io/vmac.js'
import { routeHandlers } from './route-io.js'
import type { LinkControl, LinkInfo, VrrpFrame } from '../io/ports.js'
import type { Model } from '../config/normalize.js'
import { createNode, stepNode } from '../core/node.js'
import { createOrchestrator, orchestrate } from '../core/orchestrator.js'
import { assemble } from './assemble.js'
import type { Assembly } from './assemble.js'
import { monotonicClock } from './clock.js'
import type { Clock } from './clock.js'
import { Executor } from './executor.js'
import type { Logger } from './log.js'
import { Runner } from './runner.js'
import { startTrackers } from './trackers.js'
import { openConntrack } from './conntrack-wiring.js'
import { loadSyncKeys } from '../io/sync-auth.js'
import type { ConntrackWiring } from './conntrack-wiring.js'
// The constant only: './conntrack.js' is the worker's runtime and would load the whole conntrack
// engine into the VRRP thread's heap.
import { BULK_SYNC_SOURCE } from './conntrack-protocol.js'
import { Counters } from './stats.js'
import { Transitions } from './transitions.js'
import { startControlServer } from '../control/server.js'
import { createDaemonCommands } from './commands.js'
import type { DaemonCommands, DaemonReload } from './commands.js'
import { reconfigureNode } from '../core/reconfigure.js'
import { runnerStatusSource } from '../control/source.js'
import { egress, ingress } from './vrrp-wire.js'
import { VrrpIo } from './vrrp-io.js'
import { linkEventHandler } from './link-events.js'
import { processSpawner, HookQueue, Notifier } from './notify.js'

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
   * dryRun: the same checks and the core's verdict per router, nothing applied.
   */
  reload: DaemonReload
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

/** Refuse to start, before anything is opened, when the box cannot run hafwd at all. */
async function preflight (model: Model): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new StartupError('hafwd needs root (or CAP_NET_RAW + CAP_NET_ADMIN): it opens raw sockets and changes interface addresses')
  }
  const needsArp = model.routers.some(r => r.family === 'ipv4')
  if (needsArp && !(await arpingAvailable())) {
    throw new StartupError('arping from iputils is not installed (Debian: apt-get install iputils-arping); it sends the gratuitous ARPs for IPv4 VIPs')
  }
}

/** What a StartupError says for any failure while opening. */
function startupError (err: unknown, prefix = ''): StartupError {
  return new StartupError(prefix + (err instanceof Error ? err.message : String(err)))
}

export async function startDaemon (opts: DaemonOptions): Promise<Daemon> {
  const { model, log } = opts
  const clock = opts.clock ?? monotonicClock
  await preflight(model)
  const links: LinkControl = new RtnlLinkControl()
  let linkList: LinkInfo[]
  let assembly: Assembly
  try {
    linkList = await links.links()
    assembly = assemble(model, linkList, await links.addresses())
  } catch (err) {
    links.close()
    throw startupError(err)
  }
  // keepalived use_vmac: the macvlans exist before the sockets open on them (the first change to the system).
  const vmacSpecs = vmacSpecsOf(model)
  const vmacs = new VmacControl()
  const dropVmacs = async (): Promise<void> => {
    for (const e of await vmacs.removeAll()) log.warn({ err: e }, 'cannot remove a vmac interface')
    vmacs.close()
  }
  if (vmacSpecs.length > 0) {
    try {
      for (const spec of vmacSpecs) log.info({ vmac: spec.name, parent: spec.parent, mac: spec.mac, outcome: await vmacs.create(spec) }, 'vmac interface ready')
      linkList = await links.links()
    } catch (err) {
      await dropVmacs()
      links.close()
      throw startupError(err)
    }
    const warning = vmacSpecs.some(v => v.family === 'ipv4') ? await vmacHostWarning() : null
    if (warning !== null) log.warn(warning)
  }
  const counters = new Counters()
  const transitions = new Transitions(log.child({ component: 'transitions' }), counters)
  // Set once the node exists; frames that arrive before are counted and dropped (onFrame).
  let running: Runner | null = null
  const vrrp = new VrrpIo(links, linkList, frame => { onFrame(frame) }, log)
  vrrp.adopt(assembly)
  try {
    vrrp.openTransports(assembly, linkList)
  } catch (err) {
    vrrp.close()
    await dropVmacs()
    links.close()
    throw startupError(err, 'cannot open the VRRP raw socket: ')
  }

  // The conntrack module (null when conntrack is off), in its worker thread. Its ports open
  // before anything changes.
  const addressList = new Map((await links.addresses()).map(a => [`${a.ifname}/${a.address}`, a]))
  let conntrack: ConntrackWiring | null
  try {
    conntrack = await openConntrack(model, {
      log: log.child({ component: 'conntrack' }),
      counters,
      addresses: [...addressList.values()],
      transitions,
      setDemotion: (offset) => { void running?.dispatch({ kind: 'all', input: { kind: 'priorityOffset', source: BULK_SYNC_SOURCE, offset } }) }
    })
  } catch (err) {
    vrrp.close()
    await dropVmacs()
    links.close()
    throw startupError(err)
  }
  // One named table: the VRRP effects here, the conntrack effects in the worker.
  const routes = new RtnlRouteControl()
  const routeIo = routeHandlers(routes, counters, log.child({ component: 'routes' }))
  const executor = new Executor({ ...(conntrack?.runtime.handlers() ?? {}), ...vrrp.handlers(), ...routeIo }, counters, log.child({ component: 'executor' }), clock)
  const runner = new Runner(createNode(assembly.routers, assembly.groups), clock, executor, log.child({ component: 'vrrp' }), counters, transitions)
  running = runner
  // Notify hooks: queued at each transition, started once that step's effects have run.
  const notifier = new Notifier(model, new HookQueue(processSpawner, clock, log.child({ component: 'notify' }), counters))
  runner.onEffectsQueued((r, done) => { notifier.step(r, done) })
  if (model.conntrack !== null) runner.setConntrackPlan(model.conntrack)

  // Control API (hafwctl) up before the Startup event, so a watcher sees the first transitions.
  const commands = createDaemonCommands({ runner, conntrack: conntrack?.runtime ?? null, counters, log: log.child({ component: 'commands' }), model, configPath: opts.configPath ?? null, reload: async (m, dryRun) => await reload(m, dryRun) })
  // How late the VRRP thread's timers fire, beside the worker's (runtime/loop-delay.ts).
  const loop = new LoopDelayMonitor()
  // Freed malloc memory back to the kernel now and then (runtime/memory-trim.ts); without the
  // addon (not built) there is nothing to call, and nothing else depends on it.
  const nfct = loadNfct().addon
  const stopTrim = nfct === null ? () => {} : startMemoryTrim({ trim: () => nfct.mallocTrim(), count: (name) => { counters.inc(name) } })
  const source = runnerStatusSource({
    runner,
    counters,
    transitions,
    nodeName: model.node.name,
    clock,
    maintenance: commands.maintenanceView,
    loopDelay: () => ({ vrrp: loop.snapshot(), conntrack: conntrack?.runtime.loopDelay() ?? null }),
    ...(conntrack !== null ? { conntrack: () => conntrack?.runtime.status() } : {})
  })
  const startupFailed = (err: unknown): never => {
    stopTrim()
    routes.close()
    vrrp.close()
    void dropVmacs()
    links.close()
    void conntrack?.close()
    throw startupError(err)
  }
  const control = await startControlServer({ socket: model.control.socket, tcp: model.control.tcp, maxClients: model.control.maxClients, idleTimeoutMs: model.control.idleTimeoutMs, requestBudget: model.control.requestBudget, log: log.child({ component: 'control' }), commands, source })
    .catch(startupFailed)
  // Loaded only when configured: prom-client and the collector are ~2.5 MiB of heap the default
  // daemon (metrics off) does not carry.
  const metricsModel = model.metrics
  const metrics = metricsModel === null
    ? null
    : await import('../control/metrics.js').then(async m => await m.startMetricsServer({ listen: metricsModel.listen, source, log: log.child({ component: 'metrics' }) }))
      .catch(async (err: unknown) => { await control.close(); return startupFailed(err) })

  function onFrame (frame: VrrpFrame): void {
    counters.inc('rx.frames')
    // The sockets open before the node exists (everything that can fail is opened first): a
    // peer's advert arriving in between is counted and dropped, never dereferenced.
    if (running === null) { counters.inc('rx.drop.beforeStart'); return }
    const r = ingress(frame, vrrp.byIndex)
    if (!r.ok) {
      counters.inc(`rx.drop.${r.reason}`)
      log.debug({ ifname: frame.ifname, src: frame.src, reason: r.reason, detail: r.detail }, 'advert dropped')
      return
    }
    void running.dispatch({ kind: 'router', routerId: r.routerId, input: r.input })
  }

  let tracked = trackedInterfaces(model)
  const linkUp = new Map(linkList.map(l => [l.ifname, l.up]))
  links.onEvent(linkEventHandler({
    runner,
    vrrp,
    counters,
    log,
    tracked: () => tracked,
    linkUp,
    addressList,
    localAddressesChanged: (cidrs) => { conntrack?.runtime.setLocalAddresses(cidrs) },
    restoreRoutes: async (cfg) => {
      // Outside the executor's queue, like the VIP itself; an entry still present counts as alreadyPresent.
      if (cfg.routes !== undefined && cfg.routes.length > 0) await routeIo.routeAdd({ kind: 'routeAdd', routerId: cfg.id, routes: cfg.routes })
      if (cfg.rules !== undefined && cfg.rules.length > 0) await routeIo.ruleAdd({ kind: 'ruleAdd', routerId: cfg.id, rules: cfg.rules })
    }
  }))

  await clearStaleVips(assembly, links, log)
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
  const trackers = startTrackers(model, input => { void runner.dispatch(input) }, log.child({ component: 'track' }), counters)
  log.info({ routers: assembly.routers.map(r => r.id), groups: assembly.groups.map(g => g.name) }, 'hafwd started')

  const reload: DaemonReload = async (next, dryRun = false) => {
    let a: Assembly
    // The macvlans are made at start only: a reload that adds, removes or renames one is refused.
    if (JSON.stringify(vmacSpecsOf(next)) !== JSON.stringify(vmacSpecs)) {
      return { ok: false, error: 'vmac settings changed: restart hafwd to create or remove virtual MAC interfaces' }
    }
    try {
      const known = await links.links()
      a = assemble(next, known, await links.addresses())
      if (dryRun) {
        // The core's verdict on the running node, computed and thrown away (the core is pure).
        const verdict = reconfigureNode(runner.state, a.routers, a.groups, clock())
        return { ok: true, changes: verdict.changes, restartReasons: verdict.restartReasons }
      }
      vrrp.openTransports(a, known)
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) }
    }
    // Authenticated sync: the key files are re-read on every reload (key rotation without restart); a
    // refused key file refuses the reload. Turning auth on or off still needs a restart (commands.ts notes it).
    let syncKeys: Buffer[] | null = null
    try {
      const files = next.conntrack?.sync.auth?.keyFiles
      if (conntrack !== null && files !== undefined) syncKeys = loadSyncKeys(files)
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
    vrrp.adopt(a, true)
    // The reconfigure step above queued its hooks (a removed instance's stop) with the old table.
    notifier.configure(next)
    if (syncKeys !== null) conntrack?.runtime.setSyncKeys?.(syncKeys)
    assembly = a
    tracked = trackedInterfaces(next)
    // Interfaces tracked from now on (and by restarted routers, which start all up) that are down.
    for (const name of tracked) {
      if (linkUp.get(name) === false) void runner.dispatch({ kind: 'track', name: `if:${name}`, up: false })
    }
    // Unchanged checkers keep running with their verdict; new ones start, removed ones stop.
    trackers.update(next)
    await outcome.done
    vrrp.adopt(a)
    const changes = outcome.result.changes
    log.info({ changes, restartReasons: outcome.result.restartReasons }, 'configuration reloaded')
    return { ok: true, changes, restartReasons: outcome.result.restartReasons }
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
        // The stop hooks (each bounded by its timeout) run before the process exits.
        await notifier.drain()
        await conntrack?.close()
        await control.close()
        await metrics?.close()
        vrrp.close()
        routes.close()
        await dropVmacs()
        links.close()
        loop.stop()
        stopTrim()
      })()
      await stopping
    }
  }
}

/** The macvlans a model needs (keepalived use_vmac), one per router with a vmac. */
function vmacSpecsOf (model: Model): VmacSpec[] {
  return model.routers.flatMap(r => r.vmac === null ? [] : [{ name: r.vmac.name, parent: r.interface, mac: r.vmac.mac, family: r.family }])
}

function trackedInterfaces (model: Model): Set<string> {
  return new Set(model.routers.flatMap(r => r.track.interfaces.map(i => i.name)))
}

/**
 * A previous hafwd that was killed (SIGKILL, crash) leaves its VIPs behind. A router starts in
 * Backup (RFC 5798 §6.4.1), which owns no VIP, so clear them before the Startup event; the
 * address owner (255) goes to Master at once and adds them back.
 */
async function clearStaleVips (a: Assembly, links: LinkControl, log: Logger): Promise<void> {
  for (const w of a.wires) {
    for (const v of w.vips) {
      await links.delVip(w.ifname, v).catch((e: unknown) => { log.warn({ routerId: w.id, vip: v.address, err: String(e) }, 'cannot clear a stale VIP') })
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

