/**
 * The two conntrack caches of a node (conntrackd's internal and external caches, spec §4.1–§4.2).
 *
 *   internal — what this node forwards: kernel events and dumps (filtered, see filter.ts). Its
 *              changes are what the sync layer sends to the peer (NEW / UPD / DEL).
 *   external — what the peer told us (FTFW messages). Committed into the kernel when this node
 *              becomes master (commit.ts). In FTFW it has no timers: entries live until a DEL,
 *              a flush or the end of the process (spec §4.1).
 *
 * Both are keyed by flowKey (family, original tuple, zone; never the conntrack id).
 *
 * A cache is MUTABLE (architecture decision 1: pure means no I/O and no clock, not copy-on-write).
 * Every apply/flush/resync changes the cache it is given in place and returns that same object in
 * `cache`, so `c = applyX(c, ...).cache` keeps working; a reference kept from before an apply sees
 * the change. Entries are stored compactly (flow-store.ts: a packed record of 104 bytes per IPv4
 * flow, 176 per IPv6, in one slab per family; an open-addressing index over the key bytes; no
 * object per entry) and decoded to a Flow only when read: cacheGet, cacheSnapshot, dumpCache, and
 * the merged `flow` of an update or destroy change (a NEW's change carries the input flow).
 * Decoded flows and snapshots are fresh objects: changing them does not change the cache, and
 * later applies do not change them. The same inputs in the same order give the same cache, the
 * same changes and the same iteration order.
 *
 * Merge rules:
 *   - NEW replaces any entry with the same key (conntrackd: delete, then insert).
 *   - UPDATE merges into a live entry with mergeFlow (fields present overwrite, absent fields
 *     are kept), or inserts when the key is unknown.
 *   - The TCP state never moves backwards (OpenBSD pfsync's monotonic rule, code-models §2): an
 *     update that would, e.g. ESTABLISHED → SYN_SENT, is refused whole and counted `stale`. One
 *     exception: TIME_WAIT or CLOSE → SYN_SENT/SYN_SENT2 is the kernel reusing the entry for a new
 *     handshake (nf_conntrack_proto_tcp moves sTW/sCL to sSS on a SYN) and is accepted.
 *   - DESTROY always removes a known entry, whatever its state; unknown keys are ignored.
 */
import type { Millis } from '../time.js'
import { flowKey, mergeFlow, type Flow, type FlowFamily } from './flow.js'
import { FILTER_REASONS, filterFlow, filterPacked, type FilterReason, type FlowFilter } from './filter.js'
import type { RecordLayout } from './flow-record.js'
import { EV_DESTROY, EV_NEW, LAYOUT_V4, LAYOUT_V6, type KernelEventBatch, type RecordBatch } from './record-batch.js'
import {
  createStore, NO_REF, storeClear, storeDelete, storeFind, storeFindPacked, storeFlow, storeHasMaster, storeId, storeLive, storeMergePacked, storeMeta, storeRecordAt, storeRefs, storeSyncKey,
  storeScratchFlow, storeScratchId, storeScratchTcpState, storeSet, storeSetPacked, storeSize, storeTcpState, storeUpdate, storeView, type FlowStore, type RecordAt, type Ref
} from './flow-store.js'
import { parseFlowKey } from './flow-key.js'

export type CacheName = 'internal' | 'external'

export interface CacheEntry {
  readonly key: string
  readonly flow: Flow
  /** When the entry entered this cache (conntrackd obj->lifetime): "active since". */
  readonly since: Millis
  /** Last change (conntrackd obj->lastupdate); commit subtracts the time since from the timeout. */
  readonly lastUpdate: Millis
  /**
   * conntrackd's object status: 'new' until the first update, then 'alive'. A bulk send uses it to
   * choose NEW or UPD per entry, as conntrackd's `object_status_to_network_type` does (spec §1.7).
   */
  readonly status: 'new' | 'alive'
}

/** Monotonic counters; `active` is derived (cacheStats). */
export interface CacheCounters {
  /** Entries inserted (NEW, or UPDATE of an unknown key). */
  readonly created: number
  /** Updates merged into an existing entry. */
  readonly updated: number
  /** Entries removed by DESTROY / DEL (including purges). */
  readonly destroyed: number
  /** Updates refused because they would move the TCP state backwards. */
  readonly stale: number
  /** Kernel events and dump entries refused by the filter, in total ... */
  readonly filtered: number
  /** ... and per reason. */
  readonly filteredBy: Readonly<Record<FilterReason, number>>
  /** DESTROY / DEL for a key (or a conntrack id) the cache does not hold. */
  readonly unknownDestroy: number
  /** Subset of `destroyed`: removed by a resync because the kernel no longer had them. */
  readonly purged: number
  /** Entries dropped by flushes. */
  readonly flushed: number
}

/** Mutable: see the module comment. Use the functions below, not the fields. */
export interface FlowCache {
  readonly name: CacheName
  readonly store: FlowStore
  readonly counters: CacheCounters
}

export type ChangeType = 'new' | 'update' | 'destroy'

/** What an apply changed, for the sync layer (internal cache) and observers. */
export interface CacheChange {
  readonly type: ChangeType
  readonly key: string
  /** The entry's full state after the change; for a destroy, the last known state (a DEL carries it, spec §1.7). */
  readonly flow: Flow
  /**
   * Send it to the peer? False for changes this node caused itself (its own commits and flushes,
   * spec §4.2 origin rule) and for a resync that must not talk (-R).
   */
  readonly propagate: boolean
}

/** Why an input changed nothing. */
export type CacheRefusal = 'stale' | 'filtered' | 'unknownDestroy' | 'injected'

export interface CacheApplyResult {
  readonly cache: FlowCache
  readonly change: CacheChange | null
  readonly refused: CacheRefusal | null
  /** Set when refused === 'filtered'. */
  readonly filterReason?: FilterReason
}

/**
 * Who caused a kernel event, found by the runtime from nlmsg_pid (spec §4.2, §5.4):
 *   other  — packets or another process: replicate it;
 *   commit — this node's commit socket: cache it, do not send it back to the peer;
 *   flush  — this node's flush/purge socket: same;
 *   inject — this node's inject socket (disableExternalCache): ignore it entirely, as conntrackd does.
 */
export type EventOrigin = 'other' | 'commit' | 'flush' | 'inject'

export interface KernelEvent {
  readonly event: 'new' | 'update' | 'destroy'
  readonly flow: Flow
  readonly origin: EventOrigin
}

/** A conntrackd NEW / UPD / DEL message, its attributes already mapped to a Flow (attrs-map.ts). */
export interface PeerUpdate {
  readonly event: 'new' | 'upd' | 'del'
  readonly flow: Flow
}

const ZERO_BY_REASON: Readonly<Record<FilterReason, number>> = Object.freeze(
  Object.fromEntries(FILTER_REASONS.map(r => [r, 0])) as Record<FilterReason, number>
)

export function createCache (name: CacheName): FlowCache {
  return {
    name,
    store: createStore(),
    counters: {
      created: 0, updated: 0, destroyed: 0, stale: 0, filtered: 0, filteredBy: { ...ZERO_BY_REASON },
      unknownDestroy: 0, purged: 0, flushed: 0
    }
  }
}

// --- TCP monotonic rule --------------------------------------------------------------------------

/**
 * Progress rank of each TCP conntrack state (index = TCP_STATES value). Numeric order is the
 * kernel's progress order except SYN_SENT2 (9, simultaneous open), which sits between SYN_SENT and
 * SYN_RECV.
 */
const TCP_RANK: readonly number[] = [0, 1, 3, 4, 5, 6, 7, 8, 9, 2]
const TIME_WAIT = 7
const CLOSE = 8
const SYN_SENT = 1
const SYN_SENT2 = 9

/** True when moving from `from` to `to` would take the TCP state backwards (module comment). */
export function tcpStateRegresses (from: number, to: number): boolean {
  if ((from === TIME_WAIT || from === CLOSE) && (to === SYN_SENT || to === SYN_SENT2)) return false
  const a = TCP_RANK[from]
  const b = TCP_RANK[to]
  if (a === undefined || b === undefined) return false // unknown states: nothing to compare
  return b < a
}

/** Would `update` move the stored entry's TCP state backwards? Reads the state without decoding. */
function regresses (store: FlowStore, ref: Ref, update: Flow): boolean {
  const to = update.tcp?.state
  if (to === undefined) return false
  const from = storeTcpState(store, ref)
  return from !== undefined && tcpStateRegresses(from, to)
}

// --- counters ------------------------------------------------------------------------------------

type MutableCounters = { -readonly [K in keyof CacheCounters]: CacheCounters[K] }
type CountName = Exclude<keyof CacheCounters, 'filteredBy'>

function count (cache: FlowCache, name: CountName, n = 1): void {
  (cache.counters as MutableCounters)[name] += n
}

function countFiltered (cache: FlowCache, reason: FilterReason): void {
  count(cache, 'filtered');
  (cache.counters.filteredBy as Record<FilterReason, number>)[reason]++
}

// --- primitive operations ------------------------------------------------------------------------

function refused (cache: FlowCache, why: CacheRefusal, reason?: FilterReason): CacheApplyResult {
  return reason === undefined ? { cache, change: null, refused: why } : { cache, change: null, refused: why, filterReason: reason }
}

function change (type: ChangeType, flow: Flow, propagate: boolean): CacheChange {
  return { type, key: flowKey(flow), flow, propagate }
}

/** NEW, or UPDATE of an unknown key: a fresh entry (replacing any with the same key). */
function insert (cache: FlowCache, flow: Flow, now: Millis, propagate: boolean): CacheApplyResult {
  storeSet(cache.store, flow, now)
  count(cache, 'created')
  return { cache, change: change('new', flow, propagate), refused: null }
}

function merge (cache: FlowCache, ref: Ref, update: Flow, now: Millis, propagate: boolean): CacheApplyResult {
  if (regresses(cache.store, ref, update)) {
    count(cache, 'stale')
    return refused(cache, 'stale')
  }
  const flow = mergeFlow(storeFlow(cache.store, ref), update)
  storeUpdate(cache.store, ref, flow, now)
  count(cache, 'updated')
  return { cache, change: change('update', flow, propagate), refused: null }
}

function remove (cache: FlowCache, ref: Ref, last: Flow, propagate: boolean): CacheApplyResult {
  const flow = mergeFlow(storeFlow(cache.store, ref), last)
  storeDelete(cache.store, ref)
  count(cache, 'destroyed')
  return { cache, change: change('destroy', flow, propagate), refused: null }
}

/** Both ids known and different: the event is about another incarnation of the same tuple. */
function otherIncarnation (store: FlowStore, ref: Ref, b: Flow): boolean {
  if (b.id === undefined) return false
  const a = storeId(store, ref)
  return a !== undefined && a !== b.id
}

/** The kernel reports counters and use on every event; they are not state and never cached (spec §4.2). */
function stripVolatile (flow: Flow): Flow {
  if (flow.counters === undefined && flow.use === undefined) return flow
  const { counters: _c, use: _u, ...rest } = flow
  return rest
}

// --- internal cache: kernel events ---------------------------------------------------------------

/**
 * Apply one kernel event (or a single dump entry, as 'update') to the internal cache, in place.
 * `filter` null = replicate everything. DESTROY bypasses the filter: an entry that is cached was
 * accepted once and must go, even if its final state (e.g. an ignored TIME_WAIT) would be refused.
 */
export function applyKernelEvent (cache: FlowCache, ev: KernelEvent, now: Millis, filter: FlowFilter | null): CacheApplyResult {
  if (ev.origin === 'inject') return refused(cache, 'injected')
  const propagate = ev.origin === 'other'
  const flow = stripVolatile(ev.flow)
  if (ev.event === 'destroy') {
    const ref = storeFind(cache.store, flow)
    if (ref === NO_REF || otherIncarnation(cache.store, ref, flow)) {
      count(cache, 'unknownDestroy')
      return refused(cache, 'unknownDestroy')
    }
    return remove(cache, ref, flow, propagate)
  }
  if (filter !== null) {
    const v = filterFlow(filter, flow)
    if (!v.accept) {
      countFiltered(cache, v.reason)
      return refused(cache, 'filtered', v.reason)
    }
  }
  // NEW replaces any cached entry with the same tuple (conntrackd internal_cache_ct_event_new).
  if (ev.event === 'new') return insert(cache, flow, now, propagate)
  const ref = storeFind(cache.store, flow)
  if (ref === NO_REF || otherIncarnation(cache.store, ref, flow)) return insert(cache, flow, now, propagate)
  return merge(cache, ref, flow, now, propagate)
}

/**
 * What applyKernelRecords tells its caller, per event, in order: a change of a plain packed entry
 * (`record`: read it from the store by `ref`; for a destroy the entry is still there, merged with the
 * event's last state, until the call returns), a change that went through the Flow path (an entry with
 * side-table data), or a refusal.
 */
export interface RecordChangeSink {
  record: (type: ChangeType, ref: Ref) => void
  flow: (change: CacheChange) => void
  refused: (why: CacheRefusal, filterReason: FilterReason | null) => void
}

/**
 * applyKernelEvent for a batch of kernel events as packed records (record-batch.ts KernelEventBatch),
 * origin 'other', without a Flow per event: filter, lookup, TCP monotonic rule and merge on the bytes,
 * with the outcome and counters applyKernelEvent has on the same events as Flows. Each outcome goes to
 * `sink` as it happens, so the caller can read a changed entry before the next event changes it.
 */
export function applyKernelRecords (cache: FlowCache, batch: KernelEventBatch, now: Millis, filter: FlowFilter | null, sink: RecordChangeSink): void {
  applyEventRecords(cache, LAYOUT_V4, batch.v4, batch.ev4, batch.n4, now, filter, sink)
  applyEventRecords(cache, LAYOUT_V6, batch.v6, batch.ev6, batch.n6, now, filter, sink)
}

function applyEventRecords (cache: FlowCache, lay: RecordLayout, u8: Uint8Array, ev: Uint8Array, n: number, now: Millis, filter: FlowFilter | null, sink: RecordChangeSink): void {
  if (n === 0) return
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength)
  const store = cache.store
  const family = lay.family
  for (let i = 0; i < n; i++) {
    const off = i * lay.size
    const event = ev[i] as number
    if (event !== EV_DESTROY && filter !== null) {
      const why = filterPacked(filter, lay, u8, dv, off)
      if (why !== null) {
        countFiltered(cache, why)
        sink.refused('filtered', why)
        continue
      }
    }
    const ref = storeFindPacked(store, family, u8, off)
    const other = scratchIsOtherIncarnation(store, family, ref)
    if (event === EV_DESTROY) {
      if (ref === NO_REF || other) {
        count(cache, 'unknownDestroy')
        sink.refused('unknownDestroy', null)
        continue
      }
      if (storeMergePacked(store, ref, now)) { // the DEL carries the last full state (spec §1.7)
        sink.record('destroy', ref)
        storeDelete(store, ref)
        count(cache, 'destroyed')
      } else {
        sink.flow(remove(cache, ref, storeScratchFlow(store, family), true).change as CacheChange)
      }
      continue
    }
    // NEW replaces any entry with its key; an UPDATE of an unknown entry (or of another incarnation) inserts.
    if (event === EV_NEW || ref === NO_REF || other) {
      const r = storeSetPacked(store, family, now)
      count(cache, 'created')
      sink.record('new', r)
      continue
    }
    const m = mergeScratch(cache, ref, family, now, true)
    if (m === 'stale') sink.refused('stale', null)
    else if (m === 'record') sink.record('update', ref)
    else if (m.change !== null) sink.flow(m.change)
    else if (m.refused !== null) sink.refused(m.refused, null)
  }
}

// --- external cache: peer messages ---------------------------------------------------------------

/**
 * Apply one conntrackd NEW / UPD / DEL from the peer to the external cache, in place (spec §4.1).
 * Never filtered. `propagate` is false on every change: the external cache is not forwarded.
 */
export function applyPeerUpdate (cache: FlowCache, msg: PeerUpdate, now: Millis): CacheApplyResult {
  if (msg.event === 'new') return insert(cache, msg.flow, now, false)
  const ref = storeFind(cache.store, msg.flow)
  if (msg.event === 'del') {
    if (ref === NO_REF) {
      count(cache, 'unknownDestroy')
      return refused(cache, 'unknownDestroy')
    }
    return remove(cache, ref, msg.flow, false)
  }
  return ref === NO_REF ? insert(cache, msg.flow, now, false) : merge(cache, ref, msg.flow, now, false)
}

/**
 * applyPeerUpdate for a peer message packed as a record (peer-record.ts) at u8[0]: the same outcome and
 * counters, on the bytes. Returns the refusal (null: applied).
 */
export function applyPeerRecord (cache: FlowCache, lay: RecordLayout, u8: Uint8Array, event: 'new' | 'upd' | 'del', now: Millis): CacheRefusal | null {
  const store = cache.store
  const family = lay.family
  const ref = storeFindPacked(store, family, u8, 0)
  if (event === 'del') {
    if (ref === NO_REF) {
      count(cache, 'unknownDestroy')
      return 'unknownDestroy'
    }
    storeDelete(store, ref)
    count(cache, 'destroyed')
    return null
  }
  if (event === 'new' || ref === NO_REF) {
    storeSetPacked(store, family, now)
    count(cache, 'created')
    return null
  }
  const m = mergeScratch(cache, ref, family, now, false)
  return m === 'stale' ? 'stale' : m === 'record' ? null : m.refused
}

/**
 * An update of entry `ref` by the record in `family`'s store scratch (same key; storeFindPacked put it
 * there), as merge() does it for Flows: the TCP monotonic rule on the bytes, then mergeRecord, or
 * merge() itself for an entry with side data. Counted as merge() counts. 'stale': refused; 'record':
 * merged on the bytes (read the entry from the store); else merge()'s result.
 */
function mergeScratch (cache: FlowCache, ref: Ref, family: FlowFamily, now: Millis, propagate: boolean): 'stale' | 'record' | CacheApplyResult {
  const store = cache.store
  const to = storeScratchTcpState(store, family)
  if (to !== undefined) {
    const from = storeTcpState(store, ref)
    if (from !== undefined && tcpStateRegresses(from, to)) {
      count(cache, 'stale')
      return 'stale'
    }
  }
  if (storeMergePacked(store, ref, now)) {
    count(cache, 'updated')
    return 'record'
  }
  return merge(cache, ref, storeScratchFlow(store, family), now, propagate) // side data: as Flows
}

/** Whether entry `ref` and the record in the store scratch carry different conntrack ids (another incarnation of the tuple). */
function scratchIsOtherIncarnation (store: FlowStore, family: FlowFamily, ref: Ref): boolean {
  if (ref === NO_REF) return false
  const id = storeScratchId(store, family)
  const stored = storeId(store, ref)
  return id !== undefined && stored !== undefined && id !== stored
}

// --- resync, flush, views ------------------------------------------------------------------------

export interface ResyncOptions {
  readonly filter: FlowFilter | null
  /**
   * Remove (and report as destroy) every cached entry the dump does not contain, as conntrackd's
   * purge after an overrun resync does (spec §5.6). Off for `-R` after a flush (nothing to purge).
   */
  readonly purge: boolean
  /** Mark the changes for sending: true after an overrun (§5.6), false for -R (§4.4). */
  readonly propagate: boolean
  /**
   * With `purge`: only entries whose last update is older than this are purged. An event newer
   * than the dump's start proves the entry exists even when the (concurrent) dump missed it.
   */
  readonly purgeUntouchedSince?: Millis
}

export interface ResyncResult {
  /** The same (changed) cache object. */
  readonly cache: FlowCache
  /** new / update per dumped entry that changed the cache, then destroy per purged entry. */
  readonly changes: readonly CacheChange[]
}

/** A resync in progress: the entries its dump has shown so far (a dump arrives in chunks). */
export interface ResyncRun {
  readonly seen: Set<Ref>
}

export function beginResync (): ResyncRun {
  return { seen: new Set() }
}

/**
 * Merge one chunk of a kernel dump into the internal cache, in place. Dump entries are updates:
 * monotonic rule and filter apply as for events. Returns the changes (new / update).
 */
export function resyncChunk (cache: FlowCache, run: ResyncRun, dump: Iterable<Flow>, now: Millis, opts: ResyncOptions): CacheChange[] {
  const changes: CacheChange[] = []
  for (const raw of dump) {
    const flow = stripVolatile(raw)
    if (opts.filter !== null) {
      const v = filterFlow(opts.filter, flow)
      if (!v.accept) {
        countFiltered(cache, v.reason)
        continue
      }
    }
    const ref = storeFind(cache.store, flow)
    if (ref === NO_REF || otherIncarnation(cache.store, ref, flow)) {
      run.seen.add(storeSet(cache.store, flow, now))
      count(cache, 'created')
      changes.push(change('new', flow, opts.propagate))
      continue
    }
    run.seen.add(ref)
    const r = merge(cache, ref, flow, now, opts.propagate)
    if (r.change !== null) changes.push(r.change)
  }
  return changes
}

/**
 * resyncChunk on a receive batch of packed records (record-batch.ts), without a Flow per entry:
 * filter, lookup, monotonic rule and merge work on the records' bytes (filterPacked, the store's
 * *Packed functions, mergeRecord), with the same outcome and counters as resyncChunk on the same
 * entries as Flows. The changes are built only when `opts.propagate` (they are decoded then): a
 * resync that does not talk (start, -R) never builds an object per entry. Entries the byte path
 * left as Flows (`batch.flows`) and stored entries with side data go through the Flow path.
 */
export function resyncRecords (cache: FlowCache, run: ResyncRun, batch: RecordBatch, now: Millis, opts: ResyncOptions, sink: RecordChangeSink | null = null): CacheChange[] {
  const changes: CacheChange[] = []
  resyncPacked(cache, run, LAYOUT_V4, batch.v4, batch.n4, now, opts, changes, sink)
  resyncPacked(cache, run, LAYOUT_V6, batch.v6, batch.n6, now, opts, changes, sink)
  if (batch.flows.length > 0) {
    for (const c of resyncChunk(cache, run, batch.flows, now, opts)) {
      if (!opts.propagate) continue
      if (sink !== null) sink.flow(c)
      else changes.push(c)
    }
  }
  return changes
}

/**
 * With a `sink` (and `opts.propagate`), each change goes to it as it happens instead of into the returned
 * list: a plain entry as `record` (read it from the store: no Flow is built), the others as `flow`.
 */
function resyncPacked (cache: FlowCache, run: ResyncRun, lay: RecordLayout, u8: Uint8Array, n: number, now: Millis, opts: ResyncOptions, changes: CacheChange[], sink: RecordChangeSink | null): void {
  if (n === 0) return
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength)
  const store = cache.store
  const family = lay.family
  for (let i = 0; i < n; i++) {
    const off = i * lay.size
    if (opts.filter !== null) {
      const why = filterPacked(opts.filter, lay, u8, dv, off)
      if (why !== null) {
        countFiltered(cache, why)
        continue
      }
    }
    const ref = storeFindPacked(store, family, u8, off)
    if (ref === NO_REF || scratchIsOtherIncarnation(store, family, ref)) {
      const r = storeSetPacked(store, family, now)
      run.seen.add(r)
      count(cache, 'created')
      if (opts.propagate) {
        if (sink !== null) sink.record('new', r)
        else changes.push(change('new', storeScratchFlow(store, family), true))
      }
      continue
    }
    run.seen.add(ref)
    const m = mergeScratch(cache, ref, family, now, opts.propagate)
    if (m === 'stale' || !opts.propagate) continue
    if (m === 'record') {
      if (sink !== null) sink.record('update', ref)
      else changes.push(change('update', storeFlow(store, ref), true))
    } else if (m.change !== null) {
      if (sink !== null) sink.flow(m.change)
      else changes.push(m.change)
    }
  }
}

/**
 * The dump is complete: with `purge`, remove every cached entry it did not show (destroy changes).
 * An entry deleted and its slot reused during the dump reads as seen; it was touched after the
 * dump began, which `purgeUntouchedSince` protects anyway.
 */
export function endResync (cache: FlowCache, run: ResyncRun, opts: ResyncOptions): CacheChange[] {
  const changes: CacheChange[] = []
  if (!opts.purge) return changes
  const since = opts.purgeUntouchedSince
  for (const ref of storeRefs(cache.store)) {
    if (run.seen.has(ref)) continue
    if (since !== undefined && storeMeta(cache.store, ref).lastUpdate >= since) continue
    const flow = storeFlow(cache.store, ref)
    storeDelete(cache.store, ref)
    count(cache, 'destroyed')
    count(cache, 'purged')
    changes.push(change('destroy', flow, opts.propagate))
  }
  return changes
}

/** Merge a complete kernel dump into the internal cache, in place (resyncChunk, then endResync). */
export function resyncFromDump (cache: FlowCache, dump: Iterable<Flow>, now: Millis, opts: ResyncOptions): ResyncResult {
  const run = beginResync()
  const changes = resyncChunk(cache, run, dump, now, opts)
  for (const c of endResync(cache, run, opts)) changes.push(c)
  return { cache, changes }
}

/** Drop every entry (conntrackd -f internal / external), in place; the memory is given back. */
export function flushCache (cache: FlowCache): FlowCache {
  const n = storeSize(cache.store)
  if (n === 0) return cache
  storeClear(cache.store)
  count(cache, 'flushed', n)
  return cache
}

function storeEntry (store: FlowStore, ref: Ref): CacheEntry {
  const flow = storeFlow(store, ref)
  const m = storeMeta(store, ref)
  return { key: flowKey(flow), flow, since: m.since, lastUpdate: m.lastUpdate, status: m.alive ? 'alive' : 'new' }
}

/** The entry with this flowKey, decoded; undefined when absent. */
export function cacheGet (cache: FlowCache, key: string): CacheEntry | undefined {
  const probe = parseFlowKey(key)
  if (probe === null) return undefined
  const ref = storeFind(cache.store, probe)
  if (ref === NO_REF) return undefined
  const e = storeEntry(cache.store, ref)
  return e.key === key ? e : undefined
}

export function cacheSize (cache: FlowCache): number {
  return storeSize(cache.store)
}

/**
 * Every entry, decoded, in the store's deterministic (unsorted) order: the input of a commit or a
 * bulk send. A copy: later applies do not change it.
 */
export function cacheSnapshot (cache: FlowCache): readonly CacheEntry[] {
  return storeRefs(cache.store).map(ref => storeEntry(cache.store, ref))
}

/**
 * The entries of the cache now, to be read later one at a time (a commit decodes one batch per
 * step instead of 100k entries up front, which held the conntrack thread for over half a second
 * and allocated the whole table again as objects). Through a store view (flow-store.ts
 * storeView): a flush after this leaves the planned entries readable; an entry deleted since
 * reads as null; a slot reused since reads as its new entry (in the cache too, so worth committing).
 */
export interface CacheSource {
  readonly size: number
  entry: (i: number) => CacheEntry | null
  /** Whether entry i has a master tuple, without decoding it. */
  related: (i: number) => boolean
  /**
   * Point `at` at entry i's record when it is live and a plain packed one (record-request.ts can
   * write its commit request from the bytes); false otherwise (read it with `entry`).
   */
  record?: (i: number, at: RecordAt) => boolean
  /** Entry i's key bytes as flow-store.ts storeSyncKey gives them; null when it is gone. With `record`. */
  syncKey?: (i: number) => string | null
}

export function cacheSource (cache: FlowCache): CacheSource {
  const view = storeView(cache.store)
  const refs = storeRefs(view)
  return {
    size: refs.length,
    entry: (i) => {
      const ref = refs[i]
      return ref === undefined || !storeLive(view, ref) ? null : storeEntry(view, ref)
    },
    related: (i) => {
      const ref = refs[i]
      return ref !== undefined && storeLive(view, ref) && storeHasMaster(view, ref)
    },
    record: (i, at) => {
      const ref = refs[i]
      return ref !== undefined && storeLive(view, ref) && storeRecordAt(view, ref, at)
    },
    syncKey: (i) => {
      const ref = refs[i]
      return ref === undefined || !storeLive(view, ref) ? null : storeSyncKey(view, ref)
    }
  }
}

export interface CacheStats extends CacheCounters {
  readonly name: CacheName
  readonly active: number
}

/** The counters at this moment (a copy: the cache's own counters keep moving). */
export function cacheStats (cache: FlowCache): CacheStats {
  return { name: cache.name, active: storeSize(cache.store), ...cache.counters, filteredBy: { ...cache.counters.filteredBy } }
}

/** One line of `hafwctl conntrack internal|external`. */
export interface CacheDumpRow {
  readonly key: string
  readonly flow: Flow
  readonly status: 'new' | 'alive'
  /** Whole seconds since the entry entered the cache (conntrackd's "[active since Ns]"). */
  readonly activeSinceS: number
  /** Whole seconds since its last change. */
  readonly idleS: number
}

/** The cache for people: sorted by key, with ages computed at `now`. */
export function dumpCache (cache: FlowCache, now: Millis): readonly CacheDumpRow[] {
  const rows = cacheSnapshot(cache).map(e => ({
    key: e.key,
    flow: e.flow,
    status: e.status,
    activeSinceS: Math.max(0, Math.floor((now - e.since) / 1000)),
    idleS: Math.max(0, Math.floor((now - e.lastUpdate) / 1000))
  }))
  return rows.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}
