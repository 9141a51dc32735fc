// The compact cache storage (flow-record.ts, flow-table.ts, flow-store.ts): every flow shape the codecs
// produce round-trips exactly; what cannot be packed is kept whole; the index survives collisions and
// deletions; slots are reused and nothing leaks.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { decodeCtnl } from '../../../../src/codec/ctnetlink.js'
import { decodeDatagram } from '../../../../src/codec/conntrackd.js'
import { flowFromAttrs } from '../../../../src/core/conntrack/attrs-map.js'
import {
  applyKernelEvent, applyPeerUpdate, cacheGet, cacheSize, cacheSnapshot, createCache, flushCache, type FlowCache
} from '../../../../src/core/conntrack/cache.js'
import { flowKey, invertTuple, mergeFlow, type Flow } from '../../../../src/core/conntrack/flow.js'
import { packBody, packKey, P1, recordLayout, unpackFlow } from '../../../../src/core/conntrack/flow-record.js'
import { CHUNK_SLOTS, createTable, scratchHash, slotOffset, slotView, tableFind, tableInsert, tableRemove, tableSlots } from '../../../../src/core/conntrack/flow-table.js'
import { storeFind, storeFlow, storeFootprint, NO_REF } from '../../../../src/core/conntrack/flow-store.js'
import { parseFlowKey } from '../../../../src/core/conntrack/flow-key.js'
import { mulberry32 } from '../../../helpers/prng.js'
import { tcpFlow } from './helpers.js'

// --- inputs: the codec tests' golden flows and every flow in the captured kernel and conntrackd messages

const golden = JSON.parse(readFileSync(new URL('../../../fixtures/vectors/ctnetlink-golden/requests.json', import.meta.url), 'utf8')) as { flows: Record<string, unknown> }
const revive = (v: unknown): Flow => JSON.parse(JSON.stringify(v), (_k, x: unknown) => {
  const o = x as { $u8?: unknown } | null
  return o !== null && typeof o === 'object' && typeof o.$u8 === 'string' ? Uint8Array.from(Buffer.from(o.$u8, 'hex')) : x
}) as Flow
const goldenFlows = Object.entries(golden.flows).map(([name, f]) => [name, revive(f)] as const)

/** Golden flows no codec can produce: their key or a field does not fit a record. */
const UNPACKABLE_KEY = new Set(['badV4', 'badV4Text', 'badV6', 'fractions', 'bigNumbers', 'udp6Upper', 'udp6Mapped'])
const KEPT_WHOLE = new Set(['badNat'])

function kernelFlows (): Flow[] {
  const dir = new URL('../../../fixtures/vectors/ctnetlink/', import.meta.url)
  const out: Flow[] = []
  for (const f of readdirSync(dir).filter(f => f.endsWith('.json')).sort()) {
    const v = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { messages: Array<{ dir: string, hex: string }> }
    for (const m of v.messages) {
      if (m.dir !== 'rx') continue
      for (const d of decodeCtnl(Buffer.from(m.hex, 'hex'))) if (d.kind === 'conntrack') out.push(d.flow)
    }
  }
  return out
}

function peerFlows (): Flow[] {
  const dir = new URL('../../../fixtures/vectors/conntrackd/', import.meta.url)
  const out: Flow[] = []
  for (const f of readdirSync(dir).filter(f => f.endsWith('.json')).sort()) {
    const v = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { datagrams: Array<{ hex: string }> }
    for (const d of v.datagrams) {
      for (const m of decodeDatagram(Buffer.from(d.hex, 'hex')).messages) {
        if (m.kind !== 'ct') continue
        const r = flowFromAttrs(m.attrs)
        if (r.ok) out.push(r.flow)
      }
    }
  }
  return out
}

/** Where the store put the entry of `flow`: 'packed', 'extra' (record + side fields), 'whole' or 'loose'. */
function placeOf (c: FlowCache, flow: Flow): string {
  const ref = storeFind(c.store, flow)
  if (ref === NO_REF) return 'absent'
  if ((ref & 3) === 2) return 'loose'
  const tbl = (ref & 3) === 0 ? c.store.v4 : c.store.v6
  const p1 = slotView(tbl, ref >>> 2).getUint32(slotOffset(tbl, ref >>> 2) + tbl.lay.p1)
  return (p1 & P1.WHOLE) !== 0 ? 'whole' : (p1 & P1.EXTRA) !== 0 ? 'extra' : 'packed'
}

t.test('record: every golden flow round-trips through a cache exactly', async t => {
  t.ok(goldenFlows.length >= 60, `${goldenFlows.length} golden flows`)
  for (const [name, f] of goldenFlows) {
    const c = applyPeerUpdate(createCache('external'), { event: 'new', flow: f }, 1).cache
    const [e] = cacheSnapshot(c)
    t.same(e?.flow, f, `${name}: decoded equals the input`)
    t.equal(e?.key, flowKey(f), `${name}: key`)
    t.same(cacheGet(c, flowKey(f))?.flow, f, `${name}: cacheGet by key`)
    const place = placeOf(c, f)
    if (UNPACKABLE_KEY.has(name)) t.equal(place, 'loose', `${name}: kept by its key string`)
    else if (KEPT_WHOLE.has(name)) t.equal(place, 'whole', `${name}: kept whole`)
    else t.ok(place === 'packed' || place === 'extra', `${name}: packed (${place})`)
  }
})

t.test('record: decoded flows are fresh objects (changing one does not change the cache)', async t => {
  const f = goldenFlows.find(([n]) => n === 'everything')?.[1] as Flow
  const c = applyPeerUpdate(createCache('external'), { event: 'new', flow: f }, 1).cache
  const a = cacheGet(c, flowKey(f))?.flow as Flow
  ;(a.tcp as { state: number }).state = 9
  a.orig.src = '1.1.1.1'
  ;(a.seqAdj?.orig as { offsetAfter: number }).offsetAfter = 77
  ;(a.labels as Uint8Array)[15] = 9
  t.equal(cacheGet(c, flowKey(f))?.flow.tcp?.state, 3)
  t.equal(cacheGet(c, flowKey(f))?.flow.orig.src, '10.0.0.1')
  t.equal(cacheGet(c, flowKey(f))?.flow.seqAdj?.orig?.offsetAfter, 3, 'side fields are copies too')
  t.equal(cacheGet(c, flowKey(f))?.flow.labels?.[15], 1)
  ;(f.seqAdj?.orig as { offsetAfter: number }).offsetAfter = 55
  t.equal(cacheGet(c, flowKey(f))?.flow.seqAdj?.orig?.offsetAfter, 3, 'and the caller keeps its own objects')
  for (const name of ['badNat', 'badV4']) {
    const w = goldenFlows.find(([n]) => n === name)?.[1] as Flow
    const cw = applyPeerUpdate(createCache('external'), { event: 'new', flow: w }, 1).cache
    ;(cacheGet(cw, flowKey(w))?.flow as Flow).timeout = 1
    t.equal(cacheGet(cw, flowKey(w))?.flow.timeout, 10, `${name}: kept-whole flows are copied out`)
  }
})

t.test('record: every flow in the captured kernel messages round-trips, packed', async t => {
  const flows = kernelFlows()
  t.ok(flows.length > 50, `${flows.length} flows`)
  const shapes = new Set<string>()
  for (const f of flows) {
    shapes.add(`${f.family}/${f.orig.l4proto}`)
    const c = applyPeerUpdate(createCache('external'), { event: 'new', flow: f }, 1).cache
    t.same(cacheSnapshot(c)[0]?.flow, f)
    t.not(placeOf(c, f), 'whole')
    t.not(placeOf(c, f), 'loose')
  }
  t.ok(shapes.size >= 6, `shapes: ${[...shapes].sort().join(' ')}`)
})

t.test('record: every flow the peer sent in the captured conntrackd datagrams round-trips, packed', async t => {
  const flows = peerFlows()
  t.ok(flows.length > 10, `${flows.length} flows`)
  for (const f of flows) {
    const c = applyPeerUpdate(createCache('external'), { event: 'new', flow: f }, 1).cache
    t.same(cacheSnapshot(c)[0]?.flow, f)
    t.ok(['packed', 'extra'].includes(placeOf(c, f)))
  }
})

t.test('record: pack refuses what does not fit, without guessing', async t => {
  const lay = recordLayout('ipv4')
  const buf = new Uint8Array(lay.size)
  const dv = new DataView(buf.buffer)
  const base = tcpFlow(1)
  t.ok(packKey(lay, base, buf, dv, 0) && packBody(lay, base, buf, dv, 0))
  t.same(unpackFlow(lay, buf, dv, 0), base)
  const bad: Array<[string, Flow]> = [
    ['status > u32', { ...base, status: 2 ** 32 }],
    ['negative timeout', { ...base, timeout: -1 }],
    ['fractional mark', { ...base, mark: 0.5 }],
    ['wscale > u8', { ...base, tcp: { wscaleOrig: 256 } }],
    ['flags without mask', { ...base, tcp: { flagsOrig: { flags: 1 } as never } }],
    ['reply protocol differs', { ...base, reply: { ...base.reply, l4proto: 17 } }],
    ['ICMP fields on TCP', { ...base, reply: { ...base.reply, icmpId: 1 } }],
    ['reply address not IPv4', { ...base, reply: { ...base.reply, src: 'fd00::1' } }],
    ['nat port > u16', { ...base, nat: { src: { port: 70000 } } }],
    ['nat address not IPv4', { ...base, nat: { dst: { ip: '300.1.1.1' } } }],
    ['id < 0', { ...base, id: -5 }]
  ]
  for (const [name, f] of bad) {
    t.ok(packKey(lay, f, buf, dv, 0), `${name}: the key still packs`)
    t.notOk(packBody(lay, f, buf, dv, 0), `${name}: the body does not`)
    const c = applyPeerUpdate(createCache('external'), { event: 'new', flow: f }, 1).cache
    t.equal(placeOf(c, f), 'whole', `${name}: kept whole`)
    t.same(cacheGet(c, flowKey(f))?.flow, f)
  }
  t.notOk(packKey(lay, { ...base, family: 'ipv6' }, buf, dv, 0), 'family of another table')
  t.notOk(packKey(lay, { ...base, zone: 65536 }, buf, dv, 0), 'zone > u16')
  t.notOk(packKey(lay, { ...base, orig: { ...base.orig, sport: 65536 } }, buf, dv, 0), 'port > u16')
})

t.test('merge on packed entries equals mergeFlow on objects (golden updates over golden bases)', async t => {
  const valid = goldenFlows.filter(([n]) => !UNPACKABLE_KEY.has(n) && !KEPT_WHOLE.has(n))
  let n = 0
  for (const [bn, base] of valid) {
    for (const [un, u] of valid) {
      if (base.family !== u.family || base.orig.l4proto !== u.orig.l4proto) continue
      // the update is about the base's connection: its tuples, the rest from another golden flow
      const update: Flow = { ...u, orig: base.orig, reply: base.reply, zone: base.zone, id: base.id, tcp: base.tcp?.state === undefined || u.tcp?.state === undefined ? u.tcp : { ...u.tcp, state: base.tcp.state } }
      if (update.zone === undefined) delete update.zone
      if (update.id === undefined) delete update.id
      if (update.tcp === undefined) delete update.tcp
      let c = applyPeerUpdate(createCache('external'), { event: 'new', flow: base }, 1).cache
      const r = applyPeerUpdate(c, { event: 'upd', flow: update }, 2)
      c = r.cache
      const want = mergeFlow(base, update)
      t.same(r.change?.flow, want, `${bn} ← ${un}: change`)
      t.same(cacheGet(c, flowKey(base))?.flow, want, `${bn} ← ${un}: stored`)
      n++
    }
  }
  t.ok(n > 300, `${n} merges`)
})

t.test('cacheGet: keys of every shape (ICMP, IPv6, zones, missing ports); unknown and malformed keys', async t => {
  let c = createCache('external')
  const flows = goldenFlows.filter(([n]) => !UNPACKABLE_KEY.has(n)).map(([, f]) => f)
  for (const f of flows) c = applyPeerUpdate(c, { event: 'upd', flow: f }, 1).cache
  for (const f of flows) t.equal(cacheGet(c, flowKey(f))?.key, flowKey(f))
  t.equal(cacheGet(c, flowKey(tcpFlow(9))), undefined)
  for (const k of ['', 'ipv4', 'ipv5|6|1.2.3.4|5.6.7.8|1/2|z0', 'ipv4|6|1.2.3.4|5.6.7.8|1/2/3|z0', 'ipv4|x|1.2.3.4|5.6.7.8|1/2|z0', 'ipv4|6|1.2.3.4|5.6.7.8|1/2|q0']) {
    t.equal(cacheGet(c, k), undefined, `malformed ${JSON.stringify(k)}`)
  }
  t.same(parseFlowKey(flowKey({ family: 'ipv4', orig: { src: 'a', dst: 'b', l4proto: 1, icmpId: 5, zone: 3 }, reply: { src: 'b', dst: 'a', l4proto: 1 } })),
    { family: 'ipv4', orig: { src: 'a', dst: 'b', l4proto: 1, icmpId: 5, zone: 3 }, reply: { src: 'a', dst: 'b', l4proto: 1, icmpId: 5, zone: 3 }, zone: 0 })
})

// --- the table: collisions, deletion, slot reuse

/** Pack tcpFlow(port) into the table's scratch, as the store does before find/insert. */
function scratchFor (tbl: ReturnType<typeof createTable>, port: number): void {
  const f = tcpFlow(port)
  packKey(tbl.lay, f, tbl.scratch, tbl.scratchDv, 0)
  packBody(tbl.lay, f, tbl.scratch, tbl.scratchDv, 0)
}

t.test('table: full collisions (one hash for all keys), probing across the wrap, backward-shift deletion', async t => {
  const tbl = createTable('ipv4', 2)
  const H = 0xfffffff7 // home = the last cells of every index size: runs wrap around to cell 0
  const live = new Map<number, number>()
  for (let p = 1; p <= 40; p++) {
    scratchFor(tbl, p)
    t.equal(tableFind(tbl, H), -1)
    live.set(p, tableInsert(tbl, H))
  }
  t.equal(tbl.size, 40)
  t.ok(tbl.index.length >= 80, 'index at most half full')
  const rnd = mulberry32(7)
  const order = [...live.keys()].sort(() => rnd() - 0.5)
  for (const p of order) {
    tableRemove(tbl, live.get(p) as number)
    live.delete(p)
    for (const [q, slot] of live) {
      scratchFor(tbl, q)
      if (tableFind(tbl, H) !== slot) { t.fail(`after removing ${p}: ${q} not at slot ${slot}`); return }
    }
    scratchFor(tbl, p)
    t.equal(tableFind(tbl, H), -1, `${p} gone`)
  }
  t.equal(tbl.size, 0)
  t.same([...tbl.index].filter(c => c !== 0), [], 'index empty')
})

t.test('table: random inserts and deletes against a model, real hashes', async t => {
  const tbl = createTable('ipv4')
  const rnd = mulberry32(42)
  const live = new Map<number, number>()
  for (let step = 0; step < 20_000; step++) {
    const p = 1 + Math.floor(rnd() * 3000)
    scratchFor(tbl, p)
    const h = scratchHash(tbl)
    const found = tableFind(tbl, h)
    if (found !== (live.get(p) ?? -1)) { t.fail(`step ${step}: find ${p} gave ${found}, want ${live.get(p) ?? -1}`); return }
    if (found < 0) live.set(p, tableInsert(tbl, h))
    else { tableRemove(tbl, found); live.delete(p) }
  }
  t.equal(tbl.size, live.size)
  t.same([...tableSlots(tbl)].sort((a, b) => a - b), [...live.values()].sort((a, b) => a - b), 'used slots are exactly the live ones')
  t.ok(tbl.top <= 3000, `slots reused: high-water mark ${tbl.top} for at most 3000 live keys`)
})

t.test('table: a freed slot is reused first; the slab does not grow', async t => {
  let c = createCache('internal')
  for (let p = 1; p <= 10; p++) c = applyKernelEvent(c, { event: 'new', flow: tcpFlow(p), origin: 'other' }, 0, null).cache
  const bytes = storeFootprint(c.store).slabBytes
  const slotOfPort = (p: number): number => storeFind(c.store, tcpFlow(p)) >>> 2
  const freed = slotOfPort(4)
  c = applyKernelEvent(c, { event: 'destroy', flow: tcpFlow(4), origin: 'other' }, 1, null).cache
  c = applyKernelEvent(c, { event: 'new', flow: tcpFlow(99), origin: 'other' }, 2, null).cache
  t.equal(slotOfPort(99), freed, 'the new entry took the freed slot')
  t.equal(storeFootprint(c.store).slabBytes, bytes)
  t.same(storeFlow(c.store, storeFind(c.store, tcpFlow(99))), tcpFlow(99))
  t.equal(cacheGet(c, flowKey(tcpFlow(4))), undefined)
})

t.test('side table: rare fields follow their entry; replaced, merged and dropped with it', async t => {
  const withHelper = tcpFlow(1, { helper: 'ftp', seqAdj: { orig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 } } })
  let c = applyPeerUpdate(createCache('external'), { event: 'new', flow: withHelper }, 0).cache
  t.equal(storeFootprint(c.store).sideEntries, 1)
  c = applyPeerUpdate(c, { event: 'upd', flow: tcpFlow(1, { seqAdj: { reply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 } } }) }, 1).cache
  t.same(cacheGet(c, flowKey(withHelper))?.flow.seqAdj, { orig: { correctionPos: 1, offsetBefore: 2, offsetAfter: 3 }, reply: { correctionPos: 4, offsetBefore: 5, offsetAfter: 6 } }, 'merged per direction')
  t.equal(cacheGet(c, flowKey(withHelper))?.flow.helper, 'ftp')
  c = applyPeerUpdate(c, { event: 'new', flow: tcpFlow(1) }, 2).cache
  t.equal(storeFootprint(c.store).sideEntries, 0, 'a NEW without rare fields drops them')
  t.same(cacheGet(c, flowKey(withHelper))?.flow, tcpFlow(1))
  c = applyPeerUpdate(c, { event: 'upd', flow: withHelper }, 3).cache
  c = applyPeerUpdate(c, { event: 'del', flow: tcpFlow(1) }, 4).cache
  t.equal(storeFootprint(c.store).sideEntries, 0, 'a DEL drops them')
  // a flow kept whole becomes packed again when a NEW replaces it with a packable one
  c = applyPeerUpdate(c, { event: 'new', flow: tcpFlow(2, { timeout: -1 }) }, 5).cache
  t.equal(placeOf(c, tcpFlow(2)), 'whole')
  c = applyPeerUpdate(c, { event: 'upd', flow: tcpFlow(2, { timeout: 5 }) }, 6).cache
  t.equal(placeOf(c, tcpFlow(2)), 'packed', 'the merge fits again')
  t.equal(cacheGet(c, flowKey(tcpFlow(2)))?.flow.timeout, 5)
})

t.test('loose entries (key does not pack): insert, merge, delete, reuse', async t => {
  const weird = (p: number, over: Partial<Flow> = {}): Flow => ({ ...tcpFlow(p), orig: { src: '10.0.0.01', dst: 'x', l4proto: 6, sport: p, dport: 80 }, ...over })
  let c = createCache('external')
  c = applyPeerUpdate(c, { event: 'new', flow: weird(1) }, 0).cache
  c = applyPeerUpdate(c, { event: 'upd', flow: weird(1, { timeout: 7, tcp: undefined }) }, 1).cache
  const e = cacheGet(c, flowKey(weird(1)))
  t.equal(e?.flow.timeout, 7)
  t.same(e?.flow.tcp, { state: 3 })
  t.equal(e?.status, 'alive')
  t.equal(e?.since, 0)
  t.equal(e?.lastUpdate, 1)
  const r = applyPeerUpdate(c, { event: 'del', flow: weird(1) }, 2)
  t.equal(r.change?.type, 'destroy')
  t.equal(cacheSize(c), 0)
  c = applyPeerUpdate(c, { event: 'new', flow: weird(2) }, 3).cache
  t.equal(c.store.loose.entries.length, 1, 'slot reused')
  t.equal(placeOf(c, weird(2)), 'loose')
})

t.test('100k inserts then deletes: size 0, nothing left, slots reused by the next 100k; flush gives the memory back', async t => {
  const N = 100_000
  const flow = (i: number): Flow => {
    const orig = { src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: '10.200.0.1', l4proto: 6, sport: 1024 + (i % 60000), dport: 443 }
    return { family: 'ipv4', orig, reply: invertTuple(orig), status: 14, timeout: 100, id: i, tcp: { state: 3 }, ...(i % 1000 === 0 ? { helper: 'ftp' } : {}) }
  }
  let c = createCache('internal')
  for (let i = 0; i < N; i++) c = applyKernelEvent(c, { event: 'new', flow: flow(i), origin: 'other' }, i, null).cache
  t.equal(cacheSize(c), N)
  const full = storeFootprint(c.store)
  t.equal(full.sideEntries, N / 1000)
  t.ok(full.slabBytes / N < 200, `slab ${(full.slabBytes / N).toFixed(0)} bytes/entry`)
  t.ok(full.slabBytes <= (N + CHUNK_SLOTS) * c.store.v4.lay.size, 'the slab grows by chunks: at most one chunk of slack')
  for (const i of [0, CHUNK_SLOTS - 1, CHUNK_SLOTS, 2 * CHUNK_SLOTS + 7, N - 1]) {
    t.same(storeFlow(c.store, storeFind(c.store, flow(i))), flow(i), `entry ${i} (slot ${i}: chunk ${Math.floor(i / CHUNK_SLOTS)}) reads back`)
  }
  for (let i = 0; i < N; i++) c = applyKernelEvent(c, { event: 'destroy', flow: flow(i), origin: 'other' }, N + i, null).cache
  t.equal(cacheSize(c), 0)
  const empty = storeFootprint(c.store)
  t.equal(empty.sideEntries, 0, 'side table empty')
  t.same([...c.store.v4.index].filter(x => x !== 0), [], 'index empty')
  t.equal(c.store.v4.top, 0, 'no slot in use')
  for (let i = 0; i < N; i++) c = applyKernelEvent(c, { event: 'new', flow: flow(N + i), origin: 'other' }, i, null).cache
  t.equal(storeFootprint(c.store).slabBytes, full.slabBytes, 'the second 100k reuse the slab')
  t.equal(storeFootprint(c.store).indexBytes, full.indexBytes)
  t.equal(cacheSize(c), N)
  flushCache(c)
  t.equal(cacheSize(c), 0)
  t.ok(storeFootprint(c.store).slabBytes < 10_000, 'flush gives the slab back')
})

t.test('determinism: the same inputs give the same snapshot order and contents', async t => {
  const run = (): string => {
    let c = createCache('internal')
    const rnd = mulberry32(3)
    for (let i = 0; i < 5000; i++) {
      const p = 1 + Math.floor(rnd() * 500)
      const ev = rnd() < 0.3 ? 'destroy' : rnd() < 0.5 ? 'new' : 'update'
      c = applyKernelEvent(c, { event: ev, flow: tcpFlow(p, { timeout: i }), origin: 'other' }, i, null).cache
    }
    return JSON.stringify(cacheSnapshot(c))
  }
  t.equal(run(), run())
})

t.test('a zero synproxy (every ctnetlink-created entry has one) is a record bit, not a side entry', async t => {
  const zero: Flow = { ...tcpFlow(1), synproxy: { isn: 0, its: 0, tsoff: 0 } }
  const set: Flow = { ...tcpFlow(2), synproxy: { isn: 7, its: 0, tsoff: 0 } }
  let c = createCache('external')
  c = applyPeerUpdate(c, { event: 'new', flow: zero }, 1).cache
  t.equal(storeFootprint(c.store).sideEntries, 0, 'no side entry for the zero synproxy')
  t.equal(placeOf(c, zero), 'packed')
  t.same(storeFlow(c.store, storeFind(c.store, zero)), zero, 'reads back with its zero synproxy')
  c = applyPeerUpdate(c, { event: 'new', flow: set }, 2).cache
  t.equal(placeOf(c, set), 'extra', 'a synproxy with values stays in the side table')
  t.same(storeFlow(c.store, storeFind(c.store, set)), set)
  c = applyPeerUpdate(c, { event: 'new', flow: tcpFlow(1) }, 3).cache
  t.same(storeFlow(c.store, storeFind(c.store, tcpFlow(1))), tcpFlow(1), 'a NEW without synproxy clears the bit')
})
