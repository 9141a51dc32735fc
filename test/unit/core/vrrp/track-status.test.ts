// Tracking made visible: each tracked object's state, weight and contribution in the router
// snapshot, and a priority-change event (with its cause) from every node step that moves the
// effective priority.
import t from 'tap'
import { createNode, stepNode } from '../../../../src/core/node.js'
import { trackStatus } from '../../../../src/core/vrrp/election.js'
import { routerSnapshot } from '../../../../src/core/vrrp/router.js'
import { routerConfig } from '../../../helpers/netsim.js'

const cfg = routerConfig({
  id: 'r',
  primaryAddress: '192.0.2.1',
  track: { 'if:eth2': -60, 'script:chk': 10, 'file:/run/stop': 0 },
  fileWeights: { '/run/prio': -5 }
})

t.test('trackStatus: state, weight and contribution of each object (keepalived weight rules)', async t => {
  const all = trackStatus(cfg, {}, {})
  t.same(all.map(x => [x.name, x.kind, x.up, x.contribution, x.fault]), [
    ['if:eth2', 'interface', true, 0, false],
    ['script:chk', 'script', true, 10, false],
    ['file:/run/stop', 'file', true, 0, false],
    ['file:/run/prio', 'file', null, 0, false]
  ], 'all up, the weighted file not read yet')
  t.equal(all[3]?.value, null)
  const some = trackStatus(cfg, { 'if:eth2': false, 'script:chk': false, 'file:/run/stop': false }, { 'file:/run/prio': -15, bulkSync: -250 })
  t.same(some.map(x => [x.name, x.up, x.contribution, x.fault]), [
    ['if:eth2', false, -60, false],
    ['script:chk', false, 0, false],
    ['file:/run/stop', false, 0, true],
    ['file:/run/prio', null, -15, false]
  ])
  t.equal(some[3]?.value, 3, 'the file holds 3 (−15 / −5)')
})

t.test('snapshot: track list, and the other offsets apart', async t => {
  let node = createNode([cfg], [])
  node = stepNode(node, { kind: 'all', input: { kind: 'startup' } }, 0).node
  node = stepNode(node, { kind: 'router', routerId: 'r', input: { kind: 'priorityOffset', source: 'file:/run/prio', offset: -10 } }, 10).node
  node = stepNode(node, { kind: 'router', routerId: 'r', input: { kind: 'priorityOffset', source: 'bulkSync', offset: -50 } }, 20).node
  const snap = routerSnapshot(node.routers.r as never)
  t.equal(snap.track.length, 4)
  t.same(snap.offsets, { bulkSync: -50 }, 'the weighted file is in the track list, not here')
  t.equal(snap.effectivePriority, 100 + 10 - 10 - 50)
})

t.test('priority-change events: a tracked link down, an offset, nothing for a no-op', async t => {
  let node = createNode([cfg], [])
  node = stepNode(node, { kind: 'all', input: { kind: 'startup' } }, 0).node
  const down = stepNode(node, { kind: 'interface', ifname: 'eth2', up: false }, 100)
  t.same(down.priorityChanges, [], 'eth2 is not the router interface: interface input does not touch it')
  const tracked = stepNode(node, { kind: 'track', name: 'if:eth2', up: false }, 100)
  t.same(tracked.priorityChanges, [{ routerId: 'r', from: 110, to: 50, cause: { kind: 'track', name: 'if:eth2', up: false, weight: -60 }, at: 100 }])
  t.same(tracked.transitions, [], 'a priority change alone is no transition')
  const again = stepNode(tracked.node, { kind: 'track', name: 'if:eth2', up: false }, 200)
  t.same(again.priorityChanges, [], 'same state again: no event')
  const offset = stepNode(tracked.node, { kind: 'router', routerId: 'r', input: { kind: 'priorityOffset', source: 'maintenance', offset: -254 } }, 300)
  t.same(offset.priorityChanges, [{ routerId: 'r', from: 50, to: 1, cause: { kind: 'offset', source: 'maintenance', offset: -254 }, at: 300 }])
  const zero = stepNode(node, { kind: 'track', name: 'file:/run/stop', up: false }, 400)
  t.same(zero.priorityChanges, [], 'weight 0: FAULT, not a priority change')
  t.equal(zero.transitions[0]?.reason, 'trackDown')
})

t.test('maintenance input: FAULT cause "maintenance", reason maintenance, even with a track down', async t => {
  let node = createNode([cfg], [])
  node = stepNode(node, { kind: 'all', input: { kind: 'startup' } }, 0).node
  const on = stepNode(node, { kind: 'all', input: { kind: 'maintenance', on: true } }, 50)
  t.same(on.transitions.map(x => [x.from, x.to, x.reason]), [['backup', 'fault', 'maintenance']])
  t.same(routerSnapshot(on.node.routers.r as never).faults, ['maintenance'])
  const stillTrack = stepNode(on.node, { kind: 'track', name: 'file:/run/stop', up: false }, 60)
  t.same(stillTrack.transitions, [], 'already in FAULT')
  const off = stepNode(stillTrack.node, { kind: 'all', input: { kind: 'maintenance', on: false } }, 70)
  t.same(off.transitions, [], 'the weight-0 track still holds it in FAULT')
  t.same(routerSnapshot(off.node.routers.r as never).faults, ['track:file:/run/stop'])
})
