import t from 'tap'
import {
  applyKernelEvent, applyPeerUpdate, cacheGet, cacheSize, cacheSnapshot, cacheStats, createCache, dumpCache, flushCache,
  resyncFromDump, tcpStateRegresses, type FlowCache
} from '../../../../src/core/conntrack/cache.js'
import { compileFilter } from '../../../../src/core/conntrack/filter.js'
import { TCP_STATES, flowKey } from '../../../../src/core/conntrack/flow.js'
import { FakeClock } from '../../../helpers/fake-clock.js'
import { TCP, tcpFlow, udpFlow } from './helpers.js'

const acceptAll = null

t.test('tcpStateRegresses: progress order, SYN_SENT2 before SYN_RECV, reopen allowed', async t => {
  t.ok(tcpStateRegresses(TCP.ESTABLISHED, TCP.SYN_SENT), 'ESTABLISHED → SYN_SENT is backwards')
  t.ok(tcpStateRegresses(TCP.ESTABLISHED, TCP.SYN_RECV))
  t.ok(tcpStateRegresses(TCP.TIME_WAIT, TCP.ESTABLISHED))
  t.ok(tcpStateRegresses(TCP.CLOSE_WAIT, TCP.FIN_WAIT))
  t.ok(tcpStateRegresses(TCP.SYN_RECV, TCP.SYN_SENT2))
  t.notOk(tcpStateRegresses(TCP.SYN_SENT2, TCP.SYN_RECV))
  t.notOk(tcpStateRegresses(TCP.SYN_SENT, TCP.SYN_SENT2))
  t.notOk(tcpStateRegresses(TCP.ESTABLISHED, TCP.ESTABLISHED), 'same state is not backwards')
  t.notOk(tcpStateRegresses(TCP.ESTABLISHED, TCP.CLOSE), 'RST from anywhere')
  t.notOk(tcpStateRegresses(TCP.TIME_WAIT, TCP.SYN_SENT), 'TIME_WAIT reopened by a SYN')
  t.notOk(tcpStateRegresses(TCP.CLOSE, TCP.SYN_SENT), 'CLOSE reopened by a SYN')
  t.ok(tcpStateRegresses(TCP.CLOSE, TCP.SYN_RECV), 'but not straight back to SYN_RECV')
  t.notOk(tcpStateRegresses(TCP.ESTABLISHED, 42), 'unknown state: no opinion')
  // every forward step of the progress order is accepted
  const order = ['NONE', 'SYN_SENT', 'SYN_SENT2', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE']
  const v = (n: string): number => (TCP_STATES as readonly string[]).indexOf(n)
  for (let i = 1; i < order.length; i++) {
    t.notOk(tcpStateRegresses(v(order[i - 1] as string), v(order[i] as string)), `${order[i - 1]} → ${order[i]}`)
  }
})

t.test('internal cache: new / update / destroy with changes and counters', async t => {
  const clock = new FakeClock(1000)
  let c = createCache('internal')
  const f = tcpFlow(40000, { tcp: { state: TCP.SYN_SENT }, id: 7, counters: { orig: { packets: 1, bytes: 60 } }, use: 1 })
  let r = applyKernelEvent(c, { event: 'new', flow: f, origin: 'other' }, clock.now(), acceptAll)
  c = r.cache
  t.same(r.change?.type, 'new')
  t.equal(r.change?.propagate, true)
  t.equal(r.change?.key, flowKey(f))
  t.equal(r.change?.flow.counters, undefined, 'counters are not state')
  t.equal(r.change?.flow.use, undefined)
  t.equal(cacheSize(c), 1)
  clock.advance(1500)
  // partial update: no protoinfo, only the status and timeout changed
  r = applyKernelEvent(c, { event: 'update', flow: { ...f, tcp: undefined, status: 0xe, timeout: 120 }, origin: 'other' }, clock.now(), acceptAll)
  c = r.cache
  t.same(r.change?.type, 'update')
  t.same(r.change?.flow.tcp, { state: TCP.SYN_SENT }, 'protoinfo kept from the NEW')
  t.equal(r.change?.flow.timeout, 120)
  clock.advance(500)
  r = applyKernelEvent(c, { event: 'update', flow: { ...f, tcp: { state: TCP.ESTABLISHED, wscaleOrig: 7 } }, origin: 'other' }, clock.now(), acceptAll)
  c = r.cache
  const e = cacheGet(c, flowKey(f))
  t.same(e?.flow.tcp, { state: TCP.ESTABLISHED, wscaleOrig: 7 })
  t.equal(e?.since, 1000, 'active since the NEW')
  t.equal(e?.lastUpdate, 3000)
  t.equal(e?.status, 'alive')
  r = applyKernelEvent(c, { event: 'destroy', flow: { family: 'ipv4', orig: f.orig, reply: f.reply, tcp: { state: TCP.TIME_WAIT }, id: 7 }, origin: 'other' }, clock.now(), acceptAll)
  c = r.cache
  t.same(r.change?.type, 'destroy')
  t.same(r.change?.flow.tcp, { state: TCP.TIME_WAIT, wscaleOrig: 7 }, 'the DEL carries the last known state')
  t.equal(r.change?.flow.timeout, 432000, 'merged over the cached entry')
  t.equal(cacheSize(c), 0)
  t.same(cacheStats(c), {
    name: 'internal', active: 0, created: 1, updated: 2, destroyed: 1, stale: 0, filtered: 0,
    filteredBy: { protocol: 0, address: 0, tcpState: 0 }, unknownDestroy: 0, purged: 0, flushed: 0
  })
})

t.test('internal cache: update of an unknown key inserts; NEW replaces; destroy of unknown is ignored', async t => {
  let c = createCache('internal')
  let r = applyKernelEvent(c, { event: 'update', flow: tcpFlow(1), origin: 'other' }, 0, acceptAll)
  c = r.cache
  t.equal(r.change?.type, 'new', 'unknown key: a new entry, sent as NEW')
  r = applyKernelEvent(c, { event: 'new', flow: tcpFlow(1, { tcp: { state: TCP.SYN_SENT }, mark: 5 }), origin: 'other' }, 10, acceptAll)
  c = r.cache
  t.equal(r.change?.type, 'new')
  t.same(cacheGet(c, flowKey(tcpFlow(1)))?.flow.tcp, { state: TCP.SYN_SENT }, 'NEW replaces, no monotonic check (a new connection)')
  t.equal(cacheGet(c, flowKey(tcpFlow(1)))?.since, 10)
  t.equal(cacheStats(c).created, 2)
  r = applyKernelEvent(c, { event: 'destroy', flow: tcpFlow(2), origin: 'other' }, 20, acceptAll)
  t.equal(r.change, null)
  t.equal(r.refused, 'unknownDestroy')
  t.equal(cacheStats(r.cache).unknownDestroy, 1)
  t.equal(cacheSize(r.cache), 1)
})

t.test('internal cache: conntrack id guards against another incarnation of the tuple', async t => {
  let c = applyKernelEvent(createCache('internal'), { event: 'new', flow: tcpFlow(1, { id: 100 }), origin: 'other' }, 0, acceptAll).cache
  let r = applyKernelEvent(c, { event: 'destroy', flow: tcpFlow(1, { id: 99 }), origin: 'other' }, 1, acceptAll)
  t.equal(r.refused, 'unknownDestroy', 'a late DESTROY of the old incarnation does not remove the new one')
  t.equal(cacheSize(r.cache), 1)
  r = applyKernelEvent(c, { event: 'update', flow: tcpFlow(1, { id: 101, tcp: { state: TCP.SYN_SENT } }), origin: 'other' }, 2, acceptAll)
  t.equal(r.change?.type, 'new', 'an update with another id is a new incarnation (missed events)')
  t.equal(r.refused, null)
  c = r.cache
  t.equal(cacheGet(c, flowKey(tcpFlow(1)))?.flow.id, 101)
})

t.test('monotonic merge: a backwards TCP state is refused whole and counted stale', async t => {
  let c = applyKernelEvent(createCache('internal'), { event: 'new', flow: tcpFlow(1), origin: 'other' }, 0, acceptAll).cache
  const r = applyKernelEvent(c, { event: 'update', flow: tcpFlow(1, { tcp: { state: TCP.SYN_SENT }, timeout: 5, mark: 9 }), origin: 'other' }, 5, acceptAll)
  t.equal(r.change, null)
  t.equal(r.refused, 'stale')
  c = r.cache
  const e = cacheGet(c, flowKey(tcpFlow(1)))
  t.equal(e?.flow.tcp?.state, TCP.ESTABLISHED)
  t.equal(e?.flow.timeout, 432000, 'no field of a stale update is applied')
  t.equal(e?.flow.mark, undefined)
  t.equal(e?.lastUpdate, 0)
  t.equal(cacheStats(c).stale, 1)
  // but DESTROY always removes, whatever its state says
  const d = applyKernelEvent(c, { event: 'destroy', flow: tcpFlow(1, { tcp: { state: TCP.SYN_SENT } }), origin: 'other' }, 6, acceptAll)
  t.equal(d.change?.type, 'destroy')
  t.equal(cacheSize(d.cache), 0)
})

t.test('origins: own commits/flushes are cached but not propagated; injected events ignored', async t => {
  let c = createCache('internal')
  let r = applyKernelEvent(c, { event: 'new', flow: tcpFlow(1), origin: 'commit' }, 0, acceptAll)
  t.equal(r.change?.propagate, false)
  c = r.cache
  r = applyKernelEvent(c, { event: 'destroy', flow: tcpFlow(1), origin: 'flush' }, 1, acceptAll)
  t.equal(r.change?.propagate, false)
  t.equal(r.change?.type, 'destroy')
  r = applyKernelEvent(createCache('internal'), { event: 'new', flow: tcpFlow(1), origin: 'inject' }, 0, acceptAll)
  t.equal(r.refused, 'injected')
  t.equal(cacheSize(r.cache), 0)
})

t.test('filter: refused events are counted per reason; DESTROY bypasses the filter', async t => {
  const filter = compileFilter({
    protocols: { mode: 'accept', list: ['tcp'] },
    ignoreAddresses: [{ address: '10.0.1.2', prefix: 32, family: 'ipv4' }],
    tcpStates: { mode: 'ignore', list: ['TIME_WAIT'] }
  })
  let c = createCache('internal')
  let r = applyKernelEvent(c, { event: 'new', flow: udpFlow(1), origin: 'other' }, 0, filter)
  t.equal(r.refused, 'filtered')
  t.equal(r.filterReason, 'protocol')
  c = r.cache
  r = applyKernelEvent(c, { event: 'new', flow: tcpFlow(1), origin: 'other' }, 0, filter)
  t.equal(r.filterReason, 'address')
  c = r.cache
  const other = tcpFlow(2, { orig: { src: '10.0.9.9', dst: '10.0.2.2', l4proto: 6, sport: 2, dport: 80 }, reply: { src: '10.0.2.2', dst: '10.0.9.9', l4proto: 6, sport: 80, dport: 2 } })
  c = applyKernelEvent(c, { event: 'new', flow: other, origin: 'other' }, 0, filter).cache
  r = applyKernelEvent(c, { event: 'update', flow: { ...other, tcp: { state: TCP.TIME_WAIT } }, origin: 'other' }, 1, filter)
  t.equal(r.filterReason, 'tcpState', 'the update to an ignored state is dropped (conntrackd)')
  c = r.cache
  t.equal(cacheGet(c, flowKey(other))?.flow.tcp?.state, TCP.ESTABLISHED)
  r = applyKernelEvent(c, { event: 'destroy', flow: { ...other, tcp: { state: TCP.TIME_WAIT } }, origin: 'other' }, 2, filter)
  t.equal(r.change?.type, 'destroy', 'a cached entry is removed even if its final state is filtered')
  t.same(cacheStats(r.cache).filteredBy, { protocol: 1, address: 1, tcpState: 1 })
  t.equal(cacheStats(r.cache).filtered, 3)
})

t.test('external cache: conntrackd NEW replaces, UPD merges or inserts, DEL removes; never propagated', async t => {
  const clock = new FakeClock(0)
  let c = createCache('external')
  let r = applyPeerUpdate(c, { event: 'upd', flow: tcpFlow(1) }, clock.now())
  t.equal(r.change?.type, 'new', 'UPD of an unknown key inserts')
  t.equal(r.change?.propagate, false)
  c = r.cache
  clock.advance(2000)
  r = applyPeerUpdate(c, { event: 'upd', flow: tcpFlow(1, { tcp: { state: TCP.FIN_WAIT }, timeout: 120 }) }, clock.now())
  c = r.cache
  t.equal(r.change?.type, 'update')
  t.equal(cacheGet(c, flowKey(tcpFlow(1)))?.lastUpdate, 2000)
  r = applyPeerUpdate(c, { event: 'upd', flow: tcpFlow(1, { tcp: { state: TCP.ESTABLISHED } }) }, clock.advance(10))
  t.equal(r.refused, 'stale', 'an older TCP state from the peer (a late retransmission) is refused')
  c = r.cache
  r = applyPeerUpdate(c, { event: 'new', flow: tcpFlow(1, { tcp: { state: TCP.SYN_SENT }, timeout: 60 }) }, clock.advance(10))
  t.equal(r.change?.type, 'new', 'NEW replaces: the peer says it is a new connection')
  c = r.cache
  t.equal(cacheGet(c, flowKey(tcpFlow(1)))?.flow.timeout, 60)
  t.equal(cacheGet(c, flowKey(tcpFlow(1)))?.since, 2020)
  r = applyPeerUpdate(c, { event: 'del', flow: tcpFlow(9) }, clock.now())
  t.equal(r.refused, 'unknownDestroy')
  r = applyPeerUpdate(r.cache, { event: 'del', flow: tcpFlow(1) }, clock.now())
  t.equal(r.change?.type, 'destroy')
  c = r.cache
  t.same(cacheStats(c), {
    name: 'external', active: 0, created: 2, updated: 1, destroyed: 1, stale: 1, filtered: 0,
    filteredBy: { protocol: 0, address: 0, tcpState: 0 }, unknownDestroy: 1, purged: 0, flushed: 0
  })
})

t.test('resyncFromDump: merges a dump, purges what the kernel no longer has, applies filter and monotonic rule', async t => {
  const filter = compileFilter({ protocols: { mode: 'accept', list: ['tcp'] }, ignoreAddresses: [], tcpStates: null })
  let c: FlowCache = createCache('internal')
  for (const p of [1, 2, 3]) c = applyKernelEvent(c, { event: 'new', flow: tcpFlow(p), origin: 'other' }, 0, null).cache
  const dump = [
    tcpFlow(1, { timeout: 100 }), // known: update
    tcpFlow(2, { tcp: { state: TCP.SYN_SENT } }), // known, older state: stale
    tcpFlow(4), // unknown: new
    udpFlow(5) // filtered
  ]
  const res = resyncFromDump(c, dump, 5000, { filter, purge: true, propagate: true })
  t.equal(res.cache, c, 'changed in place: the same cache object')
  t.same(res.changes.map(ch => [ch.type, ch.flow.orig.sport, ch.propagate]), [
    ['update', 1, true], ['new', 4, true], ['destroy', 3, true]
  ])
  c = res.cache
  t.same([...cacheSnapshot(c)].map(e => e.flow.orig.sport).sort(), [1, 2, 4])
  t.equal(cacheGet(c, flowKey(tcpFlow(1)))?.flow.timeout, 100)
  t.equal(cacheGet(c, flowKey(tcpFlow(2)))?.flow.tcp?.state, TCP.ESTABLISHED)
  const s = cacheStats(c)
  t.same([s.created, s.updated, s.destroyed, s.purged, s.stale, s.filtered, s.filteredBy.protocol], [4, 1, 1, 1, 1, 1, 1])
  const noPurge = resyncFromDump(c, [tcpFlow(1)], 10, { filter: null, purge: false, propagate: false })
  t.same(noPurge.changes.map(ch => [ch.type, ch.propagate]), [['update', false]], '-R: no purge, nothing to send')
  t.equal(cacheSize(noPurge.cache), 3)
})

t.test('flush, snapshot and dump for hafwctl', async t => {
  const clock = new FakeClock(10_000)
  let c = createCache('external')
  c = applyPeerUpdate(c, { event: 'new', flow: tcpFlow(2) }, clock.now()).cache
  clock.advance(3_400)
  c = applyPeerUpdate(c, { event: 'new', flow: tcpFlow(1) }, clock.now()).cache
  clock.advance(1_700)
  c = applyPeerUpdate(c, { event: 'upd', flow: tcpFlow(2, { timeout: 10 }) }, clock.now()).cache
  clock.advance(900)
  const rows = dumpCache(c, clock.now())
  t.same(rows.map(r => [r.flow.orig.sport, r.activeSinceS, r.idleS, r.status]), [[1, 2, 2, 'new'], [2, 6, 0, 'alive']], 'sorted by key, whole seconds')
  const snap = cacheSnapshot(c)
  t.equal(snap.length, 2)
  const stats = cacheStats(c)
  const f = flushCache(c)
  t.equal(f, c, 'flushed in place')
  t.equal(cacheSize(f), 0)
  t.equal(cacheStats(f).flushed, 2)
  t.equal(stats.flushed, 0, 'stats taken before are a copy')
  t.same(snap.map(e => e.flow.orig.sport).sort(), [1, 2], 'a snapshot taken before is a copy: the commit input survives a flush')
  t.equal(flushCache(f), f, 'flushing an empty cache changes nothing')
  t.equal(cacheStats(f).flushed, 2)
  c = applyPeerUpdate(f, { event: 'new', flow: tcpFlow(3) }, clock.now()).cache
  t.equal(cacheSize(c), 1, 'usable after a flush')
})

t.test('cache: 20k events in place', async t => {
  let c = createCache('internal')
  for (let i = 0; i < 20_000; i++) {
    c = applyKernelEvent(c, { event: 'new', flow: tcpFlow(1024 + (i % 60000), { orig: { src: `10.${(i >> 8) & 255}.${i & 255}.1`, dst: '10.0.2.2', l4proto: 6, sport: 1000, dport: 80 } }), origin: 'other' }, i, null).cache
  }
  t.equal(cacheSize(c), 20_000)
})
