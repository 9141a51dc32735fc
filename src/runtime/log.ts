/**
 * pino root logger. JSON lines with stable fields (component, routerId, from, to, reason, …) for
 * journald and log shippers; when stderr is a terminal, the same lines pretty-printed for a person
 * (pino-pretty). Tests pass their own destination to read the JSON back.
 */
import pino from 'pino'
import type { Logger, DestinationStream } from 'pino'

export type { Logger }

export function createLogger (level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { name: 'hafwd' }, timestamp: pino.stdTimeFunctions.isoTime }
  if (destination !== undefined) return pino(options, destination)
  if (process.stderr.isTTY) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' } }))
  }
  return pino(options, pino.destination({ dest: 2, sync: true }))
}
