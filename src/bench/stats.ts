/** Summaries and the fixed-width table the failover benchmark prints. */

export interface Summary { n: number, median: number, min: number, max: number }

export function summarize (xs: readonly number[]): Summary | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  const median = s.length % 2 === 1 ? s[mid] as number : ((s[mid - 1] as number) + (s[mid] as number)) / 2
  return { n: s.length, median, min: s[0] as number, max: s[s.length - 1] as number }
}

export const fmt = (v: number | null | undefined, digits = 0): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits)

export const signed = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`

/** Left-align the first `textCols` columns, right-align the rest. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>, textCols = 2): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (r: readonly string[]): string => r.map((c, i) => i < textCols ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
