import t from 'tap'
import { NetSim, routerConfig } from '../helpers/netsim.js'

t.test('tracking: a negative weight on the master lets a preempting backup win (keepalived weights)', async t => {
  const sim = new NetSim([
    { name: 'a', routers: [routerConfig({ primaryAddress: '192.0.2.1', priority: 150, advertIntervalCs: 10, track: { uplink: -100 } })] },
    { name: 'b', routers: [routerConfig({ primaryAddress: '192.0.2.2', priority: 100, advertIntervalCs: 10 })] }
  ])
  sim.start()
  sim.runUntil(5000)
  t.equal(sim.stateOf('a', 'eth1/51'), 'master')
  sim.input('a', { kind: 'track', name: 'uplink', up: false })
  sim.runUntil(10_000)
  // a (Master at 300 + 41) advertises 50 from its next advert (5041 = 341 + 47 × 100); b discards
  // them and its timer from the last 150-advert (4941 sent, 4942 received) runs out: 4942 + 360.
  const lowered = sim.effects({ node: 'a', kind: 'sendAdvert', since: 5000 })[0]
  t.same([lowered?.at, lowered?.effect], [5041, { kind: 'sendAdvert', routerId: 'eth1/51', priority: 50 }])
  t.same(sim.transitions({ node: 'b', to: 'master' }).map(x => x.at), [5302])
  t.same(sim.transitions({ node: 'a', to: 'backup' }).filter(x => x.at > 0).map(x => `${x.at}:${x.event.reason}`), ['5303:preempted'])
  // The uplink returns at 10 000: a (150 again, preempt) discards b's adverts from then on. Its
  // running Master_Down_Timer was armed by b's advert received at 9903 while a was at priority
  // 50 (skew 80); a priority change does not re-arm a running timer (RFC 5798 §6.4.2 recomputes
  // on the next accepted advert), so a takes over at 9903 + 380.
  sim.input('a', { kind: 'track', name: 'uplink', up: true })
  sim.runUntil(15_000)
  t.same(sim.transitions({ node: 'a', to: 'master' }).map(x => x.at), [341, 9903 + 380])
  t.equal(sim.stateOf('b', 'eth1/51'), 'backup')
})

t.test('tracking: weight-0 object down on the master → FAULT with priority 0 → backup takes over after Skew_Time', async t => {
  const sim = new NetSim([
    { name: 'a', routers: [routerConfig({ primaryAddress: '192.0.2.1', priority: 150, advertIntervalCs: 100, track: { fw: 0 } })] },
    { name: 'b', routers: [routerConfig({ primaryAddress: '192.0.2.2', priority: 100, advertIntervalCs: 100 })] }
  ])
  sim.start()
  sim.runUntil(10_000)
  sim.input('a', { kind: 'track', name: 'fw', up: false })
  sim.runUntil(20_000)
  t.equal(sim.stateOf('a', 'eth1/51'), 'fault')
  t.same(sim.transitions({ node: 'b', to: 'master' }).map(x => x.at), [10_001 + 609])
})
