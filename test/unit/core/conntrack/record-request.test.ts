// writeCommitAttrs (record-request.ts): a commit's create request written straight from a packed
// record is byte for byte what the Flow path encodes (encodeRequest({ op: 'create', flow:
// commitFlow(entry) })), over seeded random flows of every shape a record holds (NAT given or
// derived, equal and different ports, ICMP requests, zones, TCP with and without flags, protocols
// without ports), with and without TCP window tracking, with remaining and expired timeouts.
// Then the commit planner end to end: a cache's plain entries go the byte path, the others the Flow
// path, and the kernel (the fake) ends with the same table either way.
import t from 'tap'
import { encodeRequest } from '../../../../src/codec/ctnetlink-request.js'
import { NFGENMSG_LEN, NLMSG_HDRLEN } from '../../../../src/codec/netlink.js'
import { createCache, cacheSource, applyPeerUpdate } from '../../../../src/core/conntrack/cache.js'
import { COMMIT_FALLBACK_TIMEOUT_S, applyCommitResults, commitDone, commitFlow, commitProgress, nextCommitBatch, planCommit, arraySource } from '../../../../src/core/conntrack/commit.js'
import { flowExtra, packBody, packKey, recordLayout, unpackFlow, type RecordLayout } from '../../../../src/core/conntrack/flow-record.js'
import { IPS, flowKey, type Flow } from '../../../../src/core/conntrack/flow.js'
import { COMMIT_ATTRS_MAX_BYTES, writeCommitAttrs } from '../../../../src/core/conntrack/record-request.js'
import { FakeConntrack } from '../../../helpers/fake-conntrack.js'
import { mulberry32 } from '../../../helpers/prng.js'
import { drawFlowBase } from '../../../helpers/random-flow.js'

const L4 = recordLayout('ipv4')
const L6 = recordLayout('ipv6')

function randomFlow (rnd: () => number): Flow {
  const { flow: f, pick, maybe, addr } = drawFlowBase(rnd, { protos: v6 => [6, 6, 6, 17, 1, v6 ? 58 : 1, 47, 132, 33, 50, 136], icmpTypes: [0, 8, 3, 13, 128, 129, 135] })
  const proto = f.orig.l4proto
  const reply = f.reply
  if (maybe(0.9)) {
    f.status = (IPS.CONFIRMED | IPS.SEEN_REPLY | (maybe(0.1) ? IPS.EXPECTED : 0) | (maybe(0.05) ? IPS.DYING : 0) |
      (maybe(0.3) ? IPS.SRC_NAT | IPS.SRC_NAT_DONE : 0) | (maybe(0.3) ? IPS.DST_NAT | IPS.DST_NAT_DONE : 0)) >>> 0
  }
  if (maybe(0.85)) f.timeout = pick(5) === 0 ? pick(3) : pick(500000)
  if (maybe(0.4)) f.mark = pick(2) === 0 ? 0 : 0xffffffff
  if (maybe(0.1)) f.zone = pick(4)
  if (maybe(0.3)) f.id = pick(1 << 30)
  if (maybe(proto === 6 ? 0.8 : 0.03)) {
    f.tcp = maybe(0.1) ? {} : { state: pick(10), wscaleOrig: 7, wscaleReply: pick(15) }
    if (maybe(0.5)) f.tcp.flagsOrig = { flags: pick(256), mask: pick(256) }
    if (maybe(0.5)) f.tcp.flagsReply = { flags: pick(256), mask: pick(256) }
  }
  if (maybe(0.3)) f.synproxy = { isn: 0, its: 0, tsoff: 0 }
  if (maybe(0.2)) {
    f.nat = {}
    if (maybe(0.7)) f.nat.src = maybe(0.3) ? { ip: reply.dst } : maybe(0.5) ? { port: reply.dport ?? 0 } : { ip: addr(), port: 1 + pick(60000) }
    if (maybe(0.5)) f.nat.dst = maybe(0.5) ? { ip: addr() } : {}
  }
  return f
}

t.test('random records: commit attributes ≡ encodeRequest(create, commitFlow(entry))', async t => {
  const rnd = mulberry32(21)
  const rec = new Uint8Array(L6.size + 16)
  const dv = new DataView(rec.buffer)
  const out = new Uint8Array(COMMIT_ATTRS_MAX_BYTES + 8)
  let compared = 0
  let derivedNat = 0
  let fallback = 0
  let longest = 0
  for (let i = 0; i < 60_000; i++) {
    const f = randomFlow(rnd)
    const lay: RecordLayout = f.family === 'ipv4' ? L4 : L6
    const off = 1 + (i % 7) // any alignment
    rec.fill(0xaa)
    if (!packKey(lay, f, rec, dv, off) || !packBody(lay, f, rec, dv, off) || flowExtra(f) !== undefined) continue
    const lastUpdate = 1000 * pick(rnd, 400)
    dv.setFloat64(off + lay.lastUpdate, lastUpdate)
    const now = lastUpdate + 1000 * pick(rnd, 5) + pick(rnd, 999)
    const opts = { commitTimeoutS: rnd() < 0.1 ? 30 : null, tcpWindowTracking: rnd() < 0.3 }
    const flow = unpackFlow(lay, rec, dv, off)
    const entry = { key: flowKey(flow), flow, since: 0, lastUpdate, status: 'alive' as const }
    const cf = commitFlow(entry, now, opts)
    const want = encodeRequest({ op: 'create', flow: cf }, 1).subarray(NLMSG_HDRLEN + NFGENMSG_LEN)
    out.fill(0xee) // stale bytes: padding must be written
    const end = writeCommitAttrs(lay, rec, dv, off, cf.timeout as number, opts, out, 3)
    const got = Buffer.from(out.subarray(3, end))
    longest = Math.max(longest, got.length)
    if (!got.equals(want)) {
      t.fail(`flow ${JSON.stringify(flow)} opts ${JSON.stringify(opts)}:\n got ${got.toString('hex')}\nwant ${Buffer.from(want).toString('hex')}`)
      return
    }
    compared++
    if (flow.nat === undefined && cf.nat !== undefined) derivedNat++
    if (cf.timeout === COMMIT_FALLBACK_TIMEOUT_S) fallback++
  }
  t.ok(compared > 30_000, `${compared} records compared`)
  t.ok(derivedNat > 1000, `${derivedNat} with NAT derived from the reply tuple`)
  t.ok(fallback > 100, `${fallback} with the fallback timeout`)
  t.ok(longest <= COMMIT_ATTRS_MAX_BYTES, `longest ${longest} bytes fits COMMIT_ATTRS_MAX_BYTES`)
})

function pick (rnd: () => number, n: number): number {
  return Math.floor(rnd() * n)
}

t.test('a cache commits the same table through records as through Flows; EEXIST and failures still name the entry', async t => {
  const rnd = mulberry32(5)
  const flows: Flow[] = []
  for (let i = 0; flows.length < 400; i++) {
    const f = randomFlow(rnd)
    if (f.timeout === undefined) f.timeout = 100
    // a few entries with side data (a helper) take the Flow path inside the same commit
    if (i % 37 === 0) f.helper = 'ftp'
    flows.push(f)
  }
  const cache = createCache('external')
  for (const f of flows) applyPeerUpdate(cache, { event: 'new', flow: f }, 0)
  const size = cacheSource(cache).size
  t.ok(size > 300, `${size} entries in the cache`)

  const run = async (byRecord: boolean, pre: FakeConntrack): Promise<{ kernel: string[], creates: number, attrs: number, keys: string[] }> => {
    const src = cacheSource(cache)
    const source = byRecord ? src : { size: src.size, entry: src.entry, related: src.related }
    let s = planCommit(source, 5000, { batchSize: 64 })
    let creates = 0
    let attrs = 0
    const keys: string[] = []
    for (let guard = 0; !commitDone(s) && guard < 1000; guard++) {
      const b = nextCommitBatch(s, 5000)
      for (const r of b.requests) {
        if (r.request.op === 'createAttrs') attrs++
        if (r.request.op === 'create' || r.request.op === 'createAttrs') creates++
      }
      const answers = await pre.apply(b.requests.map(r => r.request as Exclude<typeof r.request, { op: 'dump' }>))
      const results = b.requests.map((r, i) => {
        const a = answers[i]
        // every 50th request refused: both paths hand out the same entries in the same order
        if (r.id % 50 === 0) return { id: r.id, error: 'ENOMEM' }
        return { id: r.id, error: a === undefined ? 'ENOANSWER' : a.ok ? null : a.errno }
      })
      s = applyCommitResults(b.state, results)
    }
    for (const f of s.failures) keys.push(f.key)
    t.ok(commitDone(s), 'commit done')
    t.equal(commitProgress(s).exists, 3, 'the 3 entries already in the kernel were found')
    // what the fake kept (the Flow path hands it the Flow, the record path bytes it decodes, and
    // the wire has no NAT port for SCTP & co.): the bytes are compared in the test above
    const kernel = [...pre.table.values()].map(f => `${flowKey(f)} t${String(f.timeout)} m${String(f.mark)}`).sort()
    return { kernel, creates, attrs, keys }
  }
  const kernelWith = (): FakeConntrack => {
    const k = new FakeConntrack()
    // three entries the kernel already has: EEXIST, delete, recreate
    for (const f of flows.slice(10, 13)) k.kernel.create(f)
    return k
  }
  const viaFlows = await run(false, kernelWith())
  const viaRecords = await run(true, kernelWith())
  t.equal(viaFlows.attrs, 0, 'no record path without CacheSource.record')
  t.ok(viaRecords.attrs > size * 0.8, `${viaRecords.attrs} of ${viaRecords.creates} creates written from records`)
  t.ok(viaRecords.attrs < viaRecords.creates, 'entries with side data took the Flow path')
  t.same(viaRecords.kernel, viaFlows.kernel, 'the kernel ends with the same entries')
  t.ok(viaFlows.keys.length >= 5, `${viaFlows.keys.length} failures`)
  t.same(viaRecords.keys, viaFlows.keys, 'failures name the same entries')
  t.ok(arraySource([]).record === undefined)
})

t.test('an entry replaced in its slot before its answer came: the answer does not reach the new entry', async t => {
  const udp = (sport: number): Flow => ({
    family: 'ipv4',
    orig: { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 17, sport, dport: 53 },
    reply: { src: '10.0.0.2', dst: '10.0.0.1', l4proto: 17, sport: 53, dport: sport },
    status: IPS.CONFIRMED,
    timeout: 30
  })
  for (const onExists of ['replace', 'update'] as const) {
    const cache = createCache('external')
    applyPeerUpdate(cache, { event: 'new', flow: udp(1111) }, 0)
    let s = planCommit(cacheSource(cache), 0, { batchSize: 10, onExists })
    const b = nextCommitBatch(s, 0)
    t.same(b.requests.map(r => r.request.op), ['createAttrs'])
    // the peer deletes X and sends Y, which takes X's freed slot
    applyPeerUpdate(cache, { event: 'del', flow: udp(1111) }, 1)
    applyPeerUpdate(cache, { event: 'new', flow: udp(2222) }, 1)
    s = applyCommitResults(b.state, b.requests.map(r => ({ id: r.id, error: 'EEXIST' })))
    t.equal(nextCommitBatch(s, 2).requests.length, 0, `${onExists}: no follow-up for an entry that is not X`)
    t.match(commitProgress(s), { exists: 1, gone: 1, failed: 0 }, `${onExists}: X counted as found, then gone`)
    t.ok(commitDone(s))
  }
  // and a failure names the entry only while its place still holds it
  const cache = createCache('external')
  applyPeerUpdate(cache, { event: 'new', flow: udp(1111) }, 0)
  const b = nextCommitBatch(planCommit(cacheSource(cache), 0, { batchSize: 10 }), 0)
  const failed = applyCommitResults(b.state, b.requests.map(r => ({ id: r.id, error: 'ENOMEM' })))
  t.match(failed.failures, [{ key: flowKey(udp(1111)), error: 'ENOMEM' }], 'still there: named')
})
