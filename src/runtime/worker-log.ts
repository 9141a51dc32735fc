/**
 * The conntrack worker's log: records are posted to the main thread, which writes them with its
 * own pino logger (the `component: conntrack` child), so the worker thread never loads pino.
 *
 * Why not pino in the worker: each isolate compiles its own copy of a package. pino and its
 * dependencies cost the worker ~1.1 MiB of anonymous memory (measured: a worker that requires
 * pino against an empty one), about a tenth of the margin the idle daemon had against its 70 MiB
 * target (issue 9). The worker logs rarely (a refused NEW-group rejoin, a failed send, the
 * warm-up, a failed step), so one structured clone per record costs nothing that matters, and
 * records below the level are dropped here, before the clone. A record reaches the journal a few
 * milliseconds later than a direct write would, with the main thread's timestamp. A message that
 * repeats fast is limited per window (portLogger), so no flood reaches the VRRP thread.
 *
 * `LogSink` is the slice of a logger the worker's code uses; pino's Logger fits it, so the
 * service's tests can pass a real or silent pino logger.
 */
import type { Clock } from './clock.js'
import type { Port } from './conntrack-protocol.js'

export type LogCall = {
  (fields: object, msg?: string): void
  (msg: string): void
}

export interface LogSink {
  debug: LogCall
  info: LogCall
  warn: LogCall
  error: LogCall
  child: (bindings: Record<string, unknown>) => LogSink
}

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error'

/** One record on its way to the main thread's logger. */
export interface WorkerLogRecord {
  readonly type: 'log'
  readonly level: WorkerLogLevel
  readonly msg: string
  readonly fields?: Readonly<Record<string, unknown>>
}

/** pino's level numbers (its docs: trace 10 … fatal 60; `silent` logs nothing). */
const RANK: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/** The numeric threshold of a pino level name; an unknown name logs at info, as the daemon's default. */
export function levelRank (level: string): number {
  return RANK[level] ?? 30
}

/**
 * Field values that survive a structured clone: functions and symbols (which cannot be cloned and
 * would make postMessage throw) become their text. An Error crosses as an Error (the clone keeps
 * its message and stack), so pino's err serializer writes it as it would in the worker.
 */
function cloneable (fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'function' || typeof v === 'symbol') out[k] = String(v)
    else out[k] = v
  }
  return out
}

/** How many records of one message pass per window; the rest are counted and summed up once. */
export interface LogLimit {
  /** Monotonic milliseconds (runtime/clock.ts in the worker, a fake in tests). */
  readonly clock: Clock
  /** Records of one message text per window [20]. */
  readonly burst?: number
  /** [10 000 ms] */
  readonly windowMs?: number
}

interface Window { start: number, sent: number, dropped: number }

/**
 * A LogSink that posts every record at or above `level` on `port`, at most `burst` records of one
 * message text per window. A message that repeats per datagram or per entry (a sync send failing
 * while the peer's link is down) would otherwise put a record per datagram on the VRRP thread's
 * loop; its counter (e.g. sync.tx.error) still counts every one. The first record of that message
 * after its window carries `suppressed`: how many were dropped in between.
 */
export function portLogger (port: Pick<Port<unknown, WorkerLogRecord>, 'postMessage'>, level: string, limit: LogLimit, bindings: Readonly<Record<string, unknown>> = {}, windows = new Map<string, Window>()): LogSink {
  const threshold = levelRank(level)
  const burst = limit.burst ?? 20
  const windowMs = limit.windowMs ?? 10_000
  /** Whether a record of `msg` goes now, and how many before it were dropped. */
  const admit = (msg: string): { go: boolean, suppressed: number } => {
    const now = limit.clock()
    let w = windows.get(msg)
    let suppressed = 0
    if (w === undefined || now - w.start >= windowMs) {
      suppressed = w?.dropped ?? 0
      w = { start: now, sent: 0, dropped: 0 }
      windows.set(msg, w)
    }
    if (w.sent >= burst) { w.dropped++; return { go: false, suppressed: 0 } }
    w.sent++
    return { go: true, suppressed }
  }
  const call = (lvl: WorkerLogLevel): LogCall => {
    if (levelRank(lvl) < threshold) return () => {}
    return ((a: object | string, msg?: string) => {
      const own = typeof a === 'string' ? null : a as Record<string, unknown>
      const text = typeof a === 'string' ? a : (msg ?? '')
      const { go, suppressed } = admit(text)
      if (!go) return
      const base = own === null ? bindings : { ...bindings, ...own }
      const merged = suppressed === 0 ? base : { ...base, suppressed }
      const fields = Object.keys(merged).length === 0 ? undefined : cloneable(merged)
      try {
        port.postMessage(fields === undefined ? { type: 'log', level: lvl, msg: text } : { type: 'log', level: lvl, msg: text, fields })
      } catch {
        // a field the clone refuses (a class instance with a private slot…): the text still goes
        port.postMessage({ type: 'log', level: lvl, msg: text, fields: { unloggableFields: Object.keys(merged) } })
      }
    }) as LogCall
  }
  return {
    debug: call('debug'),
    info: call('info'),
    warn: call('warn'),
    error: call('error'),
    // a child shares the windows: the limit is per message text, whoever logs it
    child: (more) => portLogger(port, level, limit, { ...bindings, ...more }, windows)
  }
}
