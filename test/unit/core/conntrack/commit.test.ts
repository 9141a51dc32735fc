import t from 'tap'
import { decodeCtnl, encodeRequest } from '../../../../src/codec/ctnetlink.js'
import { applyPeerUpdate, cacheSnapshot, cacheSource, createCache, flushCache, type CacheEntry, type FlowCache } from '../../../../src/core/conntrack/cache.js'
import {
  COMMIT_FALLBACK_TIMEOUT_S, applyCommitResults, commitDone, commitFlow, commitProgress, commitTimeout,
  nextCommitBatch, planCommit, type CommitRequest, type CommitState
} from '../../../../src/core/conntrack/commit.js'
import { flowFromAttrs } from '../../../../src/core/conntrack/attrs-map.js'
import { IPS, invertTuple, type Flow } from '../../../../src/core/conntrack/flow.js'
import { FakeClock } from '../../../helpers/fake-clock.js'
import { TCP, tcpFlow, udpFlow } from './helpers.js'
import { plainRequest } from '../../../helpers/ct-request.js'

function entry (flow: Flow, lastUpdate = 0): CacheEntry {
  return { key: `k${flow.orig.sport ?? 0}`, flow, since: 0, lastUpdate, status: 'new' }
}

/** Answer every request with `errorOf(request)` (null = ACK). */
function answer (s: CommitState, reqs: readonly CommitRequest[], errorOf: (r: CommitRequest) => string | null): CommitState {
  return applyCommitResults(s, reqs.map(r => ({ id: r.id, error: errorOf(r) })))
}

t.test('commitTimeout: received timeout minus whole seconds since the last update; conntrackd corner cases', async t => {
  const e = entry(tcpFlow(1, { timeout: 300 }), 10_000)
  t.equal(commitTimeout(e, 10_000, null), 300)
  t.equal(commitTimeout(e, 10_999, null), 300, 'whole seconds')
  t.equal(commitTimeout(e, 12_500, null), 298)
  t.equal(commitTimeout(e, 310_000, null), 300, 'exactly 0 left: conntrackd sends the stored value unchanged')
  t.equal(commitTimeout(e, 311_000, null), COMMIT_FALLBACK_TIMEOUT_S, 'negative: 60 s')
  t.equal(commitTimeout(entry(tcpFlow(1, { timeout: undefined })), 0, null), 60, 'no timeout received: 60 s (conntrackd would get EINVAL)')
  t.equal(commitTimeout(e, 12_500, 180), 180, 'CommitTimeout wins')
})

t.test('commitFlow: reply = inverted original, NAT as ranges, EXPECTED stripped, BE_LIBERAL, no id/counters', async t => {
  // an SNAT entry as received from conntrackd (reply already shows the NAT)
  const r = flowFromAttrs({ src: '10.98.1.2', dst: '10.98.2.2', status: IPS.EXPECTED | 0x19e, l4proto: 6, sport: 33333, dport: 80, tcpState: 3, timeout: 100, snatAddr: '10.98.2.1', spatPort: 1025, mark: 4, zone: 2 })
  if (!r.ok) throw new Error(r.code)
  const f = commitFlow(entry({ ...r.flow, id: 99, use: 3, counters: { orig: { packets: 1, bytes: 1 } } }, 0), 3000, { commitTimeoutS: null, tcpWindowTracking: false })
  t.same(f, {
    family: 'ipv4',
    orig: { src: '10.98.1.2', dst: '10.98.2.2', l4proto: 6, sport: 33333, dport: 80 },
    reply: { src: '10.98.2.2', dst: '10.98.1.2', l4proto: 6, sport: 80, dport: 33333 },
    status: 0x19e,
    timeout: 97,
    mark: 4,
    zone: 2,
    tcp: { state: 3, flagsOrig: { flags: 8, mask: 8 }, flagsReply: { flags: 8, mask: 8 } },
    nat: { src: { ip: '10.98.2.1', port: 1025 } }
  })
  const wt = commitFlow(entry(tcpFlow(1, { tcp: { state: TCP.ESTABLISHED, wscaleOrig: 7 } })), 0, { commitTimeoutS: null, tcpWindowTracking: true })
  t.same(wt.tcp, { state: TCP.ESTABLISHED, wscaleOrig: 7 }, 'window tracking on: flags untouched')
  const udp = commitFlow(entry(udpFlow(1)), 0, { commitTimeoutS: null, tcpWindowTracking: false })
  t.equal(udp.tcp, undefined, 'flags only for TCP')
  // a kernel-shaped flow with a mangled reply and no explicit nat: NAT derived like conntrackd
  const mangled = tcpFlow(5, { status: IPS.CONFIRMED | IPS.DST_NAT_DONE, reply: { src: '10.9.9.9', dst: '10.0.1.2', l4proto: 6, sport: 8080, dport: 5 } })
  t.same(commitFlow(entry(mangled), 0, { commitTimeoutS: null, tcpWindowTracking: false }).nat, { dst: { ip: '10.9.9.9', port: 8080 } })
  // every planned request encodes (the codec refuses a create without timeout; we never build one)
  t.ok(encodeRequest({ op: 'create', flow: f }, 1).length > 100)
})

t.test('planCommit: masters first, then related; batches of batchSize; all ok', async t => {
  const related = tcpFlow(20, { master: { src: '10.0.1.2', dst: '10.0.2.2', l4proto: 6, sport: 9, dport: 21 } })
  const snap = [entry(related), entry(tcpFlow(1)), entry(tcpFlow(2)), entry(udpFlow(3)), entry(tcpFlow(4))]
  let s = planCommit(snap, 0, { batchSize: 2 })
  t.same(s.order.map(i => s.source.entry(i)?.flow.orig.sport), [1, 2, 3, 4, 20])
  const seen: number[] = []
  let batches = 0
  while (!commitDone(s)) {
    const b = nextCommitBatch(s, 0)
    t.ok(b.requests.length <= 2)
    t.ok(b.requests.every(r => r.step === 'create' && r.request.op === 'create'))
    seen.push(...b.requests.map(r => (r.request.op === 'create' ? r.request.flow.orig.sport : -1) ?? -1))
    t.same(commitProgress(b.state).inFlight, b.requests.length)
    s = answer(b.state, b.requests, () => null)
    batches++
  }
  t.same(seen, [1, 2, 3, 4, 20])
  t.equal(batches, 3)
  const p = commitProgress(s)
  t.same([p.total, p.ok, p.failed, p.remaining, p.inFlight, p.done, p.batches], [5, 5, 0, 0, 0, true, 3])
  t.same(nextCommitBatch(s, 0).requests, [], 'nothing left')
  t.throws(() => planCommit(snap, 0, { batchSize: 0 }), RangeError)
})

t.test('EEXIST (conntrackd 1.4.7): delete the kernel entry, then create once more', async t => {
  let s = planCommit([entry(tcpFlow(1)), entry(tcpFlow(2)), entry(tcpFlow(3))], 0, { batchSize: 10 })
  let b = nextCommitBatch(s, 0)
  s = answer(b.state, b.requests, r => r.key === 'k1' ? null : 'EEXIST')
  t.same(commitProgress(s).queued, 2)
  t.notOk(commitDone(s))
  b = nextCommitBatch(s, 1000)
  t.same(b.requests.map(r => [r.key, r.step, r.request.op]), [['k2', 'deleteExisting', 'delete'], ['k3', 'deleteExisting', 'delete']])
  const del = b.requests[0]?.request
  t.same(del, { op: 'delete', flow: { family: 'ipv4', orig: tcpFlow(2).orig } }, 'tuple only, no id')
  s = answer(b.state, b.requests, r => r.key === 'k2' ? null : 'ENOENT')
  b = nextCommitBatch(s, 1000)
  t.same(b.requests.map(r => [r.key, r.step, r.request.op]), [['k2', 'recreate', 'create'], ['k3', 'recreate', 'create']], 'ENOENT on the delete is fine')
  s = answer(b.state, b.requests, r => r.key === 'k2' ? null : 'EEXIST')
  t.ok(commitDone(s), 'no second retry')
  const p = commitProgress(s)
  t.same([p.ok, p.exists, p.replaced, p.failed, p.failedBy], [2, 2, 1, 1, { EEXIST: 1 }])
  t.same(s.failures, [{ key: 'k3', step: 'recreate', error: 'EEXIST' }])
})

t.test('EEXIST with onExists "update": update in place, without NAT/master (codec strips them)', async t => {
  const snat = tcpFlow(1, { status: 0x19e, reply: { src: '10.0.2.2', dst: '192.0.2.1', l4proto: 6, sport: 80, dport: 1 } })
  let s = planCommit([entry(snat)], 0, { batchSize: 1, onExists: 'update' })
  let b = nextCommitBatch(s, 0)
  s = answer(b.state, b.requests, () => 'EEXIST')
  b = nextCommitBatch(s, 0)
  t.same(b.requests.map(r => [r.step, r.request.op]), [['update', 'update']])
  const req = b.requests[0]?.request
  if (req?.op !== 'update') throw new Error('expected an update')
  t.same(req.flow.nat, { src: { ip: '192.0.2.1' } }, 'the flow still says NAT ...')
  const wire = decodeCtnl(encodeRequest(req, 7))[0]
  t.equal(wire?.kind, 'conntrack')
  if (wire?.kind === 'conntrack') {
    t.equal(wire.flow.nat, undefined, '... but the update request carries no CTA_NAT_*')
    t.equal((wire.flow.status ?? 0) & (IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE | IPS.SRC_NAT | IPS.DST_NAT), 0, 'nor NAT status bits')
  }
  s = answer(b.state, b.requests, () => null)
  t.same([commitProgress(s).ok, commitProgress(s).updatedInPlace, commitProgress(s).failed], [1, 1, 0])
})

t.test('errors are matched back to their entry; encode errors and unmatched ids counted', async t => {
  let s = planCommit([entry(tcpFlow(1)), entry(tcpFlow(2)), entry(tcpFlow(3)), entry(tcpFlow(4))], 0, { batchSize: 4 })
  const b = nextCommitBatch(s, 0)
  const [r1, r2, r3, r4] = b.requests as [CommitRequest, CommitRequest, CommitRequest, CommitRequest]
  s = applyCommitResults(b.state, [
    { id: r3.id, error: 'EINVAL' },
    { id: r1.id, error: 'CT_ENCODE_BAD_ADDRESS' },
    { id: r2.id, error: 'ENOENT' }, // e.g. master missing
    { id: r4.id, error: 'EAFNOSUPPORT' }, // any errno name the kernel gives, not a fixed table
    { id: 9999, error: null },
    { id: r3.id, error: null } // duplicate answer
  ])
  const p = commitProgress(s)
  t.same([p.ok, p.failed, p.unmatched, p.done], [0, 4, 2, true])
  t.same(p.failedBy, { EINVAL: 1, CT_ENCODE_BAD_ADDRESS: 1, ENOENT: 1, EAFNOSUPPORT: 1 })
  t.same(s.failures.map(f => [f.key, f.error]), [['k3', 'EINVAL'], ['k1', 'CT_ENCODE_BAD_ADDRESS'], ['k2', 'ENOENT'], ['k4', 'EAFNOSUPPORT']])
})

t.test('budget: the runtime stops after some batches; the rest continues later from the cursor (fake clock)', async t => {
  const clock = new FakeClock(0)
  let ext: FlowCache = createCache('external')
  for (let p = 1; p <= 10; p++) ext = applyPeerUpdate(ext, { event: 'new', flow: tcpFlow(p, { timeout: 100 }) }, clock.now()).cache
  clock.advance(5_000)
  let s = planCommit(cacheSnapshot(ext), clock.now(), { batchSize: 3 })
  // "runtime": each request takes 1 ms of kernel time; budget 5 ms → stops after 2 batches (6 ms)
  const budgetMs = 5
  const started = clock.now()
  while (!commitDone(s) && clock.now() - started < budgetMs) {
    const b = nextCommitBatch(s, clock.now())
    clock.advance(b.requests.length)
    s = answer(b.state, b.requests, () => null)
  }
  t.same([commitProgress(s).ok, commitProgress(s).remaining], [6, 4], 'budget spent: 4 entries left for the background')
  clock.advance(30_000) // the VIPs went up, 30 s later the background batches run
  const later = nextCommitBatch(s, clock.now())
  const timeouts = later.requests.map(r => r.request.op === 'create' ? r.request.flow.timeout : -1)
  t.same(timeouts, [65, 65, 65], 'timeouts are computed when the batch is built: 100 − 35 s')
  s = answer(later.state, later.requests, () => null)
  const last = nextCommitBatch(s, clock.now())
  s = answer(last.state, last.requests, () => null)
  t.ok(commitDone(s))
  t.equal(commitProgress(s).ok, 10)
})

t.test('commit of a related entry references an existing master tuple (encodes CTA_TUPLE_MASTER)', async t => {
  const orig = { src: '10.0.1.2', dst: '10.0.2.2', l4proto: 6, sport: 40001, dport: 20 }
  const rel: Flow = { family: 'ipv4', orig, reply: invertTuple(orig), status: IPS.EXPECTED | IPS.CONFIRMED, timeout: 10, master: { src: '10.0.1.2', dst: '10.0.2.2', l4proto: 6, sport: 40000, dport: 21 } }
  const s = planCommit([entry(rel)], 0, { batchSize: 1 })
  const b = nextCommitBatch(s, 0)
  const req = b.requests[0]?.request
  if (req?.op !== 'create') throw new Error('expected a create')
  t.equal(req.flow.status, IPS.CONFIRMED, 'EXPECTED stripped')
  const wire = decodeCtnl(encodeRequest(req, 1))[0]
  t.same(wire?.kind === 'conntrack' ? wire.flow.master : null, rel.master)
})

t.test('planCommit from the cache itself: entries decoded batch by batch; deleted ones are gone, a flush after the plan loses nothing', async t => {
  const fill = (n: number): FlowCache => {
    let c: FlowCache = createCache('external')
    for (let i = 1; i <= n; i++) c = applyPeerUpdate(c, { event: 'new', flow: tcpFlow(i, { timeout: 300 }) }, 0).cache
    return c
  }
  const ports = (reqs: readonly CommitRequest[]): number[] => reqs.map(r => plainRequest(r.request)).map(q => 'flow' in q ? (q.flow.orig.sport ?? 0) : 0)

  // A flush right after the plan (conntrackd -c then -f on a takeover): the planned entries stay readable.
  let c = fill(5)
  let s = planCommit(cacheSource(c), 0, { batchSize: 2 })
  c = flushCache(c)
  t.equal(cacheSnapshot(c).length, 0, 'the cache is empty')
  const all: number[] = []
  while (!commitDone(s)) {
    const b = nextCommitBatch(s, 0)
    all.push(...ports(b.requests))
    s = answer(b.state, b.requests, () => null)
  }
  t.same(all.sort((a, b) => a - b), [1, 2, 3, 4, 5], 'every planned entry committed')
  t.equal(commitProgress(s).ok, 5)

  // The peer deletes an entry after the plan, before its batch: it is not committed, and counted.
  c = fill(4)
  s = planCommit(cacheSource(c), 0, { batchSize: 2 })
  const first = nextCommitBatch(s, 0)
  const later = [1, 2, 3, 4].filter(p => !ports(first.requests).includes(p))
  c = applyPeerUpdate(c, { event: 'del', flow: tcpFlow(later[0] as number) }, 10).cache
  s = answer(first.state, first.requests, () => null)
  const second = nextCommitBatch(s, 0)
  t.same(ports(second.requests), [later[1]], 'the deleted entry is skipped')
  s = answer(second.state, second.requests, () => null)
  t.ok(commitDone(s))
  t.same([commitProgress(s).ok, commitProgress(s).gone, commitProgress(s).total], [3, 1, 4])
})

t.test('nextCommitBatch: admit refuses entries when their batch is built, with the reason', async t => {
  const s = planCommit([entry(tcpFlow(1)), entry(tcpFlow(2)), entry(tcpFlow(3))], 0, { batchSize: 2 })
  const b = nextCommitBatch(s, 0, e => e.flow.orig.sport === 2 ? 'ownAddress' : null)
  t.same(b.requests.map(r => 'flow' in r.request ? r.request.flow.orig.sport : 0), [1, 3], 'a refused entry does not take a place in the batch')
  t.same(b.refused, ['ownAddress'])
  t.equal(commitProgress(b.state).gone, 1)
})
