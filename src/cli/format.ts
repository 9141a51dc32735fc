/** Small text helpers for hafwctl output: durations, intervals, aligned tables. */

/** A duration for a person: 850ms, 4.2s, 42s, 3m12s, 2h03m, 4d02h. Negative values read as 0. */
export function formatDuration (ms: number): string {
  const v = Math.max(0, ms)
  if (v < 1000) return `${Math.round(v)}ms`
  const s = v / 1000
  if (s < 10) return `${(Math.floor(s * 10) / 10).toFixed(1)}s`
  if (s < 60) return `${Math.floor(s)}s`
  const pad = (n: number): string => String(n).padStart(2, '0')
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${pad(Math.floor(s % 60))}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h${pad(m % 60)}m`
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`
}

/** An advertisement interval in centiseconds (RFC 5798 §5.2.7): 1s, 100ms, 1.5s. */
/** A measured duration in ms: one decimal below 10 ms, whole ms above. */
export function formatMs (ms: number): string {
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`
}

export function formatIntervalCs (cs: number): string {
  return cs % 100 === 0 ? `${cs / 100}s` : cs > 100 ? `${cs / 100}s` : `${cs * 10}ms`
}

/** Left-aligned columns separated by two spaces; no trailing spaces. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const all = [header, ...rows]
  const widths = header.map((_, i) => Math.max(...all.map(r => (r[i] ?? '').length)))
  return all.map(r => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i] as number)).join('  ').trimEnd())
}
