/**
 * Commit planner: the external cache → kernel requests, in batches (conntrackd `-c`,
 * `cache_ct_commit` in src/cache-ct.c, spec §4.3). Pure: it hands out requests and folds results
 * back; the runtime sends them, measures time and decides when to ask for the next batch.
 *
 * Order: a first pass creates every entry WITHOUT a master, a second pass the RELATED entries (with a
 * master tuple), so the masters exist when their expectations' children are created (the kernel
 * answers ENOENT otherwise).
 *
 * Per entry (cache_ct_commit_step):
 *   create (CT_NEW, CREATE|EXCL) with NAT, master and helper;
 *   on EEXIST, conntrackd 1.4.7 deletes the existing kernel entry (ENOENT on that delete is fine)
 *   and creates once more (`onExists: 'replace'`, the default). `onExists: 'update'` instead
 *   updates the existing entry in place (CT_NEW without CREATE; the codec leaves out NAT, master,
 *   helper and the NAT status bits, which the kernel refuses on update), which keeps the kernel's
 *   own NAT binding. Any other error, or a second failure, counts as failed for that entry.
 *
 * Budget: `batchSize` caps the entries handed out per batch. The runtime runs batches until its
 * clock says `ctCommit.budgetMs` is spent, then lets the transition plan go on (VIPs up) and keeps
 * calling nextCommitBatch in the background until commitDone. The cursor lives here.
 *
 * What is sent for each entry (conntrackd's nl_create_conntrack + cache_ct_commit_step):
 *   - timeout: CommitTimeout if configured; otherwise the last received NTA_TIMEOUT minus the whole
 *     seconds since the entry's last update; below 0 → 60 s; exactly 0 → the stored value
 *     (conntrackd leaves the attribute as it was). With no stored timeout at all conntrackd sends
 *     none and the kernel says EINVAL; we send 60 s instead;
 *   - status without EXPECTED (the codec also ORs in CONFIRMED and drops DYING, spec §5.3);
 *   - reply tuple = the exact inverse of the original, NAT as CTA_NAT_SRC/DST ranges: the kernel
 *     derives the mangled reply itself;
 *   - unless TCPWindowTracking, TCP flags BE_LIBERAL (mask BE_LIBERAL) in both directions, so the
 *     kernel does not drop the picked-up session's packets as out of window;
 *   - never the peer's conntrack id, use or counters.
 */
import type { CtRequest } from '../../codec/ctnetlink-request.js'
import type { Millis } from '../time.js'
import type { CacheEntry, CacheSource } from './cache.js'
import { IPS, L4Proto, TCP_FLAG_BE_LIBERAL, deriveNat, invertTuple, type Flow, type TcpInfo } from './flow.js'
import { P0 } from './flow-record.js'
import { newRecordAt, type RecordAt } from './flow-store.js'
import { CommitAttrsWriter } from './record-request.js'

export interface CommitOptions {
  /** Entries handed out per batch (≥ 1). */
  readonly batchSize: number
  /** conntrackd CommitTimeout in seconds; null/absent = derive from the received timeout. */
  readonly commitTimeoutS?: number | null
  /** conntrackd TCPWindowTracking; false (default) = commit TCP entries BE_LIBERAL. */
  readonly tcpWindowTracking?: boolean
  /** What to do when the kernel already has the entry (module comment). Default 'replace'. */
  readonly onExists?: 'replace' | 'update'
}

/** conntrackd's fallback timeout for an entry whose remaining time cannot be estimated (seconds). */
export const COMMIT_FALLBACK_TIMEOUT_S = 60

/** What a request does for its entry: first create, the EEXIST follow-ups, or the update variant. */
export type CommitStep = 'create' | 'deleteExisting' | 'recreate' | 'update'

export interface CommitRequest {
  /** Unique within this commit; the runtime returns it with the result. */
  readonly id: number
  /** The entry's key on the Flow path; a request written from a record has none (never decoded). */
  readonly key?: string
  readonly step: CommitStep
  /** `create` of an entry read as a Flow, or `createAttrs` written from its packed record. */
  readonly request: CtRequest
}

/**
 * The answer to one request: `error` null = the kernel's ACK; otherwise its name as the adapter
 * reports it (io/conntrack-port.ts ApplyResult): the kernel's errno name (`EEXIST`, `ENOENT`,
 * any other), the adapter's own (`ETIMEDOUT`, `ECLOSED`) or a codec code when the request could
 * not be built. Names all the way: what an operator reads in failedBy is what the kernel said.
 */
export interface CommitResult {
  readonly id: number
  readonly error: string | null
}

export interface CommitFailure {
  readonly key: string
  readonly step: CommitStep
  /** The errno name or the codec error code. */
  readonly error: string
}

export interface CommitCounters {
  /** Entries in the snapshot. */
  readonly total: number
  /** Entries that are in the kernel now (created, replaced or updated). */
  readonly ok: number
  /** Entries the kernel already had (EEXIST on the first create). */
  readonly exists: number
  /** Of those, replaced by delete + create. */
  readonly replaced: number
  /** Of those, updated in place (onExists 'update'). */
  readonly updatedInPlace: number
  /** Entries that could not be committed ... */
  readonly failed: number
  /** ... by error name (errno name / codec code). */
  readonly failedBy: Readonly<Record<string, number>>
  /** Results whose id matched no request in flight (a runtime bug or a duplicate answer). */
  readonly unmatched: number
  /** Planned entries gone from the cache before their turn (deleted by the peer, or refused by the source). */
  readonly gone: number
}

/** Keep the first failures for logs and the status API; counters carry the totals. */
export const COMMIT_FAILURES_KEPT = 100

/**
 * One step of one entry, queued or in flight. `entry` is null for a create written from the
 * entry's record (never decoded); the entry is read from `source` at `index` only if its answer
 * needs it (a follow-up step, a failure's key), and only if that place still holds the same entry:
 * `syncKey` is its key bytes (flow-store.ts storeSyncKey) when it was handed out, since a slot freed
 * by a delete is reused by the next insert.
 */
export interface PendingStep {
  readonly entry: CacheEntry | null
  readonly index: number
  readonly syncKey: string | null
  readonly step: CommitStep
}

export interface CommitState {
  readonly options: Required<Pick<CommitOptions, 'batchSize' | 'onExists' | 'tcpWindowTracking'>> & { readonly commitTimeoutS: number | null }
  /** Where the entries are read, one batch at a time (cache.ts cacheSource, or a fixed snapshot). */
  readonly source: CacheSource
  /** Indexes into `source`: masters first, then related entries. */
  readonly order: readonly number[]
  /** Next index of `order` to hand out. */
  readonly cursor: number
  /** Follow-up steps (EEXIST handling) to hand out before new entries. */
  readonly queued: readonly PendingStep[]
  /** Requests handed out and not answered yet, by request id. */
  readonly inFlight: Readonly<Record<number, PendingStep>>
  readonly nextId: number
  readonly counters: CommitCounters
  readonly failures: readonly CommitFailure[]
  readonly startedAt: Millis
  readonly batches: number
  /** Where record-path requests are written, and the scratch pointer at the record being read. */
  readonly writer: CommitAttrsWriter
  readonly at: RecordAt
}

/** A fixed list of entries as a source (tests, and any caller that already holds the entries). */
export function arraySource (entries: readonly CacheEntry[]): CacheSource {
  return {
    size: entries.length,
    entry: (i) => entries[i] ?? null,
    related: (i) => entries[i]?.flow.master !== undefined
  }
}

/**
 * Start a commit of these entries: the external cache read lazily (cache.ts cacheSource), or a
 * snapshot. Only the order is computed here; entries are decoded when their batch is handed out.
 */
export function planCommit (entries: readonly CacheEntry[] | CacheSource, now: Millis, opts: CommitOptions): CommitState {
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`planCommit: batchSize must be a positive integer, got ${opts.batchSize}`)
  const source = Array.isArray(entries) ? arraySource(entries as readonly CacheEntry[]) : entries as CacheSource
  const masters: number[] = []
  const related: number[] = []
  for (let i = 0; i < source.size; i++) (source.related(i) ? related : masters).push(i)
  return {
    source,
    options: {
      batchSize: opts.batchSize,
      onExists: opts.onExists ?? 'replace',
      tcpWindowTracking: opts.tcpWindowTracking ?? false,
      commitTimeoutS: opts.commitTimeoutS ?? null
    },
    order: masters.concat(related),
    cursor: 0,
    queued: [],
    inFlight: {},
    nextId: 1,
    counters: { total: source.size, ok: 0, exists: 0, replaced: 0, updatedInPlace: 0, failed: 0, failedBy: {}, unmatched: 0, gone: 0 },
    failures: [],
    startedAt: now,
    batches: 0,
    writer: new CommitAttrsWriter(),
    at: newRecordAt()
  }
}

/** Remaining timeout to commit with (module comment), in seconds. */
export function commitTimeout (entry: CacheEntry, now: Millis, commitTimeoutS: number | null): number {
  return remainingTimeout(entry.flow.timeout, entry.lastUpdate, now, commitTimeoutS)
}

/** commitTimeout for a packed record (`at`), read from its bytes. */
function recordCommitTimeout (at: RecordAt, now: Millis, commitTimeoutS: number | null): number {
  const { lay, dv, off } = at
  const stored = (dv.getUint32(off + lay.p0) & P0.TIMEOUT) === 0 ? undefined : dv.getUint32(off + lay.timeout)
  return remainingTimeout(stored, dv.getFloat64(off + lay.lastUpdate), now, commitTimeoutS)
}

function remainingTimeout (stored: number | undefined, lastUpdate: Millis, now: Millis, commitTimeoutS: number | null): number {
  if (commitTimeoutS !== null) return commitTimeoutS
  if (stored === undefined) return COMMIT_FALLBACK_TIMEOUT_S
  const elapsed = Math.max(0, Math.floor((now - lastUpdate) / 1000))
  const left = stored - elapsed
  if (left < 0) return COMMIT_FALLBACK_TIMEOUT_S
  return left === 0 ? stored : left
}

/** The flow to create in the kernel for a cached entry (module comment). */
export function commitFlow (entry: CacheEntry, now: Millis, opts: { commitTimeoutS: number | null, tcpWindowTracking: boolean }): Flow {
  const f = entry.flow
  const status = (f.status ?? 0) & ~IPS.EXPECTED
  const out: Flow = { family: f.family, orig: f.orig, reply: invertTuple(f.orig), status, timeout: commitTimeout(entry, now, opts.commitTimeoutS) }
  if (f.mark !== undefined) out.mark = f.mark
  if (f.zone !== undefined) out.zone = f.zone
  if (f.tcp !== undefined || (f.orig.l4proto === L4Proto.TCP && !opts.tcpWindowTracking)) {
    // field by field, not a spread: this runs for every entry of a 100k commit
    const t = f.tcp
    const tcp: TcpInfo = {}
    if (t?.state !== undefined) tcp.state = t.state
    if (t?.wscaleOrig !== undefined) tcp.wscaleOrig = t.wscaleOrig
    if (t?.wscaleReply !== undefined) tcp.wscaleReply = t.wscaleReply
    if (opts.tcpWindowTracking) {
      if (t?.flagsOrig !== undefined) tcp.flagsOrig = t.flagsOrig
      if (t?.flagsReply !== undefined) tcp.flagsReply = t.flagsReply
    } else {
      tcp.flagsOrig = { flags: TCP_FLAG_BE_LIBERAL, mask: TCP_FLAG_BE_LIBERAL }
      tcp.flagsReply = tcp.flagsOrig
    }
    out.tcp = tcp
  }
  if (f.sctp !== undefined) out.sctp = f.sctp
  if (f.dccp !== undefined) out.dccp = f.dccp
  const nat = f.nat ?? deriveNat(f.orig, f.reply, f.status ?? 0)
  if (nat !== undefined) out.nat = nat
  if (f.seqAdj !== undefined) out.seqAdj = f.seqAdj
  if (f.helper !== undefined) out.helper = f.helper
  if (f.labels !== undefined) out.labels = f.labels
  if (f.master !== undefined) out.master = f.master
  if (f.synproxy !== undefined) out.synproxy = f.synproxy
  return out
}

function requestFor (entry: CacheEntry, step: CommitStep, now: Millis, s: CommitState): CtRequest {
  switch (step) {
    case 'create':
    case 'recreate':
      return { op: 'create', flow: commitFlow(entry, now, s.options) }
    case 'update':
      return { op: 'update', flow: commitFlow(entry, now, s.options) }
    case 'deleteExisting': {
      // The tuple only: the peer's conntrack id means nothing in this kernel.
      const f = entry.flow
      return { op: 'delete', flow: f.zone === undefined ? { family: f.family, orig: f.orig } : { family: f.family, orig: f.orig, zone: f.zone } }
    }
  }
}

export interface CommitBatch {
  readonly state: CommitState
  /** Send these in order, one at a time or pipelined, and report every answer. Empty when nothing is left to hand out. */
  readonly requests: readonly CommitRequest[]
  /** Why `admit` left entries of this batch out (one reason per entry; counted in `gone` too). */
  readonly refused: readonly string[]
}

/**
 * The next batch at `now` (timeouts are computed when the request is built): queued follow-ups
 * first, then new entries, `batchSize` requests at most. `admit` may refuse an entry (its reason),
 * checked when the entry is read, so a rule that changed since the plan applies. An entry whose
 * source offers its plain record (CacheSource.record) is written from the bytes and checked by
 * `admitRecord`, which must say what `admit` says of the same entry.
 */
export function nextCommitBatch (state: CommitState, now: Millis, admit?: (entry: CacheEntry) => string | null, admitRecord?: (at: RecordAt) => string | null): CommitBatch {
  const requests: CommitRequest[] = []
  const inFlight = { ...state.inFlight }
  let nextId = state.nextId
  const queued = [...state.queued]
  let cursor = state.cursor
  const take = (p: PendingStep, request: CtRequest): void => {
    const id = nextId++
    requests.push(p.entry === null ? { id, step: p.step, request } : { id, key: p.entry.key, step: p.step, request })
    inFlight[id] = p
  }
  while (requests.length < state.options.batchSize && queued.length > 0) {
    const p = queued.shift() as PendingStep
    take(p, requestFor(p.entry as CacheEntry, p.step, now, state))
  }
  let gone = 0
  const refused: string[] = []
  const { source, at, writer, options } = state
  // the byte path only when every rule that applies to an entry can be checked on its bytes
  const record = admit === undefined || admitRecord !== undefined ? source.record : undefined
  while (requests.length < options.batchSize && cursor < state.order.length) {
    const index = state.order[cursor++] as number
    if (record !== undefined && record(index, at)) {
      const why = admitRecord === undefined ? null : admitRecord(at)
      if (why !== null) {
        gone++
        refused.push(why)
        continue
      }
      const attrs = writer.write(at.lay, at.u8, at.dv, at.off, recordCommitTimeout(at, now, options.commitTimeoutS), options)
      const syncKey = source.syncKey?.(index) ?? null
      take({ entry: null, index, syncKey, step: 'create' }, { op: 'createAttrs', family: at.lay.family, attrs })
      continue
    }
    const entry = source.entry(index)
    const why = entry === null || admit === undefined ? null : admit(entry)
    if (entry === null || why !== null) {
      gone++
      if (why !== null) refused.push(why)
    } else {
      const p: PendingStep = { entry, index, syncKey: null, step: 'create' }
      take(p, requestFor(entry, 'create', now, state))
    }
  }
  const batches = requests.length > 0 ? state.batches + 1 : state.batches
  const counters = gone === 0 ? state.counters : { ...state.counters, gone: state.counters.gone + gone }
  return { state: { ...state, queued, cursor, inFlight, nextId, batches, counters }, requests, refused }
}

/** The key a failure is reported with when its entry left the cache before the answer came. */
export const GONE_KEY = '(gone from the cache)'

type MutableCounters = { -readonly [K in keyof CommitCounters]: CommitCounters[K] }

/** Fold the kernel's answers back into the commit (EEXIST handling in the module comment). */
export function applyCommitResults (state: CommitState, results: readonly CommitResult[]): CommitState {
  // answered ids are left out of the copy below (deleting 2000 keys one by one from a copy was a
  // sixth of a 100k commit's own CPU); a second answer for one id counts as unmatched
  const answered = new Set<number>()
  const queued = [...state.queued]
  const c: MutableCounters = { ...state.counters, failedBy: { ...state.counters.failedBy } }
  const failedBy = c.failedBy as Record<string, number>
  const failures = [...state.failures]
  const fail = (key: string, step: CommitStep, error: string): void => {
    c.failed++
    failedBy[error] = (failedBy[error] ?? 0) + 1
    if (failures.length < COMMIT_FAILURES_KEPT) failures.push({ key, step, error })
  }
  // a record-path create was never decoded: read its entry now, only when the answer needs it and
  // only if its place still holds it (else it is gone, as a deleted entry is)
  const entryOf = (p: PendingStep): CacheEntry | null => {
    if (p.entry !== null) return p.entry
    const { source } = state
    return source.syncKey !== undefined && source.syncKey(p.index) === p.syncKey ? source.entry(p.index) : null
  }
  const keyOf = (p: PendingStep): string => entryOf(p)?.key ?? GONE_KEY
  const follow = (p: PendingStep, step: CommitStep): void => {
    const entry = entryOf(p)
    if (entry === null) c.gone++
    else queued.push({ entry, index: p.index, syncKey: null, step })
  }
  for (const r of results) {
    const req = answered.has(r.id) ? undefined : state.inFlight[r.id]
    if (req === undefined) { c.unmatched++; continue }
    answered.add(r.id)
    const { error } = r
    switch (req.step) {
      case 'create':
        if (error === null) c.ok++
        else if (error === 'EEXIST') {
          c.exists++
          follow(req, state.options.onExists === 'update' ? 'update' : 'deleteExisting')
        } else fail(keyOf(req), req.step, error)
        break
      case 'deleteExisting':
        // conntrackd: a delete that finds nothing (ENOENT) is as good as a delete.
        if (error === null || error === 'ENOENT') follow(req, 'recreate')
        else fail(keyOf(req), req.step, error)
        break
      case 'recreate':
        if (error === null) { c.ok++; c.replaced++ } else fail(keyOf(req), req.step, error)
        break
      case 'update':
        if (error === null) { c.ok++; c.updatedInPlace++ } else fail(keyOf(req), req.step, error)
        break
    }
  }
  const inFlight: Record<number, PendingStep> = {}
  for (const k in state.inFlight) {
    const id = Number(k)
    if (!answered.has(id)) inFlight[id] = state.inFlight[id] as PendingStep
  }
  return { ...state, inFlight, queued, counters: c, failures }
}

/** Every entry handed out and answered, nothing queued. */
export function commitDone (state: CommitState): boolean {
  return state.cursor >= state.order.length && state.queued.length === 0 && Object.keys(state.inFlight).length === 0
}

export interface CommitProgress extends CommitCounters {
  /** Entries not handed out yet (continue in the background once the budget is spent). */
  readonly remaining: number
  readonly inFlight: number
  readonly queued: number
  readonly batches: number
  readonly done: boolean
}

export function commitProgress (state: CommitState): CommitProgress {
  return {
    ...state.counters,
    remaining: state.order.length - state.cursor,
    inFlight: Object.keys(state.inFlight).length,
    queued: state.queued.length,
    batches: state.batches,
    done: commitDone(state)
  }
}
