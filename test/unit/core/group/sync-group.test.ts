import t from 'tap'
import { changeGroupState, createSyncGroup, decideGroup } from '../../../../src/core/group/sync-group.js'
import { createNode, stepNode, type NodeInput, type NodeState, type NodeStepResult } from '../../../../src/core/node.js'
import type { RouterWant } from '../../../../src/core/vrrp/types.js'
import { routerConfig } from '../../../helpers/netsim.js'

const w = (...wants: RouterWant[]): Array<{ id: string, want: RouterWant }> => wants.map((want, i) => ({ id: `m${i}`, want }))

t.test('decideGroup: all-or-nothing, FAULT wins, BACKUP wins ties (architecture decision 4)', async t => {
  t.same(decideGroup(w('master', 'master')), { state: 'master', reason: 'allWantMaster', member: null })
  t.same(decideGroup(w('master', 'backup')), { state: 'backup', reason: 'memberWantsBackup', member: 'm1' })
  t.same(decideGroup(w('master', 'fault')), { state: 'fault', reason: 'memberFault', member: 'm1' })
  t.same(decideGroup(w('backup', 'fault', 'initialize')), { state: 'fault', reason: 'memberFault', member: 'm1' })
  t.same(decideGroup(w('master', 'initialize')), { state: 'backup', reason: 'memberStopped', member: 'm1' })
  t.same(decideGroup(w('initialize', 'initialize')), { state: 'initialize', reason: 'allStopped', member: null })
})

t.test('changeGroupState: the group choke point (event + counter, no-op when unchanged)', async t => {
  const g0 = createSyncGroup({ name: 'g', members: ['a'] })
  const same = changeGroupState(g0, { state: 'initialize', reason: 'allStopped', member: null }, 5)
  t.equal(same.event, null)
  t.equal(same.group, g0)
  const moved = changeGroupState(g0, { state: 'backup', reason: 'memberWantsBackup', member: 'a' }, 7)
  t.same(moved.event, { group: 'g', from: 'initialize', to: 'backup', reason: 'memberWantsBackup', member: 'a', at: 7 })
  t.equal(moved.group.transitions, 1)
  t.same(moved.group.lastTransition, moved.event)
})

/** One node with a sync group `g` of two routers on eth1 (A) and eth2 (B); 100 ms adverts. */
function groupNode (over: { priority?: number, track?: Record<string, number> } = {}): NodeState {
  const a = routerConfig({ id: 'A', ifname: 'eth1', vrid: 1, primaryAddress: '192.0.2.1', advertIntervalCs: 10, syncGroup: 'g', ...over })
  const b = routerConfig({ id: 'B', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', advertIntervalCs: 10, vips: [{ address: '198.51.100.100', prefix: 24, family: 'ipv4' }], ...over })
  return createNode([a, b], [{ name: 'g', members: ['A', 'B'] }])
}

class NodeDriver {
  constructor (public node: NodeState) {}
  last: NodeStepResult | null = null
  at (now: number, input: NodeInput): NodeStepResult {
    this.last = stepNode(this.node, input, now)
    this.node = this.last.node
    return this.last
  }

  state (id: string): string {
    return this.node.routers[id]?.state ?? 'none'
  }
}

t.test('sync group: the group goes MASTER only when every member wants it; members enter together', async t => {
  const n = new NodeDriver(groupNode())
  const start = n.at(0, { kind: 'all', input: { kind: 'startup' } })
  t.equal(n.state('A'), 'backup')
  t.equal(n.state('B'), 'backup')
  t.same(start.groupTransitions.map(e => `${e.from}->${e.to}`), ['initialize->backup'])
  t.equal(start.deadline, 360, 'both Master_Down_Timers at 3 × 100 + 60')
  // A's peer keeps advertising, B's peer went silent: only B wants MASTER, the group stays BACKUP.
  n.at(200, { kind: 'router', routerId: 'A', input: { kind: 'advert', src: '192.0.2.2', priority: 150, adverIntervalCs: 10, addresses: ['192.0.2.100'] } })
  const held = n.at(360, { kind: 'timeout' })
  t.equal(n.node.routers.B?.want, 'master')
  t.equal(n.state('B'), 'backup', 'held in Backup by the group')
  t.same(held.effects, [], 'no VIP change while held')
  t.same(held.transitions, [])
  t.equal(held.deadline, 560, 'A still waits for its timer; B has none')
  // A's timer fires too: both want MASTER → both enter MASTER in the same step.
  const up = n.at(560, { kind: 'timeout' })
  t.equal(n.state('A'), 'master')
  t.equal(n.state('B'), 'master')
  t.same(up.effects.map(e => `${e.kind}:${'routerId' in e ? e.routerId : ''}`), [
    'sendAdvert:A', 'sendAdvert:B', 'vipAdd:A', 'vipAdd:B', 'garp:A', 'garp:B'
  ], 'phases merged: all adverts, [ctCommit], all vipAdds, all announces')
  t.equal(up.ctCommitAt, 2)
  t.same(up.transitions.map(e => `${e.routerId}:${e.reason}`), ['A:masterDown', 'B:masterDown'])
  t.same(up.groupTransitions.map(e => `${e.from}->${e.to}:${e.reason}`), ['backup->master:allWantMaster'])
})

t.test('sync group: a held member that hears its master again stops wanting MASTER (keepalived vrrp_sync)', async t => {
  const n = new NodeDriver(groupNode())
  n.at(0, { kind: 'all', input: { kind: 'startup' } })
  n.at(200, { kind: 'router', routerId: 'A', input: { kind: 'advert', src: '192.0.2.2', priority: 150, adverIntervalCs: 10, addresses: [] } })
  n.at(360, { kind: 'timeout' })
  t.equal(n.node.routers.B?.want, 'master')
  n.at(400, { kind: 'router', routerId: 'B', input: { kind: 'advert', src: '198.51.100.2', priority: 150, adverIntervalCs: 10, addresses: [] } })
  t.equal(n.node.routers.B?.want, 'backup')
  const res = n.at(560, { kind: 'timeout' })
  t.equal(n.state('A'), 'backup', 'A wants MASTER now but B does not')
  t.same(res.effects, [])
})

t.test('sync group: a member FAULT pulls the whole group to FAULT; members leaving Master send priority 0 where up', async t => {
  const n = new NodeDriver(groupNode())
  n.at(0, { kind: 'all', input: { kind: 'startup' } })
  n.at(360, { kind: 'timeout' })
  t.equal(n.state('A'), 'master')
  const res = n.at(400, { kind: 'interface', ifname: 'eth1', up: false })
  t.equal(n.state('A'), 'fault')
  t.equal(n.state('B'), 'fault')
  t.same(res.effects.map(e => `${e.kind}:${'routerId' in e ? e.routerId : ''}:${e.kind === 'sendAdvert' ? e.priority : ''}`), [
    'sendAdvert:B:0', 'vipDel:A:', 'vipDel:B:'
  ], 'A cannot send on a down link; B tells its peer to take over after Skew_Time, before the VIPs go')
  t.same(res.transitions.map(e => `${e.routerId}:${e.from}->${e.to}:${e.reason}`), ['A:master->fault:interfaceDown', 'B:master->fault:syncGroup'])
  t.same(res.groupTransitions.map(e => `${e.to}:${e.reason}:${e.member}`), ['fault:memberFault:A'])
  t.equal(res.deadline, null)
  t.equal(n.node.routers.B?.want, 'backup', 'B alone would serve')
  // The link comes back: the group goes to BACKUP (both members re-arm their timers).
  const back = n.at(1000, { kind: 'interface', ifname: 'eth1', up: true })
  t.equal(n.state('A'), 'backup')
  t.equal(n.state('B'), 'backup')
  t.same(back.effects, [])
  t.equal(back.deadline, 1360)
  t.same(back.transitions.map(e => e.reason), ['faultCleared', 'faultCleared'])
})

t.test('sync group: a weight-0 track failure on one member sends priority 0 on both', async t => {
  const n = new NodeDriver(groupNode({ track: { uplink: 0 } }))
  n.at(0, { kind: 'all', input: { kind: 'startup' } })
  n.at(360, { kind: 'timeout' })
  const res = n.at(400, { kind: 'router', routerId: 'A', input: { kind: 'trackState', name: 'uplink', up: false } })
  t.same(res.effects.filter(e => e.kind === 'sendAdvert'), [
    { kind: 'sendAdvert', routerId: 'A', priority: 0 },
    { kind: 'sendAdvert', routerId: 'B', priority: 0 }
  ])
  t.equal(n.state('B'), 'fault')
})

t.test('sync group: a member preempted by a higher master takes the group to BACKUP; the other member sends priority 0', async t => {
  const n = new NodeDriver(groupNode())
  n.at(0, { kind: 'all', input: { kind: 'startup' } })
  n.at(360, { kind: 'timeout' })
  const res = n.at(400, { kind: 'router', routerId: 'A', input: { kind: 'advert', src: '192.0.2.2', priority: 200, adverIntervalCs: 10, addresses: [] } })
  t.equal(n.state('A'), 'backup')
  t.equal(n.state('B'), 'backup')
  t.same(res.effects.map(e => `${e.kind}:${'routerId' in e ? e.routerId : ''}`), ['sendAdvert:B', 'vipDel:A', 'vipDel:B'])
  t.same(res.transitions.map(e => `${e.routerId}:${e.reason}`), ['A:preempted', 'B:syncGroup'])
})

t.test('sync group: a member flapping between wanting MASTER and BACKUP causes no VIP churn', async t => {
  const n = new NodeDriver(groupNode())
  n.at(0, { kind: 'all', input: { kind: 'startup' } })
  // A's master is alive: A never wants MASTER. B's master flaps: B's timer runs out, then a
  // priority-0 / normal advert pair re-arms it, over and over.
  let now = 0
  const vipChanges: string[] = []
  for (let i = 0; i < 50; i++) {
    now += 100
    const inputs: NodeInput[] = [
      { kind: 'router', routerId: 'A', input: { kind: 'advert', src: '192.0.2.2', priority: 150, adverIntervalCs: 10, addresses: [] } },
      { kind: 'router', routerId: 'B', input: { kind: 'advert', src: '198.51.100.2', priority: i % 2 === 0 ? 0 : 150, adverIntervalCs: 10, addresses: [] } }
    ]
    for (const input of inputs) {
      const res = n.at(now, input)
      vipChanges.push(...res.effects.filter(e => e.kind === 'vipAdd' || e.kind === 'vipDel').map(e => e.kind))
    }
    if (n.last?.deadline !== null && (n.last?.deadline as number) <= now + 100) {
      const res = n.at(n.last?.deadline as number, { kind: 'timeout' })
      vipChanges.push(...res.effects.filter(e => e.kind === 'vipAdd' || e.kind === 'vipDel').map(e => e.kind))
    }
  }
  t.same(vipChanges, [])
  t.equal(n.node.groups.g?.transitions, 1, 'only initialize→backup')
})

t.test('sync group: within one step a router gets at most one transition and one VIP effect', async t => {
  // Owner members: both want MASTER from Startup. Started in one step, they must not pass
  // through an interim state (which would emit vipDel then vipAdd).
  const a = routerConfig({ id: 'A', ifname: 'eth1', vrid: 1, primaryAddress: '192.0.2.1', priority: 255 })
  const b = routerConfig({ id: 'B', ifname: 'eth2', vrid: 2, primaryAddress: '198.51.100.1', priority: 255 })
  const n = new NodeDriver(createNode([a, b], [{ name: 'g', members: ['A', 'B'] }]))
  const up = n.at(0, { kind: 'all', input: { kind: 'startup' } })
  t.same(up.effects.map(e => e.kind), ['sendAdvert', 'sendAdvert', 'vipAdd', 'vipAdd', 'garp', 'garp'],
    'the group decides once, after both members started: straight to MASTER, no interim BACKUP')
  t.same(up.transitions.map(e => `${e.routerId}:${e.from}->${e.to}:${e.reason}`), ['A:initialize->master:ownerStartup', 'B:initialize->master:ownerStartup'])
  for (const id of ['A', 'B']) {
    const mine = up.effects.filter(e => 'routerId' in e && e.routerId === id)
    t.ok(mine.filter(e => e.kind === 'vipAdd').length <= 1, `${id}: one vipAdd`)
  }
  const down = n.at(100, { kind: 'all', input: { kind: 'shutdown' } })
  t.same(down.effects.map(e => `${e.kind}:${'routerId' in e ? e.routerId : ''}`), ['sendAdvert:A', 'sendAdvert:B', 'vipDel:A', 'vipDel:B'], 'every priority 0 first, then the VIPs')
  t.same(down.groupTransitions.map(e => `${e.from}->${e.to}`), ['master->initialize'])
})

t.test('createNode refuses inconsistent groups; groupDecision is internal', async t => {
  const a = routerConfig({ id: 'A', primaryAddress: '192.0.2.1' })
  const b = routerConfig({ id: 'B', primaryAddress: '192.0.2.2', syncGroup: 'g' })
  t.throws(() => createNode([a, a], []), RangeError)
  t.throws(() => createNode([a], [{ name: 'g', members: ['X'] }]), RangeError)
  t.throws(() => createNode([a], [{ name: 'g', members: ['A'] }, { name: 'h', members: ['A'] }]), RangeError)
  t.throws(() => createNode([a, b], []), RangeError, 'syncGroup names a group that does not list it')
  t.throws(() => createNode([a], [{ name: 'g', members: [] }]), RangeError)
  const n = createNode([a], [])
  const res = stepNode(n, { kind: 'router', routerId: 'A', input: { kind: 'groupDecision', group: 'g', state: 'master' } }, 0)
  t.same(res.drops, [{ routerId: 'A', reason: 'reservedInput' }])
  t.same(stepNode(n, { kind: 'router', routerId: 'Z', input: { kind: 'startup' } }, 0).drops, [{ routerId: 'Z', reason: 'unknownRouter' }])
})
