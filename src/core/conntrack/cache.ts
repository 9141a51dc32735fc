/**
 * The two conntrack caches of a node (conntrackd's internal and external caches, spec §4.1–§4.2).
 *
 *   internal — what this node forwards: kernel events and dumps (filtered, see filter.ts). Its
 *              changes are what the sync layer sends to the peer (NEW / UPD / DEL).
 *   external — what the peer told us (FTFW messages). Committed into the kernel when this node
 *              becomes master (commit.ts). In FTFW it has no timers: entries live until a DEL,
 *              a flush or the end of the process (spec §4.1).
 *
 * Both are keyed by flowKey (family, original tuple, zone; never the conntrack id) and are plain
 * immutable data: every function returns a new cache and leaves the old one intact
 * (hash-trie.ts shares structure so this stays cheap at 100k entries).
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
import { flowKey, mergeFlow, type Flow } from './flow.js'
import { FILTER_REASONS, filterFlow, type FilterReason, type FlowFilter } from './filter.js'
import { trieDelete, trieEmpty, trieFrom, trieGet, trieSet, trieValues, type HashTrie } from './hash-trie.js'

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

export interface FlowCache {
  readonly name: CacheName
  readonly entries: HashTrie<CacheEntry>
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
    entries: trieEmpty(),
    counters: {
      created: 0, updated: 0, destroyed: 0, stale: 0, filtered: 0, filteredBy: ZERO_BY_REASON,
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

function regresses (base: Flow, update: Flow): boolean {
  const from = base.tcp?.state
  const to = update.tcp?.state
  return from !== undefined && to !== undefined && tcpStateRegresses(from, to)
}

// --- counters ------------------------------------------------------------------------------------

type MutableCounters = { -readonly [K in keyof CacheCounters]: CacheCounters[K] }

function bump (c: CacheCounters, patch: Partial<Record<Exclude<keyof CacheCounters, 'filteredBy'>, number>>, reason?: FilterReason): CacheCounters {
  const out: MutableCounters = { ...c }
  for (const [k, v] of Object.entries(patch) as Array<[Exclude<keyof CacheCounters, 'filteredBy'>, number]>) out[k] = c[k] + v
  if (reason !== undefined) out.filteredBy = { ...c.filteredBy, [reason]: c.filteredBy[reason] + 1 }
  return out
}

// --- primitive operations ------------------------------------------------------------------------

function unchanged (cache: FlowCache, refused: CacheRefusal | null, counters: Partial<Record<Exclude<keyof CacheCounters, 'filteredBy'>, number>> = {}, reason?: FilterReason): CacheApplyResult {
  const c = Object.keys(counters).length === 0 && reason === undefined ? cache : { ...cache, counters: bump(cache.counters, counters, reason) }
  return reason === undefined ? { cache: c, change: null, refused } : { cache: c, change: null, refused, filterReason: reason }
}

function insert (cache: FlowCache, key: string, flow: Flow, now: Millis, propagate: boolean): CacheApplyResult {
  const entry: CacheEntry = { key, flow, since: now, lastUpdate: now, status: 'new' }
  return {
    cache: { ...cache, entries: trieSet(cache.entries, key, entry), counters: bump(cache.counters, { created: 1 }) },
    change: { type: 'new', key, flow, propagate },
    refused: null
  }
}

function merge (cache: FlowCache, old: CacheEntry, update: Flow, now: Millis, propagate: boolean): CacheApplyResult {
  if (regresses(old.flow, update)) return unchanged(cache, 'stale', { stale: 1 })
  const flow = mergeFlow(old.flow, update)
  const entry: CacheEntry = { ...old, flow, lastUpdate: now, status: 'alive' }
  return {
    cache: { ...cache, entries: trieSet(cache.entries, old.key, entry), counters: bump(cache.counters, { updated: 1 }) },
    change: { type: 'update', key: old.key, flow, propagate },
    refused: null
  }
}

function remove (cache: FlowCache, old: CacheEntry, last: Flow, propagate: boolean): CacheApplyResult {
  const flow = mergeFlow(old.flow, last)
  return {
    cache: { ...cache, entries: trieDelete(cache.entries, old.key), counters: bump(cache.counters, { destroyed: 1 }) },
    change: { type: 'destroy', key: old.key, flow, propagate },
    refused: null
  }
}

/** Both ids known and different: the event is about another incarnation of the same tuple. */
function otherIncarnation (a: Flow, b: Flow): boolean {
  return a.id !== undefined && b.id !== undefined && a.id !== b.id
}

/** The kernel reports counters and use on every event; they are not state and never cached (spec §4.2). */
function stripVolatile (flow: Flow): Flow {
  if (flow.counters === undefined && flow.use === undefined) return flow
  const { counters: _c, use: _u, ...rest } = flow
  return rest
}

// --- internal cache: kernel events ---------------------------------------------------------------

/**
 * Apply one kernel event (or a single dump entry, as 'update') to the internal cache.
 * `filter` null = replicate everything. DESTROY bypasses the filter: an entry that is cached was
 * accepted once and must go, even if its final state (e.g. an ignored TIME_WAIT) would be refused.
 */
export function applyKernelEvent (cache: FlowCache, ev: KernelEvent, now: Millis, filter: FlowFilter | null): CacheApplyResult {
  if (ev.origin === 'inject') return unchanged(cache, 'injected')
  const propagate = ev.origin === 'other'
  const flow = stripVolatile(ev.flow)
  const key = flowKey(flow)
  const old = trieGet(cache.entries, key)
  if (ev.event === 'destroy') {
    if (old === undefined || otherIncarnation(old.flow, flow)) return unchanged(cache, 'unknownDestroy', { unknownDestroy: 1 })
    return remove(cache, old, flow, propagate)
  }
  if (filter !== null) {
    const v = filterFlow(filter, flow)
    if (!v.accept) return unchanged(cache, 'filtered', { filtered: 1 }, v.reason)
  }
  if (ev.event === 'new' || old === undefined || otherIncarnation(old.flow, flow)) {
    // NEW replaces any cached entry with the same tuple (conntrackd internal_cache_ct_event_new).
    const replaced = old === undefined ? cache : { ...cache, entries: trieDelete(cache.entries, key) }
    return insert(replaced, key, flow, now, propagate)
  }
  return merge(cache, old, flow, now, propagate)
}

// --- external cache: peer messages ---------------------------------------------------------------

/**
 * Apply one conntrackd NEW / UPD / DEL from the peer to the external cache (spec §4.1). Never
 * filtered. `propagate` is false on every change: the external cache is not forwarded.
 */
export function applyPeerUpdate (cache: FlowCache, msg: PeerUpdate, now: Millis): CacheApplyResult {
  const key = flowKey(msg.flow)
  const old = trieGet(cache.entries, key)
  switch (msg.event) {
    case 'del':
      if (old === undefined) return unchanged(cache, 'unknownDestroy', { unknownDestroy: 1 })
      return remove(cache, old, msg.flow, false)
    case 'new': {
      const replaced = old === undefined ? cache : { ...cache, entries: trieDelete(cache.entries, key) }
      return insert(replaced, key, msg.flow, now, false)
    }
    case 'upd':
      return old === undefined ? insert(cache, key, msg.flow, now, false) : merge(cache, old, msg.flow, now, false)
  }
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
}

export interface ResyncResult {
  readonly cache: FlowCache
  /** new / update per dumped entry that changed the cache, then destroy per purged entry. */
  readonly changes: readonly CacheChange[]
}

/**
 * Merge a complete kernel dump into the internal cache in one pass (one O(n) rebuild instead of n
 * copies). Dump entries are updates: monotonic rule and filter apply as for events.
 */
export function resyncFromDump (cache: FlowCache, dump: Iterable<Flow>, now: Millis, opts: ResyncOptions): ResyncResult {
  const work = new Map<string, CacheEntry>()
  for (const e of trieValues(cache.entries)) work.set(e.key, e)
  const seen = new Set<string>()
  const changes: CacheChange[] = []
  const counters: MutableCounters = { ...cache.counters, filteredBy: { ...cache.counters.filteredBy } }
  const filteredBy = counters.filteredBy as Record<FilterReason, number>
  for (const raw of dump) {
    const flow = stripVolatile(raw)
    if (opts.filter !== null) {
      const v = filterFlow(opts.filter, flow)
      if (!v.accept) {
        counters.filtered++
        filteredBy[v.reason]++
        continue
      }
    }
    const key = flowKey(flow)
    seen.add(key)
    const old = work.get(key)
    if (old === undefined || otherIncarnation(old.flow, flow)) {
      work.set(key, { key, flow, since: now, lastUpdate: now, status: 'new' })
      counters.created++
      changes.push({ type: 'new', key, flow, propagate: opts.propagate })
    } else if (regresses(old.flow, flow)) {
      counters.stale++
    } else {
      const merged = mergeFlow(old.flow, flow)
      work.set(key, { ...old, flow: merged, lastUpdate: now, status: 'alive' })
      counters.updated++
      changes.push({ type: 'update', key, flow: merged, propagate: opts.propagate })
    }
  }
  if (opts.purge) {
    for (const [key, e] of work) {
      if (seen.has(key)) continue
      work.delete(key)
      counters.destroyed++
      counters.purged++
      changes.push({ type: 'destroy', key, flow: e.flow, propagate: opts.propagate })
    }
  }
  return { cache: { ...cache, entries: trieFrom([...work].map(([k, e]) => [k, e] as const)), counters }, changes }
}

/** Drop every entry (conntrackd -f internal / external). */
export function flushCache (cache: FlowCache): FlowCache {
  if (cache.entries.size === 0) return cache
  return { ...cache, entries: trieEmpty(), counters: bump(cache.counters, { flushed: cache.entries.size }) }
}

export function cacheGet (cache: FlowCache, key: string): CacheEntry | undefined {
  return trieGet(cache.entries, key)
}

export function cacheSize (cache: FlowCache): number {
  return cache.entries.size
}

/** Every entry, in the trie's deterministic (unsorted) order: the input of a commit. */
export function cacheSnapshot (cache: FlowCache): readonly CacheEntry[] {
  return [...trieValues(cache.entries)]
}

export interface CacheStats extends CacheCounters {
  readonly name: CacheName
  readonly active: number
}

export function cacheStats (cache: FlowCache): CacheStats {
  return { name: cache.name, active: cache.entries.size, ...cache.counters }
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
  const rows = [...trieValues(cache.entries)].map(e => ({
    key: e.key,
    flow: e.flow,
    status: e.status,
    activeSinceS: Math.max(0, Math.floor((now - e.since) / 1000)),
    idleS: Math.max(0, Math.floor((now - e.lastUpdate) / 1000))
  }))
  return rows.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}
