// decodeEventRecords (the event socket's byte path) against decodeEventBatch (the Flow path) on batches
// made of captured kernel messages: the same events with the same content, per address family in the
// same order, declined events and overruns at the same places, the same counters. Then seeded random
// batches with own-port messages, overruns, DONE/NOOP messages, corrupted and truncated messages.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { decodeEventBatch, decodeEventRecords } from '../../../src/io/ctnetlink.js'
import { unpackFlow } from '../../../src/core/conntrack/flow-record.js'
import type { Flow } from '../../../src/core/conntrack/flow.js'
import { EV_DESTROY, EV_NEW, EventBatchBuilder, LAYOUT_V4, LAYOUT_V6 } from '../../../src/core/conntrack/record-batch.js'
import { mulberry32 } from '../../helpers/prng.js'

const vecDir = new URL('../../fixtures/vectors/ctnetlink/', import.meta.url)
/** Every received netlink message of the captures, one Buffer each (4-byte aligned). */
const captured: Buffer[] = []
for (const f of readdirSync(vecDir).filter(n => n.endsWith('.json')).sort()) {
  const v = JSON.parse(readFileSync(new URL(f, vecDir), 'utf8')) as { messages: Array<{ dir: string, hex: string }> }
  for (const m of v.messages) {
    if (m.dir !== 'rx') continue
    const b = Buffer.from(m.hex, 'hex')
    for (let o = 0; o + 16 <= b.length;) {
      const len = b.readUInt32LE(o)
      if (len < 16 || o + len > b.length) break
      const msg = Buffer.alloc((len + 3) & ~3)
      b.copy(msg, 0, o, o + len)
      captured.push(msg)
      o += (len + 3) & ~3
    }
  }
}
const isCt = (m: Buffer): boolean => { const ty = m.readUInt16LE(4); return ty === 0x100 || ty === 0x102 }

type Out = { kind: 'event', event: string, flow: Flow, family: string } | { kind: 'barrier', what: string }
const strip = (f: Flow): Flow => { const { use: _u, counters: _c, ...rest } = f; return rest }
const EV = ['new', 'update', 'destroy']

function viaFlows (buf: Buffer, own: number): { out: Out[], counters: unknown } {
  const counters = { events: 0, ownEvents: 0, eventDecodeErrors: 0 }
  const out: Out[] = []
  decodeEventBatch(buf, own, counters, e => { out.push({ kind: 'event', event: e.event, flow: strip(e.flow), family: e.flow.family }) }, () => { out.push({ kind: 'barrier', what: 'overrun' }) })
  return { out, counters }
}

function viaRecords (buf: Buffer, own: number, builder: EventBatchBuilder): { out: Out[], counters: unknown, declined: number } {
  const counters = { events: 0, ownEvents: 0, eventDecodeErrors: 0 }
  const out: Out[] = []
  let declined = 0
  decodeEventRecords(buf, own, counters, builder, b => {
    for (const [lay, u8, ev, n] of [[LAYOUT_V4, b.v4, b.ev4, b.n4], [LAYOUT_V6, b.v6, b.ev6, b.n6]] as const) {
      const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength)
      for (let i = 0; i < n; i++) out.push({ kind: 'event', event: EV[ev[i] as number] as string, flow: unpackFlow(lay, u8, dv, i * lay.size), family: lay.family })
    }
  }, e => { declined++; out.push({ kind: 'barrier', what: 'declined' }); out.push({ kind: 'event', event: e.event, flow: strip(e.flow), family: e.flow.family }) }, () => { out.push({ kind: 'barrier', what: 'overrun' }) })
  return { out, counters, declined }
}

/**
 * Compare, allowing only what the byte path may change: the order of events of different families
 * between two barriers. Returns null when equal, else what differs.
 */
function compare (a: Out[], b: Out[]): string | null {
  const segments = (xs: Out[], declinedMarks: boolean): Array<{ events: Out[], barrier: string }> => {
    const segs: Array<{ events: Out[], barrier: string }> = [{ events: [], barrier: 'end' }]
    for (const x of xs) {
      if (x.kind === 'barrier') {
        if (x.what === 'declined' && !declinedMarks) continue
        ;(segs[segs.length - 1] as { barrier: string }).barrier = x.what
        segs.push({ events: [], barrier: 'end' })
      } else (segs[segs.length - 1] as { events: Out[] }).events.push(x)
    }
    return segs
  }
  const byFamily = (evs: Out[]): string => JSON.stringify([evs.filter(e => e.kind === 'event' && e.family === 'ipv4'), evs.filter(e => e.kind === 'event' && e.family !== 'ipv4')])
  // the record path's barriers (declined events, overruns) cut the Flow path's output at the same counts
  const sb = segments(b, true)
  let i = 0
  for (const seg of sb) {
    const take: Out[] = []
    while (take.length < seg.events.length && i < a.length) {
      const x = a[i++] as Out
      if (x.kind === 'barrier') { if (seg.barrier === 'overrun' && take.length === seg.events.length) break; return `an overrun at a different place (after ${take.length} events)` }
      take.push(x)
    }
    if (byFamily(take) !== byFamily(seg.events)) return `segment differs: ${byFamily(take).slice(0, 300)} vs ${byFamily(seg.events).slice(0, 300)}`
    if (seg.barrier === 'overrun') {
      const x = a[i++]
      if (x?.kind !== 'barrier') return 'overrun missing on the Flow path'
    }
  }
  if (i !== a.length) return `the Flow path has ${a.length - i} more outputs`
  return null
}

t.test('captured messages: the same events and counters, few declined', async t => {
  const builder = new EventBatchBuilder()
  const cts = captured.filter(isCt)
  t.ok(cts.length >= 50, `${cts.length} captured conntrack messages`)
  const buf = Buffer.concat(cts)
  const a = viaFlows(buf, 0)
  const b = viaRecords(buf, 0, builder)
  t.equal(compare(a.out, b.out), null)
  t.same(b.counters, a.counters)
  t.ok(b.declined < cts.length / 4, `${b.declined} of ${cts.length} declined (helpers, SCTP/DCCP protoinfo ...)`)
  t.ok(a.out.some(o => o.kind === 'event' && o.event === 'destroy') && a.out.some(o => o.kind === 'event' && o.event === 'new'), 'new and destroy events among them')
})

t.test('seeded random batches: own-port messages, overruns, non-conntrack messages, corruption, truncation', async t => {
  const builder = new EventBatchBuilder()
  const overrun = Buffer.alloc(16); overrun.writeUInt32LE(16, 0); overrun.writeUInt16LE(4, 4)
  const done = Buffer.alloc(20); done.writeUInt32LE(20, 0); done.writeUInt16LE(3, 4)
  let events = 0
  let badBatches = 0
  for (let seed = 1; seed <= 3000; seed++) {
    const rnd = mulberry32(seed)
    const parts: Buffer[] = []
    const n = 1 + Math.floor(rnd() * 12)
    for (let i = 0; i < n; i++) {
      const r = rnd()
      if (r < 0.05) { parts.push(overrun); continue }
      if (r < 0.08) { parts.push(done); continue }
      const m = Buffer.from(captured[Math.floor(rnd() * captured.length)] as Buffer)
      if (rnd() < 0.1) m.writeUInt32LE(4242, 12) // caused by our own port
      if (rnd() < 0.15) { const at = 16 + Math.floor(rnd() * Math.max(1, m.length - 16)); if (at < m.length) m[at] = Math.floor(rnd() * 256) }
      if (rnd() < 0.05) { const len = m.readUInt32LE(0); m.writeUInt32LE(Math.max(16, len - 1 - Math.floor(rnd() * 8)), 0) } // a shorter message (may not frame)
      parts.push(m)
    }
    const buf = Buffer.concat(parts)
    const a = viaFlows(buf, 4242)
    const b = viaRecords(buf, 4242, builder)
    const diff = compare(a.out, b.out)
    if (diff !== null) { t.fail(`seed ${seed}: ${diff}`); return }
    if (JSON.stringify(a.counters) !== JSON.stringify(b.counters)) { t.fail(`seed ${seed}: counters ${JSON.stringify(a.counters)} vs ${JSON.stringify(b.counters)}`); return }
    events += (a.counters as { events: number }).events
    if ((a.counters as { eventDecodeErrors: number }).eventDecodeErrors > 0) badBatches++
  }
  t.ok(events > 5000 && badBatches > 100, `${events} events compared, ${badBatches} batches with decode errors`)
})

t.test('event kinds: CT_NEW with CREATE|EXCL is new, without it update, CT_DELETE destroy', async t => {
  const b = new EventBatchBuilder()
  const m = captured.find(x => isCt(x) && x.readUInt16LE(4) === 0x100 && (x.readUInt16LE(6) & 0x600) !== 0) as Buffer
  const upd = Buffer.from(m); upd.writeUInt16LE(upd.readUInt16LE(6) & ~0x600, 6)
  const del = Buffer.from(m); del.writeUInt16LE(0x102, 4)
  const seen: number[] = []
  decodeEventRecords(Buffer.concat([m, upd, del]), 0, { events: 0, ownEvents: 0, eventDecodeErrors: 0 }, b, batch => { seen.push(...batch.ev4, ...batch.ev6) }, () => { t.fail('declined') }, () => {})
  t.same(seen, [EV_NEW, 1, EV_DESTROY])
})
