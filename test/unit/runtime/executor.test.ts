// The executor runs plans in order: every effect of a plan before the next plan, a failed effect
// does not stop the plan, announcements do not hold the plan back, adverts of one plan leave
// together, effects nobody handles are counted as skipped.
import t from 'tap'
import pino from 'pino'
import { Executor } from '../../../src/runtime/executor.js'
import type { EffectHandlers } from '../../../src/runtime/executor.js'
import { Counters } from '../../../src/runtime/stats.js'
import type { Effect } from '../../../src/core/effects.js'

const silent = pino({ level: 'silent' })
const vip = { address: '10.1.0.1', prefix: 24, family: 'ipv4' as const }
const advert = (routerId: string, priority = 100): Effect => ({ kind: 'sendAdvert', routerId, priority })

function deferred (): { promise: Promise<void>, resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

function recorder (extra: Partial<EffectHandlers> = {}): { log: string[], handlers: EffectHandlers } {
  const log: string[] = []
  const rec = (name: string) => async (e: Effect): Promise<void> => { log.push(`${name}:${'routerId' in e ? e.routerId : ''}`) }
  return {
    log,
    handlers: { sendAdvert: rec('advert'), vipAdd: rec('vipAdd'), vipDel: rec('vipDel'), ctCommit: rec('commit'), ...extra }
  }
}

t.test('effects of a plan run in order; plans one after another', async t => {
  const { log, handlers } = recorder()
  const ex = new Executor(handlers, new Counters(), silent, () => 0)
  void ex.run([advert('a'), { kind: 'ctCommit', budgetMs: 10 }, { kind: 'vipAdd', routerId: 'a', vips: [vip] }])
  await ex.run([{ kind: 'vipDel', routerId: 'a', vips: [vip] }])
  t.same(log, ['advert:a', 'commit:', 'vipAdd:a', 'vipDel:a'])
})

t.test('the commit is awaited before the VIPs are added (commit before announce)', async t => {
  const gate = deferred()
  const { log, handlers } = recorder({ ctCommit: async () => { await gate.promise; log.push('commit done') } })
  const ex = new Executor(handlers, new Counters(), silent, () => 0)
  const done = ex.run([advert('a'), { kind: 'ctCommit', budgetMs: 10 }, { kind: 'vipAdd', routerId: 'a', vips: [vip] }])
  await new Promise(resolve => setImmediate(resolve))
  t.same(log, ['advert:a'], 'vipAdd waits for the commit')
  gate.resolve()
  await done
  t.same(log, ['advert:a', 'commit done', 'vipAdd:a'])
})

t.test('a failed effect is counted and the plan goes on', async t => {
  const counters = new Counters()
  const { log, handlers } = recorder({ vipAdd: async () => { throw new Error('EPERM') } })
  const ex = new Executor(handlers, counters, silent, () => 0)
  await ex.run([{ kind: 'vipAdd', routerId: 'a', vips: [vip] }, { kind: 'vipDel', routerId: 'a', vips: [vip] }])
  t.same(log, ['vipDel:a'])
  t.equal(counters.get('effect.vipAdd.failed'), 1)
  t.equal(counters.get('effect.vipDel.ok'), 1)
})

t.test('effects without a handler are counted as skipped', async t => {
  const counters = new Counters()
  const ex = new Executor({}, counters, silent, () => 0)
  await ex.run([{ kind: 'syncBulkSend' }])
  t.equal(counters.get('effect.syncBulkSend.skipped'), 1)
})

t.test('announcements start in order but do not hold the plan back; drain waits for them', async t => {
  const gate = deferred()
  const log: string[] = []
  const ex = new Executor({
    garp: async () => { log.push('garp start'); await gate.promise; log.push('garp end') },
    vipDel: async () => { log.push('vipDel') }
  }, new Counters(), silent, () => 0)
  await ex.run([{ kind: 'garp', routerId: 'a', vips: [vip], count: 2 }, { kind: 'vipDel', routerId: 'a', vips: [vip] }])
  t.same(log, ['garp start', 'vipDel'])
  let drained = false
  const d = ex.drain().then(() => { drained = true })
  await new Promise(resolve => setImmediate(resolve))
  t.notOk(drained, 'drain waits for the running announcement')
  gate.resolve()
  await d
  t.same(log, ['garp start', 'vipDel', 'garp end'])
})

t.test('consecutive adverts leave together, the next effect waits for all of them', async t => {
  const gates = [deferred(), deferred()]
  const log: string[] = []
  let i = 0
  const ex = new Executor({
    sendAdvert: async (e) => { const g = gates[i++] as ReturnType<typeof deferred>; log.push(`start ${e.routerId}`); await g.promise; log.push(`sent ${e.routerId}`) },
    vipAdd: async () => { log.push('vipAdd') }
  }, new Counters(), silent, () => 0)
  const done = ex.run([advert('a'), advert('b'), { kind: 'vipAdd', routerId: 'a', vips: [vip] }])
  await new Promise(resolve => setImmediate(resolve))
  t.same(log, ['start a', 'start b'], 'both adverts in flight at once')
  gates[1]?.resolve()
  gates[0]?.resolve()
  await done
  t.same(log.slice(2), ['sent b', 'sent a', 'vipAdd'])
})

t.test('periodic adverts pass a commit in progress; everything else still waits for it', async t => {
  const gate = deferred()
  const counters = new Counters()
  const { log, handlers } = recorder({ ctCommit: async () => { log.push('commit start'); await gate.promise; log.push('commit done') } })
  const ex = new Executor(handlers, counters, silent, () => 0)
  const takeover = ex.run([advert('a'), { kind: 'ctCommit', budgetMs: 2000 }, { kind: 'vipAdd', routerId: 'a', vips: [vip] }])
  await new Promise(resolve => setImmediate(resolve))
  t.same(log, ['advert:a', 'commit start'])
  // The next Adver_Timer expiries of the new master (RFC 5798 §6.4.3) while the commit runs.
  await ex.run([advert('a')])
  await ex.run([advert('a'), advert('b')])
  t.same(log, ['advert:a', 'commit start', 'advert:a', 'advert:a', 'advert:b'], 'sent during the commit')
  const other = ex.run([{ kind: 'vipDel', routerId: 'c', vips: [vip] }])
  await new Promise(resolve => setImmediate(resolve))
  t.notOk(log.includes('vipDel:c'), 'a plan with other effects waits behind the commit')
  gate.resolve()
  await takeover
  await other
  t.same(log.slice(-3), ['commit done', 'vipAdd:a', 'vipDel:c'], 'VIPs after the commit, order of plans kept')
  t.equal(counters.get('executor.advertPassedConntrack'), 2)
})

t.test('periodic adverts pass any plan in progress, also the rest of a takeover after its commit', async t => {
  // The takeover plan after the commit budget: VIPs, then a flush that takes its time. An advert
  // due while the VIPs are added must not wait for the flush (it used to: 200 ms of silence).
  const vipGate = deferred()
  const flushGate = deferred()
  const counters = new Counters()
  const h = recorder({
    vipAdd: async () => { await vipGate.promise; h.log.push('vipAdd done') },
    ctFlush: async () => { h.log.push('flush start'); await flushGate.promise; h.log.push('flush done') }
  })
  const ex = new Executor(h.handlers, counters, silent, () => 0)
  const plan = ex.run([{ kind: 'vipAdd', routerId: 'a', vips: [vip] }, { kind: 'ctFlush', caches: 'both' }])
  await new Promise(resolve => setImmediate(resolve))
  await ex.run([advert('a')])
  t.same(h.log, ['advert:a'], 'sent while the vipAdd runs')
  t.equal(counters.get('executor.advertPassedPlan'), 1)
  vipGate.resolve()
  await new Promise(resolve => setImmediate(resolve))
  await ex.run([advert('a')])
  t.same(h.log, ['advert:a', 'vipAdd done', 'flush start', 'advert:a'], 'and while the flush runs')
  flushGate.resolve()
  await plan
  t.same(h.log.slice(-1), ['flush done'])
  // Any other plan keeps its place in the queue.
  const g2 = deferred()
  const h2 = recorder({ vipAdd: async () => { await g2.promise; h2.log.push('vipAdd done') } })
  const ex2 = new Executor(h2.handlers, new Counters(), silent, () => 0)
  const p1 = ex2.run([{ kind: 'vipAdd', routerId: 'a', vips: [vip] }])
  const p2 = ex2.run([{ kind: 'vipDel', routerId: 'b', vips: [vip] }, advert('b', 0)])
  await new Promise(resolve => setImmediate(resolve))
  t.same(h2.log, [], 'a leave plan (vipDel + priority 0) waits behind the vipAdd')
  g2.resolve()
  await Promise.all([p1, p2])
  t.same(h2.log, ['vipAdd done', 'vipDel:b', 'advert:b'])
})

t.test('announcements start one per turn of the event loop: an advert due meanwhile goes first; later effects wait for their start', async t => {
  const log: string[] = []
  const ex = new Executor({
    garp: async (e) => { log.push(`garp ${e.routerId}`) },
    sendAdvert: async (e) => { log.push(`advert ${e.routerId}`) },
    vipDel: async (e) => { log.push(`vipDel ${e.routerId}`) }
  }, new Counters(), silent, () => 0)
  const plan = ex.run([{ kind: 'garp', routerId: 'a', vips: [vip], count: 2 }, { kind: 'garp', routerId: 'b', vips: [vip], count: 2 }, { kind: 'vipDel', routerId: 'a', vips: [vip] }])
  const advert = ex.run([{ kind: 'sendAdvert', routerId: 'x', priority: 100 }])
  await Promise.all([plan, advert])
  t.same(log, ['advert x', 'garp a', 'garp b', 'vipDel a'], 'the advert did not wait for the spawns; the vipDel came after both GARPs started')
})
