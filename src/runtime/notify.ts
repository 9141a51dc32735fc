/**
 * Notify hooks (keepalived notify_master / notify_backup / notify_fault / notify_stop / notify).
 *
 * When: a hook of a transition starts only once the effects of that transition's step have run
 * (runtime/executor.ts: for MASTER the conntrack commit, the VIPs, the first GARP/NA round
 * started), so a script that adds routes or starts a service sees the box already master. The
 * whole point of hafwd is that the conntrack steps are NOT in a hook (architecture decision 2).
 *
 * How: argv without a shell, spawned asynchronously (VRRP never waits for a hook), killed after
 * the hook's timeout. Hooks of one owner (an instance or a sync group) run one after another in
 * transition order, never two at once, as keepalived's scripts of one instance do; different
 * owners run independently. Per transition: the state's own hook first, then `any` (keepalived
 * runs notify_* before notify).
 *
 * keepalived's generic notify convention: `any` gets "INSTANCE" NAME STATE PRIORITY (instance) or
 * "GROUP" NAME STATE 0 (group, as keepalived) appended, STATE one of MASTER, BACKUP, FAULT, STOP. Every hook also
 * gets the details as HAFW_* environment variables.
 *
 * Outcome counted (notify.ok, notify.failed, notify.timeout) and logged: info on success, warn on
 * failure or timeout, with the owner, hook, exit code and duration.
 *
 * `hookJobs` (what to run for a transition) is pure; `HookQueue` (ordering) takes the spawner and
 * the clock as parameters, so both are tested without processes or real time.
 */
import { runProgram } from '../io/run-program.js'
import type { Model, NotifyModel } from '../config/normalize.js'
import type { NodeStepResult } from '../core/node.js'
import type { Clock } from './clock.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

export type HookName = 'master' | 'backup' | 'fault' | 'stop' | 'any'
export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP'

/** A transition as the hooks see it (a router's, with its instance, or a sync group's). */
export type NotifyEvent =
  | { readonly kind: 'INSTANCE', readonly name: string, readonly router: string, readonly family: string, readonly from: string, readonly to: string, readonly reason: string, readonly priority: number }
  | { readonly kind: 'GROUP', readonly name: string, readonly from: string, readonly to: string, readonly reason: string }

/** One program to run. */
export interface HookJob {
  /** The queue it waits in: `INSTANCE NAME` or `GROUP NAME`. */
  readonly owner: string
  readonly hook: HookName
  readonly argv: readonly string[]
  readonly env: Readonly<Record<string, string>>
  readonly timeoutMs: number
}

export interface HookOutcome {
  /** null: killed by a signal, or never started. */
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  /** Why it could not start or run (ENOENT, EACCES, ...), when it did not exit by itself. */
  readonly error?: string
  /** The end of what it wrote on stderr, for the log. */
  readonly stderr?: string
}

export type Spawner = (job: HookJob) => Promise<HookOutcome>

/** The four router / group states → keepalived's words; leaving to `initialize` is a stop. */
export function notifyState (to: string): NotifyState {
  switch (to) {
    case 'master': return 'MASTER'
    case 'backup': return 'BACKUP'
    case 'fault': return 'FAULT'
    default: return 'STOP'
  }
}

const HOOK_OF: Readonly<Record<NotifyState, HookName>> = { MASTER: 'master', BACKUP: 'backup', FAULT: 'fault', STOP: 'stop' }

/** What to run for one transition, in order (pure). Empty when the owner has no hook for it. */
export function hookJobs (e: NotifyEvent, hooks: NotifyModel | null): HookJob[] {
  if (hooks === null) return []
  const state = notifyState(e.to)
  // Leaving `initialize` for `initialize` (a router removed before it started) is no transition to report.
  if (state === 'STOP' && notifyState(e.from) === 'STOP') return []
  const owner = `${e.kind} ${e.name}`
  const env: Record<string, string> = {
    HAFW_TYPE: e.kind,
    HAFW_NAME: e.name,
    HAFW_STATE: state,
    HAFW_FROM: notifyState(e.from),
    HAFW_REASON: e.reason
  }
  if (e.kind === 'INSTANCE') {
    env.HAFW_ROUTER = e.router
    env.HAFW_FAMILY = e.family
    env.HAFW_PRIORITY = String(e.priority)
  }
  const jobs: HookJob[] = []
  const own = hooks[HOOK_OF[state]]
  if (own !== null) jobs.push({ owner, hook: HOOK_OF[state], argv: own, env, timeoutMs: hooks.timeoutMs })
  if (hooks.any !== null) {
    // keepalived notify (vrrp_notify.c notify_script_exec): $1 GROUP|INSTANCE, $2 name, $3 state,
    // $4 the priority (keepalived passes 0 for a group).
    const tail = [e.kind, e.name, state, e.kind === 'INSTANCE' ? String(e.priority) : '0']
    jobs.push({ owner, hook: 'any', argv: [...hooks.any, ...tail], env, timeoutMs: hooks.timeoutMs })
  }
  return jobs
}

export type HookResult = 'ok' | 'failed' | 'timeout'

export function resultOf (o: HookOutcome): HookResult {
  if (o.timedOut) return 'timeout'
  return o.exitCode === 0 && o.error === undefined ? 'ok' : 'failed'
}

/**
 * One queue per owner: a job starts when the previous job of its owner has finished AND its
 * `ready` promise (the step's effects) has settled. Jobs are chained in the order they are
 * queued, which is transition order, whatever order their `ready` promises settle in.
 */
export class HookQueue {
  private readonly tails = new Map<string, Promise<void>>()
  private readonly running = new Set<Promise<void>>()

  constructor (
    private readonly spawn: Spawner,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly counters: Counters
  ) {}

  /** Queue a job; the returned promise settles when it has run (never rejects). */
  enqueue (job: HookJob, ready: Promise<unknown> = Promise.resolve()): Promise<void> {
    const previous = this.tails.get(job.owner) ?? Promise.resolve()
    const done = previous
      .then(async () => { await ready })
      .catch(() => undefined) // a failed step still gets its hooks: the transition happened
      .then(async () => { await this.runOne(job) })
    this.tails.set(job.owner, done)
    this.running.add(done)
    void done.finally(() => {
      this.running.delete(done)
      if (this.tails.get(job.owner) === done) this.tails.delete(job.owner)
    })
    return done
  }

  /** Owners with a job queued or running. */
  get busyOwners (): string[] { return [...this.tails.keys()] }

  /** Resolves when every job queued so far has run (each is bounded by its timeout). */
  async drain (): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running])
  }

  private async runOne (job: HookJob): Promise<void> {
    const started = this.clock()
    let outcome: HookOutcome
    try {
      outcome = await this.spawn(job)
    } catch (err) {
      outcome = { exitCode: null, signal: null, timedOut: false, error: err instanceof Error ? err.message : String(err) }
    }
    const ms = Math.round((this.clock() - started) * 1000) / 1000
    const result = resultOf(outcome)
    this.counters.inc(`notify.${result}`)
    const fields = {
      owner: job.owner,
      hook: job.hook,
      argv: job.argv,
      state: job.env.HAFW_STATE,
      exitCode: outcome.exitCode,
      ms,
      ...(outcome.signal !== null ? { signal: outcome.signal } : {}),
      ...(outcome.error !== undefined ? { err: outcome.error } : {}),
      ...(result !== 'ok' && outcome.stderr !== undefined && outcome.stderr !== '' ? { stderr: outcome.stderr } : {})
    }
    if (result === 'ok') this.log.info(fields, `notify hook ${job.hook} of ${job.owner} done`)
    else if (result === 'timeout') this.log.warn(fields, `notify hook ${job.hook} of ${job.owner} killed after its ${job.timeoutMs} ms timeout`)
    else this.log.warn(fields, `notify hook ${job.hook} of ${job.owner} failed`)
  }
}

/** Grace between SIGTERM and SIGKILL for a hook over its timeout. */
export const KILL_GRACE_MS = 2000
/** Bytes of a failing hook's stderr kept for the log. */
const STDERR_TAIL = 512

/**
 * The real spawner (io/run-program.ts): no shell, stdin closed, stdout discarded, only the tail
 * of stderr kept (a chatty hook is neither killed nor buffered whole for it).
 */
export const processSpawner: Spawner = async (job) => {
  const r = await runProgram(job.argv[0] as string, job.argv.slice(1), {
    timeoutMs: job.timeoutMs,
    killSignal: 'SIGTERM',
    forceKillAfterMs: KILL_GRACE_MS,
    env: job.env,
    stderr: 'capture',
    maxCaptureChars: STDERR_TAIL
  })
  return {
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: r.timedOut,
    ...(r.startError !== undefined ? { error: `${job.argv[0] as string} cannot be run: ${r.startError.code}` } : {}),
    stderr: r.stderr.trim()
  }
}

/** Who owns the hooks: the instances' (by router id) and the sync groups', from the model. */
interface HookTable {
  readonly routers: ReadonlyMap<string, { readonly instance: string, readonly family: string, readonly notify: NotifyModel | null }>
  readonly groups: ReadonlyMap<string, NotifyModel | null>
}

function tableOf (model: Pick<Model, 'routers' | 'syncGroups'>): HookTable {
  return {
    routers: new Map(model.routers.map(r => [r.id, { instance: r.instance, family: r.family, notify: r.notify }])),
    groups: new Map(model.syncGroups.map(g => [g.name, g.notify]))
  }
}

/**
 * The daemon's notifier: turns the transitions of each node step into queued hook jobs, each
 * waiting for that step's effects. `configure` swaps the hook table (a reload): transitions
 * already seen keep the hooks they were queued with.
 */
export class Notifier {
  private table: HookTable

  constructor (model: Pick<Model, 'routers' | 'syncGroups'>, private readonly queue: HookQueue) {
    this.table = tableOf(model)
  }

  configure (model: Pick<Model, 'routers' | 'syncGroups'>): void {
    this.table = tableOf(model)
  }

  /** Queue the hooks of one step's transitions; `effectsDone` settles when the step's effects have run. */
  step (r: Pick<NodeStepResult, 'transitions' | 'groupTransitions'>, effectsDone: Promise<unknown>): void {
    for (const t of r.transitions) {
      const owner = this.table.routers.get(t.routerId)
      if (owner === undefined || owner.notify === null) continue
      const e: NotifyEvent = { kind: 'INSTANCE', name: owner.instance, router: t.routerId, family: owner.family, from: t.from, to: t.to, reason: t.reason, priority: t.priority }
      for (const job of hookJobs(e, owner.notify)) void this.queue.enqueue(job, effectsDone)
    }
    for (const g of r.groupTransitions) {
      const hooks = this.table.groups.get(g.group) ?? null
      for (const job of hookJobs({ kind: 'GROUP', name: g.group, from: g.from, to: g.to, reason: g.reason }, hooks)) void this.queue.enqueue(job, effectsDone)
    }
  }

  async drain (): Promise<void> { await this.queue.drain() }
}
