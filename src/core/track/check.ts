/**
 * Rise/fall hysteresis of a tracked check (keepalived vrrp_script `rise` / `fall`): a check turns
 * KO after `fall` consecutive failures and OK again after `rise` consecutive successes, so one
 * slow or flaky run does not move a VIP. Pure; the runtime feeds it each run's result.
 */
export interface CheckState {
  /** Current verdict. Starts OK: a node must not be held in FAULT before its first check ran. */
  readonly ok: boolean
  /** Consecutive results contradicting the verdict so far. */
  readonly streak: number
  readonly runs: number
  readonly failures: number
}

export interface CheckConfig {
  readonly rise: number
  readonly fall: number
}

export const INITIAL_CHECK: CheckState = { ok: true, streak: 0, runs: 0, failures: 0 }

export function recordCheck (s: CheckState, c: CheckConfig, success: boolean): { state: CheckState, changed: boolean } {
  const runs = s.runs + 1
  const failures = s.failures + (success ? 0 : 1)
  if (success === s.ok) return { state: { ok: s.ok, streak: 0, runs, failures }, changed: false }
  const streak = s.streak + 1
  const needed = s.ok ? c.fall : c.rise
  if (streak >= needed) return { state: { ok: !s.ok, streak: 0, runs, failures }, changed: true }
  return { state: { ok: s.ok, streak, runs, failures }, changed: false }
}
