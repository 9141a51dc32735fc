// In-memory ConntrackControl that behaves like the kernel table as seen through ctnetlink
// (spec §5.3), so runtime tests can use it instead of the real adapter. It passes the same
// contract suite (test/contract/conntrack.contract.ts).
//
// Kernel behaviours mirrored: exclusive create of an existing entry → EEXIST, create without
// timeout refused before sending (the codec's CT_ENCODE_NO_TIMEOUT), update/delete/get/setTimeout
// of a missing entry → ENOENT, NAT on create rewrites the reply tuple and sets the NAT status bits,
// CONFIRMED is always set, flush empties every family, our own changes raise no events.
// `kernel` makes the changes someone else would make (packets, the conntrack CLI): those do raise
// events. `triggerOverrun()` simulates lost events.
import type { ApplyResult, ConntrackControl, ConntrackEvent, CtMutation, OverrunInfo } from '../../src/io/conntrack-port.js'
import {
  flowKey, invertTuple, mergeFlow, IPS, IPS_NAT_MASK, type Flow, type FlowFamily
} from '../../src/core/conntrack/flow.js'
import type { FlowRef } from '../../src/codec/ctnetlink.js'
import { recordBatchOf, type RecordBatch } from '../../src/core/conntrack/record-batch.js'
import { plainRequest } from './ct-request.js'

const clone = (f: Flow): Flow => structuredClone(f)

/** The entry the kernel would hold after a create: NAT applied to the reply tuple, status bits. */
function created (flow: Flow, id: number): Flow {
  const f = clone(flow)
  let status = ((f.status ?? 0) | IPS.CONFIRMED) & ~(IPS.EXPECTED | IPS.DYING)
  const reply = { ...f.reply }
  if (f.nat?.src !== undefined) {
    if (f.nat.src.ip !== undefined) reply.dst = f.nat.src.ip
    if (f.nat.src.port !== undefined) reply.dport = f.nat.src.port
    status |= IPS.SRC_NAT | IPS.SRC_NAT_DONE
  }
  if (f.nat?.dst !== undefined) {
    if (f.nat.dst.ip !== undefined) reply.src = f.nat.dst.ip
    if (f.nat.dst.port !== undefined) reply.sport = f.nat.dst.port
    status |= IPS.DST_NAT | IPS.DST_NAT_DONE
  }
  f.reply = reply
  f.status = status >>> 0
  f.mark = f.mark ?? 0
  f.id = id
  return f
}

function keyOfRef (ref: FlowRef): string {
  return flowKey({ family: ref.family, orig: ref.orig, reply: invertTuple(ref.orig), ...(ref.zone === undefined ? {} : { zone: ref.zone }) })
}

export class FakeConntrack implements ConntrackControl {
  readonly table = new Map<string, Flow>()
  private readonly eventHandlers: Array<(e: ConntrackEvent) => void> = []
  private readonly overrunHandlers: Array<(i: OverrunInfo) => void> = []
  private overruns = 0
  private nextId = 1
  private closed = false
  /** Every batch passed to apply, for assertions on what the runtime asked for. */
  readonly applied: CtMutation[][] = []

  /** Changes made by someone else: they raise events, like packets or the conntrack CLI. */
  readonly kernel = {
    create: (flow: Flow): void => {
      const f = created(flow, this.nextId++)
      this.table.set(flowKey(f), f)
      if (this.newEvents) this.emit({ event: 'new', flow: clone(f) })
    },
    update: (flow: Flow): void => {
      const old = this.table.get(flowKey(flow))
      if (old === undefined) return
      const f = mergeFlow(old, clone(flow))
      this.table.set(flowKey(f), f)
      this.emit({ event: 'update', flow: clone(f) })
    },
    delete: (ref: FlowRef): void => {
      const k = keyOfRef(ref)
      const old = this.table.get(k)
      if (old === undefined) return
      this.table.delete(k)
      this.emit({ event: 'destroy', flow: { ...clone(old), status: (old.status ?? 0) | IPS.DYING } })
    }
  }

  async dump (family?: FlowFamily): Promise<Flow[]> {
    this.assertOpen()
    return [...this.table.values()].filter(f => family === undefined || f.family === family).map(clone)
  }

  /** Entries per dumpChunks chunk (a kernel receive batch); small, so every resync spans chunks. */
  dumpChunkSize = 2

  /** The table a chunk at a time, each on its own turn of the event loop (events may come between). */
  async dumpChunks (onChunk: (batch: RecordBatch) => void, family?: FlowFamily): Promise<number> {
    const all = await this.dump(family)
    for (let i = 0; i < all.length; i += this.dumpChunkSize) {
      await new Promise<void>(resolve => { setImmediate(resolve) })
      this.assertOpen()
      onChunk(recordBatchOf(all.slice(i, i + this.dumpChunkSize)))
    }
    return all.length
  }

  async apply (requests: readonly CtMutation[]): Promise<ApplyResult[]> {
    if (this.closed) return requests.map(() => ({ ok: false, errno: 'ECLOSED' }))
    this.applied.push([...requests])
    return requests.map(r => this.applyOne(r))
  }

  async flush (): Promise<void> {
    this.assertOpen()
    this.table.clear()
  }

  onEvent (handler: (event: ConntrackEvent) => void): void {
    this.eventHandlers.push(handler)
  }

  onOverrun (handler: (info: OverrunInfo) => void): void {
    this.overrunHandlers.push(handler)
  }

  /** In the NEW event group (listenNew): kernel.create raises no event while false. */
  newEvents = true
  /** Every listenNew call, in order. */
  readonly listenNewCalls: boolean[] = []
  /** Errnos the next setsockopt calls throw, in order (a refused membership change), then none. */
  readonly failListenNew: string[] = []

  /** As the real event socket: a call that changes nothing makes no setsockopt (no call recorded). */
  listenNew (on: boolean): void {
    if (on === this.newEvents) return
    this.listenNewCalls.push(on)
    const errno = this.failListenNew.shift()
    if (errno !== undefined) throw Object.assign(new Error(`NETLINK membership: ${errno}`), { code: 'CTNL_OPEN', errno })
    this.newEvents = on
  }

  async close (): Promise<void> {
    this.closed = true
  }

  /** Simulate lost events (netlink ENOBUFS). */
  triggerOverrun (reason: OverrunInfo['reason'] = 'enobufs'): void {
    this.overruns++
    for (const h of this.overrunHandlers) h({ count: this.overruns, reason })
  }

  private applyOne (req: CtMutation): ApplyResult {
    const r = plainRequest(req)
    const ok: ApplyResult = { ok: true }
    const fail = (errno: string): ApplyResult => ({ ok: false, errno })
    switch (r.op) {
      case 'create': {
        if (r.flow.timeout === undefined) return fail('CT_ENCODE_NO_TIMEOUT')
        if (r.flow.orig.l4proto !== r.flow.reply.l4proto) return fail('EINVAL')
        const k = flowKey(r.flow)
        const old = this.table.get(k)
        if (old !== undefined) {
          if (r.exclusive !== false) return fail('EEXIST')
          this.table.set(k, this.updated(old, r.flow))
          return ok
        }
        this.table.set(k, created(r.flow, this.nextId++))
        return ok
      }
      case 'update': {
        const k = flowKey(r.flow)
        const old = this.table.get(k)
        if (old === undefined) return fail('ENOENT')
        this.table.set(k, this.updated(old, r.flow))
        return ok
      }
      case 'delete':
        return this.table.delete(keyOfRef(r.flow)) ? ok : fail('ENOENT')
      case 'get':
        return this.table.has(keyOfRef(r.flow)) ? ok : fail('ENOENT')
      case 'setTimeout': {
        const old = this.table.get(keyOfRef(r.flow))
        if (old === undefined) return fail('ENOENT')
        old.timeout = r.timeout
        return ok
      }
      case 'flush':
        // nfgenmsg version 0 flushes every family whatever `family` says (spec §5.3)
        this.table.clear()
        return ok
    }
  }

  /** Update semantics: status bits only ever set, NAT/master/helper not changed, tuples kept. */
  private updated (old: Flow, upd: Flow): Flow {
    const { nat: _nat, master: _master, helper: _helper, reply: _reply, ...rest } = clone(upd)
    const merged = mergeFlow(old, { ...rest, reply: old.reply })
    merged.status = ((old.status ?? 0) | ((upd.status ?? 0) & ~IPS_NAT_MASK & ~(IPS.EXPECTED | IPS.DYING))) >>> 0
    return merged
  }

  private emit (e: ConntrackEvent): void {
    for (const h of this.eventHandlers) h(e)
  }

  private assertOpen (): void {
    if (this.closed) throw new Error('FakeConntrack: closed')
  }
}
