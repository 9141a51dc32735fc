// Virtual routes and rules (keepalived virtual_routes / virtual_rules) in the transition plans:
// installed right after the VIPs (after the conntrack commit), removed right before them,
// on every way out of MASTER, and diffed on reload.
import t from 'tap'
import type { Effect, VRoute, VRule } from '../../../../src/core/effects.js'
import { createNode, stepNode, type NodeInput, type NodeState } from '../../../../src/core/node.js'
import { createOrchestrator, orchestrate, type OrchestratorState } from '../../../../src/core/orchestrator.js'
import { reconfigureNode } from '../../../../src/core/reconfigure.js'
import { installEffects, leaveMasterPlan, masterEntryPlan, vipDel } from '../../../../src/core/vrrp/plans.js'
import type { RouterConfig } from '../../../../src/core/vrrp/types.js'
import { routerConfig } from '../../../helpers/netsim.js'

const route: VRoute = { family: 'ipv4', dst: '198.51.100.0', prefix: 24, type: 'unicast', via: '192.0.2.254', src: '192.0.2.100', table: 254 }
const blackhole: VRoute = { family: 'ipv4', dst: '203.0.113.0', prefix: 24, type: 'blackhole', table: 254 }
const rule: VRule = { family: 'ipv4', from: { address: '192.0.2.0', prefix: 24 }, table: 100, priority: 1000 }

const withRoutes = (over: Partial<RouterConfig> = {}): RouterConfig =>
  routerConfig({ id: 'A', ifname: 'eth1', primaryAddress: '192.0.2.1', priority: 200, routes: [route, blackhole], rules: [rule], ...over })

function show (effects: readonly Effect[]): string[] {
  return effects.map(e => 'routerId' in e ? `${e.kind}:${e.routerId}` : e.kind)
}

class Harness {
  node: NodeState
  orch: OrchestratorState = createOrchestrator()
  constructor (node: NodeState) { this.node = node }
  step (input: NodeInput, now: number): readonly Effect[] {
    const res = stepNode(this.node, input, now)
    this.node = res.node
    const out = orchestrate(this.orch, res, { commitBudgetMs: 250, purgeTimeoutMs: 60_000 })
    this.orch = out.state
    return out.effects
  }
}

t.test('plans: install = VIPs, routes, rules; removal is the reverse', async t => {
  const c = withRoutes()
  t.same(show(installEffects(c)), ['vipAdd:A', 'routeAdd:A', 'ruleAdd:A'])
  const entry = masterEntryPlan(c, 200)
  t.same(show(entry.install), ['vipAdd:A', 'routeAdd:A', 'ruleAdd:A'], 'routes in the install phase, after the splice point')
  t.same(show(leaveMasterPlan(c, true)), ['sendAdvert:A', 'ruleDel:A', 'routeDel:A', 'vipDel:A'])
  t.same(show(vipDel(c)), ['ruleDel:A', 'routeDel:A', 'vipDel:A'])
  const add = installEffects(c).find(e => e.kind === 'routeAdd')
  t.same(add?.kind === 'routeAdd' ? add.routes : null, [route, blackhole], 'the routes as configured, in order')
})

t.test('plans: nothing extra without routes or rules', async t => {
  const c = routerConfig({ id: 'B', ifname: 'eth1', primaryAddress: '192.0.2.1' })
  t.same(show(installEffects(c)), ['vipAdd:B'])
  t.same(show(vipDel(c)), ['vipDel:B'])
  t.same(show(vipDel({ ...c, routes: [], rules: [] })), ['vipDel:B'], 'empty lists add no effect')
  t.same(show(installEffects({ ...c, rules: [rule] })), ['vipAdd:B', 'ruleAdd:B'])
})

t.test('node + orchestrator: commit before VIPs, routes right after VIPs, before the GARPs', async t => {
  const h = new Harness(createNode([withRoutes()], []))
  let e = h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  t.same(show(e), ['ruleDel:A', 'routeDel:A', 'vipDel:A', 'ctShortenTimers', 'syncRequestResync'], 'startup as BACKUP clears stale rules/routes/VIPs')
  e = h.step({ kind: 'timeout' }, 3300)
  t.same(show(e), ['sendAdvert:A', 'ctCommit', 'vipAdd:A', 'routeAdd:A', 'ruleAdd:A', 'garp:A', 'ctFlush', 'ctResyncFromKernel', 'syncBulkSend'])
  e = h.step({ kind: 'interface', ifname: 'eth1', up: false }, 3500)
  t.same(show(e), ['ruleDel:A', 'routeDel:A', 'vipDel:A', 'ctShortenTimers'], 'MASTER → FAULT: link down, no priority 0, rules/routes/VIPs off, then -t')
  e = h.step({ kind: 'interface', ifname: 'eth1', up: true }, 4000)
  e = h.step({ kind: 'timeout' }, 8000)
  t.ok(show(e).includes('routeAdd:A'), 'back to MASTER: routes again')
  e = h.step({ kind: 'all', input: { kind: 'shutdown' } }, 9000)
  t.same(show(e).slice(0, 4), ['sendAdvert:A', 'ruleDel:A', 'routeDel:A', 'vipDel:A'], 'shutdown: priority 0, then rules, routes, VIPs')
})

t.test('sync group: every member\'s routes come after its own VIPs, all after the one commit', async t => {
  const a = withRoutes({ id: 'a', vrid: 1, syncGroup: 'g' })
  const b = routerConfig({ id: 'b', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', priority: 200, syncGroup: 'g', routes: [blackhole] })
  const h = new Harness(createNode([a, b], [{ name: 'g', members: ['a', 'b'] }]))
  h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  const e = show(h.step({ kind: 'timeout' }, 3300))
  t.same(e.slice(0, 8), ['sendAdvert:a', 'sendAdvert:b', 'ctCommit', 'vipAdd:a', 'routeAdd:a', 'ruleAdd:a', 'vipAdd:b', 'routeAdd:b'])
  t.ok(e.indexOf('garp:a') > e.indexOf('routeAdd:b'), 'announcements after every install')
})

t.test('reload in place on a MASTER: only the changed routes and rules move, around the VIP changes', async t => {
  const h = new Harness(createNode([withRoutes()], []))
  h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  h.step({ kind: 'timeout' }, 3300)
  const other: VRoute = { ...route, dst: '198.51.101.0' }
  const rule2: VRule = { ...rule, priority: 1001 }
  const res = reconfigureNode(h.node, [withRoutes({ routes: [route, other], rules: [rule2] })], [], 4000)
  t.equal(res.changes.A, 'inPlace')
  t.same(res.effects.map(e => {
    if (e.kind === 'routeAdd' || e.kind === 'routeDel') return `${e.kind}:${e.routes.map(r => r.dst).join(',')}`
    if (e.kind === 'ruleAdd' || e.kind === 'ruleDel') return `${e.kind}:${e.rules.map(r => r.priority).join(',')}`
    return e.kind
  }), ['ruleDel:1000', 'routeDel:203.0.113.0', 'routeAdd:198.51.101.0', 'ruleAdd:1001'])
})

t.test('reload on a BACKUP: nothing to do with the kernel', async t => {
  const h = new Harness(createNode([withRoutes()], []))
  h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  const res = reconfigureNode(h.node, [withRoutes({ routes: [] })], [], 100)
  t.same(res.effects, [])
})
