/**
 * The conntrack engine: the whole conntrack module of one node as one pure step (architecture
 * decision 1), `stepEngine(state, input, now) → { state, effects, deadline }`.
 *
 *   kernel event ──→ internal cache (filter.ts, cache.ts) ──→ FTFW (sync/ftfw.ts) ──→ send
 *   datagram ──→ FTFW ──→ external cache (or the kernel: DisableExternalCache) ──→ commit
 *
 * It owns the conntrack effects of the transition plans (core/orchestrator.ts), given as `command`
 * inputs and answered by `complete{id}`:
 *
 *   ctCommit           commit the external cache (./engine-commit.ts), answered when done or at
 *                      its budget deadline, whichever is first; the rest continues
 *   ctFlush            flush the internal and/or external cache (cancels a pending purge)
 *   ctResyncFromKernel dump the kernel table into the internal cache (nothing sent, spec §4.4)
 *   syncBulkSend       the whole internal cache to the peer
 *   syncRequestResync  RESYNC: ask the peer for its whole state (spec §3.7)
 *   ctShortenTimers    conntrackd -t (./engine-purge.ts)
 *
 * and the start-up policy of architecture decision 5: while the bulk resync from the peer is
 * pending, every VRRP router advertises a demoted priority (`demote` effect), bounded in time
 * (core/sync/bulk.ts).
 *
 * No I/O and no clock: the kernel table is read by a `dump` effect answered by `dumped`, written by
 * an `apply` effect answered by `applied`. The state is mutated in place (the caches and FTFW
 * queues are large): same inputs, same outputs.
 */
import { earliest } from '../time.js'
import type { Deadline, Millis } from '../time.js'
import { BULK_DEFAULTS, bulkDeadline, createBulk, stepBulk } from '../sync/bulk.js'
import type { BulkInput } from '../sync/bulk.js'
import { createFtfw, ftfwDeadline, ftfwSnapshot, stepFtfw } from '../sync/ftfw.js'
import type { FtfwInput, FtfwLocalChange } from '../sync/ftfw.js'
import { flowFromAttrs, flowToAttrs } from './attrs-map.js'
import { applyKernelEvent, applyKernelRecords, applyPeerRecord, applyPeerUpdate, beginResync, cacheStats, createCache, endResync, flushCache, resyncChunk, resyncRecords } from './cache.js'
import { batchFlows, LAYOUT_V4, type KernelEventBatch, type RecordBatch } from './record-batch.js'
import { PeerRecordPacker } from './peer-record.js'
import { readCtAttrs } from '../../codec/conntrackd-ct.js'
import { BodyWriter } from './record-attrs.js'
import { flowSyncKey, newRecordAt, storeFlow, storeMeta, storeRecordAt, storeRefs, storeSyncKey, type Ref } from './flow-store.js'
import type { CtEvent } from '../sync/types.js'
import type { CacheChange, ResyncOptions } from './cache.js'
import { commitProgress } from './commit.js'
import { commitApplied, commitApplyFailed, commitBudgetDue, commitDeadline, joinNewBeforeDump, startCommit } from './engine-commit.js'
import { EngineOut } from './engine-out.js'
import { cancelPurge, purgeApplied, purgeDeadline, purgeDue, purgeDumped, purgeFailed, schedulePurge } from './engine-purge.js'
import type { ConntrackCommand, ConntrackStatus, DumpPurpose, DumpRun, EngineConfig, EngineInput, EngineState, EngineStepResult } from './engine-types.js'
import { admitDatagram, livenessDeadline, livenessDue, peerEntryRefusal, peerLostMs, peerRecordRefusal } from './engine-peer.js'
import { addressList, compileFilter, withLocalAddresses } from './filter.js'
import { compileSourcePolicy } from '../sync/source.js'
import { EMPTY_REPLAY_WINDOW } from '../sync/replay.js'
import type { FilterCidr } from './filter.js'
import type { Flow } from './flow.js'

export * from './engine-types.js'

/** A fresh engine; `local` are the node's own addresses at start (the filter ignores them). */
export function createEngine (config: EngineConfig, local: readonly FilterCidr[], now: Millis): EngineState {
  return {
    config,
    internal: createCache('internal'),
    external: createCache('external'),
    filter: compileFilter(config.filter, [...local, ...config.alwaysIgnore]),
    ftfw: createFtfw(config.ftfw, config.initialSeq >>> 0, now),
    // With no startup resync the FSM stays 'none' forever; it still needs a valid config.
    bulk: createBulk(config.bulk ?? BULK_DEFAULTS),
    demotion: 0,
    commit: null,
    lastCommit: null,
    purge: null,
    overrunPending: false,
    overrunAgain: false,
    overrunFirst: false,
    dumpRun: null,
    source: config.syncSource == null ? null : compileSourcePolicy(config.syncSource),
    replay: EMPTY_REPLAY_WINDOW,
    own: addressList(config.ownAddresses ?? [], local),
    commitRanges: config.commitRanges == null ? null : addressList(config.commitRanges),
    peer: { state: 'unknown', heardAt: null },
    bodies: new BodyWriter(),
    recordAt: newRecordAt(),
    peerPacker: new PeerRecordPacker()
  }
}

/** The instant the engine wants a `timeout`: the earliest of FTFW, bulk, commit budget, purge and peer liveness. */
export function engineDeadline (s: EngineState): Deadline {
  return earliest(ftfwDeadline(s.ftfw), bulkDeadline(s.bulk), commitDeadline(s), purgeDeadline(s), livenessDeadline(s))
}

/** Advance the engine by one input at `now` (mutates and returns `state`). */
export function stepEngine (state: EngineState, input: EngineInput, now: Millis): EngineStepResult {
  const out = new EngineOut()
  const s = state
  switch (input.kind) {
    case 'start':
      out.push({ kind: 'dump', purpose: { kind: 'start', id: input.id } })
      break
    case 'kernelEvent':
      if (s.overrunPending && s.overrunFirst) s.overrunAgain = true
      kernelEvent(s, input.event, input.flow, now, out)
      break
    case 'kernelRecords':
      if (s.overrunPending && s.overrunFirst) s.overrunAgain = true
      kernelRecords(s, input.batch, now, out)
      break
    case 'overrun':
      out.count('ct.overrun')
      out.log('warn', 'kernel conntrack events were lost: resync from a dump', { count: input.count, reason: input.reason })
      // conntrackd NetlinkOverrunResync: a dump + purge. conntrackd's dump is synchronous; ours runs
      // while events keep coming, so an overrun during the dump may have lost events of entries the
      // kernel created after the dump walked their bucket: one more dump after it (never more than
      // one queued, however many overruns arrive meanwhile).
      if (!s.overrunPending) {
        s.overrunPending = true
        s.overrunFirst = true
        joinNewBeforeDump(s, out)
        out.push({ kind: 'dump', purpose: { kind: 'overrun', requestedAt: now } })
      } else {
        s.overrunAgain = true
      }
      break
    case 'datagram':
      // Issue 12: source (and MAC, replay) first; a refused datagram is not even parsed.
      if (admitDatagram(s, input.from, input.auth, now, out)) ftfwInput(s, { kind: 'datagram', buf: input.buf }, now, out)
      break
    case 'timeout':
      timeout(s, now, out)
      break
    case 'dumpPart':
      dumpPart(s, input.purpose, input.batch, now, out)
      break
    case 'dumped':
      dumped(s, input.purpose, input.flows, now, out)
      break
    case 'dumpFailed':
      if (s.dumpRun !== null && samePurpose(s.dumpRun.purpose, input.purpose)) s.dumpRun = null
      dumpFailed(s, input.purpose, input.error, now, out)
      break
    case 'applied':
      switch (input.purpose.kind) {
        case 'commit': commitApplied(s, input.results, now, out); break
        case 'purge': purgeApplied(s, input.purpose.dumped, input.purpose.doomed, input.results, out); break
        case 'inject': {
          const r = input.results[0]
          out.count(r?.ok === true ? 'ct.inject.ok' : `ct.inject.failed.${r?.ok === false ? r.errno : 'unknown'}`)
          break
        }
      }
      break
    case 'applyFailed':
      switch (input.purpose.kind) {
        case 'commit': commitApplyFailed(s, input.error, out); break
        case 'purge': purgeFailed(input.error, out); break
        case 'inject': out.count('ct.inject.failed.unknown'); break
      }
      break
    case 'command':
      command(s, input.id, input.effect, now, out)
      break
    case 'localAddresses':
      s.filter = withLocalAddresses(s.filter, [...input.cidrs, ...s.config.alwaysIgnore])
      s.own = withLocalAddresses(s.own, input.cidrs)
      break
  }
  return { state: s, effects: out.effects, deadline: engineDeadline(s) }
}

/** What the status API shows (runtime/conntrack.ts status()). */
export function engineStatus (s: EngineState): ConntrackStatus {
  return {
    internal: cacheStats(s.internal),
    external: cacheStats(s.external),
    sync: ftfwSnapshot(s.ftfw),
    bulk: s.bulk.state,
    commit: s.commit === null ? null : { ...commitProgress(s.commit.plan), running: s.commit.running },
    lastCommit: s.lastCommit,
    purgePending: s.purge !== null,
    liveness: { state: s.peer.state, heardAt: s.peer.heardAt, lostAfterMs: peerLostMs(s) }
  }
}

// --- commands ------------------------------------------------------------------------------------

function command (s: EngineState, id: number, e: ConntrackCommand, now: Millis, out: EngineOut): void {
  switch (e.kind) {
    case 'ctCommit':
      // The MASTER plan's commit (orchestrator.ts) with every unit of the node master: it won every
      // election while demoted, so nobody else advertises. With its startup RESYNC unanswered and
      // no peer ever heard, the demotion has nothing left to wait for (core/sync/bulk.ts `alone`).
      // Not when only some units are master (an address owner is master at once, while a shared
      // router still waits for the peer), nor for an operator's commit (no role change).
      if (e.takeover === true && e.everyUnitMaster === true && s.bulk.state === 'requested') bulkInput(s, { kind: 'master', peerHeard: s.peer.heardAt !== null }, now, out)
      startCommit(s, id, e.budgetMs, e.takeover === true, now, out)
      return
    case 'ctFlush':
      if (e.caches !== 'external') s.internal = flushCache(s.internal)
      if (e.caches !== 'internal') s.external = flushCache(s.external)
      // conntrackd: -f cancels a pending -t flush.
      cancelPurge(s, out)
      out.complete(id)
      return
    case 'ctResyncFromKernel':
      joinNewBeforeDump(s, out)
      out.push({ kind: 'dump', purpose: { kind: 'resync', id } })
      return
    case 'syncBulkSend':
      ftfwInput(s, { kind: 'bulk', entries: bulkEntries(s) }, now, out)
      out.complete(id)
      return
    case 'syncRequestResync':
      ftfwInput(s, { kind: 'requestResync' }, now, out)
      out.complete(id)
      return
    case 'ctShortenTimers':
      schedulePurge(s, e.purgeTimeoutS, now)
      out.complete(id)
  }
}

// --- kernel side ---------------------------------------------------------------------------------

const EVENT_TO_WIRE = { new: 'new', update: 'upd', destroy: 'del' } as const

function kernelEvent (s: EngineState, event: 'new' | 'update' | 'destroy', flow: Flow, now: Millis, out: EngineOut): void {
  const r = applyKernelEvent(s.internal, { event, flow, origin: 'other' }, now, s.filter)
  s.internal = r.cache
  if (r.refused !== null) out.count(`ct.internal.refused.${r.refused}${r.filterReason !== undefined ? `.${r.filterReason}` : ''}`)
  if (r.change !== null) propagate(s, [r.change], now, out)
}

/**
 * A batch of kernel events on the byte path: each change of a plain entry goes to FTFW as a body
 * written from its record (record-attrs.ts), keyed by its key bytes; entries with side data travel
 * as attributes, as before. One FTFW step for the batch.
 */
function kernelRecords (s: EngineState, batch: KernelEventBatch, now: Millis, out: EngineOut): void {
  const changes: FtfwLocalChange[] = []
  let refusals: Map<string, number> | null = null
  applyKernelRecords(s.internal, batch, now, s.filter, {
    record: (type, ref) => { changes.push(entryChange(s, ref, EVENT_TO_WIRE[type])) },
    flow: (c) => { if (c.propagate) changes.push(flowChange(c)) },
    refused: (why, reason) => {
      const name = `ct.internal.refused.${why}${reason !== null ? `.${reason}` : ''}`
      refusals ??= new Map()
      refusals.set(name, (refusals.get(name) ?? 0) + 1)
    }
  })
  if (refusals !== null) for (const [name, n] of refusals as Map<string, number>) out.count(name, n)
  if (changes.length > 0) ftfwInput(s, { kind: 'locals', entries: changes }, now, out)
}

/** What FTFW sends for internal entry `ref` now: a body written from its record, or its attributes. */
function entryChange (s: EngineState, ref: Ref, event: CtEvent): FtfwLocalChange {
  const store = s.internal.store
  const at = s.recordAt
  if (storeRecordAt(store, ref, at)) return { key: storeSyncKey(store, ref), event, body: s.bodies.write(at.lay, at.u8, at.dv, at.off) }
  return { key: storeSyncKey(store, ref), event, attrs: flowToAttrs(storeFlow(store, ref)) }
}

/** A change that went through the Flow path, keyed as entryChange keys it (coalescing across both paths). */
function flowChange (c: CacheChange): FtfwLocalChange {
  return { key: flowSyncKey(c.flow), event: EVENT_TO_WIRE[c.type], attrs: flowToAttrs(c.flow) }
}

/** Changes of the internal cache that must reach the peer, one FTFW `local` each (§4.2 origin rule). */
function propagate (s: EngineState, changes: readonly CacheChange[], now: Millis, out: EngineOut): void {
  for (const c of changes) {
    if (!c.propagate) continue
    ftfwInput(s, { kind: 'local', ...flowChange(c) }, now, out)
  }
}

/** The chunks of one dump carry equal purposes (the runtime passes the effect's own). */
function samePurpose (a: DumpPurpose, b: DumpPurpose): boolean {
  switch (a.kind) {
    case 'start': case 'resync': return b.kind === a.kind && b.id === a.id
    case 'overrun': return b.kind === 'overrun' && b.requestedAt === a.requestedAt
    case 'purge': return b.kind === 'purge'
  }
}

/** The run of this dump: the one in progress, or a new one (a dump whose first chunk this is). */
function dumpRunFor (s: EngineState, purpose: DumpPurpose): DumpRun {
  if (s.dumpRun === null || !samePurpose(s.dumpRun.purpose, purpose)) s.dumpRun = { purpose, resync: beginResync(), held: [] }
  return s.dumpRun
}

/**
 * One chunk of a dump: a resync merges it into the internal cache now (after an overrun, its
 * differences go to the peer in this step's transmit round), so the conntrack thread never holds
 * a whole table of decoded flows and a 250k-entry resync is spread over as many steps as chunks.
 */
function dumpPart (s: EngineState, purpose: DumpPurpose, batch: RecordBatch, now: Millis, out: EngineOut): void {
  const run = dumpRunFor(s, purpose)
  if (purpose.kind === 'purge') {
    for (const f of batchFlows(batch)) run.held.push(f)
    return
  }
  const opts = resyncOptions(s, purpose)
  if (!opts.propagate) {
    resyncRecords(s.internal, run.resync, batch, now, opts)
    return
  }
  // After an overrun every dumped entry goes to the peer (conntrackd: NEW or UPD per entry): as bodies
  // written from the records, not as decoded Flows (a 150k-entry resync built 150k Flows and attribute
  // objects at once, a GC storm while the event socket refills).
  const changes: FtfwLocalChange[] = []
  resyncRecords(s.internal, run.resync, batch, now, opts, {
    record: (type, ref) => { changes.push(entryChange(s, ref, EVENT_TO_WIRE[type])) },
    flow: (c) => { if (c.propagate) changes.push(flowChange(c)) },
    refused: () => {}
  })
  if (changes.length > 0) ftfwInput(s, { kind: 'locals', entries: changes }, now, out)
}

function dumped (s: EngineState, purpose: DumpPurpose, flows: readonly Flow[], now: Millis, out: EngineOut): void {
  const run = s.dumpRun !== null && samePurpose(s.dumpRun.purpose, purpose) ? s.dumpRun : null
  s.dumpRun = null
  switch (purpose.kind) {
    case 'start':
      // The internal cache starts from the kernel table: what this node forwards now (nothing sent).
      resyncInternal(s, run, flows, purpose, now, out)
      if (s.config.bulk !== null) bulkInput(s, { kind: 'start' }, now, out)
      out.complete(purpose.id)
      return
    case 'resync':
      resyncInternal(s, run, flows, purpose, now, out)
      out.complete(purpose.id)
      return
    case 'overrun':
      s.overrunPending = false
      resyncInternal(s, run, flows, purpose, now, out)
      overrunFollowUp(s, now, out)
      return
    case 'purge':
      purgeDumped(s, run === null ? flows : [...run.held, ...flows], out)
  }
}

function dumpFailed (s: EngineState, purpose: DumpPurpose, error: string, now: Millis, out: EngineOut): void {
  switch (purpose.kind) {
    case 'start':
    case 'resync':
      out.complete(purpose.id, error)
      return
    case 'overrun':
      s.overrunPending = false
      out.log('error', 'resync after an overrun failed', { err: error })
      overrunFollowUp(s, now, out)
      return
    case 'purge':
      purgeFailed(error, out)
  }
}

/** The dump an overrun (or, for the first dump of an episode, a kernel event) during the previous overrun dump asked for. */
function overrunFollowUp (s: EngineState, now: Millis, out: EngineOut): void {
  if (!s.overrunAgain) return
  s.overrunAgain = false
  s.overrunFirst = false
  s.overrunPending = true
  joinNewBeforeDump(s, out)
  out.push({ kind: 'dump', purpose: { kind: 'overrun', requestedAt: now } })
}

/**
 * How a dump merges into the internal cache: after an overrun, purge what is gone and send the
 * differences (§5.6); at start and for -R (§4.4), neither.
 */
function resyncOptions (s: EngineState, purpose: DumpPurpose): ResyncOptions {
  // The dump runs while kernel events keep arriving: an entry created after the kernel walked its
  // bucket is missing from the dump but in the cache through its event. Only entries not touched
  // since the dump was requested can be gone (conntrackd's dump is synchronous and never sees this).
  if (purpose.kind === 'overrun') return { filter: s.filter, purge: true, propagate: true, purgeUntouchedSince: purpose.requestedAt }
  return { filter: s.filter, purge: false, propagate: false }
}

/** The last entries of a dump (after its chunks, if any), then the purge of what it did not show. */
function resyncInternal (s: EngineState, run: DumpRun | null, flows: readonly Flow[], purpose: DumpPurpose, now: Millis, out: EngineOut): void {
  const opts = resyncOptions(s, purpose)
  const resync = run?.resync ?? beginResync()
  const changes = resyncChunk(s.internal, resync, flows, now, opts)
  for (const c of endResync(s.internal, resync, opts)) changes.push(c)
  if (opts.propagate) propagate(s, changes, now, out)
  out.count('ct.resync.kernel')
}

// --- FTFW, the startup bulk and the timer --------------------------------------------------------

/** The whole internal cache for a bulk send: NEW or UPD per entry as conntrackd chooses (spec §1.7). */
function bulkEntries (s: EngineState): FtfwLocalChange[] {
  const store = s.internal.store
  return storeRefs(store).map(ref => entryChange(s, ref, storeMeta(store, ref).alive ? 'upd' : 'new'))
}

/**
 * A peer entry on the receiver's byte path (peer-record.ts): packed from its attribute bytes, checked and
 * applied to the external cache as records. False when the packer declines it (the Flow path takes it).
 */
function peerRecord (s: EngineState, event: CtEvent, payload: Uint8Array, now: Millis, out: EngineOut): boolean {
  const p = s.peerPacker
  const lay = p.pack(payload, 0, payload.length)
  if (lay === null) return false
  const u8 = lay === LAYOUT_V4 ? p.v4 : p.v6
  const refused = peerRecordRefusal(s, lay, u8)
  if (refused !== null) { out.count(`ct.external.refused.${refused}`); return true }
  const r = applyPeerRecord(s.external, lay, u8, event, now)
  if (r !== null) out.count(`ct.external.refused.${r}`)
  return true
}

function ftfwInput (s: EngineState, input: FtfwInput, now: Millis, out: EngineOut): void {
  const r = stepFtfw(s.ftfw, input, now)
  s.ftfw = r.state
  for (const datagram of r.datagrams) out.push({ kind: 'send', datagram })
  for (const d of r.deliver) {
    if (d.kind !== 'ct') { out.count('sync.rx.expectationIgnored'); continue }
    if (!s.config.disableExternalCache && peerRecord(s, d.event, d.payload, now, out)) continue
    const mapped = flowFromAttrs(readCtAttrs(d.payload, 0, d.payload.length))
    if (!mapped.ok) { out.count(`sync.rx.drop.${mapped.code}`); continue }
    const refused = peerEntryRefusal(s, mapped.flow)
    if (refused !== null) { out.count(`ct.external.refused.${refused}`); continue }
    if (s.config.disableExternalCache) {
      // conntrackd's inject path: a create-or-update (or delete) per peer update, no external cache.
      const flow = mapped.flow
      out.push({ kind: 'apply', purpose: { kind: 'inject' }, requests: [d.event === 'del' ? { op: 'delete', flow } : { op: 'create', flow, exclusive: false }] })
      continue
    }
    const a = applyPeerUpdate(s.external, { event: d.event, flow: mapped.flow }, now)
    s.external = a.cache
    if (a.refused !== null) out.count(`ct.external.refused.${a.refused}`)
  }
  // §3.4: a RESYNC from the peer is answered with our whole internal cache, in the same tick.
  if (r.resyncRequested) ftfwInput(s, { kind: 'bulk', entries: bulkEntries(s) }, now, out)
  // The peer restarted: its kernel table is the truth now, ask for it.
  if (r.peerRestarted) {
    out.log('info', 'sync peer (re)started: requesting its state')
    ftfwInput(s, { kind: 'requestResync' }, now, out)
  }
  if (s.bulk.state === 'requested' || s.bulk.state === 'receiving') {
    bulkInput(s, { kind: 'ftfw', resyncAcked: r.resyncAcked, nacksOutstanding: r.nacksOutstanding, peerRestarted: r.peerRestarted }, now, out)
  }
}

function bulkInput (s: EngineState, input: BulkInput, now: Millis, out: EngineOut): void {
  const r = stepBulk(s.bulk, input, now)
  s.bulk = r.bulk
  for (const t of r.transitions) out.push({ kind: 'bulkTransition', from: t.from, to: t.to, event: t.event, at: now })
  if (r.priorityOffset !== s.demotion) {
    s.demotion = r.priorityOffset
    out.push({ kind: 'demote', offset: r.priorityOffset })
  }
  if (r.requestResync) ftfwInput(s, { kind: 'requestResync' }, now, out)
}

function timeout (s: EngineState, now: Millis, out: EngineOut): void {
  const bd = bulkDeadline(s.bulk)
  if (bd !== null && bd <= now) bulkInput(s, { kind: 'timeout' }, now, out)
  commitBudgetDue(s, now, out)
  purgeDue(s, now, out)
  livenessDue(s, now, out)
  ftfwInput(s, { kind: 'timeout' }, now, out)
}
