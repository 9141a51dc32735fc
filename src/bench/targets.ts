/**
 * The timers a correct backup must honour, computed from the RFCs, and the performance targets
 * of /work/shared/architecture.md expressed against them. All in milliseconds.
 */

export interface VrrpTiming {
  readonly version: 2 | 3
  readonly advertMs: number
  /** The backup's priority (fw2 in the lab). */
  readonly backupPriority: number
}

/** RFC 3768 §6.1: (256 − Priority) / 256 seconds. RFC 5798 §6.1: ((256 − Priority) × Master_Adver_Interval) / 256. */
export function skewTime (t: VrrpTiming): number {
  return t.version === 2 ? (256 - t.backupPriority) * 1000 / 256 : (256 - t.backupPriority) * t.advertMs / 256
}

/** RFC 3768 §6.1 / RFC 5798 §6.1: 3 × advert interval + Skew_Time. */
export function masterDownInterval (t: VrrpTiming): number {
  return 3 * t.advertMs + skewTime(t)
}

/** Unplanned: the VIP answers on the backup within Master_Down_Interval + 20 ms. */
export const unplannedTarget = (t: VrrpTiming): number => masterDownInterval(t) + 20

/** Planned (priority 0): under 50 ms beyond one advert interval. */
export const plannedTarget = (t: VrrpTiming): number => t.advertMs + 50

/**
 * Link down (issue 10): the master's inside link dies; it can only send priority 0 on the outside,
 * and the backup's sync group must go MASTER within one advert interval + Skew_Time + 100 ms of it
 * (hafwd: router.ts onGroupRelease; without it the inside member waits a Master_Down_Interval).
 */
export const linkDownTarget = (t: VrrpTiming): number => t.advertMs + skewTime(t) + 100
