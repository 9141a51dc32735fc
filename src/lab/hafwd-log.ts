/**
 * Reading hafwd's JSON log from a lab run, for what the daemon does not expose elsewhere yet:
 * the ingress drops (logged at debug level as `advert dropped` with the counter's `reason`).
 */
import { existsSync, readFileSync } from 'node:fs'

export interface LoggedDrop {
  readonly reason: string
  readonly src: string
  readonly ifname: string
  readonly detail: string
}

/** Every `advert dropped` line of a hafwd log (run with log level debug), in order. */
export function advertDrops (logFile: string): LoggedDrop[] {
  if (!existsSync(logFile)) return []
  const out: LoggedDrop[] = []
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{') || !line.includes('"advert dropped"')) continue
    const r = JSON.parse(line) as Record<string, unknown>
    if (r.msg !== 'advert dropped') continue
    out.push({ reason: String(r.reason), src: String(r.src), ifname: String(r.ifname), detail: String(r.detail) })
  }
  return out
}

/** Drops counted per reason, optionally only those from one of `sources`. */
export function dropCounts (drops: readonly LoggedDrop[], sources?: readonly string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const d of drops) {
    if (sources !== undefined && !sources.includes(d.src)) continue
    m.set(d.reason, (m.get(d.reason) ?? 0) + 1)
  }
  return m
}

/** One step of a takeover as the new master's log tells it; times in ms after `sinceEpochMs`. */
export interface TimelineStep {
  readonly what: string
  readonly atMs: number
}

/**
 * The ordered transition of a node that became master after `sinceEpochMs` (wall clock, ms): its
 * role change, the conntrack commit (entries, duration), the VIPs added, the first GARP/NA sent.
 * Effects are logged when done with their duration, so each starts at `time − ms`.
 */
export function takeoverTimeline (logFile: string, sinceEpochMs: number): TimelineStep[] {
  if (!existsSync(logFile)) return []
  const steps: TimelineStep[] = []
  const seen = new Set<string>()
  const add = (key: string, what: string, atMs: number): void => {
    if (seen.has(key)) return
    seen.add(key)
    steps.push({ what, atMs: Math.round(atMs) })
  }
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue
    const r = JSON.parse(line) as Record<string, unknown>
    const end = Date.parse(String(r.time)) - sinceEpochMs
    if (!(end >= 0)) continue
    const took = typeof r.ms === 'number' ? r.ms : 0
    const effect = (r.effect as { kind?: string } | undefined)?.kind
    if (r.event === 'role' && r.to === 'master') add('role', 'role master', end)
    else if (r.msg === 'external cache committed') add('commit', `commit ${String(r.ok)}/${String(r.entries)} entries in ${took.toFixed(0)} ms`, end - took)
    else if (effect === 'vipAdd') add('vip', 'first VIP added', end - took)
    else if (effect === 'garp' || effect === 'unsolicitedNa') add('announce', 'first GARP/NA sent', end - took)
  }
  return steps.sort((a, b) => a.atMs - b.atMs)
}
