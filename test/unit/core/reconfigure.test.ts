// Reload as a diff: unchanged routers keep their state and do not flap; in-place changes swap the
// config under a running router; identity changes restart it; groups are rebuilt only when their
// membership changes.
import t from 'tap'
import { createNode, stepNode } from '../../../src/core/node.js'
import type { NodeState } from '../../../src/core/node.js'
import { reconfigureNode, classify, restartReasons } from '../../../src/core/reconfigure.js'
import { routerConfig } from '../../helpers/netsim.js'
import type { RouterConfig } from '../../../src/core/vrrp/types.js'

const out = routerConfig({ id: 'out', ifname: 'eth0', vrid: 51, primaryAddress: '192.0.2.2', syncGroup: 'G' })
const inn = routerConfig({ id: 'in', ifname: 'eth1', vrid: 52, primaryAddress: '10.1.0.2', vips: [{ address: '10.1.0.1', prefix: 24, family: 'ipv4' }], syncGroup: 'G' })
const lone = routerConfig({ id: 'lone', ifname: 'eth3', vrid: 60, primaryAddress: '172.16.0.2', vips: [{ address: '172.16.0.1', prefix: 24, family: 'ipv4' }] })
const groups = [{ name: 'G', members: ['out', 'in'] }]

/** A node whose routers all became master (no peer: Master_Down_Interval passes). */
function runningMaster (configs: RouterConfig[]): NodeState {
  let node = createNode(configs, groups)
  node = stepNode(node, { kind: 'all', input: { kind: 'startup' } }, 0).node
  node = stepNode(node, { kind: 'timeout' }, 10_000).node
  return node
}

t.test('identical config: nothing happens, state and timers kept', async t => {
  const node = runningMaster([out, inn, lone])
  const r = reconfigureNode(node, [out, inn, lone], groups, 10_500)
  t.same(r.effects, [], 'no effect')
  t.same(r.transitions, [], 'no transition')
  t.equal(r.node.routers.lone, node.routers.lone, 'same router object kept')
  t.same(r.changes, { out: 'same', in: 'same', lone: 'same' })
})

t.test('priority change in place: no flap, effective at the next advert (RFC 5798 §6.4.3)', async t => {
  const node = runningMaster([out, inn, lone])
  const r = reconfigureNode(node, [out, inn, { ...lone, priority: 200 }], groups, 10_500)
  t.equal(r.changes.lone, 'inPlace')
  t.same(r.effects, [], 'no effect now')
  t.equal(r.node.routers.lone?.state, 'master')
  t.equal(r.node.routers.lone?.timers.adver, node.routers.lone?.timers.adver, 'advert timer untouched')
  const next = stepNode(r.node, { kind: 'timeout' }, r.node.routers.lone?.timers.adver as number)
  t.same(next.effects.filter(e => e.kind === 'sendAdvert' && e.routerId === 'lone'), [{ kind: 'sendAdvert', routerId: 'lone', priority: 200 }], 'next advert carries the new priority')
})

t.test('VIP change on a master: new VIPs added and announced, dropped ones removed', async t => {
  const node = runningMaster([out, inn, lone])
  const vips = [{ address: '172.16.0.9', prefix: 24, family: 'ipv4' as const }]
  const r = reconfigureNode(node, [out, inn, { ...lone, vips }], groups, 10_500)
  t.same(r.effects.map(e => e.kind), ['vipDel', 'vipAdd', 'garp'])
  t.same(r.effects[0], { kind: 'vipDel', routerId: 'lone', vips: lone.vips })
  t.same(r.effects[1], { kind: 'vipAdd', routerId: 'lone', vips })
  t.same(r.transitions, [])
})

t.test('VRID change restarts only that router: priority 0, VIPs removed, back to backup', async t => {
  const node = runningMaster([out, inn, lone])
  const r = reconfigureNode(node, [out, inn, { ...lone, vrid: 61 }], groups, 10_500)
  t.equal(r.changes.lone, 'restart')
  t.same(r.effects.map(e => e.kind), ['sendAdvert', 'vipDel', 'vipDel'])
  t.same(r.effects[0], { kind: 'sendAdvert', routerId: 'lone', priority: 0 })
  t.same(r.transitions.map(x => `${x.routerId}:${x.from}->${x.to}`), ['lone:master->initialize', 'lone:initialize->backup'])
  t.equal(r.node.routers.out?.state, 'master', 'group members untouched')
  t.equal(r.node.routers.in?.state, 'master')
})

t.test('added and removed routers', async t => {
  const node = runningMaster([out, inn, lone])
  const extra = routerConfig({ id: 'extra', ifname: 'eth4', vrid: 70, primaryAddress: '172.17.0.2', vips: [{ address: '172.17.0.1', prefix: 24, family: 'ipv4' }] })
  const r = reconfigureNode(node, [out, inn, extra], groups, 10_500)
  t.same(r.changes, { lone: 'removed', out: 'same', in: 'same', extra: 'added' })
  t.notOk('lone' in r.node.routers)
  t.equal(r.node.routers.extra?.state, 'backup')
  t.ok(r.effects.some(e => e.kind === 'sendAdvert' && e.routerId === 'lone' && e.priority === 0), 'removed master says goodbye with priority 0')
})

t.test('sync group membership change restarts its members', async t => {
  const node = runningMaster([out, inn, lone])
  const r = reconfigureNode(node, [{ ...out, syncGroup: undefined }, { ...inn, syncGroup: undefined }, lone], [], 10_500)
  t.equal(r.changes.out, 'restart')
  t.equal(r.changes.in, 'restart')
  t.equal(r.changes.lone, 'same')
})

t.test('an invalid new set throws before anything is stepped', async t => {
  const node = runningMaster([out, inn, lone])
  t.throws(() => reconfigureNode(node, [out, inn, lone], [{ name: 'G', members: ['out', 'nope'] }], 10_500), RangeError)
})

t.test('classify', async t => {
  t.equal(classify(undefined, lone, true), 'added')
  t.equal(classify(lone, lone, true), 'same')
  t.equal(classify(lone, lone, false), 'restart')
  t.equal(classify(lone, { ...lone, advertIntervalCs: 200 }, true), 'inPlace')
  t.equal(classify(lone, { ...lone, ifname: 'eth9' }, true), 'restart')
  t.equal(classify(lone, { ...lone, track: { 'if:eth2': -10 } }, true), 'inPlace', 'a tracked object added changes in place')
  t.equal(classify({ ...lone, track: { 'if:eth2': -10 } }, lone, true), 'inPlace', 'and removed')
  t.equal(classify(lone, { ...lone, vips: [] }, true), 'inPlace')
})

t.test('restartReasons: the IDENTITY fields that differ, and a sync group membership change', async t => {
  t.same(restartReasons(lone, { ...lone, priority: 7, track: { 'script:x': 5 }, vips: [] }, true), [], 'priority, tracks, VIPs: none')
  t.same(restartReasons(lone, { ...lone, vrid: 61, version: 2 }, true), ['vrid', 'version'])
  t.same(restartReasons(lone, { ...lone, primaryAddress: '172.16.0.3' }, false), ['primaryAddress', 'syncGroupMembers'])
  const r = reconfigureNode(runningMaster([out, inn, lone]), [out, inn, { ...lone, ifname: 'eth5' }], groups, 10_500)
  t.same(r.restartReasons, { lone: ['ifname'] }, 'the reload result says why it restarted')
})

t.test('a tracked script and a VIP added to a Master by reload: stays Master, old VIPs untouched, new one added and announced', async t => {
  const node = runningMaster([out, inn, lone])
  const vips = [...lone.vips, { address: '172.16.0.7', prefix: 24, family: 'ipv4' as const }]
  const next = { ...lone, vips, track: { 'script:chk': -30 } }
  const r = reconfigureNode(node, [out, inn, next], groups, 10_500)
  t.equal(r.changes.lone, 'inPlace')
  t.same(r.transitions, [], 'no transition')
  t.equal(r.node.routers.lone?.state, 'master')
  t.same(r.effects.map(e => e.kind), ['vipAdd', 'garp'], 'no vipDel at all')
  t.same(r.effects[0], { kind: 'vipAdd', routerId: 'lone', vips: [vips[1]] }, 'only the new VIP')
  t.same(r.node.routers.lone?.trackUp, { 'script:chk': true }, 'the new track starts up')
  t.equal(r.node.routers.lone?.timers.adver, node.routers.lone?.timers.adver, 'advert timer untouched')
  t.same(r.priorityChanges, [], 'a negative weight while up changes nothing')
  // The new checker reports KO: the weight applies, and the change is reported with its cause.
  const down = stepNode(r.node, { kind: 'track', name: 'script:chk', up: false }, 11_000)
  t.same(down.priorityChanges, [{ routerId: 'lone', from: 100, to: 70, cause: { kind: 'track', name: 'script:chk', up: false, weight: -30 }, at: 11_000 }])
  t.same(down.transitions, [])
})

t.test('a reload keeps the state of tracked objects still tracked and forgets dropped ones', async t => {
  const tracked = { ...lone, track: { 'if:eth7': -20, 'script:a': 10 } }
  let node = runningMaster([out, inn, tracked])
  node = stepNode(node, { kind: 'track', name: 'if:eth7', up: false }, 10_100).node
  const r = reconfigureNode(node, [out, inn, { ...lone, track: { 'if:eth7': -40 } }], groups, 10_500)
  t.equal(r.changes.lone, 'inPlace')
  t.same(r.node.routers.lone?.trackUp, { 'if:eth7': false }, 'down stays down; script:a forgotten')
  t.same(r.priorityChanges, [{ routerId: 'lone', from: 90, to: 60, cause: { kind: 'reload' }, at: 10_500 }], '100-20+10 → 100-40')
})

t.test('removing a weight-0 track that holds a router in FAULT clears the fault in place', async t => {
  const tracked = { ...lone, track: { 'script:fw': 0 } }
  let node = runningMaster([out, inn, tracked])
  const f = stepNode(node, { kind: 'track', name: 'script:fw', up: false }, 10_100)
  node = f.node
  t.equal(node.routers.lone?.state, 'fault')
  t.equal(f.transitions[0]?.reason, 'trackDown')
  const r = reconfigureNode(node, [out, inn, lone], groups, 10_500)
  t.equal(r.changes.lone, 'inPlace')
  t.same(r.transitions.map(x => `${x.from}->${x.to} ${x.reason}`), ['fault->backup faultCleared'])
})

t.test('a sync group member gets a track in place: the group keeps its state', async t => {
  const node = runningMaster([out, inn, lone])
  const r = reconfigureNode(node, [{ ...out, track: { 'if:eth9': -10 } }, inn, lone], groups, 10_500)
  t.equal(r.changes.out, 'inPlace')
  t.same(r.transitions, [])
  t.same(r.groupTransitions, [])
  t.equal(r.node.groups.G, node.groups.G, 'group object kept')
  t.equal(r.node.routers.out?.state, 'master')
})

t.test('maintenance: FAULT with its own reason, not trackDown; kept across an in-place reload', async t => {
  let node = runningMaster([out, inn, lone])
  const on = stepNode(node, { kind: 'all', input: { kind: 'maintenance', on: true } }, 10_100)
  node = on.node
  t.same(on.transitions.map(x => `${x.routerId}:${x.to}:${x.reason}`).sort(), ['in:fault:maintenance', 'lone:fault:maintenance', 'out:fault:maintenance'])
  t.same(on.groupTransitions.map(g => g.to), ['fault'])
  const r = reconfigureNode(node, [out, inn, { ...lone, priority: 90 }], groups, 10_500)
  t.equal(r.node.routers.lone?.state, 'fault', 'still in maintenance after the reload')
  t.same(r.transitions, [])
  const off = stepNode(r.node, { kind: 'all', input: { kind: 'maintenance', on: false } }, 11_000)
  t.equal(off.node.routers.lone?.state, 'backup')
  t.equal(off.transitions.find(x => x.routerId === 'lone')?.reason, 'faultCleared')
})
