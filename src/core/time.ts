/**
 * Time in the pure core.
 *
 * The core never reads a clock (architecture decision 1, the str0m "sans-IO" model): every step
 * receives `now` as an argument and returns the next instant it wants to be woken at. Only
 * `src/runtime/` reads the monotonic clock and arms a single timer at the earliest deadline.
 */

/** Monotonic milliseconds since an arbitrary origin chosen by the runtime (or a test). */
export type Millis = number

/** The next instant a component wants to be stepped at, or null when it has nothing scheduled. */
export type Deadline = Millis | null

/** The earliest of several deadlines; null only when none is set. */
export function earliest (...deadlines: readonly Deadline[]): Deadline {
  let best: Deadline = null
  for (const d of deadlines) {
    if (d !== null && (best === null || d < best)) best = d
  }
  return best
}

/** True when `deadline` is set and has been reached at `now`. */
export function isDue (deadline: Deadline, now: Millis): boolean {
  return deadline !== null && deadline <= now
}
