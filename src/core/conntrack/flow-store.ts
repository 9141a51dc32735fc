/**
 * A mutable set of flows keyed like flowKey (family, original tuple, zone), with the cache's
 * per-entry bookkeeping (since, lastUpdate, new/alive): the storage under cache.ts.
 *
 * Three places, chosen per flow:
 *   v4, v6  packed records (flow-table.ts, flow-record.ts): every flow a codec produces;
 *   loose   a Map by flowKey string of whole objects, for flows whose key cannot be packed (an
 *           address that does not parse for its family, a protocol number > 255 ...). No codec
 *           produces them; they are kept so the cache never loses or changes what it was given.
 *
 * An entry is named by a Ref, a number: slot × 4 + place. A Ref stays valid until its entry is
 * deleted or the store cleared. Iteration: v4 slots, then v6 slots, then loose, each in slot order.
 */
import { mergeRecord, packBody, packKey, packedId, packedTcpState, flowExtra, P1, unpackFlow, type RecordLayout } from './flow-record.js'
import { LAYOUT_V4, LAYOUT_V6 } from './record-batch.js'
import { createTable, scratchHash, slabBytes, slotBuf, slotOffset, slotUsed, slotView, tableFind, tableInsert, tableOverwrite, tableRemove, tableSlots, type FlowTable } from './flow-table.js'
import { flowKey, type Flow, type FlowFamily } from './flow.js'

/**
 * A deep copy of plain flow data (objects, Uint8Array, primitives). What the side table and the
 * loose table keep is copied in and out, so that neither the caller's objects nor a decoded flow
 * alias the cache (the packed fields are copies by nature). Only rare flows pay for it.
 */
function copyData<T> (v: T): T {
  if (v === null || typeof v !== 'object') return v
  if (v instanceof Uint8Array) return v.slice() as T
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = copyData(x)
  return out as T
}

export type Ref = number
export const NO_REF: Ref = -1

const V4 = 0
const V6 = 1
const LOOSE = 2

interface LooseEntry { flow: Flow, since: number, lastUpdate: number, alive: boolean }

interface LooseTable {
  readonly byKey: Map<string, number>
  readonly entries: Array<LooseEntry | undefined>
  readonly free: number[]
}

export interface FlowStore {
  v4: FlowTable
  v6: FlowTable
  loose: LooseTable
}

export function createStore (): FlowStore {
  return { v4: createTable('ipv4'), v6: createTable('ipv6'), loose: { byKey: new Map(), entries: [], free: [] } }
}

export function storeSize (s: FlowStore): number {
  return s.v4.size + s.v6.size + s.loose.byKey.size
}

/** Drop everything and give the memory back (a flush): fresh, small tables. */
export function storeClear (s: FlowStore): void {
  s.v4 = createTable('ipv4')
  s.v6 = createTable('ipv6')
  s.loose = { byKey: new Map(), entries: [], free: [] }
}

const placeOf = (ref: Ref): number => ref & 3
const slotOf = (ref: Ref): number => ref >>> 2
const ref = (slot: number, place: number): Ref => slot * 4 + place

function tableFor (s: FlowStore, flow: Flow): FlowTable | null {
  return flow.family === 'ipv4' ? s.v4 : flow.family === 'ipv6' ? s.v6 : null
}

function tableOf (s: FlowStore, r: Ref): FlowTable {
  return placeOf(r) === V4 ? s.v4 : s.v6
}

/** The entry with `flow`'s key, or NO_REF. */
export function storeFind (s: FlowStore, flow: Flow): Ref {
  const t = tableFor(s, flow)
  if (t !== null && packKey(t.lay, flow, t.scratch, t.scratchDv, 0)) {
    const slot = tableFind(t, scratchHash(t))
    return slot < 0 ? NO_REF : ref(slot, t === s.v4 ? V4 : V6)
  }
  const slot = s.loose.byKey.get(flowKey(flow))
  return slot === undefined ? NO_REF : ref(slot, LOOSE)
}

/**
 * Insert `flow` as a new entry, or replace the whole entry with its key (conntrackd's NEW: delete,
 * then insert). Returns its Ref.
 */
export function storeSet (s: FlowStore, flow: Flow, now: number): Ref {
  const t = tableFor(s, flow)
  if (t === null || !packKey(t.lay, flow, t.scratch, t.scratchDv, 0)) return looseSet(s.loose, flowKey(flow), flow, now)
  const whole = !packBody(t.lay, flow, t.scratch, t.scratchDv, 0)
  const hash = scratchHash(t)
  let slot = tableFind(t, hash)
  if (slot < 0) slot = tableInsert(t, hash)
  else tableOverwrite(t, slot)
  finish(t, slot, flow, whole, now, now, false)
  return ref(slot, t === s.v4 ? V4 : V6)
}

/** Replace the flow of an existing entry (same key: a merge result), stamp lastUpdate, mark it alive. */
export function storeUpdate (s: FlowStore, r: Ref, flow: Flow, now: number): void {
  if (placeOf(r) === LOOSE) {
    const e = s.loose.entries[slotOf(r)] as LooseEntry
    e.flow = copyData(flow)
    e.lastUpdate = now
    e.alive = true
    return
  }
  const t = tableOf(s, r)
  const slot = slotOf(r)
  packKey(t.lay, flow, t.scratch, t.scratchDv, 0) // same key as the entry (the caller found it by this flow)
  const whole = !packBody(t.lay, flow, t.scratch, t.scratchDv, 0)
  tableOverwrite(t, slot)
  const since = slotView(t, slot).getFloat64(slotOffset(t, slot) + t.lay.since)
  finish(t, slot, flow, whole, since, now, true)
}

function finish (t: FlowTable, slot: number, flow: Flow, whole: boolean, since: number, last: number, alive: boolean): void {
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  let p1 = P1.USED | (alive ? P1.ALIVE : 0)
  if (whole) {
    t.side.set(slot, copyData(flow))
    p1 |= P1.WHOLE
  } else {
    const extra = flowExtra(flow)
    if (extra !== undefined) {
      t.side.set(slot, copyData(extra))
      p1 |= P1.EXTRA
    } else {
      t.side.delete(slot)
    }
  }
  dv.setUint32(off + t.lay.p1, p1)
  dv.setFloat64(off + t.lay.since, since)
  dv.setFloat64(off + t.lay.lastUpdate, last)
}

// --- packed records (record-batch.ts): stored and merged without a Flow ---------------------------

function familyTable (s: FlowStore, family: FlowFamily): FlowTable {
  return family === 'ipv4' ? s.v4 : s.v6
}

/**
 * Copy the record at u8[off] (key, body, P0; packed by ctnl-record.ts or pack*) into `family`'s
 * scratch and find the entry with its key. The scratch keeps it for storeSetPacked /
 * storeMergePacked / storeScratchFlow, until the next store call that packs.
 */
export function storeFindPacked (s: FlowStore, family: FlowFamily, u8: Uint8Array, off: number): Ref {
  const t = familyTable(s, family)
  const sc = t.scratch
  for (let i = 0, n = t.lay.size; i < n; i++) sc[i] = u8[off + i] as number
  const slot = tableFind(t, scratchHash(t))
  return slot < 0 ? NO_REF : ref(slot, t === s.v4 ? V4 : V6)
}

/** The scratch record (storeFindPacked) as a new entry, replacing any with its key (storeSet). */
export function storeSetPacked (s: FlowStore, family: FlowFamily, now: number): Ref {
  const t = familyTable(s, family)
  const hash = scratchHash(t)
  let slot = tableFind(t, hash)
  if (slot < 0) slot = tableInsert(t, hash)
  else tableOverwrite(t, slot)
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  t.side.delete(slot)
  dv.setUint32(off + t.lay.p1, P1.USED)
  dv.setFloat64(off + t.lay.since, now)
  dv.setFloat64(off + t.lay.lastUpdate, now)
  return ref(slot, t === s.v4 ? V4 : V6)
}

/**
 * Merge the scratch record (storeFindPacked, same key) into entry `r` as storeUpdate(mergeFlow(...))
 * would, stamp lastUpdate, mark it alive. False, and nothing changed, when the entry keeps side data
 * (EXTRA / WHOLE): the caller merges it as Flows.
 */
export function storeMergePacked (s: FlowStore, r: Ref, now: number): boolean {
  if (placeOf(r) === LOOSE) return false
  const t = tableOf(s, r)
  const slot = slotOf(r)
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  const p1 = dv.getUint32(off + t.lay.p1)
  if ((p1 & (P1.EXTRA | P1.WHOLE)) !== 0) return false
  mergeRecord(t.lay, slotBuf(t, slot), dv, off, t.scratch, t.scratchDv, 0)
  dv.setUint32(off + t.lay.p1, p1 | P1.ALIVE)
  dv.setFloat64(off + t.lay.lastUpdate, now)
  return true
}

/** The record in `family`'s scratch, decoded. */
export function storeScratchFlow (s: FlowStore, family: FlowFamily): Flow {
  const t = familyTable(s, family)
  return unpackFlow(t.lay, t.scratch, t.scratchDv, 0)
}

/** TCP state and id of the record in `family`'s scratch. */
export function storeScratchTcpState (s: FlowStore, family: FlowFamily): number | undefined {
  const t = familyTable(s, family)
  return packedTcpState(t.lay, t.scratch, t.scratchDv, 0)
}

export function storeScratchId (s: FlowStore, family: FlowFamily): number | undefined {
  const t = familyTable(s, family)
  return packedId(t.lay, t.scratchDv, 0)
}

export function storeDelete (s: FlowStore, r: Ref): void {
  if (placeOf(r) === LOOSE) {
    const slot = slotOf(r)
    const e = s.loose.entries[slot] as LooseEntry
    s.loose.byKey.delete(flowKey(e.flow))
    s.loose.entries[slot] = undefined
    s.loose.free.push(slot)
    return
  }
  tableRemove(tableOf(s, r), slotOf(r))
}

function looseSet (l: LooseTable, key: string, flow: Flow, now: number): Ref {
  const entry: LooseEntry = { flow: copyData(flow), since: now, lastUpdate: now, alive: false }
  let slot = l.byKey.get(key)
  if (slot === undefined) {
    slot = l.free.pop() ?? l.entries.length
    l.byKey.set(key, slot)
  }
  l.entries[slot] = entry
  return ref(slot, LOOSE)
}

/** The entry's flow, decoded: a new object graph per call. */
export function storeFlow (s: FlowStore, r: Ref): Flow {
  if (placeOf(r) === LOOSE) return copyData((s.loose.entries[slotOf(r)] as LooseEntry).flow)
  const t = tableOf(s, r)
  const slot = slotOf(r)
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  const p1 = dv.getUint32(off + t.lay.p1)
  if ((p1 & P1.WHOLE) !== 0) return copyData(t.side.get(slot) as Flow)
  const f = unpackFlow(t.lay, slotBuf(t, slot), dv, off)
  if ((p1 & P1.EXTRA) !== 0) Object.assign(f, copyData(t.side.get(slot)))
  return f
}

export interface EntryMeta { readonly since: number, readonly lastUpdate: number, readonly alive: boolean }

export function storeMeta (s: FlowStore, r: Ref): EntryMeta {
  if (placeOf(r) === LOOSE) {
    const e = s.loose.entries[slotOf(r)] as LooseEntry
    return { since: e.since, lastUpdate: e.lastUpdate, alive: e.alive }
  }
  const t = tableOf(s, r)
  const off = slotOffset(t, slotOf(r))
  const dv = slotView(t, slotOf(r))
  return {
    since: dv.getFloat64(off + t.lay.since),
    lastUpdate: dv.getFloat64(off + t.lay.lastUpdate),
    alive: (dv.getUint32(off + t.lay.p1) & P1.ALIVE) !== 0
  }
}

/** The entry's TCP state and conntrack id, read without decoding the entry. */
export function storeTcpState (s: FlowStore, r: Ref): number | undefined {
  const packed = packedOffset(s, r)
  if (packed === null) return storeFlow(s, r).tcp?.state
  return packedTcpState(packed[0].lay, slotBuf(packed[0], slotOf(r)), slotView(packed[0], slotOf(r)), packed[1])
}

export function storeId (s: FlowStore, r: Ref): number | undefined {
  const packed = packedOffset(s, r)
  if (packed === null) return storeFlow(s, r).id
  return packedId(packed[0].lay, slotView(packed[0], slotOf(r)), packed[1])
}

/** The table and record offset of a packed entry; null for loose entries and flows kept whole. */
function packedOffset (s: FlowStore, r: Ref): [FlowTable, number] | null {
  if (placeOf(r) === LOOSE) return null
  const t = tableOf(s, r)
  const off = slotOffset(t, slotOf(r))
  return (slotView(t, slotOf(r)).getUint32(off + t.lay.p1) & P1.WHOLE) !== 0 ? null : [t, off]
}

/**
 * The store's tables as they are now, kept by whoever holds the view: a later storeClear (a flush)
 * gives the store fresh tables and leaves these alone, while deletes and inserts in them stay
 * visible (slots are stable). A commit reads the entries it planned through a view, batch by batch.
 */
export function storeView (s: FlowStore): FlowStore {
  return { v4: s.v4, v6: s.v6, loose: s.loose }
}

/** Whether `r` names an entry now (false once it was deleted; a reused slot names the new entry). */
export function storeLive (s: FlowStore, r: Ref): boolean {
  if (placeOf(r) === LOOSE) return s.loose.entries[slotOf(r)] !== undefined
  const t = tableOf(s, r)
  const slot = slotOf(r)
  return slot < t.top && slotUsed(t, slot)
}

/** Whether the entry has a master tuple (an expectation's child), read without decoding the entry. */
export function storeHasMaster (s: FlowStore, r: Ref): boolean {
  if (placeOf(r) === LOOSE) return (s.loose.entries[slotOf(r)] as LooseEntry).flow.master !== undefined
  const t = tableOf(s, r)
  const slot = slotOf(r)
  // master is one of the EXTRA_KEYS: a packed entry without side data has none.
  if ((slotView(t, slot).getUint32(slotOffset(t, slot) + t.lay.p1) & (P1.EXTRA | P1.WHOLE)) === 0) return false
  return (t.side.get(slot) as Partial<Flow> | undefined)?.master !== undefined
}

/**
 * Every entry's Ref, in store order. Collected up front, so the caller may delete while walking.
 */
export function storeRefs (s: FlowStore): Ref[] {
  const out: Ref[] = []
  for (const slot of tableSlots(s.v4)) out.push(ref(slot, V4))
  for (const slot of tableSlots(s.v6)) out.push(ref(slot, V6))
  s.loose.entries.forEach((e, slot) => { if (e !== undefined) out.push(ref(slot, LOOSE)) })
  return out
}

/** What the store holds, for the memory tests and benchmarks. */
export function storeFootprint (s: FlowStore): { readonly slabBytes: number, readonly indexBytes: number, readonly sideEntries: number, readonly loose: number } {
  return {
    slabBytes: slabBytes(s.v4) + slabBytes(s.v6),
    indexBytes: s.v4.index.byteLength + s.v6.index.byteLength + s.v4.hashes.byteLength + s.v6.hashes.byteLength,
    sideEntries: s.v4.side.size + s.v6.side.size,
    loose: s.loose.byKey.size
  }
}

// --- the sync layer's view of an entry ------------------------------------------------------------

/** Where a plain packed entry's record is (storeRecordAt): reused by its owner, no object per call. */
export interface RecordAt {
  lay: RecordLayout
  u8: Buffer
  dv: DataView
  off: number
}

export function newRecordAt (): RecordAt {
  const u8 = Buffer.alloc(0)
  return { lay: LAYOUT_V4, u8, dv: new DataView(u8.buffer, u8.byteOffset, 0), off: 0 }
}

/**
 * Point `at` at entry r's record and return true when it is a plain packed entry (no side data, not
 * loose): what record-attrs.ts writes straight from the bytes. False for the others (read them as
 * Flows).
 */
export function storeRecordAt (s: FlowStore, r: Ref, at: RecordAt): boolean {
  if (placeOf(r) === LOOSE) return false
  const t = tableOf(s, r)
  const slot = slotOf(r)
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  if ((dv.getUint32(off + t.lay.p1) & (P1.EXTRA | P1.WHOLE)) !== 0) return false
  at.lay = t.lay
  at.u8 = slotBuf(t, slot)
  at.dv = dv
  at.off = off
  return true
}

/**
 * The key the sync layer coalesces an entry's changes by (core/sync/txqueue.ts): its key bytes read
 * as latin1, or U+0100 + flowKey for a loose entry (a latin1 string never holds U+0100, and IPv4
 * and IPv6 keys differ in length). Equal for two flows exactly when their flowKeys are equal, like
 * the key bytes; a string of 20 (IPv4) or 44 (IPv6) characters instead of a formatted flowKey.
 */
export function storeSyncKey (s: FlowStore, r: Ref): string {
  if (placeOf(r) === LOOSE) return LOOSE_KEY_PREFIX + flowKey((s.loose.entries[slotOf(r)] as LooseEntry).flow)
  const t = tableOf(s, r)
  const slot = slotOf(r)
  const off = slotOffset(t, slot)
  return slotBuf(t, slot).toString('latin1', off, off + t.lay.keyLen)
}

const LOOSE_KEY_PREFIX = '\u0100'

/** storeSyncKey of a flow (cached or not): its packed key bytes as latin1, or U+0100 + flowKey. */
export function flowSyncKey (flow: Flow): string {
  const lay = flow.family === 'ipv4' ? LAYOUT_V4 : flow.family === 'ipv6' ? LAYOUT_V6 : null
  if (lay === null) return LOOSE_KEY_PREFIX + flowKey(flow)
  const b = Buffer.allocUnsafe(lay.keyLen + 16) // + room: packKey writes l4 fields as u16 × 3 at fixed offsets
  if (!packKey(lay, flow, b, new DataView(b.buffer, b.byteOffset, b.byteLength), 0)) return LOOSE_KEY_PREFIX + flowKey(flow)
  return b.toString('latin1', 0, lay.keyLen)
}
