/**
 * The only clock of the daemon: monotonic milliseconds (never jumps with NTP or the date). The
 * core gets these values as `now`; nothing else in src/ reads time (architecture decision 1).
 */
import { performance } from 'node:perf_hooks'

export type Clock = () => number

export const monotonicClock: Clock = () => performance.now()
