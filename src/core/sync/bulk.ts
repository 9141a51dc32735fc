/**
 * Startup resync: "do not become master with an empty table" (architecture decision 5), shaped like OpenBSD
 * pfsync's bulk-request FSM (named states and events, one transition table, an invalid pair is an error, VRRP
 * demoted while pending, bounded by retries and a hard timeout).
 *
 *   none ──start──▶ requested ──resyncAcked──▶ receiving ──settled──▶ done (complete)
 *                    │  ▲ retryTimeout (RESYNC again)  │
 *                    │  └── peerRestarted ◀────────────┘
 *                    └── retryTimeout after the last retry, or giveUp ──▶ done (gaveUp)   (receiving: giveUp too)
 *                    └── alone ──▶ done (alone)
 *
 * When is the bulk complete? conntrackd's protocol has no end-of-bulk marker (specs/conntrackd-ftfw.md §3.7),
 * but FTFW's ordering gives an exact signal instead of a guess on silence:
 * 1. The peer digests our RESYNC by putting its whole internal cache on its tx queue at once (§3.4), and every
 *    ACK it sends afterwards is queued behind those objects on the same FIFO tx queue (§3.5). So an ACK that
 *    covers our RESYNC's sequence number (the FTFW step reports `resyncAcked`) arrives after the first
 *    transmission of every bulk message. Bulk messages lost on the way were detected as gaps by then (the
 *    ACK itself carries a later sequence number) and NACKed.
 * 2. A NACKed message comes back with a new sequence number, so we cannot match it; but again by FIFO order,
 *    the peer's ACK of our NACK is sent after the retransmissions that NACK caused, and anything lost among
 *    them is NACKed again. So once no NACK of ours is outstanding (`nacksOutstanding === 0`: every NACK we
 *    queued has been acknowledged), every bulk message has been received.
 * Hence: complete = our RESYNC acknowledged (state receiving) and then no NACK outstanding (event settled).
 * `nacksOutstanding` counts only NACKs sent after the acknowledged RESYNC: every NACK about the bulk is, and an
 * older one may be an orphan, lost before the peer accepted our sequence base, which it will never acknowledge.
 * The FTFW endpoint also holds a RESYNC until it has accepted a first message from the peer, so that the whole
 * bulk arrives after our receive sequence base and every loss in it is seen as a gap.
 * With a conntrackd peer this takes about one ALIVE interval after its bulk, when its idle ACK comes.
 * Limits: a peer whose resend queue overflowed (§3.5) cannot retransmit and we would not know; a peer that
 * restarts in between makes us ask again (peerRestarted); a bulk carries no deletions, so entries our previous
 * instance knew are not cleaned (the external cache starts empty after a restart, so there are none). A RESYNC
 * that is never acknowledged (no peer, or the request lost) is sent again after `requestTimeoutMs`, up to
 * `retries` times (a peer restart also asks again and counts); the whole wait is bounded by
 * `startupResyncTimeoutMs`, after which we give up and lift the demotion, as pfsync does.
 *
 * `alone`: this node became MASTER while its RESYNC was still unanswered and no sync peer was ever heard (the
 * demoted priority won because nobody else advertises). Its own kernel table is then the state: there is no
 * peer state to wait for, and keeping the demotion only hands the next node that starts the election, with
 * an empty kernel, as soon as that node's own bulk is done (measured: a pair started one node after the other
 * with 100k entries on the first made the second master for a second, and it committed them). pfsync has the
 * same effect by its short bulk timeout; we end the wait at the moment it lost its purpose.
 */
import { earliest, isDue, type Deadline, type Millis } from '../time.js'

export const BULK_STATES = ['none', 'requested', 'receiving', 'done'] as const
export type BulkState = (typeof BULK_STATES)[number]

export const BULK_EVENTS = ['start', 'resyncAcked', 'settled', 'peerRestarted', 'retryTimeout', 'giveUp', 'alone'] as const
export type BulkEvent = (typeof BULK_EVENTS)[number]

export interface BulkConfig {
  /** Priority offset while the bulk is pending (negative, e.g. −250: never win an election with an empty table). */
  readonly demotion: number
  /** Send the RESYNC again when it has not been acknowledged within this (≥ 2 ALIVE intervals: conntrackd ACKs idle). */
  readonly requestTimeoutMs: number
  /** How many times the RESYNC is sent again before giving up. */
  readonly retries: number
  /** Hard bound on the whole startup resync, from `start`. */
  readonly startupResyncTimeoutMs: number
}

export const BULK_DEFAULTS: BulkConfig = {
  demotion: -250,
  requestTimeoutMs: 3000,
  retries: 3,
  startupResyncTimeoutMs: 30000
}

export type BulkOutcome = 'complete' | 'gaveUp' | 'alone'

export interface Bulk {
  readonly config: BulkConfig
  readonly state: BulkState
  /** RESYNCs sent so far. */
  readonly requests: number
  readonly startedAt: Millis | null
  /** When the last RESYNC was asked for (the retry timer runs from there). */
  readonly requestedAt: Millis | null
  readonly outcome: BulkOutcome | null
}

/**
 * Inputs:
 * - `start`: at daemon start, before the first VRRP advert: ask the peer for its state and demote.
 * - `ftfw`: the facts of one FTFW step (`FtfwStepResult`), fed after every step (cheap when nothing changed).
 * - `timeout`: the deadline was reached.
 * - `master`: this node became MASTER; `peerHeard` whether any sync peer has been heard since start.
 */
export type BulkInput =
  | { readonly kind: 'start' }
  | { readonly kind: 'ftfw', readonly resyncAcked: boolean, readonly nacksOutstanding: number, readonly peerRestarted: boolean }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'master', readonly peerHeard: boolean }

export interface BulkTransition {
  readonly from: BulkState
  readonly to: BulkState
  readonly event: BulkEvent
  readonly at: Millis
}

export interface BulkStepResult {
  readonly bulk: Bulk
  /** Feed `{ kind: 'requestResync' }` to the FTFW endpoint. */
  readonly requestResync: boolean
  /** VRRP priority offset to apply now (source e.g. 'bulkSync'): `demotion` while pending, else 0. */
  readonly priorityOffset: number
  readonly transitions: readonly BulkTransition[]
  readonly deadline: Deadline
}

/** An event the table does not allow in a state: a caller bug, never silently ignored (pfsync panics). */
export class BulkFsmError extends Error {
  override name = 'BulkFsmError'
  constructor (readonly state: BulkState, readonly event: BulkEvent) {
    super(`bulk resync: event ${event} is invalid in state ${state}`)
  }
}

export class BulkConfigError extends RangeError {
  override name = 'BulkConfigError'
}

export function createBulk (config: BulkConfig): Bulk {
  if (!(config.demotion <= 0)) throw new BulkConfigError(`bulk: demotion must be ≤ 0, got ${config.demotion}`)
  for (const k of ['requestTimeoutMs', 'startupResyncTimeoutMs'] as const) {
    if (!(config[k] > 0)) throw new BulkConfigError(`bulk: ${k} must be > 0, got ${config[k]}`)
  }
  if (!Number.isInteger(config.retries) || config.retries < 0) throw new BulkConfigError(`bulk: retries must be an integer ≥ 0, got ${config.retries}`)
  return { config, state: 'none', requests: 0, startedAt: null, requestedAt: null, outcome: null }
}

/** What a transition does besides changing state. */
interface Effect {
  readonly to: BulkState
  readonly request?: boolean
  readonly outcome?: BulkOutcome
}

type Handler = (b: Bulk) => Effect

/** 'ignore': the event is meaningful in general but not in this state (documented per entry). */
type Entry = Handler | 'ignore'

const request = (): Effect => ({ to: 'requested', request: true })

/**
 * The transition table. A pair that is missing is invalid and throws BulkFsmError. FTFW facts (resyncAcked,
 * settled, peerRestarted) are reported after every FTFW step whatever our state, so they are ignored where they
 * mean nothing; start, retryTimeout and giveUp only come where this module asks for them.
 */
const TABLE: Readonly<Record<BulkState, Partial<Record<BulkEvent, Entry>>>> = {
  none: {
    start: request,
    resyncAcked: 'ignore', // a RESYNC the operator asked for, not ours
    settled: 'ignore',
    peerRestarted: 'ignore'
  },
  requested: {
    resyncAcked: () => ({ to: 'receiving' }),
    settled: 'ignore', // nothing is acknowledged yet, no data is meaningful
    peerRestarted: request, // our RESYNC was flushed by the peer's HELLO (§3.3 a) or reached a dead instance
    retryTimeout: b => b.requests <= b.config.retries ? request() : { to: 'done', outcome: 'gaveUp' },
    giveUp: () => ({ to: 'done', outcome: 'gaveUp' }),
    alone: () => ({ to: 'done', outcome: 'alone' })
  },
  receiving: {
    settled: () => ({ to: 'done', outcome: 'complete' }),
    resyncAcked: 'ignore', // the ACK of an earlier retry of the same request
    peerRestarted: request, // the bulk came from an instance that is gone: ask the new one
    giveUp: () => ({ to: 'done', outcome: 'gaveUp' })
  },
  done: {
    resyncAcked: 'ignore',
    settled: 'ignore',
    peerRestarted: 'ignore' // after startup, a peer restart is the runtime's business (FTFW peerRestarted)
  }
}

/** The next instant this FSM wants a timeout: the retry timer and the hard bound, while pending. */
export function bulkDeadline (b: Bulk): Deadline {
  if (b.startedAt === null) return null
  const hard = b.startedAt + b.config.startupResyncTimeoutMs
  if (b.state === 'requested') return earliest(hard, (b.requestedAt ?? b.startedAt) + b.config.requestTimeoutMs)
  if (b.state === 'receiving') return hard
  return null
}

/** The VRRP priority offset for a state. */
export function bulkPriorityOffset (b: Bulk): number {
  return b.state === 'requested' || b.state === 'receiving' ? b.config.demotion : 0
}

/** Apply one event (throws BulkFsmError on an invalid pair). */
export function bulkEvent (b: Bulk, event: BulkEvent, now: Millis): { bulk: Bulk, requestResync: boolean, transition: BulkTransition | null } {
  const entry = TABLE[b.state][event]
  if (entry === undefined) throw new BulkFsmError(b.state, event)
  if (entry === 'ignore') return { bulk: b, requestResync: false, transition: null }
  const eff = entry(b)
  const requestResync = eff.request === true
  const bulk: Bulk = {
    ...b,
    state: eff.to,
    requests: requestResync ? b.requests + 1 : b.requests,
    startedAt: b.startedAt ?? now,
    requestedAt: requestResync ? now : b.requestedAt,
    outcome: eff.outcome ?? b.outcome
  }
  return { bulk, requestResync, transition: { from: b.state, to: eff.to, event, at: now } }
}

/** Which events an input means now (FTFW facts in the order they happened: restart first, then the ACK). */
function eventsOf (b: Bulk, input: BulkInput, now: Millis): BulkEvent[] {
  switch (input.kind) {
    case 'start':
      return ['start']
    case 'ftfw': {
      const ev: BulkEvent[] = []
      // A restart in the same step makes an ACK of our RESYNC meaningless (it came from the old instance).
      if (input.peerRestarted) ev.push('peerRestarted')
      else if (input.resyncAcked) ev.push('resyncAcked')
      if (input.nacksOutstanding === 0) ev.push('settled')
      return ev
    }
    case 'master':
      // only an unanswered request with nobody ever heard: a peer that answered is worth waiting for
      return b.state === 'requested' && !input.peerHeard ? ['alone'] : []
    case 'timeout': {
      if (b.startedAt === null || (b.state !== 'requested' && b.state !== 'receiving')) return []
      if (isDue(b.startedAt + b.config.startupResyncTimeoutMs, now)) return ['giveUp']
      if (b.state === 'requested' && isDue((b.requestedAt ?? b.startedAt) + b.config.requestTimeoutMs, now)) return ['retryTimeout']
      return []
    }
  }
}

/** Advance the FSM by one input at `now`. Pure: `bulk` is not modified. */
export function stepBulk (bulk: Bulk, input: BulkInput, now: Millis): BulkStepResult {
  let b = bulk
  let requestResync = false
  const transitions: BulkTransition[] = []
  for (const event of eventsOf(b, input, now)) {
    const r = bulkEvent(b, event, now)
    b = r.bulk
    requestResync ||= r.requestResync
    if (r.transition !== null) transitions.push(r.transition)
  }
  return { bulk: b, requestResync, priorityOffset: bulkPriorityOffset(b), transitions, deadline: bulkDeadline(b) }
}
