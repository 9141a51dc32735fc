import t from 'tap'
import { createNode, nodeDeadline, nodeDropSeverity, nodeSnapshot, stepNode, type NodeState } from '../../../src/core/node.js'
import { ROUTER_DROP_REASONS } from '../../../src/core/vrrp/drops.js'
import { routerConfig } from '../../helpers/netsim.js'

function twoRouters (): NodeState {
  return createNode([
    routerConfig({ id: 'v4', ifname: 'eth1', primaryAddress: '192.0.2.1', priority: 200, advertIntervalCs: 10, track: { uplink: -50 } }),
    routerConfig({ id: 'v6', ifname: 'eth2', family: 'ipv6', primaryAddress: 'fe80::1', priority: 100, advertIntervalCs: 100, track: { uplink: -50 } })
  ], [])
}

t.test('node: deadline is the earliest of all routers; timeout steps only the due ones', async t => {
  let n = twoRouters()
  t.equal(nodeDeadline(n), null)
  let res = stepNode(n, { kind: 'all', input: { kind: 'startup' } }, 0)
  n = res.node
  t.equal(res.deadline, 321, 'v4: 300 + floor(56 × 100 / 256); v6: 3609')
  res = stepNode(n, { kind: 'timeout' }, 321)
  n = res.node
  t.same(res.transitions.map(e => e.routerId), ['v4'])
  t.equal(n.routers.v6?.state, 'backup')
  t.equal(res.ctCommitAt, 1)
  t.same(res.effects.map(e => e.kind), ['sendAdvert', 'vipAdd', 'garp'])
  t.equal(res.deadline, 421)
  res = stepNode(n, { kind: 'timeout' }, 400)
  t.same(res.effects, [], 'early wake-up: nobody due, nothing happens')
  t.same(res.drops, [])
})

t.test('node: interface and track inputs fan out to the routers concerned', async t => {
  let n = stepNode(twoRouters(), { kind: 'all', input: { kind: 'startup' } }, 0).node
  let res = stepNode(n, { kind: 'interface', ifname: 'eth2', up: false }, 10)
  n = res.node
  t.equal(n.routers.v6?.state, 'fault')
  t.equal(n.routers.v4?.state, 'backup')
  res = stepNode(n, { kind: 'track', name: 'uplink', up: false }, 20)
  n = res.node
  const snap = nodeSnapshot(n)
  t.same(snap.routers.map(r => [r.id, r.effectivePriority]), [['v4', 150], ['v6', 50]])
  t.same(stepNode(n, { kind: 'track', name: 'other', up: false }, 30).effects, [], 'nobody tracks it: no-op')
})

t.test('node: shutdown of every router in one step sends every priority-0 advert at once', async t => {
  let n = twoRouters()
  n = stepNode(n, { kind: 'all', input: { kind: 'startup' } }, 0).node
  n = stepNode(n, { kind: 'timeout' }, 321).node
  n = stepNode(n, { kind: 'timeout' }, 3609).node
  t.equal(n.routers.v6?.state, 'master')
  const res = stepNode(n, { kind: 'all', input: { kind: 'shutdown' } }, 4000)
  t.same(res.effects.map(e => `${e.kind}:${'routerId' in e ? e.routerId : ''}:${e.kind === 'sendAdvert' ? e.priority : ''}`), [
    'sendAdvert:v4:0', 'sendAdvert:v6:0', 'vipDel:v4:', 'vipDel:v6:'
  ], 'every priority-0 advert leaves before the first vipDel (the executor awaits each vipDel)')
  t.equal(res.deadline, null)
})

t.test('node: members started one at a time pass through BACKUP, then enter MASTER together', async t => {
  const a = routerConfig({ id: 'A', ifname: 'eth1', vrid: 1, primaryAddress: '192.0.2.1', priority: 255 })
  const b = routerConfig({ id: 'B', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', priority: 255 })
  let n = createNode([a, b], [{ name: 'g', members: ['A', 'B'] }])
  let res = stepNode(n, { kind: 'router', routerId: 'A', input: { kind: 'startup' } }, 0)
  n = res.node
  t.equal(n.routers.A?.state, 'backup', 'all or nothing: B is not running')
  t.same(res.groupTransitions.map(e => `${e.to}:${e.reason}:${e.member}`), ['backup:memberStopped:B'])
  res = stepNode(n, { kind: 'router', routerId: 'B', input: { kind: 'startup' } }, 10)
  n = res.node
  t.same(res.transitions.map(e => `${e.routerId}:${e.from}->${e.to}:${e.reason}`), ['A:backup->master:ownerStartup', 'B:initialize->master:ownerStartup'])
  t.equal(res.ctCommitAt, 2)
  // One member stops: the other leaves MASTER with priority 0.
  res = stepNode(n, { kind: 'router', routerId: 'B', input: { kind: 'shutdown' } }, 20)
  t.same(res.transitions.map(e => `${e.routerId}:${e.to}:${e.reason}`), ['B:initialize:shutdown', 'A:backup:syncGroup'])
  t.same(res.effects.filter(e => e.kind === 'sendAdvert'), [
    { kind: 'sendAdvert', routerId: 'B', priority: 0 },
    { kind: 'sendAdvert', routerId: 'A', priority: 0 }
  ])
})

t.test('node: snapshot carries state, priorities, last master, counters, last transition, groups', async t => {
  const a = routerConfig({ id: 'A', primaryAddress: '192.0.2.1', syncGroup: 'g' })
  let n = createNode([a], [{ name: 'g', members: ['A'] }])
  n = stepNode(n, { kind: 'all', input: { kind: 'startup' } }, 0).node
  n = stepNode(n, { kind: 'router', routerId: 'A', input: { kind: 'advert', src: '192.0.2.1', priority: 100, adverIntervalCs: 100, addresses: [] } }, 5).node
  n = stepNode(n, { kind: 'router', routerId: 'A', input: { kind: 'advert', src: '192.0.2.9', priority: 150, adverIntervalCs: 50, addresses: ['192.0.2.100'] } }, 10).node
  const snap = nodeSnapshot(n)
  t.match(snap.routers[0], {
    id: 'A',
    state: 'backup',
    want: 'backup',
    syncGroup: 'g',
    configuredPriority: 100,
    effectivePriority: 100,
    advertIntervalCs: 100,
    masterAdverIntervalCs: 50,
    lastMaster: { address: '192.0.2.9', priority: 150, adverIntervalCs: 50, at: 10 },
    lastTransition: { from: 'initialize', to: 'backup', reason: 'startup', at: 0 },
    counters: { transitions: 1, advertsReceived: 1, drops: { ownAdvert: 1 } },
    deadline: 10 + 1500 + 304
  })
  t.same(snap.groups, [{
    name: 'g',
    state: 'backup',
    members: [{ id: 'A', state: 'backup', want: 'backup' }],
    transitions: 1,
    lastTransition: { group: 'g', from: 'initialize', to: 'backup', reason: 'memberWantsBackup', member: 'A', at: 0 }
  }])
  t.equal(snap.deadline, 1814)
})

t.test('drop severities: every reason has one; bugs are errors', async t => {
  t.equal(ROUTER_DROP_REASONS.length, 14)
  for (const r of ROUTER_DROP_REASONS) t.ok(['debug', 'info', 'warn', 'error'].includes(nodeDropSeverity(r)), r)
  t.equal(nodeDropSeverity('bugTimerInWrongState'), 'error')
  t.equal(nodeDropSeverity('intervalMismatch'), 'warn')
  t.equal(nodeDropSeverity('reservedInput'), 'error')
  t.equal(nodeDropSeverity('unknownRouter'), 'warn')
})
