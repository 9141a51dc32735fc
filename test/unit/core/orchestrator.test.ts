// The transition plans of architecture decision 2, on a real node (stepNode), with their exact order.
import t from 'tap'
import type { Effect } from '../../../src/core/effects.js'
import { createNode, stepNode, type NodeInput, type NodeState } from '../../../src/core/node.js'
import {
  createOrchestrator, masterTail, nodeRole, orchestrate, planRoleChange, type ConntrackPlanConfig, type OrchestratedStep, type OrchestratorState
} from '../../../src/core/orchestrator.js'
import { routerConfig } from '../../helpers/netsim.js'

const CT: ConntrackPlanConfig = { commitBudgetMs: 250, purgeTimeoutMs: 60_000 }

/** kind:routerId:extra, compact enough to compare whole plans. */
function show (effects: readonly Effect[]): string[] {
  return effects.map(e => {
    switch (e.kind) {
      case 'sendAdvert': return `sendAdvert:${e.routerId}:${e.priority}`
      case 'vipAdd': case 'vipDel': return `${e.kind}:${e.routerId}`
      case 'garp': case 'unsolicitedNa': return `${e.kind}:${e.routerId}`
      case 'ctCommit': return `ctCommit:${e.budgetMs}`
      case 'ctFlush': return `ctFlush:${e.caches}`
      case 'ctShortenTimers': return `ctShortenTimers:${e.purgeTimeoutS}`
      default: return e.kind
    }
  })
}

/** Drive a node and the orchestrator together, as the runtime does. */
class Harness {
  node: NodeState
  orch: OrchestratorState = createOrchestrator()
  constructor (node: NodeState, readonly cfg: ConntrackPlanConfig | null = CT) { this.node = node }
  step (input: NodeInput, now: number): OrchestratedStep & { vrrp: readonly Effect[] } {
    const res = stepNode(this.node, input, now)
    this.node = res.node
    const out = orchestrate(this.orch, res, this.cfg)
    this.orch = out.state
    return { ...out, vrrp: res.effects }
  }
}

const lone = (): NodeState => createNode([routerConfig({ id: 'A', ifname: 'eth1', primaryAddress: '192.0.2.1', priority: 200 })], [])

t.test('lone router: startup → BACKUP, → MASTER, → BACKUP (preempted), → FAULT, → BACKUP, shutdown', async t => {
  const h = new Harness(lone())
  let s = h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  t.same(show(s.effects), ['vipDel:A', 'ctShortenTimers:60', 'syncRequestResync'], 'startup as BACKUP (stale VIPs cleared): primary-backup.sh backup (-t, -n)')
  t.same(s.roleChange, { from: 'initialize', to: 'backup', units: ['router:A'] })

  s = h.step({ kind: 'timeout' }, 3300)
  t.same(show(s.effects), [
    'sendAdvert:A:200', 'ctCommit:250', 'vipAdd:A', 'garp:A', 'ctFlush:both', 'ctResyncFromKernel', 'syncBulkSend'
  ], 'to MASTER: advert, commit, VIPs, GARP, then -f, -R, -B')
  t.same(s.roleChange, { from: 'backup', to: 'master', units: ['router:A'] })

  s = h.step({ kind: 'timeout' }, 4300)
  t.same(show(s.effects), ['sendAdvert:A:200'], 'periodic advert: no role change, nothing added')
  t.equal(s.roleChange, null)

  s = h.step({ kind: 'router', routerId: 'A', input: { kind: 'advert', src: '192.0.2.9', priority: 250, adverIntervalCs: 100, addresses: ['192.0.2.100'] } }, 4500)
  t.same(show(s.effects), ['vipDel:A', 'ctShortenTimers:60', 'syncRequestResync'], 'to BACKUP: VIPs off, then -t, -n')

  s = h.step({ kind: 'interface', ifname: 'eth1', up: false }, 5000)
  t.same(show(s.effects), ['ctShortenTimers:60'], 'BACKUP → FAULT: -t only (no VIPs to remove)')
  t.same(s.roleChange?.to, 'fault')

  s = h.step({ kind: 'interface', ifname: 'eth1', up: true }, 6000)
  t.same(show(s.effects), ['ctShortenTimers:60', 'syncRequestResync'], 'fault cleared → BACKUP')

  s = h.step({ kind: 'all', input: { kind: 'shutdown' } }, 7000)
  t.same(show(s.effects), [], 'to initialize: no conntrack step')
  t.same(s.roleChange, { from: 'backup', to: 'initialize', units: ['router:A'] })
})

t.test('MASTER → FAULT (link down): priority-0/vipDel from VRRP, then -t', async t => {
  const h = new Harness(lone())
  h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  h.step({ kind: 'timeout' }, 3300)
  const s = h.step({ kind: 'interface', ifname: 'eth1', up: false }, 3500)
  t.same(show(s.effects), [...show(s.vrrp), 'ctShortenTimers:60'])
  t.ok(show(s.vrrp).includes('vipDel:A'))
  t.equal(show(s.effects).indexOf('ctShortenTimers:60'), s.effects.length - 1, 'after every vipDel')
})

t.test('address owner: startup straight to MASTER commits before its VIPs', async t => {
  const h = new Harness(createNode([routerConfig({ id: 'O', ifname: 'eth1', primaryAddress: '192.0.2.1', priority: 255 })], []))
  const s = h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  t.same(show(s.effects), ['sendAdvert:O:255', 'ctCommit:250', 'vipAdd:O', 'garp:O', 'ctFlush:both', 'ctResyncFromKernel', 'syncBulkSend'])
})

t.test('sync group of 4 routers (IPv4 + IPv6) going MASTER: one commit, before every VIP', async t => {
  const members = [
    routerConfig({ id: 'a4', ifname: 'eth1', vrid: 1, primaryAddress: '192.0.2.1', priority: 200 }),
    routerConfig({ id: 'b4', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', priority: 200 }),
    routerConfig({ id: 'a6', ifname: 'eth1', vrid: 1, family: 'ipv6', primaryAddress: 'fe80::1', priority: 200 }),
    routerConfig({ id: 'b6', ifname: 'eth2', vrid: 2, family: 'ipv6', primaryAddress: 'fe80::2', priority: 200 })
  ]
  const h = new Harness(createNode(members, [{ name: 'fw', members: ['a4', 'b4', 'a6', 'b6'] }]))
  let s = h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  t.same(show(s.effects), [
    'vipDel:a4', 'vipDel:b4', 'vipDel:a6', 'vipDel:b6', // members applying the group's BACKUP decision (VRRP side)
    'ctShortenTimers:60', 'syncRequestResync'
  ], 'one backup plan for the whole group, after the VIP removals')
  t.same(s.roleChange?.units, ['group:fw'])
  s = h.step({ kind: 'timeout' }, 3300)
  t.same(show(s.effects), [
    'sendAdvert:a4:200', 'sendAdvert:b4:200', 'sendAdvert:a6:200', 'sendAdvert:b6:200',
    'ctCommit:250',
    'vipAdd:a4', 'vipAdd:b4', 'vipAdd:a6', 'vipAdd:b6',
    'garp:a4', 'garp:b4', 'unsolicitedNa:a6', 'unsolicitedNa:b6',
    'ctFlush:both', 'ctResyncFromKernel', 'syncBulkSend'
  ])
  t.equal(s.effects.filter(e => e.kind === 'ctCommit').length, 1)
  // one member's link fails: the whole group goes FAULT, one -t
  s = h.step({ kind: 'interface', ifname: 'eth2', up: false }, 4000)
  t.equal(s.effects.filter(e => e.kind === 'ctShortenTimers').length, 1)
  t.same(show(s.effects).slice(-1), ['ctShortenTimers:60'])
  t.equal(s.effects.filter(e => e.kind === 'vipDel').length, 4, 'every member removed its VIPs first')
  t.same(s.roleChange?.to, 'fault')
})

t.test('ctCommit says whether every unit is master: an address owner at startup beside a shared router is not', async t => {
  const commitOf = (s: OrchestratedStep): Extract<Effect, { kind: 'ctCommit' }> | undefined =>
    s.effects.find((e): e is Extract<Effect, { kind: 'ctCommit' }> => e.kind === 'ctCommit')
  const mixed = new Harness(createNode([
    routerConfig({ id: 'O', ifname: 'eth1', vrid: 1, primaryAddress: '192.0.2.1', priority: 255 }),
    routerConfig({ id: 'S', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', priority: 200 })
  ], []))
  t.match(commitOf(mixed.step({ kind: 'all', input: { kind: 'startup' } }, 0)), { takeover: true, everyUnitMaster: false }, 'the owner is master, S still backup')
  const group = new Harness(createNode([
    routerConfig({ id: 'a', ifname: 'eth1', vrid: 1, primaryAddress: '192.0.2.1', priority: 200 }),
    routerConfig({ id: 'b', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', priority: 200 })
  ], [{ name: 'fw', members: ['a', 'b'] }]))
  group.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  t.match(commitOf(group.step({ kind: 'timeout' }, 3300)), { takeover: true, everyUnitMaster: true }, 'the whole group won')
})

t.test('two independent routers: the node stays MASTER while one of them is', async t => {
  const h = new Harness(createNode([
    routerConfig({ id: 'A', ifname: 'eth1', vrid: 1, primaryAddress: '192.0.2.1', priority: 200 }),
    routerConfig({ id: 'B', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', priority: 200 })
  ], []))
  h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  let s = h.step({ kind: 'timeout' }, 3300)
  t.equal(s.effects.filter(e => e.kind === 'ctCommit').length, 1, 'both became MASTER in one step: one commit')
  t.same(s.roleChange?.units, ['router:A', 'router:B'])
  s = h.step({ kind: 'interface', ifname: 'eth2', up: false }, 4000)
  t.same(show(s.effects), show(s.vrrp), 'B to FAULT while A is MASTER: no -t (it would drop A\'s sessions)')
  t.equal(s.roleChange, null)
  s = h.step({ kind: 'interface', ifname: 'eth1', up: false }, 5000)
  t.same(show(s.effects).slice(-1), ['ctShortenTimers:60'], 'the last MASTER leaves: now -t')
})

t.test('conntrack disabled: the VRRP plan passes through unchanged, the role is still tracked', async t => {
  const h = new Harness(lone(), null)
  let s = h.step({ kind: 'all', input: { kind: 'startup' } }, 0)
  t.same(s.effects, s.vrrp)
  s = h.step({ kind: 'timeout' }, 3300)
  t.same(s.effects, s.vrrp)
  t.same(show(s.effects), ['sendAdvert:A:200', 'vipAdd:A', 'garp:A'])
  t.same(s.roleChange?.to, 'master')
  t.equal(h.orch.role, 'master')
})

t.test('planRoleChange / nodeRole: splice point, fallback, rounding', async t => {
  const adv: Effect = { kind: 'sendAdvert', routerId: 'X', priority: 100 }
  const add: Effect = { kind: 'vipAdd', routerId: 'X', vips: [] }
  t.same(show(planRoleChange([adv, add], 1, 'backup', 'master', CT)), ['sendAdvert:X:100', 'ctCommit:250', 'vipAdd:X', ...show(masterTail())])
  t.same(show(planRoleChange([adv, add], null, 'backup', 'master', CT)), ['sendAdvert:X:100', 'ctCommit:250', 'vipAdd:X', ...show(masterTail())], 'no splice point: before the first vipAdd')
  t.same(show(planRoleChange([adv], null, 'backup', 'master', CT)), ['sendAdvert:X:100', 'ctCommit:250', ...show(masterTail())], 'no vipAdd: at the end')
  t.same(show(planRoleChange([adv], 0, 'master', 'master', CT)), ['sendAdvert:X:100'], 'same role: unchanged')
  t.same(show(planRoleChange([], null, 'master', 'backup', { commitBudgetMs: 1, purgeTimeoutMs: 1500 })), ['ctShortenTimers:2', 'syncRequestResync'], 'PurgeTimeout rounded up to whole seconds')
  t.equal(nodeRole({}), 'initialize')
  t.equal(nodeRole({ a: 'fault', b: 'backup' }), 'backup')
  t.equal(nodeRole({ a: 'fault', b: 'initialize' }), 'fault')
  t.equal(nodeRole({ a: 'fault', b: 'backup', c: 'master' }), 'master')
})
