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
