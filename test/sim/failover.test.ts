import t from 'tap'
import { NetSim, routerConfig } from '../helpers/netsim.js'
import { masterDownInterval, skewTime } from '../../src/core/vrrp/timers.js'
import type { RouterConfig } from '../../src/core/vrrp/types.js'

function pair (over: Partial<RouterConfig>): NetSim {
  return new NetSim([
    { name: 'a', routers: [routerConfig({ primaryAddress: '192.0.2.1', priority: 200, ...over })] },
    { name: 'b', routers: [routerConfig({ primaryAddress: '192.0.2.2', priority: 100, ...over })] }
  ])
}

function lastDeliveryAt (sim: NetSim, from: string, to: string): number {
  const recs = sim.log.filter(r => r.kind === 'deliver' && r.packet.from === from && r.packet.to === to)
  const last = recs[recs.length - 1]
  if (last === undefined) throw new Error('no delivery')
  return last.at
}

for (const [label, over, mdi] of [
  ['v3, 100 ms adverts', { version: 3, advertIntervalCs: 10 }, 360],
  ['v2, 1 s adverts', { version: 2, advertIntervalCs: 100 }, 3609],
  ['v3, 1 s adverts', { version: 3, advertIntervalCs: 100 }, 3609]
] as const) {
  t.test(`RFC 5798 §6.4.2 (${label}): master SIGKILLed → Backup is Master exactly at the last advert + Master_Down_Interval`, async t => {
    const sim = pair(over)
    sim.start()
    sim.runUntil(10_000)
    t.equal(sim.stateOf('a', 'eth1/51'), 'master')
    sim.runUntil(12_345)
    sim.kill('a') // no priority 0
    sim.runFor(10_000)
    const lastRx = lastDeliveryAt(sim, 'a', 'b')
    t.equal(mdi, masterDownInterval(over.version, 100, over.advertIntervalCs))
    const up = sim.transitions({ node: 'b', to: 'master' })
    t.same(up.map(x => x.at), [lastRx + mdi])
    t.equal(up[0]?.event.reason, 'masterDown')
    const vipAdd = sim.effects({ node: 'b', kind: 'vipAdd' })
    t.same(vipAdd.map(x => x.at), [lastRx + mdi], 'VIPs added in the same step')
    t.ok((up[0]?.at as number) - 12_345 <= mdi, 'within Master_Down_Interval of the kill')
  })

  t.test(`RFC 5798 §6.4.3 Shutdown (${label}): clean stop → Backup is Master at the priority-0 advert + Skew_Time`, async t => {
    const sim = pair(over)
    sim.start()
    sim.runUntil(12_345)
    sim.stop('a')
    const zero = sim.effects({ node: 'a', kind: 'sendAdvert' }).at(-1)
    t.same(zero?.effect, { kind: 'sendAdvert', routerId: 'eth1/51', priority: 0 })
    t.same(sim.effects({ node: 'a', kind: 'vipDel' }).map(x => x.at), [0, 12_345], 'startup cleanup, then the stop')
    sim.runFor(10_000)
    const rx = lastDeliveryAt(sim, 'a', 'b')
    t.equal(rx, 12_346, 'priority 0 delivered after the 1 ms link delay')
    // Skew_Time of b (priority 100) with the interval it learned from a.
    const skew = skewTime(over.version, 100, over.advertIntervalCs)
    const up = sim.transitions({ node: 'b', to: 'master' })
    t.same(up.map(x => x.at), [rx + skew])
    t.ok(rx + skew - 12_345 < over.advertIntervalCs * 10, 'planned failover within one advert interval')
  })
}

t.test('RFC 5798 §6.4.2: a Backup that learned a faster master interval uses it (v3)', async t => {
  const sim = new NetSim([
    { name: 'a', routers: [routerConfig({ primaryAddress: '192.0.2.1', priority: 200, advertIntervalCs: 5 })] },
    { name: 'b', routers: [routerConfig({ primaryAddress: '192.0.2.2', priority: 100, advertIntervalCs: 100 })] }
  ])
  sim.start()
  sim.runUntil(5000)
  t.equal(sim.nodeState('b').routers['eth1/51']?.masterAdverIntervalCs, 5)
  sim.kill('a')
  sim.runFor(5000)
  const lastRx = lastDeliveryAt(sim, 'a', 'b')
  // 3 × 50 + floor(156 × 5 × 10 / 256) = 150 + 30
  t.same(sim.transitions({ node: 'b', to: 'master' }).map(x => x.at), [lastRx + 180])
})
