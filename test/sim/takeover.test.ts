// Takeover on two real conntrack engines (test/helpers/syncsim.ts): A forwards and replicates over a lossy link,
// A dies, B runs the MASTER plan of core/orchestrator.ts effect by effect as the executor does (each one finished
// before the next). At B's first vipAdd, every entry A's kernel had must already be in B's kernel: the commit
// comes before the VIPs, which is the point of the product (architecture decision 2).
import t from 'tap'
import type { Effect } from '../../src/core/effects.js'
import { planRoleChange } from '../../src/core/orchestrator.js'
import { flowKey, mulberry32, runWorkload, sameCache, SyncSim, type PeerName } from '../helpers/syncsim.js'
import { plainRequest } from '../helpers/ct-request.js'

const CONNTRACK = new Set<Effect['kind']>(['ctCommit', 'ctFlush', 'ctResyncFromKernel', 'syncBulkSend', 'syncRequestResync', 'ctShortenTimers'])

/** Run a plan on one node: conntrack effects go to its engine and are waited for; VRRP effects are recorded. */
function execute (sim: SyncSim, name: PeerName, plan: readonly Effect[], onVrrp: (e: Effect) => void): void {
  for (const e of plan) {
    if (!CONNTRACK.has(e.kind)) { onVrrp(e); continue }
    const id = sim.command(name, e as Parameters<SyncSim['command']>[1])
    const p = sim.peer(name)
    for (let i = 0; i < 10_000 && !p.completed.has(id); i++) sim.runFor(1)
    if (!p.completed.has(id)) throw new Error(`${e.kind} never completed`)
  }
}

t.test('B takes over: its commit holds every entry A\'s kernel had, before its first vipAdd', t => {
  const sim = new SyncSim({
    seed: 5,
    link: { delayMs: 1, loss: 0.1, duplicate: 0.05, reorder: 0.05, reorderMs: 5 },
    a: { initialSeq: 1_700_000_000 },
    b: { initialSeq: 1_700_000_001, commitBatch: 64 }
  })
  sim.start('a')
  sim.start('b')
  sim.runFor(1500)
  runWorkload(sim, 'a', mulberry32(3), 3000, 700, 0.5)
  t.ok(sim.settle(60_000) !== null, 'B\'s external cache converged to A\'s table')
  const aKernel = new Map(sim.a.kernel)
  t.ok(aKernel.size > 300, `A's kernel holds ${aKernel.size} flows`)
  sim.kill('a')

  const vrrp: Effect[] = [
    { kind: 'sendAdvert', routerId: 'eth0/51/ipv4', priority: 100 },
    { kind: 'vipAdd', routerId: 'eth0/51/ipv4', vips: [{ address: '192.0.2.1', prefix: 24, family: 'ipv4' }] },
    { kind: 'garp', routerId: 'eth0/51/ipv4', vips: [{ address: '192.0.2.1', prefix: 24, family: 'ipv4' }], count: 5 }
  ]
  const plan = planRoleChange(vrrp, 1, 'backup', 'master', { commitBudgetMs: 5000, purgeTimeoutMs: 60_000 })
  t.same(plan.map(e => e.kind), ['sendAdvert', 'ctCommit', 'vipAdd', 'garp', 'ctFlush', 'ctResyncFromKernel', 'syncBulkSend'], 'the orchestrator\'s MASTER plan')
  let atVipAdd: Set<string> | null = null
  execute(sim, 'b', plan, e => { if (e.kind === 'vipAdd') atVipAdd = new Set(sim.b.kernel.keys()) })

  const created = new Set(sim.b.applies.flat().map(plainRequest).filter(r => r.op === 'create').map(r => flowKey(r.flow.orig)))
  const missingApplied = [...aKernel.keys()].filter(k => !created.has(k))
  t.same(missingApplied, [], `B's apply effects create every entry of A's kernel (${created.size} creates in ${sim.b.applies.length} batches)`)
  const seen = atVipAdd as Set<string> | null
  t.ok(seen !== null, 'vipAdd ran')
  const missingAtVip = [...aKernel.keys()].filter(k => seen?.has(k) !== true)
  t.same(missingAtVip, [], 'every entry is in B\'s kernel when its VIPs go up')
  t.equal(sim.b.counters.get('ct.commit.done'), 1)
  t.equal(sim.b.counters.get('ct.commit.entries'), aKernel.size)
  t.equal(sim.b.counters.get('ct.commit.overBudget'), undefined, 'within its budget')
  // The master tail: caches flushed, the internal cache re-read from the kernel B now forwards with.
  t.equal(sim.b.external.size, 0, 'external cache flushed')
  t.equal(sim.b.internal.size, aKernel.size, 'internal cache = the committed table')

  // A comes back and pulls B's table (B answers its RESYNC with the bulk).
  sim.start('a', 1_700_000_100, true)
  t.ok(sim.settle(60_000) !== null, 'A converged to B\'s table after its restart')
  t.ok(sameCache(sim.a.external, sim.b.internal))
  t.end()
})
