/**
 * VRRP timer arithmetic (RFC 5798 §6.1, RFC 3768 §6.1), in exact integer milliseconds.
 *
 * Units. Intervals are configured and carried on the wire in centiseconds (v3) or seconds (v2,
 * which the runtime turns into centiseconds × 100, see AdvertInput). Deadlines are milliseconds:
 * 1 cs = 10 ms exactly, so intervals convert without rounding.
 *
 * Rounding of Skew_Time. The RFC formulas have a fractional result:
 *   v3: Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256   centiseconds
 *   v2: Skew_Time = (256 − Priority) / 256                             seconds
 * keepalived 2.2 keeps its timers in microseconds and truncates there (v3:
 * ((256 − prio) × interval_cs × 625) / 16 µs; v2: (256 − prio) × 1 000 000 / 256 µs), i.e. it does
 * NOT round to whole centiseconds. We compute the exact value in milliseconds and truncate:
 *   skewMs = floor((256 − Priority) × interval_cs × 10 / 256)   (v3)
 *   skewMs = floor((256 − Priority) × 1000 / 256)              (v2)
 * which equals keepalived's value truncated to the millisecond (at most 1 ms earlier). Example,
 * priority 100: v3 at 100 cs → 609 ms (keepalived 609.375 ms); v3 at 10 cs → 60 ms (60.937 ms);
 * v2 → 609 ms. All operands are small integers, so the arithmetic is exact in a double.
 */
import type { Millis } from '../time.js'

/** Centiseconds → milliseconds (exact). */
export function csToMs (cs: number): Millis {
  return cs * 10
}

/**
 * RFC 5798 §6.1 Skew_Time (v3) / RFC 3768 §6.1 Skew_Time (v2), in ms, truncated (see above).
 * `masterAdverIntervalCs` is only used by v3; v2's skew does not depend on the interval.
 */
export function skewTime (version: 2 | 3, priority: number, masterAdverIntervalCs: number): Millis {
  const weight = 256 - priority
  if (version === 2) return Math.floor((weight * 1000) / 256)
  return Math.floor((weight * masterAdverIntervalCs * 10) / 256)
}

/**
 * RFC 5798 §6.1 Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time (v3);
 * RFC 3768 §6.1 Master_Down_Interval = 3 × Advertisement_Interval + Skew_Time (v2), in ms.
 * For v2 pass the configured Advertisement_Interval (adverts with another interval are discarded,
 * RFC 3768 §7.1, so the master's always equals ours).
 */
export function masterDownInterval (version: 2 | 3, priority: number, masterAdverIntervalCs: number): Millis {
  return 3 * csToMs(masterAdverIntervalCs) + skewTime(version, priority, masterAdverIntervalCs)
}
