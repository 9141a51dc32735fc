/**
 * pino root logger. JSON lines with stable fields (component, routerId, from, to, reason, …) for
 * journald and log shippers; when stderr is a terminal, the same lines pretty-printed for a person
 * (pino-pretty). Tests pass their own destination to read the JSON back.
 *
 * Under systemd, stderr is a stream to journald, which reads a leading `<N>` on each line as the
 * line's syslog priority (sd-daemon(3), SyslogLevelPrefix= on by default) and strips it: without it
 * every line is stored at the unit's default priority and `journalctl -p warning` shows nothing.
 * So when stderr is that journal stream (JOURNAL_STREAM names its device:inode, systemd.exec(5)),
 * each JSON line gets the prefix of its pino level; anywhere else the lines stay plain JSON.
 */
import { fstatSync } from 'node:fs'
import pino from 'pino'
import type { Logger, DestinationStream } from 'pino'

export type { Logger }

/** pino level → syslog priority (RFC 5424 §6.2.1): fatal crit, error err, warn warning, info, debug. */
export function syslogPriority (level: number): number {
  if (level >= 60) return 2
  if (level >= 50) return 3
  if (level >= 40) return 4
  if (level >= 30) return 6
  return 7
}

/** `{"level":40,…}` → `<4>{"level":40,…}`; a line without a leading level is left as it is. */
export function withPriorityPrefix (line: string): string {
  const m = /^\{"level":([0-9]+)/.exec(line)
  return m === null ? line : `<${syslogPriority(Number(m[1]))}>${line}`
}

/**
 * True when fd 2 is the journal stream systemd connected: JOURNAL_STREAM is "DEV:INODE" of that
 * stream, and it is compared with fd 2 because a child may inherit the variable with another stderr.
 */
export function stderrIsJournal (env: NodeJS.ProcessEnv = process.env): boolean {
  const js = env.JOURNAL_STREAM
  if (js === undefined) return false
  const m = /^([0-9]+):([0-9]+)$/.exec(js)
  if (m === null) return false
  try {
    const st = fstatSync(2, { bigint: true })
    return st.dev === BigInt(m[1] as string) && st.ino === BigInt(m[2] as string)
  } catch {
    return false
  }
}

export interface LoggerOptions {
  /** Prefix lines with the syslog priority; default: when stderr is the journal stream. */
  readonly journal?: boolean
}

export function createLogger (level: string, destination?: DestinationStream, opts: LoggerOptions = {}): Logger {
  const journal = opts.journal ?? (destination === undefined && !process.stderr.isTTY && stderrIsJournal())
  const options = {
    level,
    base: { name: 'hafwd' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(journal ? { hooks: { streamWrite: withPriorityPrefix } } : {})
  }
  if (destination !== undefined) return pino(options, destination)
  if (process.stderr.isTTY) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } }))
  }
  return pino(options, pino.destination({ dest: 2, sync: true }))
}
