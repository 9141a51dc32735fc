/**
 * The commit of the external cache into the kernel (conntrackd -c, spec §4.3), as engine steps.
 *
 * commit.ts plans the requests and folds the answers back; this module drives it: one batch out
 * at a time (an `apply` effect), the next one when its answers come back, until commitDone. The
 * ctCommit command is answered when the commit is done OR when its time budget is spent,
 * whichever comes first: the VIPs must not wait forever for a huge table (architecture decision
 * 2), and the rest of the commit keeps going, counted (`ct.commit.overBudget`).
 *
 * NEW events off during a takeover commit (`listenNew`): every entry the commit creates makes the
 * kernel build a NEW event for each member of the NEW group, ours included, only for our own-port
 * filter to drop it: 40 % of a 100k-entry commit (io/ctnetlink-events.ts, native/nfct/nfct.c). The
 * takeover leaves the group from the first batch until its command is answered (done, budget spent
 * or failed), then joins again, before the VIPs go up. Nothing is lost: the NEW events of real
 * traffic in that window belong to the internal cache, and the MASTER plan flushes it and dumps the
 * kernel into it right after the announce (orchestrator.ts masterTail), after the group is joined
 * again. UPDATE and DESTROY stay on throughout. An operator's commit (no role change, no resync
 * after it) keeps the group. A dump that refills the internal cache (the plan's resync, an overrun
 * resync) joins the group first if it is still left: the main thread answers the ctCommit on its
 * own clock (runtime/conntrack-client.ts), so the plan's resync can reach this thread before the
 * commit's own budget deadline here, and a dump taken out of the group would miss what is created
 * after it walked past.
 */
import type { Deadline, Millis } from '../time.js'
import { cacheSize, cacheSource } from './cache.js'
import { applyCommitResults, commitDone, commitProgress, nextCommitBatch, planCommit } from './commit.js'
import type { CommitResult } from './commit.js'
import type { EngineOut } from './engine-out.js'
import { cancelPurge } from './engine-purge.js'
import { peerEntryRefusal, peerRecordRefusal } from './engine-peer.js'
import type { CommitRun, EngineState, KernelAnswer, KernelRequest } from './engine-types.js'

/** A ctCommit command: plan the commit and hand out its first batch. */
export function startCommit (s: EngineState, id: number, budgetMs: number, takeover: boolean, now: Millis, out: EngineOut): void {
  if (s.commit?.running === true) {
    out.count('ct.commit.skippedRunning')
    out.complete(id)
    return
  }
  // conntrackd: -c cancels a pending -t flush (this node forwards those sessions again).
  cancelPurge(s, out)
  // Read lazily, a batch per step (cache.ts cacheSource says why).
  s.commit = {
    plan: planCommit(cacheSource(s.external), now, { batchSize: s.config.commitBatch }),
    batch: null,
    startedAt: now,
    budgetMs,
    waiting: id,
    running: true,
    // an empty external cache creates nothing: no reason to leave
    newEventsOff: takeover && cacheSize(s.external) > 0
  }
  if (s.commit.newEventsOff) out.push({ kind: 'listenNew', on: false })
  nextBatch(s, now, out)
}

/** The answers to the batch in flight; one per request, a missing one is a failure, never an ACK. */
export function commitApplied (s: EngineState, answers: readonly KernelAnswer[], now: Millis, out: EngineOut): void {
  const c = s.commit
  if (c === null || c.batch === null) return
  const results: CommitResult[] = c.batch.map((r, i) => {
    const a = answers[i]
    return { id: r.id, error: a === undefined ? 'ENOANSWER' : a.ok ? null : a.errno }
  })
  c.batch = null
  c.plan = applyCommitResults(c.plan, results)
  nextBatch(s, now, out)
}

/** The port could not apply a batch at all: the commit stops there, its command fails if still waiting. */
export function commitApplyFailed (s: EngineState, error: string, out: EngineOut): void {
  const c = s.commit
  if (c === null || !c.running) return
  c.batch = null
  c.running = false
  out.log('error', 'commit failed', { err: error, progress: commitProgress(c.plan) })
  answer(c, out, error)
}

/** Before a dump that refills the internal cache: NEW events back on, if a takeover commit left them (module comment). */
export function joinNewBeforeDump (s: EngineState, out: EngineOut): void {
  if (s.commit !== null) joinNew(s.commit, out)
}

function joinNew (c: CommitRun, out: EngineOut): void {
  if (!c.newEventsOff) return
  c.newEventsOff = false
  out.push({ kind: 'listenNew', on: true })
}

/** Answer the waiting ctCommit, NEW events back on first (module comment). */
function answer (c: CommitRun, out: EngineOut, error?: string): void {
  joinNew(c, out)
  if (c.waiting !== null) out.complete(c.waiting, error)
  c.waiting = null
}

/** When the waiting ctCommit must be answered whatever the progress. */
export function commitDeadline (s: EngineState): Deadline {
  const c = s.commit
  return c === null || c.waiting === null ? null : c.startedAt + c.budgetMs
}

/** The budget is spent: answer the command (VIPs go up), keep committing. */
export function commitBudgetDue (s: EngineState, now: Millis, out: EngineOut): void {
  const c = s.commit
  if (c === null || c.waiting === null || now < c.startedAt + c.budgetMs) return
  out.count('ct.commit.overBudget')
  out.log('warn', 'commit budget spent: VIPs go up, the rest of the commit continues in the background', { budgetMs: c.budgetMs, progress: commitProgress(c.plan) })
  answer(c, out)
}

function nextBatch (s: EngineState, now: Millis, out: EngineOut): void {
  const c = s.commit as NonNullable<EngineState['commit']>
  if (!commitDone(c.plan)) {
    // Issue 12: what may not reach the kernel is left out here too, when its batch is built
    // (engine-peer.ts says why twice).
    const b = nextCommitBatch(c.plan, now, (e) => peerEntryRefusal(s, e.flow), (at) => peerRecordRefusal(s, at.lay, at.u8, at.off))
    for (const why of b.refused) out.count(`ct.commit.refused.${why}`)
    c.plan = b.state
    if (b.requests.length > 0) {
      c.batch = b.requests
      out.push({ kind: 'apply', purpose: { kind: 'commit' }, requests: b.requests.map(r => r.request as KernelRequest) })
      return
    }
  }
  finish(s, now, out)
}

function finish (s: EngineState, now: Millis, out: EngineOut): void {
  const c = s.commit as NonNullable<EngineState['commit']>
  c.running = false
  const p = commitProgress(c.plan)
  const ms = now - c.startedAt
  s.lastCommit = { entries: p.total, ok: p.ok, failed: p.failed, ms, withinBudget: ms <= c.budgetMs }
  out.count('ct.commit.done')
  out.count('ct.commit.entries', p.ok)
  if (p.failed > 0) out.count('ct.commit.failed', p.failed)
  out.log('info', 'external cache committed', { entries: p.total, ok: p.ok, failed: p.failed, failedBy: p.failedBy, ms: Math.round(ms * 10) / 10 })
  answer(c, out)
}
