import t from 'tap'
import { NetSim, routerConfig } from '../helpers/netsim.js'
import type { RouterConfig } from '../../src/core/vrrp/types.js'

const node = (name: string, over: Partial<RouterConfig> & { primaryAddress: string }): { name: string, routers: RouterConfig[] } =>
  ({ name, routers: [routerConfig({ advertIntervalCs: 10, ...over })] })

t.test('RFC 5798 §6.4.2: three routers started together, the highest priority wins and nobody else ever becomes Master', async t => {
  const sim = new NetSim([
    node('a', { primaryAddress: '192.0.2.1', priority: 100 }),
    node('b', { primaryAddress: '192.0.2.2', priority: 200 }),
    node('c', { primaryAddress: '192.0.2.3', priority: 150 })
  ])
  sim.start()
  sim.runFor(60_000)
  t.same(sim.transitions({ to: 'master' }).map(x => `${x.at}:${x.node}`), ['321:b'], 'b at its Master_Down_Interval (300 + 21)')
  t.equal(sim.stateOf('a', 'eth1/51'), 'backup')
  t.equal(sim.stateOf('c', 'eth1/51'), 'backup')
  t.equal(sim.effects({ kind: 'vipAdd' }).length, 1)
  t.equal(sim.transitions().length, 4, 'three startups, one Master; no flapping for a minute')
})

t.test('RFC 5798 §6.4.3: equal priorities, the higher primary address wins (deterministically)', async t => {
  const sim = new NetSim([
    node('a', { primaryAddress: '192.0.2.10' }),
    node('b', { primaryAddress: '192.0.2.9' }),
    node('c', { primaryAddress: '192.0.2.2' })
  ])
  sim.start()
  sim.runFor(10_000)
  // Same priority → same Master_Down_Interval: all three become Master at 360 ms, then the
  // adverts sort it out within the link delay.
  t.same(sim.transitions({ to: 'master' }).map(x => `${x.at}:${x.node}`), ['360:a', '360:b', '360:c'])
  t.same(sim.transitions({ to: 'backup' }).filter(x => x.at > 0).map(x => `${x.at}:${x.node}:${x.event.reason}`), ['361:b:preempted', '361:c:preempted'])
  t.equal(sim.stateOf('a', 'eth1/51'), 'master', '.10 > .9 > .2 as integers')
  t.same(sim.effects({ kind: 'vipDel', since: 1 }).map(x => x.node), ['b', 'c'])
})

t.test('RFC 5798 §6.4.3 over IPv6: link-local addresses break the tie', async t => {
  const v6 = (name: string, addr: string): { name: string, routers: RouterConfig[] } =>
    ({ name, routers: [routerConfig({ family: 'ipv6', primaryAddress: addr, advertIntervalCs: 10 })] })
  const sim = new NetSim([v6('a', 'fe80::2'), v6('b', 'fe80::1:0')])
  sim.start()
  sim.runFor(5000)
  t.equal(sim.stateOf('b', 'eth1/51'), 'master')
  t.equal(sim.stateOf('a', 'eth1/51'), 'backup')
  t.same(sim.effects({ node: 'b', kind: 'unsolicitedNa' }).map(x => x.at), [360])
})
