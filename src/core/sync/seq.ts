/**
 * 32-bit serial-number arithmetic for FTFW sequence numbers (specs/conntrackd-ftfw.md §3.1).
 *
 * conntrackd keeps one u32 counter that wraps at 2^32 and compares with `before(a, b)` ⇔ (int32)(a − b) < 0
 * (include/network.h). These helpers do the same on JS numbers, always returning u32 values.
 */

/** A sequence number: an unsigned 32-bit integer. */
export type Seq = number

const MOD = 2 ** 32

/** Normalize any integer to u32 (mod 2^32). */
export function seq (n: number): Seq {
  return ((n % MOD) + MOD) % MOD
}

/** a + 1 mod 2^32 (conntrackd post-increments its counter for every message sent). */
export function seqNext (a: Seq): Seq {
  return (a + 1) >>> 0
}

/** a + n mod 2^32 (n may be negative). */
export function seqAdd (a: Seq, n: number): Seq {
  return seq(a + n)
}

/** Signed difference a − b as int32: negative when a is before b. */
export function seqDiff (a: Seq, b: Seq): number {
  return (a - b) | 0
}

/** `before(a, b)`: (int32)(a − b) < 0. */
export function seqBefore (a: Seq, b: Seq): boolean {
  return seqDiff(a, b) < 0
}

/** `after(a, b)` = before(b, a). */
export function seqAfter (a: Seq, b: Seq): boolean {
  return seqDiff(b, a) < 0
}

/** `between(s, from, to)`: from ≤ s ≤ to on the circle, i.e. (to − from) ≥ (s − from) as u32. */
export function seqBetween (s: Seq, from: Seq, to: Seq): boolean {
  return ((to - from) >>> 0) >= ((s - from) >>> 0)
}

/** Forward distance from `from` to `to` (u32): how many increments take `from` to `to`. */
export function seqDistance (from: Seq, to: Seq): number {
  return (to - from) >>> 0
}
