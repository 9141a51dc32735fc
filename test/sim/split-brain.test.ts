import t from 'tap'
import { NetSim, routerConfig } from '../helpers/netsim.js'

function pair (pa: number, pb: number): NetSim {
  return new NetSim([
    { name: 'a', routers: [routerConfig({ primaryAddress: '192.0.2.1', priority: pa, advertIntervalCs: 10 })] },
    { name: 'b', routers: [routerConfig({ primaryAddress: '192.0.2.2', priority: pb, advertIntervalCs: 10 })] }
  ])
}

t.test('split brain: a partition makes both Master; healing leaves the higher priority Master', async t => {
  const sim = pair(200, 100)
  sim.start()
  sim.runUntil(5000)
  sim.partition('a', 'b')
  sim.runUntil(8000)
  t.equal(sim.stateOf('a', 'eth1/51'), 'master')
  t.equal(sim.stateOf('b', 'eth1/51'), 'master', 'both Master while partitioned')
  t.same(sim.transitions({ node: 'b', to: 'master' }).map(x => x.at), [4922 + 360], 'last advert before the cut + Master_Down_Interval')
  sim.heal('a', 'b')
  sim.runUntil(20_000)
  // First advert of a after the heal: a adverts at 321 + 100k → 8021, delivered 8022.
  t.same(sim.transitions({ node: 'b', to: 'backup' }).filter(x => x.at > 0).map(x => `${x.at}:${x.event.reason}`), ['8022:preempted'])
  t.equal(sim.transitions({ node: 'a' }).length, 2, 'a never left Master')
  // b's own adverts (at 5282 + 100k) stopped reaching a before 8082: b yielded at 8022 and fell silent.
  t.same(sim.effects({ node: 'b', kind: 'sendAdvert', since: 8000 }).map(x => x.at), [])
})

t.test('split brain with equal priorities: the higher address wins after the heal, whoever advertises first', async t => {
  const sim = pair(100, 100)
  sim.start()
  sim.runUntil(5000)
  t.equal(sim.stateOf('b', 'eth1/51'), 'master', '.2 > .1')
  sim.partition('a', 'b')
  sim.runUntil(8000)
  t.equal(sim.stateOf('a', 'eth1/51'), 'master')
  sim.heal('a', 'b')
  sim.runUntil(9000)
  t.equal(sim.stateOf('a', 'eth1/51'), 'backup')
  t.equal(sim.stateOf('b', 'eth1/51'), 'master')
  t.equal(sim.transitions({ node: 'a', to: 'backup' }).filter(x => x.at > 5000).length, 1, 'once after the heal')
  t.equal(sim.transitions({ node: 'b' }).length, 2, 'b never left Master')
})

t.test('partition on one segment only: routers on other segments are unaffected', async t => {
  const two = (addr: string, p: number): ReturnType<typeof routerConfig>[] => [
    routerConfig({ id: 'x', ifname: 'eth1', vrid: 1, primaryAddress: `192.0.2.${addr}`, priority: p, advertIntervalCs: 10 }),
    routerConfig({ id: 'y', ifname: 'eth2', vrid: 2, primaryAddress: `198.51.100.${addr}`, priority: p, advertIntervalCs: 10 })
  ]
  const sim = new NetSim([{ name: 'a', routers: two('1', 200) }, { name: 'b', routers: two('2', 100) }])
  sim.start()
  sim.runUntil(5000)
  sim.partition('a', 'b', 'eth1')
  sim.runUntil(10_000)
  t.equal(sim.stateOf('b', 'x'), 'master')
  t.equal(sim.stateOf('b', 'y'), 'backup')
})
