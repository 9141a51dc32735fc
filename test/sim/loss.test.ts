import t from 'tap'
import { NetSim, routerConfig } from '../helpers/netsim.js'

/**
 * Expected behaviour under loss (documented, not hidden): a Backup cannot tell three lost adverts
 * from a dead master. With 100 ms adverts its Master_Down_Interval is 360 ms (priority 100), so
 * it takes over exactly when three consecutive adverts of the master are lost — 3 × 100 < 360 <
 * 4 × 100 — at the last received advert + 360 ms. The real master never steps down (the
 * intruder's adverts have a lower priority, RFC 5798 §6.4.3 discard), and the intruder yields at
 * the next advert it receives (§6.4.3 "higher priority" → Backup). The test checks this rule
 * against the simulator's own record of every lost and delivered packet, exactly.
 */
function lossy (loss: number, seed: number): NetSim {
  const sim = new NetSim([
    { name: 'a', routers: [routerConfig({ primaryAddress: '192.0.2.1', priority: 200, advertIntervalCs: 10 })] },
    { name: 'b', routers: [routerConfig({ primaryAddress: '192.0.2.2', priority: 100, advertIntervalCs: 10 })] }
  ], { seed })
  sim.start()
  sim.runUntil(5000)
  sim.setLink('a', 'b', { loss })
  sim.runUntil(600_000)
  return sim
}

for (const [loss, seed] of [[0.1, 3], [0.2, 3], [0.3, 3], [0.3, 11]] as const) {
  t.test(`loss ${loss * 100} % (seed ${seed}), 10 minutes: takeovers exactly after 3 consecutive lost adverts, healed at the next one; the master never yields`, async t => {
    const sim = lossy(loss, seed)
    // Every packet a → b in send order, with its fate.
    const fates: Array<{ at: number, delivered: boolean }> = []
    for (const r of sim.log) {
      if (r.kind === 'lost' && r.packet.from === 'a') fates.push({ at: r.at, delivered: false })
      if (r.kind === 'deliver' && r.packet.from === 'a') fates.push({ at: r.at, delivered: true })
    }
    const predictedUp: number[] = []
    const predictedDown: number[] = []
    let lastRx = -1
    let run = 0
    let up = false
    for (const f of fates) {
      if (f.delivered) {
        if (up) { predictedDown.push(f.at); up = false }
        lastRx = f.at
        run = 0
      } else if (++run === 3 && lastRx >= 0) {
        predictedUp.push(lastRx + 360)
        up = true
      }
    }
    const ups = sim.transitions({ node: 'b', to: 'master' }).map(x => x.at)
    const downs = sim.transitions({ node: 'b', to: 'backup' }).filter(x => x.at > 0).map(x => x.at)
    t.same(ups, predictedUp, `${ups.length} takeovers, each at the last received advert + 360 ms`)
    t.same(downs, predictedDown, 'each healed by the next advert that got through')
    t.ok(ups.length > 0, 'this much loss does produce takeovers')
    t.same(sim.transitions({ node: 'a' }).map(x => x.event.to), ['backup', 'master'], 'the real master never stepped down')
    t.same(sim.effects({ node: 'a', kind: 'vipDel', since: 1 }), [], 'and never removed its VIPs')
  })
}

t.test('no flapping: ten minutes without loss, no transition after the election, one advert per interval', async t => {
  const sim = lossy(0, 1)
  t.same(sim.transitions().map(x => `${x.at}:${x.node}:${x.event.to}`), ['0:a:backup', '0:b:backup', '321:a:master'])
  const adverts = sim.effects({ node: 'a', kind: 'sendAdvert' })
  t.equal(adverts.length, Math.floor((600_000 - 321) / 100) + 1)
  t.ok(adverts.every((x, i) => x.at === 321 + 100 * i), 'exactly every 100 ms, no drift')
  t.same(sim.effects({ node: 'b', kind: 'sendAdvert' }), [])
})
