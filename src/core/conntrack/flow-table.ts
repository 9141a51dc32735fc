/**
 * The flows of one address family as fixed-size records (flow-record.ts) in a slab of chunks,
 * found through an open-addressing hash index over the records' key bytes.
 *
 * Mutable on purpose (architecture decision 1: pure is no I/O and no clock, not copy-on-write):
 * 100k entries cost one ArrayBuffer of records, one Int32Array index and a side Map for the few
 * entries with rare fields, instead of an object graph and a key string per entry.
 *
 *   slots  record i lives in chunk i >> CHUNK_BITS at (i & CHUNK_MASK) × size. Chunk 0 grows ×2
 *          up to CHUNK_SLOTS records (a small table stays small); past that the slab grows by one
 *          whole chunk, never copying what it holds: one contiguous slab grown ×1.5 copied 30 MB
 *          and allocated 45 MB at once near 300k entries (a pause and an RSS peak of 2.5× the
 *          records while the conntrack thread must keep reading events), and its slack was up to a
 *          third of the slab. Freed slots form a stack threaded through their hash field and are
 *          reused first, so inserts after deletes do not grow the slab.
 *   index  linear probing, at most half full; a cell holds slot + 1 (0 = empty), and `hashes`
 *          the same cell's key hash. A probe compares hashes in the index and reads a record
 *          only when they match: reading each probed record (its hash field, at a random place
 *          in the slab) was a cache miss per probe, and most lookups of a storm are misses (new
 *          keys). Deletion shifts the following cells back (no tombstones), so a long
 *          insert/delete churn keeps probes short.
 *   side   slot → the EXTRA_KEYS fields (P1.EXTRA), or the whole Flow when pack refused it
 *          (P1.WHOLE).
 *
 * Iteration is in slot order: deterministic for a given history (same inputs, same outputs).
 */
import { hashKey, P1, recordLayout, sameKey, type RecordLayout } from './flow-record.js'
import type { Flow, FlowFamily } from './flow.js'
import type { FlowExtra } from './flow-record.js'

export interface FlowTable {
  readonly lay: RecordLayout
  /**
   * The slab: chunk c holds slots [c × CHUNK_SLOTS, (c + 1) × CHUNK_SLOTS). Buffers, so that a
   * record's key bytes read as a latin1 string in one call (flow-store.ts storeSyncKey).
   */
  readonly chunks: Buffer[]
  /** A DataView over each chunk. */
  readonly views: DataView[]
  /** Records the slab can hold. */
  capacity: number
  /** Slots ever handed out (high-water mark); slots below it are used or on the free stack. */
  top: number
  /** Head of the free stack (-1 = empty). */
  free: number
  /** Used slots. */
  size: number
  index: Int32Array
  /** The key hash of each index cell (as int32), beside `index` (module comment). */
  hashes: Int32Array
  readonly side: Map<number, FlowExtra | Flow>
  /** One record where a flow is packed (and so validated) before it is looked up or stored. */
  readonly scratch: Uint8Array
  readonly scratchDv: DataView
}

export const MIN_CAPACITY = 16
const CHUNK_BITS = 10
/** Records per chunk: 1024, i.e. 104 KiB of IPv4 or 176 KiB of IPv6 records. */
export const CHUNK_SLOTS = 1 << CHUNK_BITS
const CHUNK_MASK = CHUNK_SLOTS - 1

export function createTable (family: FlowFamily, capacity = MIN_CAPACITY): FlowTable {
  const lay = recordLayout(family)
  const cap = Math.min(CHUNK_SLOTS, Math.max(1, capacity))
  const buf = Buffer.alloc(cap * lay.size)
  const scratch = new Uint8Array(lay.size)
  return {
    lay,
    chunks: [buf],
    views: [new DataView(buf.buffer, buf.byteOffset, buf.byteLength)],
    capacity: cap,
    top: 0,
    free: -1,
    size: 0,
    index: new Int32Array(indexSizeFor(cap)),
    hashes: new Int32Array(indexSizeFor(cap)),
    side: new Map(),
    scratch,
    scratchDv: new DataView(scratch.buffer)
  }
}

/** The smallest power of two at least twice `n` (load factor ≤ 0.5). */
function indexSizeFor (n: number): number {
  let s = 8
  while (s < 2 * n) s *= 2
  return s
}

/** The chunk holding a slot's record. */
export function slotBuf (t: FlowTable, slot: number): Buffer {
  return t.chunks[slot >>> CHUNK_BITS] as Buffer
}

/** A DataView over the chunk holding a slot's record. */
export function slotView (t: FlowTable, slot: number): DataView {
  return t.views[slot >>> CHUNK_BITS] as DataView
}

/** Offset of a slot's record in its chunk (slotBuf / slotView). */
export function slotOffset (t: FlowTable, slot: number): number {
  return (slot & CHUNK_MASK) * t.lay.size
}

export function slotUsed (t: FlowTable, slot: number): boolean {
  return (slotView(t, slot).getUint32(slotOffset(t, slot) + t.lay.p1) & P1.USED) !== 0
}

/** The slot whose key equals the key packed in `scratch`, or -1. `hash` = hashKey of the scratch key. */
export function tableFind (t: FlowTable, hash: number): number {
  const mask = t.index.length - 1
  const h = hash | 0
  for (let i = hash & mask; ; i = (i + 1) & mask) {
    const cell = t.index[i] as number
    if (cell === 0) return -1
    if (t.hashes[i] !== h) continue
    const slot = cell - 1
    if (sameKey(t.lay, slotBuf(t, slot), slotOffset(t, slot), t.scratch, 0)) return slot
  }
}

/**
 * Take a slot for the record packed in `scratch` (its key must be absent: tableFind first) and copy
 * the record in. The caller sets since/lastUpdate/P1 bits after.
 */
export function tableInsert (t: FlowTable, hash: number): number {
  let slot: number
  if (t.free >= 0) {
    slot = t.free
    t.free = slotView(t, slot).getInt32(slotOffset(t, slot) + t.lay.hash)
  } else {
    if (t.top === t.capacity) growSlab(t)
    slot = t.top++
  }
  t.size++
  if (2 * t.size > t.index.length) growIndex(t)
  copyScratchTo(t, slot, hash)
  const mask = t.index.length - 1
  let i = hash & mask
  while (t.index[i] !== 0) i = (i + 1) & mask
  t.index[i] = slot + 1
  t.hashes[i] = hash | 0
  return slot
}

/** Overwrite a used slot with the record in `scratch` (same key), keeping its hash and P1 bits. */
export function tableOverwrite (t: FlowTable, slot: number): void {
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  const hash = dv.getUint32(off + t.lay.hash)
  const p1 = dv.getUint32(off + t.lay.p1)
  const since = dv.getFloat64(off + t.lay.since)
  const last = dv.getFloat64(off + t.lay.lastUpdate)
  slotBuf(t, slot).set(t.scratch, off)
  dv.setUint32(off + t.lay.hash, hash)
  dv.setUint32(off + t.lay.p1, p1)
  dv.setFloat64(off + t.lay.since, since)
  dv.setFloat64(off + t.lay.lastUpdate, last)
}

function copyScratchTo (t: FlowTable, slot: number, hash: number): void {
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  slotBuf(t, slot).set(t.scratch, off)
  dv.setUint32(off + t.lay.hash, hash)
  dv.setUint32(off + t.lay.p1, P1.USED)
}

/** Free a used slot: out of the index (backward shift), its side entry dropped, onto the free stack. */
export function tableRemove (t: FlowTable, slot: number): void {
  const off = slotOffset(t, slot)
  const dv = slotView(t, slot)
  const mask = t.index.length - 1
  let i = dv.getUint32(off + t.lay.hash) & mask
  while (t.index[i] !== slot + 1) i = (i + 1) & mask
  // Backward-shift deletion: move later cells of the run into the hole when their home allows it.
  let hole = i
  for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
    const cell = t.index[j] as number
    if (cell === 0) break
    const home = (t.hashes[j] as number) & mask
    // j's entry may move to `hole` unless its home lies cyclically in (hole, j].
    const inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
    if (!inRange) {
      t.index[hole] = cell
      t.hashes[hole] = t.hashes[j] as number
      hole = j
    }
  }
  t.index[hole] = 0
  t.hashes[hole] = 0
  t.side.delete(slot)
  slotBuf(t, slot).fill(0, off, off + t.lay.size)
  dv.setInt32(off + t.lay.hash, t.free)
  t.free = slot
  t.size--
  if (t.size === 0) { // all free: start again from slot 0 (same slab, no stack to walk)
    t.top = 0
    t.free = -1
  }
}

/** Chunk 0 doubles up to CHUNK_SLOTS records; then one more whole chunk (module comment). */
function growSlab (t: FlowTable): void {
  if (t.capacity < CHUNK_SLOTS) {
    const cap = Math.min(CHUNK_SLOTS, t.capacity * 2)
    const buf = Buffer.alloc(cap * t.lay.size)
    buf.set(t.chunks[0] as Buffer)
    t.chunks[0] = buf
    t.views[0] = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    t.capacity = cap
    return
  }
  const buf = Buffer.alloc(CHUNK_SLOTS * t.lay.size)
  t.chunks.push(buf)
  t.views.push(new DataView(buf.buffer, buf.byteOffset, buf.byteLength))
  t.capacity += CHUNK_SLOTS
}

/** Bytes of record storage (every chunk). */
export function slabBytes (t: FlowTable): number {
  let n = 0
  for (const c of t.chunks) n += c.byteLength
  return n
}

/**
 * Double the index, from the old one's cells and hashes: no record is read. (Reading each record's
 * stored hash, at a random place in the slab, made growIndex 107 ms of 2.5 s of CPU in event-path
 * with 300k-entry tables; the last doubling of a growing cache is one step the events wait behind.)
 */
function growIndex (t: FlowTable): void {
  const index = new Int32Array(t.index.length * 2)
  const hashes = new Int32Array(index.length)
  const mask = index.length - 1
  for (let j = 0; j < t.index.length; j++) {
    const cell = t.index[j] as number
    if (cell === 0) continue
    const h = t.hashes[j] as number
    let i = h & mask
    while (index[i] !== 0) i = (i + 1) & mask
    index[i] = cell
    hashes[i] = h
  }
  t.index = index
  t.hashes = hashes
}

/** Every used slot, in slot order. */
export function * tableSlots (t: FlowTable): Generator<number> {
  for (let s = 0; s < t.top; s++) if (slotUsed(t, s)) yield s
}

/** Hash of the key in `scratch`. */
export function scratchHash (t: FlowTable): number {
  return hashKey(t.lay, t.scratch, 0)
}
