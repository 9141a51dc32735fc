// Resync on packed records (record-batch.ts, cache.ts resyncRecords, flow-record.ts mergeRecord):
// the same cache, counters and changes as resyncChunk on the same entries as Flows, over seeded
// random tables and dumps (partial entries, regressing TCP states, other incarnations, NAT, IPv6,
// entries with side-table fields on either side, a filter).
import t from 'tap'
import { isDeepStrictEqual } from 'node:util'
import {
  applyKernelEvent, beginResync, cacheSnapshot, cacheStats, createCache, endResync, resyncChunk, resyncRecords,
  type CacheChange, type FlowCache, type ResyncOptions
} from '../../../../src/core/conntrack/cache.js'
import { compileFilter } from '../../../../src/core/conntrack/filter.js'
import { flowKey, IPS, invertTuple, mergeFlow, type Flow } from '../../../../src/core/conntrack/flow.js'
import { mergeRecord, packBody, packKey, recordLayout, unpackFlow } from '../../../../src/core/conntrack/flow-record.js'
import { batchFlows, batchSize, recordBatchOf } from '../../../../src/core/conntrack/record-batch.js'
import { storeFlow } from '../../../../src/core/conntrack/flow-store.js'
import { mulberry32 } from '../../../helpers/prng.js'
import { tcpFlow, udpFlow } from './helpers.js'

function randomFlow (rnd: () => number): Flow {
  const port = 1000 + Math.floor(rnd() * 12)
  const pick = rnd()
  let f: Flow
  if (pick < 0.15) {
    const orig = { src: '2001:db8::1', dst: rnd() < 0.5 ? '2001:db8::2' : '2001:db8::9', l4proto: 17, sport: port, dport: 53 }
    f = { family: 'ipv6', orig, reply: invertTuple(orig), status: IPS.CONFIRMED, timeout: 30 }
  } else if (pick < 0.3) {
    f = udpFlow(port, { timeout: Math.floor(rnd() * 100) })
  } else {
    f = tcpFlow(port, { tcp: { state: 1 + Math.floor(rnd() * 9) } })
    if (rnd() < 0.3) f.tcp = { ...f.tcp, wscaleOrig: 7, flagsOrig: { flags: 8, mask: 8 } }
  }
  if (rnd() < 0.3) f.mark = Math.floor(rnd() * 4)
  if (rnd() < 0.4) f.id = Math.floor(rnd() * 3)
  if (rnd() < 0.2) { // SNAT: the reply goes to another address and port
    f.reply = { ...f.reply, dst: f.family === 'ipv4' ? '192.0.2.7' : '2001:db8::7', dport: 40000 }
    f.status = (f.status ?? 0) | IPS.SRC_NAT | IPS.SRC_NAT_DONE
    f.nat = { src: { ip: f.reply.dst, port: 40000 } }
  }
  if (rnd() < 0.2) delete f.timeout // partial, as events are
  if (rnd() < 0.2) delete f.status
  if (rnd() < 0.1) f.helper = 'ftp' // a side-table field: the Flow path on either side
  if (rnd() < 0.2) f.synproxy = { isn: 0, its: 0, tsoff: 0 }
  if (rnd() < 0.2) f.use = 3 // volatile: never cached
  return f
}

interface Outcome { snapshot: unknown[], counters: unknown, changes: unknown[] }

/** By key (stable: one key's changes keep their order, chunk after chunk; the two paths order families and Flows differently within a chunk). */
const sortedChanges = (cs: CacheChange[]): unknown[] => cs.map(c => [c.key, c.type, c.flow, c.propagate] as const).sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
const outcome = (c: FlowCache, changes: CacheChange[]): Outcome => ({
  snapshot: [...cacheSnapshot(c)].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  counters: cacheStats(c),
  changes: sortedChanges(changes)
})

t.test('resyncRecords ≡ resyncChunk over seeded random tables and dumps', async t => {
  const filter = compileFilter({ protocols: { mode: 'ignore', list: [] }, ignoreAddresses: [{ address: '2001:db8::9', prefix: 128, family: 'ipv6' }], tcpStates: { mode: 'ignore', list: ['TIME_WAIT'] } })
  let records = 0
  for (let seed = 1; seed <= 300; seed++) {
    const rnd = mulberry32(seed)
    const a = createCache('internal')
    const b = createCache('internal')
    const c = createCache('internal') // resyncRecords with a sink: changes read from the store as they happen
    for (let i = 0, n = Math.floor(rnd() * 20); i < n; i++) {
      const ev = { event: rnd() < 0.5 ? 'new' as const : 'update' as const, flow: randomFlow(rnd), origin: 'other' as const }
      applyKernelEvent(a, ev, i, null)
      applyKernelEvent(b, ev, i, null)
      applyKernelEvent(c, ev, i, null)
    }
    const rc = beginResync()
    const cc: CacheChange[] = []
    const sink = {
      record: (type: CacheChange['type'], ref: number) => { const flow = storeFlow(c.store, ref); cc.push({ type, key: flowKey(flow), flow, propagate: true }) },
      flow: (x: CacheChange) => { cc.push(x) },
      refused: () => { t.fail('a resync refuses nothing through the sink') }
    }
    const opts: ResyncOptions = { filter: rnd() < 0.5 ? filter : null, purge: rnd() < 0.5, propagate: true, purgeUntouchedSince: rnd() < 0.5 ? 5 : undefined }
    const ra = beginResync()
    const rb = beginResync()
    const ca: CacheChange[] = []
    const cb: CacheChange[] = []
    for (let chunk = 0, chunks = 1 + Math.floor(rnd() * 3); chunk < chunks; chunk++) {
      // A dump shows each entry once (the kernel holds one entry per original tuple and zone); the
      // record path takes a chunk's records before its Flows, so only a repeated key could tell.
      const byKey = new Map<string, Flow>()
      for (let i = 0, n = Math.floor(rnd() * 15); i < n; i++) { const f = randomFlow(rnd); if (!byKey.has(flowKey(f))) byKey.set(flowKey(f), f) }
      const flows = [...byKey.values()]
      const batch = recordBatchOf(flows)
      records += batch.n4 + batch.n6
      t.equal(batchSize(batch), flows.length)
      ca.push(...resyncChunk(a, ra, flows, 100 + chunk, opts))
      cb.push(...resyncRecords(b, rb, batch, 100 + chunk, opts))
      t.same(resyncRecords(c, rc, batch, 100 + chunk, opts, sink), [], 'with a sink, nothing is returned')
    }
    ca.push(...endResync(a, ra, opts))
    cb.push(...endResync(b, rb, opts))
    cc.push(...endResync(c, rc, opts))
    const oa = outcome(a, ca)
    const ob = outcome(b, cb)
    const oc = outcome(c, cc)
    if (!isDeepStrictEqual(oa, ob) || !isDeepStrictEqual(oa, oc)) {
      t.same(ob, oa, `seed ${seed}`)
      t.same(oc, oa, `seed ${seed} (sink)`)
      return
    }
  }
  t.ok(records > 1000, `${records} entries went through the record path`)
})

t.test('resyncRecords without propagate builds no changes and changes the cache as resyncChunk', async t => {
  const flows = [tcpFlow(1), tcpFlow(2, { helper: 'ftp' }), udpFlow(3)]
  const a = createCache('internal')
  const b = createCache('internal')
  const opts: ResyncOptions = { filter: null, purge: false, propagate: false }
  resyncChunk(a, beginResync(), flows, 1, opts)
  t.same(resyncRecords(b, beginResync(), recordBatchOf(flows), 1, opts), [])
  t.same(outcome(b, []), outcome(a, []))
})

t.test('mergeRecord ≡ mergeFlow on records with the same key', async t => {
  const lay = recordLayout('ipv4')
  let n = 0
  for (let seed = 1; seed <= 500; seed++) {
    const rnd = mulberry32(1000 + seed)
    const base = { ...randomFlow(rnd), orig: tcpFlow(5).orig }
    const upd = { ...randomFlow(rnd), orig: tcpFlow(5).orig }
    for (const f of [base, upd]) { delete f.helper; delete f.use; f.family = 'ipv4'; f.reply = { ...f.reply, l4proto: 6, src: '10.0.2.2', sport: 80 }; if (f.reply.dst.includes(':')) f.reply.dst = '10.0.1.2'; delete f.nat; f.status = f.status === undefined ? undefined : f.status & ~IPS.SRC_NAT_DONE; if (f.status === undefined) delete f.status }
    const rec = (f: Flow): [Uint8Array, DataView] => {
      const u8 = new Uint8Array(lay.size + 5)
      const dv = new DataView(u8.buffer)
      if (!packKey(lay, f, u8, dv, 5) || !packBody(lay, f, u8, dv, 5)) throw new Error(`unpackable ${JSON.stringify(f)}`)
      return [u8, dv]
    }
    const [d, ddv] = rec(base)
    const [s, sdv] = rec(upd)
    mergeRecord(lay, d, ddv, 5, s, sdv, 5)
    t.same(unpackFlow(lay, d, ddv, 5), mergeFlow(base, upd), `seed ${seed}`)
    n++
  }
  t.equal(n, 500)
})

t.test('batchFlows gives back what recordBatchOf was given (volatile fields dropped from records)', async t => {
  const flows = [tcpFlow(1, { use: 2 }), tcpFlow(2, { helper: 'ftp' }), udpFlow(3)]
  const b = recordBatchOf(flows)
  t.equal(b.n4, 2)
  t.equal(b.flows.length, 1)
  t.same(batchFlows(b), [tcpFlow(1), udpFlow(3), tcpFlow(2, { helper: 'ftp' })])
})
