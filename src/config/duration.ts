/**
 * Durations in the config file.
 *
 * Operators write `"100ms"`, `"1s"`, `"2.5s"`, `"1m"`, `"1h"`, or a plain number meaning seconds
 * (the keepalived habit: `advert_int 1`, `preempt_delay 4.12`). Everything is normalized to whole
 * milliseconds; anything finer than 1 ms is rejected rather than silently rounded.
 */

export type DurationResult =
  | { readonly ok: true, readonly ms: number }
  | { readonly ok: false, readonly message: string }

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

const DURATION_TEXT = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?$/

/** The hint shown whenever a duration cannot be read. */
export const DURATION_HINT = 'must be a duration such as "100ms", "1s", "2.5s", "1m" or a number of seconds'

/** Parse a duration value as found in the YAML (number of seconds or text with a unit). */
export function parseDuration (value: unknown): DurationResult {
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return { ok: false, message: DURATION_HINT }
    ms = value * 1000
  } else if (typeof value === 'string') {
    const m = DURATION_TEXT.exec(value.trim())
    if (m === null) return { ok: false, message: DURATION_HINT }
    ms = Number(m[1]) * (UNIT_MS[m[2] ?? 's'] as number)
  } else {
    return { ok: false, message: DURATION_HINT }
  }
  // Binary floating point: 0.01 * 1000 is 10.000000000000002; accept that, refuse 0.0005 s.
  const rounded = Math.round(ms)
  if (Math.abs(ms - rounded) > 1e-6) return { ok: false, message: 'must be a whole number of milliseconds' }
  if (!Number.isSafeInteger(rounded)) return { ok: false, message: 'is too large' }
  return { ok: true, ms: rounded }
}

/** Short human text for a millisecond value, the way an operator would write it: 40950 → "40.95s". */
export function formatMs (ms: number): string {
  if (ms === 0) return '0s'
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`
  if (ms >= 1000) return `${ms / 1000}s`
  return `${ms}ms`
}
