/**
 * Hands the memory malloc holds freed back to the kernel, now and then: glibc's malloc_trim(0)
 * through the nfct addon (io/nfct.ts).
 *
 * Why: glibc keeps what the process freed in its arena for reuse, counted in RSS until trimmed.
 * The daemon frees a lot after bursts of work it then does not repeat: startup (config, modules,
 * compilation), the startup dump and bulk, a commit, a resync. Measured on the lab pair at idle,
 * conntrack on: the malloc heap 12.8–14.0 MiB without trimming, 9.2 MiB with, the daemon's RSS
 * 86–88 MiB → 82 MiB at 30 s after start. One call costs 0.1–0.3 ms at idle; the first one after
 * ~100 MB were freed (a cache flushed) took 7 ms, the next ones under 1 ms (a synthetic heap).
 *
 * When: once shortly after start (startup's garbage), then on a fixed period, so what a commit or
 * a resync freed goes back within one period. The call runs on the VRRP thread and takes the
 * malloc arena lock that the conntrack thread also uses (MALLOC_ARENA_MAX=1, main/node-flags.ts)
 * for that long: at most a few ms, against advert intervals of 100 ms and more.
 *
 * The period is 10 s, not 30 s: much of startup's garbage (the warm-up's buffers) is freed only
 * when V8's memory reducer collects, some seconds after the first trim. With 30 s the malloc heap
 * of an idle lab node stayed at ~9 MiB until the trim at 40 s took it to 6.4 MiB; with 10 s it was
 * at 7.1–7.6 MiB from 10 s on (/proc/PID/smaps, [heap]). Six calls a minute cost ~1–2 ms.
 */
export interface MemoryTrimOptions {
  /** malloc_trim(0); whether memory went back. Throws only if the addon is broken. */
  readonly trim: () => boolean
  /** Counted: `memory.trim.released` (memory went back), `memory.trim.failed`. */
  readonly count: (name: string) => void
  /** Delay before the first trim. Default 10 s. */
  readonly firstAfterMs?: number
  /** Period after that. Default 10 s. */
  readonly everyMs?: number
  /** For tests: the timer (default setTimeout, unref'd so it never keeps the process alive). */
  readonly schedule?: (fn: () => void, ms: number) => { cancel: () => void }
}

export const MEMORY_TRIM_FIRST_MS = 10_000
export const MEMORY_TRIM_EVERY_MS = 10_000

const realSchedule = (fn: () => void, ms: number): { cancel: () => void } => {
  const t = setTimeout(fn, ms)
  t.unref()
  return { cancel: () => { clearTimeout(t) } }
}

/** Start trimming; returns the function that stops it. */
export function startMemoryTrim (o: MemoryTrimOptions): () => void {
  const schedule = o.schedule ?? realSchedule
  let next: { cancel: () => void } | null = null
  let stopped = false
  const run = (): void => {
    if (stopped) return
    try {
      if (o.trim()) o.count('memory.trim.released')
    } catch {
      o.count('memory.trim.failed')
    }
    if (!stopped) next = schedule(run, o.everyMs ?? MEMORY_TRIM_EVERY_MS)
  }
  next = schedule(run, o.firstAfterMs ?? MEMORY_TRIM_FIRST_MS)
  return () => {
    stopped = true
    next?.cancel()
    next = null
  }
}
