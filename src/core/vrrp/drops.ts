/**
 * Severity of each router drop reason, for the runtime's log level (architecture decision 7:
 * every reason is a named counter; this table only says how loud to be about it).
 *
 * - debug: normal protocol operation (a Master discarding a lower-priority advert during a
 *   split-brain heal, our own advert looped back by the multicast socket).
 * - info:  operator-visible but harmless (startup while running, unknown track name).
 * - warn:  something on the LAN or the local config is wrong (RFC 3768 §7.1 interval mismatch).
 * - error: an internal bug (a timer fired in a state that cannot arm it).
 */
import type { RouterDropReason } from './types.js'

export type DropSeverity = 'debug' | 'info' | 'warn' | 'error'

export const DROP_SEVERITY: Readonly<Record<RouterDropReason, DropSeverity>> = {
  notRunning: 'debug',
  inFault: 'debug',
  badSourceAddress: 'warn',
  ownAdvert: 'debug',
  intervalMismatch: 'warn',
  lowerPriorityAsMaster: 'debug',
  lowerPriorityPreempting: 'debug',
  alreadyRunning: 'info',
  notStarted: 'info',
  noTimerDue: 'debug',
  unknownTrack: 'info',
  badPrimaryAddress: 'warn',
  badGroupDecision: 'error',
  bugTimerInWrongState: 'error'
}

export const ROUTER_DROP_REASONS = Object.keys(DROP_SEVERITY) as RouterDropReason[]
