/**
 * The entries of one dump receive batch as packed records (flow-record.ts), the way a resync takes
 * them into the internal cache (cache.ts resyncRecords) without a Flow per entry.
 *
 * The byte path (ctnl-record.ts) packs what a record holds; what it declines is decoded whole by
 * the Flow decoder and travels beside the records in `flows`. Records hold no volatile fields (use,
 * counters: the cache never keeps them), and their bookkeeping fields (hash, P1, since,
 * lastUpdate) are unset: the cache fills them when it stores one.
 */
import { flowExtra, packBody, packKey, recordLayout, unpackFlow, type RecordLayout } from './flow-record.js'
import { layoutFor, packCtnlRecord } from './ctnl-record.js'
import type { Flow } from './flow.js'

export const LAYOUT_V4: RecordLayout = recordLayout('ipv4')
export const LAYOUT_V6: RecordLayout = recordLayout('ipv6')

export interface RecordBatch {
  /** `n4` IPv4 records back to back, LAYOUT_V4.size bytes each. */
  readonly v4: Uint8Array
  readonly n4: number
  /** `n6` IPv6 records, LAYOUT_V6.size bytes each. */
  readonly v6: Uint8Array
  readonly n6: number
  /** Entries not packed (rare fields, unusual input), decoded whole. */
  readonly flows: readonly Flow[]
}

export function batchSize (b: RecordBatch): number {
  return b.n4 + b.n6 + b.flows.length
}

/** Every entry as a Flow (records first, IPv4 then IPv6, then the whole flows): for the rare users that need objects. */
export function batchFlows (b: RecordBatch): Flow[] {
  const out: Flow[] = []
  for (const [lay, u8, n] of [[LAYOUT_V4, b.v4, b.n4], [LAYOUT_V6, b.v6, b.n6]] as const) {
    const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength)
    for (let i = 0; i < n; i++) out.push(unpackFlow(lay, u8, dv, i * lay.size))
  }
  for (const f of b.flows) out.push(f)
  return out
}

/** Records of one family, growing by doubling. */
class Records {
  u8: Uint8Array
  dv: DataView
  n = 0
  constructor (readonly lay: RecordLayout, protected capacity: number) {
    this.u8 = new Uint8Array(capacity * lay.size)
    this.dv = new DataView(this.u8.buffer)
  }

  /** The offset of the next record (room made for it). */
  next (): number {
    if (this.n === this.capacity) {
      this.capacity *= 2
      const u8 = new Uint8Array(this.capacity * this.lay.size)
      u8.set(this.u8)
      this.u8 = u8
      this.dv = new DataView(u8.buffer)
    }
    return this.n * this.lay.size
  }

  /** The records so far, and a fresh buffer of the same capacity for the next batch (the taken one is the caller's). */
  take (): Uint8Array {
    if (this.n === 0) return this.u8.subarray(0, 0)
    const out = this.u8.subarray(0, this.n * this.lay.size)
    this.u8 = new Uint8Array(this.capacity * this.lay.size)
    this.dv = new DataView(this.u8.buffer)
    this.n = 0
    return out
  }
}

export class RecordBatchBuilder {
  private readonly v4 = new Records(LAYOUT_V4, 64)
  private readonly v6 = new Records(LAYOUT_V6, 16)
  private flows: Flow[] = []

  get size (): number {
    return this.v4.n + this.v6.n + this.flows.length
  }

  /**
   * Pack the attributes in b[start, end) of a conntrack message of family `nfFamily` (nfgenmsg).
   * False when the byte path declines it: decode it with the Flow decoder and `addFlow` the result.
   */
  addCtnl (b: Uint8Array, start: number, end: number, nfFamily: number): boolean {
    const lay = layoutFor(nfFamily, LAYOUT_V4, LAYOUT_V6)
    if (lay === null) return false
    const r = lay === LAYOUT_V4 ? this.v4 : this.v6
    const off = r.next() // may grow r.u8: take it after
    if (!packCtnlRecord(b, start, end, lay, r.u8, r.dv, off)) return false
    r.n++
    return true
  }

  /** A decoded entry: packed when a record holds it whole, else kept as it is. */
  addFlow (flow: Flow): void {
    const { use: _u, counters: _c, ...f } = flow
    const r = f.family === 'ipv4' ? this.v4 : f.family === 'ipv6' ? this.v6 : null
    if (r !== null && flowExtra(f) === undefined) {
      const off = r.next()
      if (packKey(r.lay, f, r.u8, r.dv, off) && packBody(r.lay, f, r.u8, r.dv, off)) {
        r.n++
        return
      }
    }
    this.flows.push(flow)
  }

  /** The batch so far; the builder starts empty again. */
  take (): RecordBatch {
    const n4 = this.v4.n
    const n6 = this.v6.n
    const batch: RecordBatch = { v4: this.v4.take(), n4, v6: this.v6.take(), n6, flows: this.flows }
    this.flows = []
    return batch
  }
}

/** A batch of these flows (tests, fakes, tools that hold Flows). */
export function recordBatchOf (flows: Iterable<Flow>): RecordBatch {
  const b = new RecordBatchBuilder()
  for (const f of flows) b.addFlow(f)
  return b.take()
}

/** Kernel event kinds in a KernelEventBatch (one byte per record). */
export const EV_NEW = 0
export const EV_UPDATE = 1
export const EV_DESTROY = 2

/**
 * Kernel events of one receive batch as packed records, the sender's hot path (cache.ts
 * applyKernelRecords): per family the records in arrival order and the event of each. Events of
 * different families never concern the same entry, so only the order within a family matters.
 * An event the byte path declines is not in a batch: the adapter hands over the batch so far, then
 * that event as a Flow, so the order of events of one entry is kept.
 */
export interface KernelEventBatch {
  readonly v4: Uint8Array
  readonly ev4: Uint8Array
  readonly n4: number
  readonly v6: Uint8Array
  readonly ev6: Uint8Array
  readonly n6: number
}

/** One family's records and the event of each, reused from batch to batch. */
class EventRecords extends Records {
  ev: Uint8Array
  constructor (lay: RecordLayout, capacity: number) {
    super(lay, capacity)
    this.ev = new Uint8Array(capacity)
  }

  override next (): number {
    const off = super.next()
    if (this.ev.length < this.capacity) {
      const ev = new Uint8Array(this.capacity)
      ev.set(this.ev)
      this.ev = ev
    }
    return off
  }
}

/**
 * Builds KernelEventBatches in buffers it reuses: a batch taken is valid until the next `add`
 * (the engine consumes it in the step it is given to and keeps none of it).
 */
export class EventBatchBuilder {
  private readonly v4 = new EventRecords(LAYOUT_V4, 128)
  private readonly v6 = new EventRecords(LAYOUT_V6, 16)
  private taken = false

  get size (): number {
    return this.taken ? 0 : this.v4.n + this.v6.n
  }

  /** Pack the conntrack message attributes b[start, end) of family `nfFamily`; false when the byte path declines it. */
  add (b: Uint8Array, start: number, end: number, nfFamily: number, event: number): boolean {
    if (this.taken) this.reset()
    const lay = layoutFor(nfFamily, LAYOUT_V4, LAYOUT_V6)
    if (lay === null) return false
    const r = lay === LAYOUT_V4 ? this.v4 : this.v6
    const off = r.next()
    if (!packCtnlRecord(b, start, end, lay, r.u8, r.dv, off)) return false
    r.ev[r.n++] = event
    return true
  }

  /** A decoded flow as an event (tests, tools): false when a record does not hold it whole. */
  addFlow (flow: Flow, event: number): boolean {
    if (this.taken) this.reset()
    const { use: _u, counters: _c, ...f } = flow
    const r = f.family === 'ipv4' ? this.v4 : f.family === 'ipv6' ? this.v6 : null
    if (r === null || flowExtra(f) !== undefined) return false
    const off = r.next()
    if (!packKey(r.lay, f, r.u8, r.dv, off) || !packBody(r.lay, f, r.u8, r.dv, off)) return false
    r.ev[r.n++] = event
    return true
  }

  /** The events so far as a batch (views into the builder's buffers, see the class comment). */
  take (): KernelEventBatch {
    if (this.taken) this.reset()
    this.taken = true
    const a = this.v4
    const b = this.v6
    return { v4: a.u8.subarray(0, a.n * a.lay.size), ev4: a.ev.subarray(0, a.n), n4: a.n, v6: b.u8.subarray(0, b.n * b.lay.size), ev6: b.ev.subarray(0, b.n), n6: b.n }
  }

  private reset (): void {
    this.v4.n = 0
    this.v6.n = 0
    this.taken = false
  }
}
