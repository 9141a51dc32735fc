// Reload as a diff: unchanged routers keep their state and do not flap; in-place changes swap the
// config under a running router; identity changes restart it; groups are rebuilt only when their
// membership changes.
import t from 'tap'
import { createNode, stepNode } from '../../../src/core/node.js'
import type { NodeState } from '../../../src/core/node.js'
import { reconfigureNode, classify } from '../../../src/core/reconfigure.js'
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
  t.equal(classify(lone, { ...lone, track: { 'if:eth2': -10 } }, true), 'restart')
})
