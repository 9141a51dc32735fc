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
 */
import { readFile } from 'node:fs/promises'
import { execa } from 'execa'
import type { Model } from '../config/normalize.js'
import { INITIAL_CHECK, recordCheck } from '../core/track/check.js'
import type { CheckState } from '../core/track/check.js'
import { fileVerdict } from '../core/track/file.js'
import type { NodeInput } from '../core/node.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

export const FILE_POLL_MS = 1000

export interface Trackers { stop: () => void }

export function startTrackers (model: Model, dispatch: (input: NodeInput) => void, log: Logger, counters: Counters): Trackers {
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  const later = (ms: number, f: () => void): void => {
    if (stopped) return
    const h = setTimeout(() => { timers.delete(h); f() }, ms)
    timers.add(h)
  }

  // One runner per distinct script name (several instances may track the same check).
  const scripts = new Map(model.routers.flatMap(r => r.track.scripts).map(s => [s.name, s]))
  for (const s of scripts.values()) {
    let state: CheckState = INITIAL_CHECK
    const runOnce = async (): Promise<void> => {
      const r = await execa(s.command[0] as string, s.command.slice(1), { reject: false, timeout: s.timeoutMs, stdin: 'ignore' })
      const success = r.exitCode === 0 && r.timedOut !== true
      counters.inc(`track.script.${s.name}.${success ? 'ok' : r.timedOut === true ? 'timeout' : 'failed'}`)
      const next = recordCheck(state, s, success)
      state = next.state
      // The first verdict is always sent: after a reload the router may hold an older one.
      if (next.changed || state.runs === 1) {
        log.info({ script: s.name, ok: state.ok }, `tracked script ${s.name} is now ${state.ok ? 'OK' : 'KO'}`)
        dispatch({ kind: 'track', name: `script:${s.name}`, up: state.ok })
      }
    }
    const loop = (): void => { void runOnce().finally(() => { later(s.intervalMs, loop) }) }
    loop()
  }

  const files = new Map<string, Array<{ routerId: string, weight: number }>>()
  for (const r of model.routers) {
    for (const f of r.track.files) files.set(f.path, [...(files.get(f.path) ?? []), { routerId: r.id, weight: f.weight }])
  }
  for (const [path, users] of files) {
    let last: string | null | undefined
    const poll = async (): Promise<void> => {
      const text = await readFile(path, 'utf8').catch(() => null)
      if (text === last) return
      last = text
      for (const u of users) {
        const v = fileVerdict(text, u.weight)
        if (v.kind === 'fault') dispatch({ kind: 'track', name: `file:${path}`, up: !v.down })
        else dispatch({ kind: 'router', routerId: u.routerId, input: { kind: 'priorityOffset', source: `file:${path}`, offset: v.offset } })
      }
      log.info({ file: path, value: text?.trim() ?? null }, `tracked file ${path} changed`)
    }
    const loop = (): void => { void poll().finally(() => { later(FILE_POLL_MS, loop) }) }
    loop()
  }

  return { stop: () => { stopped = true; for (const h of timers) clearTimeout(h); timers.clear() } }
}
