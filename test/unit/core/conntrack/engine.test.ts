// The conntrack engine (src/core/conntrack/engine.ts) with a fake clock and no I/O: every kernel
// read and write is an effect the test answers with an input, every deadline is stepped by hand.
import t from 'tap'
import { decodeDatagram } from '../../../../src/codec/conntrackd.js'
import { createEngine, engineDeadline, engineStatus, stepEngine } from '../../../../src/core/conntrack/engine.js'
import type { EngineConfig, EngineEffect, EngineInput, EngineState } from '../../../../src/core/conntrack/engine.js'
import { BULK_DEFAULTS } from '../../../../src/core/sync/bulk.js'
import { FTFW_DEFAULTS } from '../../../../src/core/sync/ftfw.js'
import type { Flow } from '../../../../src/core/conntrack/flow.js'
import { tcpFlow, udpFlow } from './helpers.js'
import { recordBatchOf } from '../../../../src/core/conntrack/record-batch.js'

function config (over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    filter: { protocols: { mode: 'ignore', list: [] }, ignoreAddresses: [{ address: '127.0.0.0', prefix: 8, family: 'ipv4' }], tcpStates: null },
    alwaysIgnore: [],
    ftfw: FTFW_DEFAULTS,
    bulk: null,
    disableExternalCache: false,
    commitBatch: 2,
    initialSeq: 1_700_000_000,
    ...over
  }
}

/** One engine and its fake clock; `step` keeps every effect for the assertions. */
class Driver {
  now = 0
  state: EngineState
  constructor (cfg: EngineConfig = config()) {
    this.state = createEngine(cfg, [{ address: '10.0.1.1', prefix: 32, family: 'ipv4' }], this.now)
  }

  step (input: EngineInput): EngineEffect[] {
    const r = stepEngine(this.state, input, this.now)
    this.state = r.state
    return [...r.effects]
  }

  /** Advance the clock to the deadline (if it is due by `until`) and step `timeout`. */
  fire (until = Infinity): EngineEffect[] {
    const d = engineDeadline(this.state)
    if (d === null || d > until) return []
    this.now = Math.max(this.now, d)
    return this.step({ kind: 'timeout' })
  }
}

const of = <K extends EngineEffect['kind']>(effects: readonly EngineEffect[], kind: K): Array<Extract<EngineEffect, { kind: K }>> =>
  effects.filter((e): e is Extract<EngineEffect, { kind: K }> => e.kind === kind)
const counts = (effects: readonly EngineEffect[]): Record<string, number> =>
  Object.fromEntries(of(effects, 'count').map(c => [c.name, c.by]))
const messages = (effects: readonly EngineEffect[]) => of(effects, 'send').flatMap(s => decodeDatagram(s.datagram).messages)

/** Fill B's external cache through real datagrams from A (A's kernel events). */
function replicate (flows: readonly Flow[]): { a: Driver, b: Driver } {
  const a = new Driver()
  const b = new Driver()
  for (const flow of flows) a.step({ kind: 'kernelEvent', event: 'new', flow })
  for (const s of of(a.fire(), 'send')) b.step({ kind: 'datagram', buf: s.datagram })
  return { a, b }
}

t.test('a kernel NEW is queued and leaves as one NEW message at the (immediate) deadline', async t => {
  const d = new Driver()
  const fx = d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(1000) })
  t.same(of(fx, 'send'), [], 'nothing is sent in the event step: events of one burst share a transmit round')
  t.equal(engineDeadline(d.state), 0, 'the transmit round is due now')
  const out = d.fire()
  t.match(messages(out), [{ kind: 'ct', event: 'new', attrs: { src: '10.0.1.2', dport: 80 } }])
  t.equal(engineStatus(d.state).internal.active, 1)
  t.equal(engineDeadline(d.state), 1000, 'then the ALIVE timer')
  const local = d.step({ kind: 'kernelEvent', event: 'new', flow: udpFlow(5, { orig: { src: '10.0.1.1', dst: '10.0.2.2', l4proto: 17, sport: 5, dport: 53 } }) })
  t.same(counts(local), { 'ct.internal.refused.filtered.address': 1 }, 'the node\'s own address is ignored, counted by reason')
})

t.test('a peer datagram lands in the external cache', async t => {
  const { b } = replicate([tcpFlow(1), tcpFlow(2), tcpFlow(3)])
  t.equal(engineStatus(b.state).external.active, 3)
  t.equal(engineStatus(b.state).internal.active, 0)
})

t.test('ctCommit: apply effects in batches, fed back, then complete', async t => {
  const { b } = replicate([1, 2, 3, 4, 5].map(n => tcpFlow(n)))
  let fx = b.step({ kind: 'command', id: 7, effect: { kind: 'ctCommit', budgetMs: 1000 } })
  let batches = 0
  let created = 0
  for (;;) {
    const apply = of(fx, 'apply')
    if (apply.length === 0) break
    t.equal(apply.length, 1, 'one batch in flight at a time')
    const batch = apply[0]!
    t.ok(batch.requests.length <= 2 && batch.requests.every(r => r.op === 'create' || r.op === 'createAttrs'), 'batchSize creates')
    t.same(of(fx, 'complete'), [], 'not answered while the commit runs')
    batches++
    created += batch.requests.length
    b.now += 10
    fx = b.step({ kind: 'applied', purpose: batch.purpose, results: batch.requests.map(() => ({ ok: true })) })
  }
  t.equal(batches, 3)
  t.equal(created, 5)
  t.same(of(fx, 'complete'), [{ kind: 'complete', id: 7, error: null }])
  t.match(counts(fx), { 'ct.commit.done': 1, 'ct.commit.entries': 5 })
  t.match(engineStatus(b.state).lastCommit, { entries: 5, ok: 5, failed: 0, ms: 30, withinBudget: true })
  t.equal(engineStatus(b.state).commit?.running, false)
  const again = b.step({ kind: 'command', id: 8, effect: { kind: 'ctCommit', budgetMs: 1000 } })
  t.equal(of(again, 'apply').length, 1, 'a new commit after the last one finished starts again')
  const skipped = b.step({ kind: 'command', id: 9, effect: { kind: 'ctCommit', budgetMs: 1000 } })
  t.same(counts(skipped), { 'ct.commit.skippedRunning': 1 }, 'one while running is skipped ...')
  t.same(of(skipped, 'complete'), [{ kind: 'complete', id: 9, error: null }], '... and answered at once')
})

t.test('a commit failure per entry is counted; a missing answer is a failure', async t => {
  const { b } = replicate([tcpFlow(1), tcpFlow(2)])
  const fx = b.step({ kind: 'command', id: 1, effect: { kind: 'ctCommit', budgetMs: 1000 } })
  const batch = of(fx, 'apply')[0]!
  const done = b.step({ kind: 'applied', purpose: batch.purpose, results: [{ ok: false, errno: 'EINVAL' }] })
  t.match(counts(done), { 'ct.commit.done': 1, 'ct.commit.entries': 0, 'ct.commit.failed': 2 })
  t.match(engineStatus(b.state).commit, { failedBy: { EINVAL: 1, ENOANSWER: 1 } })
})

t.test('the budget deadline answers ctCommit while the commit continues', async t => {
  const { b } = replicate([1, 2, 3, 4, 5].map(n => tcpFlow(n)))
  b.now = 5000
  b.step({ kind: 'timeout' }) // b's idle ALIVE round, so the budget is the next deadline
  let fx = b.step({ kind: 'command', id: 3, effect: { kind: 'ctCommit', budgetMs: 100 } })
  let batch = of(fx, 'apply')[0]!
  t.equal(engineDeadline(b.state), 5100, 'the budget is a deadline')
  const due = b.fire(5100)
  t.same(of(due, 'complete'), [{ kind: 'complete', id: 3, error: null }], 'answered at the budget')
  t.match(counts(due), { 'ct.commit.overBudget': 1 })
  t.match(of(due, 'log'), [{ level: 'warn', msg: /budget spent/ }])
  t.equal(engineStatus(b.state).commit?.running, true, 'still running')
  let rounds = 0
  for (;;) {
    b.now += 50
    fx = b.step({ kind: 'applied', purpose: batch.purpose, results: batch.requests.map(() => ({ ok: true })) })
    rounds++
    t.same(of(fx, 'complete'), [], 'no second answer')
    const next = of(fx, 'apply')[0]
    if (next === undefined) break
    batch = next
  }
  t.equal(rounds, 3)
  t.match(counts(fx), { 'ct.commit.done': 1, 'ct.commit.entries': 5 })
  t.match(engineStatus(b.state).lastCommit, { ok: 5, ms: 250, withinBudget: false })
})

t.test('a commit whose batch the port could not apply fails its waiting command', async t => {
  const { b } = replicate([tcpFlow(1)])
  b.step({ kind: 'command', id: 4, effect: { kind: 'ctCommit', budgetMs: 100 } })
  const fx = b.step({ kind: 'applyFailed', purpose: { kind: 'commit' }, error: 'ECLOSED' })
  t.same(of(fx, 'complete'), [{ kind: 'complete', id: 4, error: 'ECLOSED' }])
  t.match(b.state.commit, { running: false, waiting: null }, 'stopped, no budget deadline left')
  b.now = 1000
  t.same(of(b.fire(1000), 'complete'), [], 'nothing answered twice')
})

t.test('a takeover commit runs out of the NEW event group until its command is answered', async t => {
  const kinds = (fx: readonly EngineEffect[]): string[] => fx.filter(e => e.kind === 'listenNew' || e.kind === 'apply' || e.kind === 'complete')
    .map(e => e.kind === 'listenNew' ? `listenNew ${String(e.on)}` : e.kind)

  await t.test('done: off before the first batch, on again just before the answer', async t => {
    const { b } = replicate([1, 2, 3].map(n => tcpFlow(n)))
    let fx = b.step({ kind: 'command', id: 1, effect: { kind: 'ctCommit', budgetMs: 1000, takeover: true } })
    t.same(kinds(fx), ['listenNew false', 'apply'])
    t.equal(b.state.commit?.newEventsOff, true)
    fx = b.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }, { ok: true }] })
    t.same(kinds(fx), ['apply'], 'still off between batches')
    fx = b.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }] })
    t.same(kinds(fx), ['listenNew true', 'complete'])
    t.equal(b.state.commit?.newEventsOff, false)
  })

  await t.test('budget spent: on again with the answer; the rest of the commit keeps the group', async t => {
    const { b } = replicate([1, 2, 3, 4, 5].map(n => tcpFlow(n)))
    b.now = 5000
    b.step({ kind: 'timeout' })
    t.same(kinds(b.step({ kind: 'command', id: 2, effect: { kind: 'ctCommit', budgetMs: 100, takeover: true } })), ['listenNew false', 'apply'])
    t.same(kinds(b.fire(5100)), ['listenNew true', 'complete'])
    let fx = b.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }, { ok: true }] })
    const seen = [...kinds(fx)]
    while (of(fx, 'apply').length > 0) {
      fx = b.step({ kind: 'applied', purpose: { kind: 'commit' }, results: of(fx, 'apply')[0]!.requests.map(() => ({ ok: true })) })
      seen.push(...kinds(fx))
    }
    t.same(seen, ['apply', 'apply'], 'no second listenNew, no second answer')
    t.match(engineStatus(b.state).lastCommit, { ok: 5 })
  })

  await t.test('failed: on again before the failure is answered', async t => {
    const { b } = replicate([tcpFlow(1)])
    b.step({ kind: 'command', id: 3, effect: { kind: 'ctCommit', budgetMs: 100, takeover: true } })
    t.same(kinds(b.step({ kind: 'applyFailed', purpose: { kind: 'commit' }, error: 'ECLOSED' })), ['listenNew true', 'complete'])
  })

  await t.test('a resync or an overrun dump before the commit is answered joins the group first', async t => {
    const { b } = replicate([1, 2, 3].map(n => tcpFlow(n)))
    b.step({ kind: 'command', id: 6, effect: { kind: 'ctCommit', budgetMs: 1000, takeover: true } })
    // the main thread answered the ctCommit on its own clock and the plan went on to the resync
    const fx = b.step({ kind: 'command', id: 7, effect: { kind: 'ctResyncFromKernel' } })
    t.same(fx.filter(e => e.kind === 'listenNew' || e.kind === 'dump').map(e => e.kind === 'listenNew' ? `listenNew ${String(e.on)}` : e.kind), ['listenNew true', 'dump'])
    let rest = b.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }, { ok: true }] })
    rest = rest.concat(b.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }] }))
    t.same(kinds(rest), ['apply', 'complete'], 'the answer does not join twice')

    const c = replicate([1, 2, 3].map(n => tcpFlow(n))).b
    c.step({ kind: 'command', id: 8, effect: { kind: 'ctCommit', budgetMs: 1000, takeover: true } })
    const ov = c.step({ kind: 'overrun', count: 1, reason: 'enobufs' })
    t.same(ov.filter(e => e.kind === 'listenNew' || e.kind === 'dump').map(e => e.kind), ['listenNew', 'dump'], 'an overrun resync too')
  })

  await t.test('an empty external cache: nothing to create, the group is kept', async t => {
    const b = new Driver()
    t.same(kinds(b.step({ kind: 'command', id: 4, effect: { kind: 'ctCommit', budgetMs: 100, takeover: true } })), ['complete'])
  })

  await t.test('an operator\'s commit (no role change, no resync after it) keeps the group', async t => {
    const { b } = replicate([tcpFlow(1)])
    const fx = b.step({ kind: 'command', id: 5, effect: { kind: 'ctCommit', budgetMs: 100 } })
    t.same(kinds(fx), ['apply'])
    t.same(kinds(b.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }] })), ['complete'])
  })
})

t.test('purge: after PurgeTimeout, dump, delete what the filter accepts, flush the internal cache', async t => {
  const d = new Driver()
  d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(1) })
  d.fire()
  const fx = d.step({ kind: 'command', id: 1, effect: { kind: 'ctShortenTimers', purgeTimeoutS: 60 } })
  t.same(of(fx, 'complete'), [{ kind: 'complete', id: 1, error: null }], 'answered at once')
  t.equal(engineStatus(d.state).purgePending, true)
  t.equal(d.state.purge?.at, 60_000)
  d.step({ kind: 'command', id: 2, effect: { kind: 'ctShortenTimers', purgeTimeoutS: 1 } })
  t.equal(d.state.purge?.at, 60_000, 'the first one stands')
  let due: EngineEffect[] = []
  while (of(due, 'dump').length === 0) due = d.fire(60_000)
  t.equal(d.now, 60_000)
  t.same(of(due, 'dump'), [{ kind: 'dump', purpose: { kind: 'purge' } }])
  t.equal(engineStatus(d.state).purgePending, false)
  const mine = udpFlow(9, { orig: { src: '10.0.1.1', dst: '10.0.2.2', l4proto: 17, sport: 9, dport: 53 } })
  const del = d.step({ kind: 'dumped', purpose: { kind: 'purge' }, flows: [tcpFlow(1), tcpFlow(2), mine] })
  const apply = of(del, 'apply')[0]!
  t.same(apply.requests.map(r => r.op), ['delete', 'delete'], 'the local flow is kept')
  const done = d.step({ kind: 'applied', purpose: apply.purpose, results: [{ ok: true }, { ok: false, errno: 'ENOENT' }] })
  t.same(counts(done), { 'ct.purge.deleted': 1 })
  t.match(of(done, 'log'), [{ level: 'info', fields: { deleted: 1, kept: 1 } }])
  t.equal(engineStatus(d.state).internal.active, 0, 'internal flushed')
})

t.test('a commit or a flush cancels a pending purge', async t => {
  for (const effect of [{ kind: 'ctCommit', budgetMs: 10 }, { kind: 'ctFlush', caches: 'both' }] as const) {
    const d = new Driver()
    d.step({ kind: 'command', id: 1, effect: { kind: 'ctShortenTimers', purgeTimeoutS: 5 } })
    const fx = d.step({ kind: 'command', id: 2, effect })
    t.match(counts(fx), { 'ct.purge.cancelled': 1 }, effect.kind)
    t.equal(engineStatus(d.state).purgePending, false)
    d.now = 10_000
    t.same(of(d.step({ kind: 'timeout' }), 'dump'), [], `${effect.kind}: no purge later`)
  }
})

t.test('overruns while a resync dump is pending: one dump, then the differences are sent', async t => {
  const d = new Driver()
  d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(1) })
  d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(2) })
  d.fire()
  d.now += 100
  const requestedAt = d.now
  const first = d.step({ kind: 'overrun', count: 1, reason: 'enobufs' })
  t.same(of(first, 'dump'), [{ kind: 'dump', purpose: { kind: 'overrun', requestedAt } }])
  t.match(counts(first), { 'ct.overrun': 1 })
  const more = [d.step({ kind: 'overrun', count: 2, reason: 'enobufs' }), d.step({ kind: 'overrun', count: 3, reason: 'enobufs' })].flat()
  t.same(of(more, 'dump'), [], 'no second dump while one is out')
  t.equal(of(more, 'count').length, 2, 'each overrun still counted')
  const fx = d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt }, flows: [tcpFlow(2), tcpFlow(3)] })
  t.match(counts(fx), { 'ct.resync.kernel': 1 })
  t.same(of(fx, 'dump'), [{ kind: 'dump', purpose: { kind: 'overrun', requestedAt: d.now } }], 'overruns during the dump: exactly one more dump after it')
  const sent = messages(d.fire())
  t.same(sent.filter(m => m.kind === 'ct').map(m => m.kind === 'ct' ? `${m.event}:${m.attrs.sport}` : '').sort(), ['del:1', 'new:2', 'new:3'], 'purged, refreshed and new entries replicated (2 is still NEW in the resend queue: coalesced)')
  const quiet = d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt: d.now }, flows: [tcpFlow(2), tcpFlow(3)] })
  t.same(of(quiet, 'dump'), [], 'no overrun during the follow-up dump: no further dump')
  t.same(of(d.step({ kind: 'overrun', count: 4, reason: 'enobufs' }), 'dump').length, 1, 'the next overrun dumps again')
  d.step({ kind: 'overrun', count: 5, reason: 'enobufs' })
  const failed = d.step({ kind: 'dumpFailed', purpose: { kind: 'overrun', requestedAt: d.now }, error: 'EBUSY' })
  t.match(of(failed, 'log'), [{ level: 'error', msg: 'resync after an overrun failed' }])
  t.equal(of(failed, 'dump').length, 1, 'an overrun during a failed dump still gets its dump')
  d.step({ kind: 'dumpFailed', purpose: { kind: 'overrun', requestedAt: d.now }, error: 'EBUSY' })
  t.equal(of(d.step({ kind: 'overrun', count: 6, reason: 'enobufs' }), 'dump').length, 1, 'a failed dump does not block the next one')
})

t.test('overrun: events during the first dump of an episode ask for one more dump (the kernel reports ENOBUFS once per congestion)', async t => {
  const d = new Driver()
  t.equal(of(d.step({ kind: 'overrun', count: 1, reason: 'enobufs' }), 'dump').length, 1)
  d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(1) }) // the storm goes on; drops now go unreported
  const first = d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt: 0 }, flows: [tcpFlow(1)] })
  t.match(of(first, 'dump'), [{ purpose: { kind: 'overrun' } }], 'one more dump after the first')
  d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(2) })
  const second = d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt: 0 }, flows: [tcpFlow(1), tcpFlow(2)] })
  t.same(of(second, 'dump'), [], 'events during the follow-up do not ask again: one extra dump per episode')
  d.step({ kind: 'overrun', count: 2, reason: 'enobufs' })
  t.same(of(d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt: 0 }, flows: [] }), 'dump'), [], 'a first dump without events during it is the last')
})

t.test('overrun resync: an entry whose event came after the dump was requested is not purged though the dump missed it', async t => {
  const d = new Driver()
  d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(1) })
  d.fire()
  d.now += 100
  const requestedAt = d.now
  d.step({ kind: 'overrun', count: 1, reason: 'enobufs' })
  d.now += 50
  // created in the kernel after the dump walked its bucket: only its event tells of it
  d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(7) })
  d.fire()
  d.now += 50
  d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt }, flows: [tcpFlow(2)] })
  const sent = messages(d.fire())
  t.same(sent.filter(m => m.kind === 'ct').map(m => m.kind === 'ct' ? `${m.event}:${m.attrs.sport}` : '').sort(), ['del:1', 'new:2'], 'entry 1 (untouched since before the dump) purged, entry 7 kept')
  t.equal(engineStatus(d.state).internal.active, 2, 'entries 2 and 7 stay')
})

t.test('overrun resync in chunks: each chunk merged and sent in its own step, the purge only at the end', async t => {
  const d = new Driver()
  for (const p of [1, 2, 3]) d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(p) })
  d.fire()
  d.now += 100
  const requestedAt = d.now
  d.step({ kind: 'overrun', count: 1, reason: 'enobufs' })
  d.now += 10
  const c1 = d.step({ kind: 'dumpPart', purpose: { kind: 'overrun', requestedAt }, batch: recordBatchOf([tcpFlow(2), tcpFlow(4)]) })
  t.same(of(c1, 'count').filter(c => c.name === 'ct.resync.kernel'), [], 'not done after a chunk')
  t.equal(engineStatus(d.state).internal.active, 4, 'the chunk is merged at once (4 is new), nothing purged yet')
  const first = messages(d.fire())
  t.same(first.filter(m => m.kind === 'ct').map(m => m.kind === 'ct' ? `${m.event}:${m.attrs.sport}` : '').sort(), ['new:2', 'new:4'], 'its differences go out in the next transmit round')
  d.now += 10
  d.step({ kind: 'dumpPart', purpose: { kind: 'overrun', requestedAt }, batch: recordBatchOf([tcpFlow(5)]) })
  const end = d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt }, flows: [] })
  t.match(counts(end), { 'ct.resync.kernel': 1 })
  const last = messages(d.fire())
  t.same(last.filter(m => m.kind === 'ct').map(m => m.kind === 'ct' ? `${m.event}:${m.attrs.sport}` : '').sort(), ['del:1', 'del:3', 'new:5'], 'entries no chunk showed are purged at the end')
  t.equal(engineStatus(d.state).internal.active, 3, '2, 4 and 5 stay')
  t.equal(d.state.dumpRun, null, 'no dump in progress')
})

t.test('a dump that fails after some chunks: what they showed stays, nothing is purged, the next dump starts fresh', async t => {
  const d = new Driver()
  for (const p of [1, 2]) d.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(p) })
  d.fire()
  d.now += 100
  const requestedAt = d.now
  d.step({ kind: 'overrun', count: 1, reason: 'enobufs' })
  d.step({ kind: 'dumpPart', purpose: { kind: 'overrun', requestedAt }, batch: recordBatchOf([tcpFlow(3)]) })
  d.step({ kind: 'dumpFailed', purpose: { kind: 'overrun', requestedAt }, error: 'ETIMEDOUT' })
  t.equal(d.state.dumpRun, null)
  t.equal(engineStatus(d.state).internal.active, 3, 'no purge from a partial dump')
  d.now += 100
  const again = d.now
  d.step({ kind: 'overrun', count: 2, reason: 'enobufs' })
  d.step({ kind: 'dumpPart', purpose: { kind: 'overrun', requestedAt: again }, batch: recordBatchOf([tcpFlow(2)]) })
  d.step({ kind: 'dumped', purpose: { kind: 'overrun', requestedAt: again }, flows: [tcpFlow(3)] })
  t.equal(engineStatus(d.state).internal.active, 2, 'the complete dump purges 1: the failed run\'s chunk did not count as seen')
})

t.test('a purge dump in chunks decides on the whole table', async t => {
  const d = new Driver()
  const whole = new Driver()
  for (const x of [d, whole]) {
    for (const p of [1, 2]) x.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(p) })
    x.fire()
  }
  d.step({ kind: 'dumpPart', purpose: { kind: 'purge' }, batch: recordBatchOf([tcpFlow(1)]) })
  const chunked = d.step({ kind: 'dumped', purpose: { kind: 'purge' }, flows: [tcpFlow(2), tcpFlow(9)] })
  const once = whole.step({ kind: 'dumped', purpose: { kind: 'purge' }, flows: [tcpFlow(1), tcpFlow(2), tcpFlow(9)] })
  t.equal(of(once, 'apply').length, 1, 'one purge batch')
  t.same(of(chunked, 'apply'), of(once, 'apply'), 'the same purge requests as one dump')
})

t.test('start: the kernel table fills the internal cache silently; the startup bulk demotes until it ends', async t => {
  const d = new Driver(config({ bulk: { ...BULK_DEFAULTS, startupResyncTimeoutMs: 30_000 } }))
  const fx = d.step({ kind: 'start', id: 1 })
  t.same(fx, [{ kind: 'dump', purpose: { kind: 'start', id: 1 } }])
  const started = d.step({ kind: 'dumped', purpose: { kind: 'start', id: 1 }, flows: [tcpFlow(1), tcpFlow(2)] })
  t.same(started.map(e => e.kind), ['count', 'bulkTransition', 'demote', 'complete'], 'demoted before start is answered')
  t.same(of(started, 'demote'), [{ kind: 'demote', offset: -250 }])
  t.equal(engineStatus(d.state).internal.active, 2)
  t.same(messages(d.fire(0)).filter(m => m.kind === 'ct'), [], 'nothing sent: the start resync is -R')
  const all: EngineEffect[] = []
  while (d.now < 20_000) {
    const out = d.fire(20_000)
    if (out.length === 0 && engineDeadline(d.state)! > 20_000) break
    all.push(...out)
  }
  t.same(of(all, 'demote'), [{ kind: 'demote', offset: 0 }], 'the demotion is lifted once')
  t.match(of(all, 'bulkTransition').at(-1), { to: 'done', event: 'retryTimeout', at: 12_000 }, 'no peer: gave up after the retries')
  t.equal(engineStatus(d.state).bulk, 'done')
})

t.test('a node that became master alone (RESYNC unanswered, no peer ever heard) lifts the demotion at its commit', async t => {
  const d = new Driver(config({ bulk: { ...BULK_DEFAULTS, startupResyncTimeoutMs: 30_000 } }))
  d.step({ kind: 'start', id: 1 })
  d.step({ kind: 'dumped', purpose: { kind: 'start', id: 1 }, flows: [tcpFlow(1)] })
  t.equal(engineStatus(d.state).bulk, 'requested')
  const byOperator = d.step({ kind: 'command', id: 2, effect: { kind: 'ctCommit', budgetMs: 1000 } })
  t.same(of(byOperator, 'demote'), [], 'an operator\'s commit (hafwctl commit) changes no role: still demoted')
  d.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }] })
  t.equal(engineStatus(d.state).bulk, 'requested')
  const partial = d.step({ kind: 'command', id: 3, effect: { kind: 'ctCommit', budgetMs: 1000, takeover: true, everyUnitMaster: false } })
  t.same(of(partial, 'demote'), [], 'a takeover with a unit still backup (an address owner went master at once): still demoted')
  d.step({ kind: 'applied', purpose: { kind: 'commit' }, results: [{ ok: true }] })
  const fx = d.step({ kind: 'command', id: 4, effect: { kind: 'ctCommit', budgetMs: 1000, takeover: true, everyUnitMaster: true } })
  t.match(of(fx, 'bulkTransition'), [{ from: 'requested', to: 'done', event: 'alone' }])
  t.same(of(fx, 'demote'), [{ kind: 'demote', offset: 0 }], 'advertises its configured priority again')
  t.equal(engineStatus(d.state).bulk, 'done')
})

t.test('start and ctResyncFromKernel fail with the dump\'s error', async t => {
  const d = new Driver()
  d.step({ kind: 'start', id: 1 })
  t.same(d.step({ kind: 'dumpFailed', purpose: { kind: 'start', id: 1 }, error: 'EPERM' }), [{ kind: 'complete', id: 1, error: 'EPERM' }])
  t.same(d.step({ kind: 'command', id: 2, effect: { kind: 'ctResyncFromKernel' } }), [{ kind: 'dump', purpose: { kind: 'resync', id: 2 } }])
  const ok = d.step({ kind: 'dumped', purpose: { kind: 'resync', id: 2 }, flows: [tcpFlow(1)] })
  t.same(ok.map(e => e.kind), ['count', 'complete'])
})

t.test('RESYNC from the peer is answered with the whole internal cache', async t => {
  const a = new Driver()
  const b = new Driver()
  a.step({ kind: 'start', id: 1 })
  a.step({ kind: 'dumped', purpose: { kind: 'start', id: 1 }, flows: [tcpFlow(1), tcpFlow(2)] })
  // b needs one message from a (a sequence base) before its RESYNC goes out.
  a.now = b.now = 1000
  for (const s of of(a.fire(), 'send')) b.step({ kind: 'datagram', buf: s.datagram })
  b.step({ kind: 'command', id: 1, effect: { kind: 'syncRequestResync' } })
  const round = of(b.fire(), 'send')
  t.ok(messages(round).some(m => m.kind === 'resync'), 'b sent RESYNC')
  const answer: EngineEffect[] = round.flatMap(s => a.step({ kind: 'datagram', buf: s.datagram }))
  t.same(of(answer, 'send'), [], 'queued in the same step ...')
  answer.push(...a.fire())
  t.equal(messages(answer).filter(m => m.kind === 'ct').length, 2, '... and sent in the next round: the whole internal cache')
})

t.test('DisableExternalCache: peer updates become kernel applies', async t => {
  const a = new Driver()
  const b = new Driver(config({ disableExternalCache: true }))
  a.step({ kind: 'kernelEvent', event: 'new', flow: tcpFlow(1) })
  const fx = of(a.fire(), 'send').flatMap(s => b.step({ kind: 'datagram', buf: s.datagram }))
  const apply = of(fx, 'apply')
  t.match(apply, [{ purpose: { kind: 'inject' }, requests: [{ op: 'create', exclusive: false }] }])
  t.equal(engineStatus(b.state).external.active, 0)
  t.same(counts(b.step({ kind: 'applied', purpose: { kind: 'inject' }, results: [{ ok: false, errno: 'EEXIST' }] })), { 'ct.inject.failed.EEXIST': 1 })
})

t.test('local addresses join the filter', async t => {
  const d = new Driver()
  const flow = udpFlow(7, { orig: { src: '10.0.3.3', dst: '10.0.2.2', l4proto: 17, sport: 7, dport: 53 } })
  d.step({ kind: 'localAddresses', cidrs: [{ address: '10.0.3.3', prefix: 32, family: 'ipv4' }] })
  t.same(counts(d.step({ kind: 'kernelEvent', event: 'new', flow })), { 'ct.internal.refused.filtered.address': 1 })
})
