/**
 * Tracked scripts and files (keepalived vrrp_script / track_file) feeding the VRRP node.
 *
 * - Script: run without a shell every `interval`, killed after `timeout`; exit 0 = success. The
 *   rise/fall verdict (core/track/check.ts) becomes a `track` input `script:NAME` for every router
 *   tracking it (weights and FAULT are the core's).
 * - File: read every second (and at start). With weight 0 the verdict is a `track` input
 *   `file:PATH` (FAULT while non-zero); otherwise a `priorityOffset` keyed `file:PATH` on each
 *   router tracking it (value × weight), as keepalived does.
 * Each tracker arms its own timer: they are independent periodic jobs, not protocol timers.
 *
 * Reload (`update`): a checker whose definition did not change keeps running with its verdict
 * (restarting it would forget a KO and report OK until `fall` failures again); its known verdict
 * is sent again, for routers that track it from now on. A new or changed checker starts; a
 * removed one stops, and a weighted file no longer tracked by a router has its offset cleared.
 */
import { readFile } from 'node:fs/promises'
import { runProgram } from '../io/run-program.js'
import type { Model, TrackScriptModel } from '../config/normalize.js'
import { INITIAL_CHECK, recordCheck } from '../core/track/check.js'
import type { CheckState } from '../core/track/check.js'
import { fileVerdict } from '../core/track/file.js'
import type { NodeInput } from '../core/node.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

export const FILE_POLL_MS = 1000

export interface Trackers {
  stop: () => void
  /** Apply a reloaded model: keep unchanged checkers, start new ones, stop removed ones. */
  update: (model: Model) => void
}

interface Job {
  /** What defines the job; a different key on reload restarts it. */
  readonly key: string
  stop: () => void
  /** Send the current verdict again (reload); no-op before the first one. */
  resend: () => void
}

type FileUser = { readonly routerId: string, readonly weight: number }

/** A script checker's definition (the weight is the routers' business, not the checker's). */
function scriptKey (s: TrackScriptModel): string {
  return JSON.stringify([s.command, s.intervalMs, s.timeoutMs, s.rise, s.fall])
}

export function startTrackers (model: Model, dispatch: (input: NodeInput) => void, log: Logger, counters: Counters): Trackers {
  const scripts = new Map<string, Job>()
  const files = new Map<string, Job & { readonly users: readonly FileUser[] }>()

  /** A periodic job with its own timer. */
  const periodic = (ms: () => number, body: () => Promise<void>): { stop: () => void } => {
    let stopped = false
    let h: NodeJS.Timeout | null = null
    const loop = (): void => {
      if (stopped) return
      void body().finally(() => { if (!stopped) h = setTimeout(loop, ms()) })
    }
    loop()
    return { stop: () => { stopped = true; if (h !== null) clearTimeout(h) } }
  }

  const scriptJob = (s: TrackScriptModel): Job => {
    let state: CheckState = INITIAL_CHECK
    let stopped = false
    const send = (): void => { if (!stopped) dispatch({ kind: 'track', name: `script:${s.name}`, up: state.ok }) }
    const p = periodic(() => s.intervalMs, async () => {
      const r = await runProgram(s.command[0] as string, s.command.slice(1), { timeoutMs: s.timeoutMs })
      if (stopped) return
      const success = r.exitCode === 0 && !r.timedOut
      counters.inc(`track.script.${s.name}.${success ? 'ok' : r.timedOut ? 'timeout' : 'failed'}`)
      const next = recordCheck(state, s, success)
      state = next.state
      // The first verdict is always sent: a router may hold an older one.
      if (next.changed || state.runs === 1) {
        log.info({ script: s.name, ok: state.ok }, `tracked script ${s.name} is now ${state.ok ? 'OK' : 'KO'}`)
        send()
      }
    })
    return {
      key: scriptKey(s),
      stop: () => { stopped = true; p.stop() },
      resend: () => { if (state.runs > 0) send() }
    }
  }

  const fileJob = (path: string, users: readonly FileUser[]): Job & { readonly users: readonly FileUser[] } => {
    let last: string | null | undefined
    let stopped = false
    const send = (text: string | null): void => {
      for (const u of users) {
        const v = fileVerdict(text, u.weight)
        if (v.kind === 'fault') dispatch({ kind: 'track', name: `file:${path}`, up: !v.down })
        else dispatch({ kind: 'router', routerId: u.routerId, input: { kind: 'priorityOffset', source: `file:${path}`, offset: v.offset } })
      }
    }
    const p = periodic(() => FILE_POLL_MS, async () => {
      const text = await readFile(path, 'utf8').catch(() => null)
      if (stopped || text === last) return
      last = text
      send(text)
      log.info({ file: path, value: text?.trim() ?? null }, `tracked file ${path} changed`)
    })
    return {
      key: JSON.stringify(users),
      users,
      stop: () => { stopped = true; p.stop() },
      resend: () => { if (last !== undefined) send(last) }
    }
  }

  const apply = (m: Model): void => {
    // Scripts: one checker per distinct name (several instances may track the same check).
    const wanted = new Map(m.routers.flatMap(r => r.track.scripts).map(s => [s.name, s]))
    for (const [name, job] of scripts) {
      if (!wanted.has(name)) { job.stop(); scripts.delete(name) }
    }
    for (const [name, s] of wanted) {
      const job = scripts.get(name)
      if (job !== undefined && job.key === scriptKey(s)) { job.resend(); continue }
      job?.stop()
      scripts.set(name, scriptJob(s))
    }

    const users = new Map<string, FileUser[]>()
    for (const r of m.routers) {
      for (const f of r.track.files) users.set(f.path, [...(users.get(f.path) ?? []), { routerId: r.id, weight: f.weight }])
    }
    for (const [path, job] of files) {
      const now = users.get(path) ?? []
      if (JSON.stringify(now) === job.key) continue
      job.stop()
      files.delete(path)
      // A router that had a weighted offset from this file and no longer does: clear it.
      for (const u of job.users) {
        if (u.weight !== 0 && !now.some(n => n.routerId === u.routerId && n.weight !== 0)) {
          dispatch({ kind: 'router', routerId: u.routerId, input: { kind: 'priorityOffset', source: `file:${path}`, offset: 0 } })
        }
      }
    }
    for (const [path, u] of users) {
      if (!files.has(path)) files.set(path, fileJob(path, u))
      else files.get(path)?.resend()
    }
  }

  apply(model)
  return {
    stop: () => {
      for (const j of scripts.values()) j.stop()
      for (const j of files.values()) j.stop()
      scripts.clear()
      files.clear()
    },
    update: apply
  }
}
