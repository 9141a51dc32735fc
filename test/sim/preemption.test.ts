import t from 'tap'
import { NetSim, routerConfig } from '../helpers/netsim.js'
import type { RouterConfig } from '../../src/core/vrrp/types.js'

/** a: the better router (started late); b: priority 100, already Master. 100 ms adverts. */
function lateComer (a: Partial<RouterConfig>): NetSim {
  const sim = new NetSim([
    { name: 'a', routers: [routerConfig({ primaryAddress: '192.0.2.1', priority: 200, advertIntervalCs: 10, ...a })] },
    { name: 'b', routers: [routerConfig({ primaryAddress: '192.0.2.2', priority: 100, advertIntervalCs: 10 })] }
  ])
  sim.start('b')
  sim.runUntil(10_000)
  return sim
}

t.test('RFC 5798 §6.4.2 preempt on: a higher-priority router that comes back takes over after its Master_Down_Interval', async t => {
  const sim = lateComer({})
  t.equal(sim.stateOf('b', 'eth1/51'), 'master')
  sim.start('a')
  sim.runFor(30_000)
  // a discards b's lower adverts, so its startup timer runs out: 10 000 + 300 + 21.
  t.same(sim.transitions({ node: 'a', to: 'master' }).map(x => x.at), [10_321])
  t.same(sim.transitions({ node: 'b', to: 'backup' }).filter(x => x.at > 0).map(x => `${x.at}:${x.event.reason}`), ['10322:preempted'])
  t.same(sim.effects({ node: 'b', kind: 'sendAdvert', since: 10_322 }).map(x => x.effect), [], 'b is silent after yielding')
  t.ok(sim.log.some(r => r.kind === 'drop' && r.node === 'a' && r.drop.reason === 'lowerPriorityPreempting'))
})

t.test('RFC 5798 §6.4.2 preempt off: the higher-priority router stays Backup', async t => {
  const sim = lateComer({ preempt: false })
  sim.start('a')
  sim.runFor(30_000)
  t.equal(sim.stateOf('a', 'eth1/51'), 'backup')
  t.equal(sim.stateOf('b', 'eth1/51'), 'master')
  t.equal(sim.transitions({ to: 'master' }).length, 1, 'only b, at the beginning')
  // But when b dies, a takes over (preempt only governs taking over a live master).
  sim.kill('b')
  sim.runFor(1000)
  t.equal(sim.stateOf('a', 'eth1/51'), 'master')
})

t.test('keepalived preempt_delay: the higher-priority router waits the delay after startup, then preempts', async t => {
  const sim = lateComer({ preemptDelayMs: 2000 })
  sim.start('a')
  sim.runFor(30_000)
  // Adverts from b are followed until 12 000 (startup + delay); the first one at or after it is
  // discarded and a's Master_Down_Timer, armed by the last followed one, runs out.
  const followed = sim.log.filter(r => r.kind === 'deliver' && r.packet.to === 'a' && r.at < 12_000)
  const lastFollowed = followed[followed.length - 1]?.at as number
  t.equal(lastFollowed, 11_961, 'b adverts at 360 + 100k, delivered 1 ms later')
  t.same(sim.transitions({ node: 'a', to: 'master' }).map(x => x.at), [lastFollowed + 321])
})

t.test('RFC 5798 §6.4.1: the owner (255) becomes Master the instant it starts, preempting a live master', async t => {
  const sim = lateComer({ priority: 255 })
  sim.start('a')
  t.same(sim.transitions({ node: 'a', to: 'master' }).map(x => `${x.at}:${x.event.reason}`), ['10000:ownerStartup'])
  sim.runFor(1000)
  t.same(sim.transitions({ node: 'b', to: 'backup' }).filter(x => x.at > 0).map(x => x.at), [10_001])
  t.equal(sim.stateOf('b', 'eth1/51'), 'backup')
})
