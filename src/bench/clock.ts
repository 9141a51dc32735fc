/**
 * One time base for the failover benchmark: wall-clock milliseconds with microsecond resolution.
 *
 * tcpdump stamps packets with the kernel's receive time (CLOCK_REALTIME, µs); the kill instant is
 * taken here. `Date.now()` is realtime but only to the millisecond, `performance.now()` is fine
 * but monotonic, so the offset between them is calibrated: Date.now() = floor(perf + offset), so
 * max(Date.now() − perf) over a few millisecond boundaries approaches the offset from below.
 */
let offset = Date.now() - performance.now()

/** Re-measure the realtime/monotonic offset (busy for ~3 ms). Call before each measured instant. */
export function calibrate (): void {
  let best = -Infinity
  const end = performance.now() + 3
  while (performance.now() < end) {
    const d = Date.now() - performance.now()
    if (d > best) best = d
  }
  offset = best
}

/** Realtime in ms, comparable with tcpdump's `-tt` stamps ×1000. */
export function realNow (): number {
  return offset + performance.now()
}

export const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
