/**
 * pino root logger. JSON lines with stable fields (component, routerId, from, to, reason, …);
 * tests pass their own destination to read them back.
 */
import pino from 'pino'
import type { Logger, DestinationStream } from 'pino'

export type { Logger }

export function createLogger (level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { name: 'hafwd' }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ dest: 2, sync: true }))
}
