import t from 'tap'
import { NetSim, routerConfig, splitGroupSteps, vipSteps } from '../helpers/netsim.js'
import type { SimNodeSpec } from '../helpers/netsim.js'

/**
 * Two firewalls, each with a sync group `fw` of two routers: `in` on eth1 (VRID 1) and `out` on
 * eth2 (VRID 2). fw1 has priority 200 (and tracks `uplink` with weight 0), fw2 100. 100 ms adverts.
 */
function firewall (name: string, host: string, priority: number): SimNodeSpec {
  return {
    name,
    routers: [
      routerConfig({ id: 'in', ifname: 'eth1', vrid: 1, primaryAddress: `192.0.2.${host}`, priority, advertIntervalCs: 10, track: { uplink: 0 }, syncGroup: 'fw' }),
      routerConfig({ id: 'out', ifname: 'eth2', vrid: 2, primaryAddress: `198.51.100.${host}`, priority, advertIntervalCs: 10, vips: [{ address: '198.51.100.100', prefix: 24, family: 'ipv4' }], syncGroup: 'fw' })
    ],
    groups: [{ name: 'fw', members: ['in', 'out'] }]
  }
}

function started (): NetSim {
  const sim = new NetSim([firewall('fw1', '1', 200), firewall('fw2', '2', 100)])
  sim.start()
  sim.runUntil(5000)
  return sim
}

function lastDeliveryAt (sim: NetSim, from: string, routerId: string): number {
  const recs = sim.log.filter(r => r.kind === 'deliver' && r.packet.from === from && r.packet.routerId === routerId)
  return recs[recs.length - 1]?.at as number
}

t.test('sync group: both members become Master together on the better node at startup', async t => {
  const sim = started()
  t.same(sim.transitions({ node: 'fw1', to: 'master' }).map(x => `${x.at}:${x.event.routerId}`), ['321:in', '321:out'])
  t.same(sim.transitions({ node: 'fw2', to: 'master' }), [])
  const steps = new Set(sim.effects({ node: 'fw1', kind: 'vipAdd' }).map(x => x.step))
  t.equal(steps.size, 1, 'both vipAdds in one node step')
})

t.test('sync group: a member link goes down on the master node → that group FAULT (priority 0 where up); the peer group goes MASTER with both members together', async t => {
  const sim = started()
  // Pull fw1's eth1 cable; the kernel tells hafwd.
  sim.setCable('fw1', 'eth1', false)
  sim.input('fw1', { kind: 'interface', ifname: 'eth1', up: false })
  t.equal(sim.stateOf('fw1', 'in'), 'fault')
  t.equal(sim.stateOf('fw1', 'out'), 'fault')
  const left = sim.effects({ node: 'fw1', since: 5000 })
  t.same(left.map(x => `${x.effect.kind}:${'routerId' in x.effect ? x.effect.routerId : ''}:${x.effect.kind === 'sendAdvert' ? x.effect.priority : ''}`), [
    'sendAdvert:out:0', 'vipDel:in:', 'vipDel:out:'
  ], 'no advert on the dead link; priority 0 on the live one, before any VIP is removed')
  sim.runUntil(10_000)
  // fw2/out hears priority 0 at 5001 and wants MASTER after Skew_Time (5001 + 60). fw2/in hears
  // nothing on eth1 (the last advert came at 4922; alone it would wait until 4922 + 360 = 5282),
  // but the release on eth2 shortens its Master_Down_Timer to one interval + Skew_Time: 5001 + 100
  // + 60 = 5161 (router.ts onGroupRelease). The group goes MASTER then, both members at once.
  const lastIn = lastDeliveryAt(sim, 'fw1', 'in')
  t.equal(lastIn, 4922)
  const handover = 5001 + 100 + 60
  t.ok(handover < lastIn + 360, 'earlier than a full Master_Down_Interval')
  const up = sim.transitions({ node: 'fw2', to: 'master' })
  t.same(up.map(x => `${x.at}:${x.event.routerId}:${x.event.reason}`), [`${handover}:in:masterDown`, `${handover}:out:masterDown`])
  const adds = sim.effects({ node: 'fw2', kind: 'vipAdd' })
  t.same(adds.map(x => x.at), [handover, handover])
  t.equal(new Set(adds.map(x => x.step)).size, 1, 'one step: the group entered MASTER all at once')
  t.same(sim.effects({ node: 'fw2', kind: 'vipAdd', since: 0 }).filter(x => x.at < handover), [], 'no member went MASTER alone in between')
  t.same(sim.nodeState('fw2').groups.fw?.state, 'master')
  t.same(sim.nodeState('fw1').groups.fw?.state, 'fault')
})

t.test('sync group: a weight-0 tracked object on one member → priority 0 on both → the peer group is MASTER after Skew_Time', async t => {
  const sim = started()
  sim.input('fw1', { kind: 'track', name: 'uplink', up: false })
  t.same(sim.effects({ node: 'fw1', kind: 'sendAdvert', since: 5000 }).map(x => `${'routerId' in x.effect ? x.effect.routerId : ''}:${x.effect.kind === 'sendAdvert' ? x.effect.priority : ''}`), ['in:0', 'out:0'])
  sim.runUntil(10_000)
  t.same(sim.transitions({ node: 'fw2', to: 'master' }).map(x => `${x.at}:${x.event.routerId}`), ['5061:in', '5061:out'], 'delivered at 5001 + skew 60')
  // The object comes back: fw1 (200, preempt) takes the group back, both members together.
  sim.input('fw1', { kind: 'track', name: 'uplink', up: true })
  sim.runUntil(15_000)
  const back = sim.transitions({ node: 'fw1', to: 'master' }).filter(x => x.at > 5000)
  t.same(back.map(x => `${x.at}:${x.event.routerId}`), ['10321:in', '10321:out'])
  t.same(sim.transitions({ node: 'fw2', to: 'backup' }).filter(x => x.at > 5000).map(x => `${x.at}:${x.event.routerId}:${x.event.reason}`),
    ['10322:in:preempted', '10322:out:syncGroup'], "fw2/in sees the better advert first and takes the group down; out follows ('in' is delivered first)")
})

t.test('sync group: a lossy link on one member delays the group but never splits it', async t => {
  const sim = new NetSim([firewall('fw1', '1', 200), firewall('fw2', '2', 100)], { seed: 7 })
  sim.start()
  sim.runUntil(5000)
  sim.setLink('fw1', 'fw2', { loss: 0.3 })
  sim.runUntil(600_000)
  // 30 % loss on 100 ms adverts loses three in a row now and then, so each fw2 member wants
  // MASTER at times (see loss.test.ts); the group moves only when both do at once (rarer: 7
  // group transitions in 10 minutes with this seed), and then as one.
  t.ok(sim.log.filter(r => r.kind === 'group' && r.node === 'fw2').length > 1, 'the loss did move fw2\'s group')
  // Whatever happened, the two members of a group were never in different states after a step.
  for (const name of ['fw1', 'fw2']) {
    const group = sim.nodeState(name).groups.fw
    t.ok(group !== undefined)
    for (const split of splitGroupSteps(sim, name)) t.fail(`${name} ${split}`)
    t.ok(vipSteps(sim, name) >= 1)
    t.equal(sim.stateOf(name, 'in'), sim.stateOf(name, 'out'), `${name}: members agree at the end`)
  }
})
