/**
 * The control commands on a running daemon (control/commands.ts CommandHandler): reload from the
 * config file, maintenance mode, and the conntrack commands of conntrackd (-c, -f, -R, -B, -n,
 * -i/-e, -s) handed to the conntrack runtime.
 *
 * Maintenance is the core's `maintenance` input (vrrp/router.ts): `maintenance on` puts every
 * router in FAULT with the reason `maintenance` (a FAULT cause of its own, not a tracked object,
 * so logs and `hafwctl state` do not blame a track). A MASTER leaving for FAULT sends a
 * priority-0 advert (architecture decision 2), so the peer takes over after Skew_Time, and a
 * router in FAULT sends nothing, so the peer stays MASTER until maintenance is off. The priority
 * offset `maintenance` (-254) is applied too, so the effective priority shown by `hafwctl` says it,
 * and a router that leaves FAULT comes back at the lowest priority until the offset is removed
 * right after: `off` clears the track, then the offset, and preemption (if configured) takes
 * the master role back after Master_Down_Interval.
 *
 * A reload restarts routers whose identity changed with a fresh state (routers changed in place
 * keep it, core/reconfigure.ts): maintenance is applied
 * again to them in the same turn of the event loop, before their first effect runs. (An address
 * owner, priority 255, still goes MASTER at its Startup and leaves at once: RFC 5798 §6.4.1 lets
 * nothing hold an owner in Backup.)
 */
import { diffModels } from '../config/diff.js'
import type { ReloadPlan } from '../config/diff.js'
import type { Model } from '../config/normalize.js'
import { CommandError } from '../control/commands.js'
import type { CommandHandler, CommandOutcome, ReloadResult, StatsResult } from '../control/commands.js'
import { ctEntryView } from '../control/ct-view.js'
import type { MaintenanceView } from '../control/source.js'
import type { RestartReason, RouterChangeKind } from '../core/reconfigure.js'
import { planLines, routerPlans } from './reload-plan.js'
import { loadConfigInWorker } from './config-loader.js'
import type { ModelResult } from './config-loader.js'
import type { ConntrackHandle } from './conntrack-client.js'
import type { EffectHandlers } from './executor.js'
import type { Logger } from './log.js'
import type { Runner } from './runner.js'
import type { Counters } from './stats.js'

/** The priorityOffset source of maintenance, and its value: any configured priority 1..254 lands on 1. */
export const MAINTENANCE_SOURCE = 'maintenance'
export const MAINTENANCE_OFFSET = -254

export type DaemonReload = (model: Model, dryRun?: boolean) => Promise<
  | { ok: true, changes: Readonly<Record<string, RouterChangeKind>>, restartReasons?: Readonly<Record<string, readonly RestartReason[]>> }
  | { ok: false, error: string }
>

export interface DaemonCommandsOptions {
  readonly runner: Runner
  /** null: conntrack is off, its commands answer `notAvailable`. */
  readonly conntrack: ConntrackHandle | null
  readonly counters: Counters
  readonly log: Logger
  /** The model the daemon runs (start-up); replaced by each successful reload. */
  readonly model: Model
  /** The file `reload` reads; null: the daemon was started from a model, not a file. */
  readonly configPath: string | null
  /** runtime/daemon.ts reload: apply a validated model as a diff. */
  readonly reload: DaemonReload
  /** Reads and validates the file (default: in a short-lived thread, runtime/config-loader.ts). */
  readonly loadConfig?: (path: string) => Promise<ModelResult>
}

export interface DaemonCommands extends CommandHandler {
  /** For the status source: the mode and its changes. */
  readonly maintenanceView: MaintenanceView
  /** The running model (the last one applied). */
  model: () => Model
}

/** Sections a reload does not apply to the running daemon (they are read once, at start). */
function notesOf (plan: ReloadPlan): string[] {
  const notes: string[] = []
  if (plan.noop) notes.push('the file is the running configuration: nothing to do')
  if (plan.conntrack.changed) notes.push('conntrack: changed; the conntrack module keeps its running settings until hafwd restarts')
  if (plan.control) notes.push('control: changed; takes effect when hafwd restarts')
  if (plan.node) notes.push('node: changed; takes effect when hafwd restarts')
  if (plan.log) notes.push('log: changed; takes effect when hafwd restarts')
  if (plan.metrics) notes.push('metrics: changed; takes effect when hafwd restarts')
  return notes
}

const CT_OFF = 'conntrack sync is off in this hafwd (no conntrack section in its configuration)'

export function createDaemonCommands (o: DaemonCommandsOptions): DaemonCommands {
  const { runner, log } = o
  let model = o.model
  let maintenance = false
  const listeners = new Set<(on: boolean) => void>()
  // Reloads and maintenance switches run one at a time, in arrival order (SIGHUP and hafwctl alike).
  let queue: Promise<unknown> = Promise.resolve()
  const serial = async <T>(f: () => Promise<T>): Promise<T> => {
    const run = queue.then(f, f)
    queue = run.catch(() => undefined)
    return await run
  }

  /** Both inputs are stepped in this turn of the event loop: no advert leaves between them. */
  const applyMaintenance = async (on: boolean): Promise<void> => {
    if (on) {
      const offset = runner.dispatch({ kind: 'all', input: { kind: 'priorityOffset', source: MAINTENANCE_SOURCE, offset: MAINTENANCE_OFFSET } })
      await Promise.all([offset, runner.dispatch({ kind: 'all', input: { kind: 'maintenance', on: true } })])
    } else {
      const leave = runner.dispatch({ kind: 'all', input: { kind: 'maintenance', on: false } })
      await Promise.all([leave, runner.dispatch({ kind: 'all', input: { kind: 'priorityOffset', source: MAINTENANCE_SOURCE, offset: 0 } })])
    }
  }

  // Routers a reload restarts or adds start fresh (not in maintenance, no offset): hold them in maintenance
  // too, before any of their effects runs (the runner queues effects after its observers).
  runner.onStep((_result, cause) => {
    if (cause.kind !== 'reconfigure' || !maintenance) return
    queueMicrotask(() => { void applyMaintenance(true) })
  })

  const ct = (): ConntrackHandle => {
    if (o.conntrack === null) throw new CommandError('notAvailable', CT_OFF)
    return o.conntrack
  }
  const handlers = (): EffectHandlers => ct().handlers()
  const run = async <K extends 'ctCommit' | 'ctFlush' | 'ctResyncFromKernel' | 'syncBulkSend' | 'syncRequestResync'>(
    kind: K, effect: Parameters<NonNullable<EffectHandlers[K]>>[0]
  ): Promise<void> => {
    const h = handlers()[kind] as ((e: typeof effect) => Promise<void>) | undefined
    if (h === undefined) throw new CommandError('notAvailable', `${kind} is not served by the conntrack module`)
    o.counters.inc(`command.${kind}`)
    await h(effect)
  }

  const reload = async (dryRun: boolean): Promise<ReloadResult> => {
    const file = o.configPath
    if (file === null) throw new CommandError('notAvailable', 'hafwd was not started from a configuration file: nothing to reload')
    const loaded = await (o.loadConfig ?? loadConfigInWorker)(file)
    if (!loaded.ok) {
      o.counters.inc('reload.invalid')
      log.error({ file, issues: loaded.issues }, `reload refused: ${loaded.issues.length} error(s); running configuration kept`)
      throw new CommandError('invalidConfig', `${loaded.issues.length} error(s) in ${file}; nothing applied`, loaded.issues)
    }
    const plan = diffModels(model, loaded.model)
    const r = await o.reload(loaded.model, dryRun)
    if (!r.ok) {
      o.counters.inc(dryRun ? 'reload.dryRun.refused' : 'reload.refused')
      if (!dryRun) log.error({ file, err: r.error }, 'reload refused; running configuration kept')
      throw new CommandError('failed', `reload refused, running configuration kept: ${r.error}`)
    }
    const routers = routerPlans(plan, { changes: r.changes, restartReasons: r.restartReasons ?? {} })
    const result = { file, changes: Object.entries(r.changes).map(([id, change]) => ({ id, change })), notes: notesOf(plan), routers, ...(dryRun ? { dryRun: true } : {}) }
    if (dryRun) {
      o.counters.inc('reload.dryRun')
      return result
    }
    model = loaded.model
    o.counters.inc('reload.applied')
    for (const line of planLines(routers)) log.info({ file }, `reload: ${line}`)
    return result
  }

  const commit = async (waitMs: number): Promise<CommandOutcome> => {
    const rt = ct()
    if (rt.status().commit?.running === true) throw new CommandError('failed', 'a commit is already running; try again when it is done (hafwctl show sync)')
    await run('ctCommit', { kind: 'ctCommit', budgetMs: Math.max(1, waitMs) })
    const st = rt.status()
    if (st.commit?.running === true) {
      return { message: `commit still running after ${waitMs} ms, it goes on in the background (${st.commit.ok} entries committed so far)`, data: { running: true, progress: st.commit } }
    }
    const lc = st.lastCommit
    if (lc === null) return { message: 'nothing committed', data: { running: false } }
    return {
      message: `committed ${lc.ok} of ${lc.entries} entries of the external cache in ${Math.round(lc.ms)} ms${lc.failed > 0 ? `, ${lc.failed} failed` : ''}`,
      data: { running: false, lastCommit: lc }
    }
  }

  const flush = async (caches: 'internal' | 'external' | 'both'): Promise<CommandOutcome> => {
    const before = ct().status()
    await run('ctFlush', { kind: 'ctFlush', caches })
    const n = (caches !== 'external' ? before.internal.active : 0) + (caches !== 'internal' ? before.external.active : 0)
    return { message: `flushed ${caches === 'both' ? 'the internal and external caches' : `the ${caches} cache`} (${n} entries)`, data: { caches, entries: n } }
  }

  const resync = async (): Promise<CommandOutcome> => {
    await run('ctResyncFromKernel', { kind: 'ctResyncFromKernel' })
    const n = ct().status().internal.active
    return { message: `internal cache resynced from the kernel table: ${n} entries`, data: { entries: n } }
  }

  const bulk = async (): Promise<CommandOutcome> => {
    const n = ct().status().internal.active
    await run('syncBulkSend', { kind: 'syncBulkSend' })
    return { message: `bulk update of ${n} entries queued to the peer`, data: { entries: n } }
  }

  const requestResync = async (): Promise<CommandOutcome> => {
    await run('syncRequestResync', { kind: 'syncRequestResync' })
    return { message: 'resync requested from the peer' }
  }

  const stats = (): StatsResult => {
    const st = ct().status()
    const counters = Object.fromEntries(Object.entries(o.counters.toJSON()).filter(([k]) => k.startsWith('ct.') || k.startsWith('sync.')))
    const sync = model.conntrack?.sync
    const peer = sync === undefined
      ? null
      : sync.transport === 'udp'
        ? { transport: 'udp', address: sync.peer, local: sync.address, port: sync.port, interface: sync.interface }
        : { transport: 'multicast', address: sync.group, local: sync.interfaceAddress, port: sync.port, interface: sync.interface }
    return { conntrack: { ...st, peer }, counters }
  }

  return {
    reload: async (opts) => await serial(async () => await reload(opts?.dryRun === true)),
    maintenance: async (on) => await serial(async () => {
      const changed = on !== maintenance
      maintenance = on
      // Applied even when unchanged: idempotent, and it repairs a router a reload started fresh.
      await applyMaintenance(on)
      if (changed) {
        o.counters.inc(`maintenance.${on ? 'on' : 'off'}`)
        log.warn({ maintenance: on }, on ? 'maintenance on: every router leaves service (FAULT), the peer takes over' : 'maintenance off: routers back in service')
        for (const l of listeners) l(on)
      }
      return { on, changed }
    }),
    commit,
    flush,
    resync,
    bulk,
    requestResync,
    dump: async (cache) => (await ct().dump(cache)).map(ctEntryView),
    stats,
    maintenanceView: {
      on: () => maintenance,
      onChange: (l) => { listeners.add(l) }
    },
    model: () => model
  }
}
