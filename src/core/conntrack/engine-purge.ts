/**
 * conntrackd -t as engine steps: ctShortenTimers arms the purge at now + PurgeTimeout; when it is
 * due, the kernel table is dumped, the entries this node replicates (those the filter accepts; the
 * ignored ones, e.g. its own sessions, stay) are deleted and the internal cache is flushed. A later
 * commit or flush cancels a pending purge (this node forwards those sessions again).
 */
import type { Deadline, Millis } from '../time.js'
import { flushCache } from './cache.js'
import type { EngineOut } from './engine-out.js'
import type { EngineState, KernelAnswer, KernelRequest } from './engine-types.js'
import { filterFlow } from './filter.js'
import type { Flow } from './flow.js'

/** ctShortenTimers: arm the purge, unless one is already pending (the first one stands). */
export function schedulePurge (s: EngineState, purgeTimeoutS: number, now: Millis): void {
  if (s.purge !== null) return
  s.purge = { at: now + purgeTimeoutS * 1000 }
}

export function cancelPurge (s: EngineState, out: EngineOut): void {
  if (s.purge === null) return
  s.purge = null
  out.count('ct.purge.cancelled')
}

export function purgeDeadline (s: EngineState): Deadline {
  return s.purge?.at ?? null
}

/** PurgeTimeout reached: dump the kernel table (no longer cancellable from here on). */
export function purgeDue (s: EngineState, now: Millis, out: EngineOut): void {
  if (s.purge === null || now < s.purge.at) return
  s.purge = null
  out.push({ kind: 'dump', purpose: { kind: 'purge' } })
}

/** The dump is in: delete what we replicate. */
export function purgeDumped (s: EngineState, flows: readonly Flow[], out: EngineOut): void {
  const doomed = flows.filter(f => filterFlow(s.filter, f).accept)
  const requests: KernelRequest[] = doomed.map(flow => ({ op: 'delete', flow }))
  out.push({ kind: 'apply', purpose: { kind: 'purge', dumped: flows.length, doomed: doomed.length }, requests })
}

/** The deletes are answered: flush the internal cache, count what went. */
export function purgeApplied (s: EngineState, dumped: number, doomed: number, answers: readonly KernelAnswer[], out: EngineOut): void {
  const ok = answers.filter(r => r.ok).length
  s.internal = flushCache(s.internal)
  out.count('ct.purge.deleted', ok)
  out.log('info', 'kernel table purged after PurgeTimeout (this node no longer forwards)', { deleted: ok, kept: dumped - doomed })
}

export function purgeFailed (error: string, out: EngineOut): void {
  out.log('error', 'kernel purge failed', { err: error })
}
