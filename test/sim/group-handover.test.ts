import t from 'tap'
import { NetSim, routerConfig, splitGroupSteps } from '../helpers/netsim.js'
import type { SimNodeSpec } from '../helpers/netsim.js'
import { mulberry32 } from '../helpers/prng.js'
import { masterDownInterval, skewTime } from '../../src/core/vrrp/timers.js'

/**
 * Sync-group handover within one advert (router.ts onGroupRelease): when one member of a Backup
 * group hears its master release with priority 0, the other members wait one advert interval +
 * Skew_Time, not a whole Master_Down_Interval. The steering case: the master's inside link dies,
 * it can only send priority 0 on the outside, and the backup's inside member hears nothing.
 *
 * Topology: two firewalls, sync group `fw` = `in` (eth1, VRID 1) + `out` (eth2, VRID 2); links of
 * 1 ms; fw1 is the better node.
 */
function firewall (name: string, host: string, priority: number, intervalCs: number, grouped = true): SimNodeSpec {
  const group = grouped ? { syncGroup: 'fw' } : {}
  return {
    name,
    routers: [
      routerConfig({ id: 'in', ifname: 'eth1', vrid: 1, primaryAddress: `192.0.2.${host}`, priority, advertIntervalCs: intervalCs, ...group }),
      routerConfig({ id: 'out', ifname: 'eth2', vrid: 2, primaryAddress: `198.51.100.${host}`, priority, advertIntervalCs: intervalCs, vips: [{ address: '198.51.100.100', prefix: 24, family: 'ipv4' }], ...group })
    ],
    groups: grouped ? [{ name: 'fw', members: ['in', 'out'] }] : []
  }
}

function groupLog (sim: NetSim, node: string, since = 0): string[] {
  return sim.log.filter(r => r.kind === 'group' && r.node === node && r.at > since)
    .map(r => r.kind === 'group' ? `${r.at}:${r.event.from}->${r.event.to}` : '')
}

for (const intervalCs of [100, 10]) {
  t.test(`steering at ${intervalCs * 10} ms adverts: the master's inside link dies → the backup group is MASTER one interval + Skew_Time after the release`, async t => {
    const sim = new NetSim([firewall('fw1', '1', 100, intervalCs), firewall('fw2', '2', 50, intervalCs)])
    sim.start()
    sim.runUntil(10_000)
    t.equal(sim.nodeState('fw1').groups.fw?.state, 'master')
    t.equal(sim.nodeState('fw2').groups.fw?.state, 'backup')

    sim.setCable('fw1', 'eth1', false)
    sim.input('fw1', { kind: 'interface', ifname: 'eth1', up: false })
    sim.runUntil(20_000)

    // Priority 0 leaves fw1 on eth2 at 10 000 and arrives at 10 001.
    const interval = intervalCs * 10
    const skew = skewTime(3, 50, intervalCs)
    const handover = 10_001 + interval + skew
    const up = sim.transitions({ node: 'fw2', to: 'master' })
    t.same(up.map(x => `${x.at}:${x.event.routerId}`), [`${handover}:in`, `${handover}:out`], `10 001 + ${interval} + Skew_Time ${skew}`)
    t.ok(handover - 10_000 <= interval + skew + 100, 'within the issue\'s bound: one interval + Skew_Time + 100 ms')
    t.ok(handover - 10_000 < masterDownInterval(3, 50, intervalCs), 'shorter than a Master_Down_Interval')
    const adds = sim.effects({ node: 'fw2', kind: 'vipAdd' })
    t.equal(new Set(adds.map(x => x.step)).size, 1, 'both members in one step: the group never split')
    t.same(groupLog(sim, 'fw2', 10_000), [`${handover}:backup->master`])
    t.equal(sim.nodeState('fw2').routers.in?.counters.groupReleases, 1, 'fw2/in counted the shortened timer')
    t.equal(sim.nodeState('fw2').routers.out?.counters.groupReleases, 0, 'fw2/out heard the release itself')
  })
}

t.test('one member\'s peer reloaded: its priority 0 does not move the group while the other member\'s master is alive', async t => {
  // fw1 runs lone routers (no group: e.g. keepalived without a sync group, or hafwd restarting one
  // instance); fw2 groups them. fw1/out restarts: priority 0 on eth2, then back after its own
  // Master_Down_Interval. fw1/in keeps advertising every 100 ms on eth1 all along.
  const sim = new NetSim([firewall('fw1', '1', 200, 10, false), firewall('fw2', '2', 100, 10)])
  sim.start()
  sim.runUntil(5000)
  t.equal(sim.stateOf('fw1', 'out'), 'master')
  t.equal(sim.nodeState('fw2').groups.fw?.state, 'backup')

  // The worst instant: right after fw2/in heard fw1/in, so the next advert is a whole interval away.
  const heard = sim.log.filter(r => r.kind === 'deliver' && r.packet.from === 'fw1' && r.packet.routerId === 'in').at(-1)?.at as number
  sim.runUntil(heard + 100) // the next one is delivered at this instant, then the release
  t.equal(sim.log.filter(r => r.kind === 'deliver' && r.packet.from === 'fw1' && r.packet.routerId === 'in').at(-1)?.at, heard + 100)
  sim.input('fw1', { kind: 'router', routerId: 'out', input: { kind: 'shutdown' } })
  sim.runUntil(5300)
  // fw2/out wants MASTER after Skew_Time, fw2/in's timer is cut to release + 100 + 60, but
  // fw1/in's next advert (100 ms after the last) comes first and re-arms it: fw2/in never wants
  // MASTER, the group stays Backup.
  t.equal(sim.nodeState('fw2').routers.out?.want, 'master')
  t.equal(sim.nodeState('fw2').routers.in?.want, 'backup')
  sim.input('fw1', { kind: 'router', routerId: 'out', input: { kind: 'startup' } })
  sim.runUntil(10_000)

  t.equal(sim.stateOf('fw1', 'out'), 'master', 'fw1/out back after its Master_Down_Interval')
  t.same(groupLog(sim, 'fw2', 5000), [], 'fw2\'s group never moved')
  t.same(sim.effects({ node: 'fw2', since: 5000 }).filter(x => x.effect.kind === 'sendAdvert' || x.effect.kind === 'vipAdd'), [], 'fw2 sent no advert and added no VIP')
})

t.test('one link cut between the nodes: no release, no handover, nothing moves (before, during, after)', async t => {
  const sim = new NetSim([firewall('fw1', '1', 200, 10), firewall('fw2', '2', 100, 10)])
  sim.start()
  sim.runUntil(5000)
  sim.partition('fw1', 'fw2', 'eth1')
  sim.runUntil(10_000)
  t.equal(sim.nodeState('fw2').routers.in?.want, 'master', 'fw2/in hears nothing and wants MASTER')
  t.equal(sim.nodeState('fw2').groups.fw?.state, 'backup', 'fw2/out still hears fw1: the group holds')
  sim.heal('fw1', 'fw2', 'eth1')
  sim.runUntil(15_000)
  t.same(groupLog(sim, 'fw1', 5000), [])
  t.same(groupLog(sim, 'fw2', 5000), [])
  t.equal(sim.nodeState('fw2').routers.in?.want, 'backup')
})

t.test('both sides\' links flapping: the groups never split, never flap without a cause, and settle on the better node', async t => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const rand = mulberry32(seed)
    const sim = new NetSim([firewall('fw1', '1', 200, 10), firewall('fw2', '2', 100, 10)])
    sim.start()
    sim.runUntil(5000)
    const cables = new Map<string, boolean>()
    const events: number[] = []
    let at = 5000
    for (let i = 0; i < 120; i++) {
      at += 200 + Math.floor(rand() * 1800) // 0.2 .. 2 s apart: some faster than a Master_Down_Interval
      sim.runUntil(at)
      const node = rand() < 0.5 ? 'fw1' : 'fw2'
      const ifname = rand() < 0.5 ? 'eth1' : 'eth2'
      const key = `${node}/${ifname}`
      const up = !(cables.get(key) ?? true)
      cables.set(key, up)
      sim.setCable(node, ifname, up)
      sim.input(node, { kind: 'interface', ifname, up })
      events.push(at)
    }
    at += 1000
    sim.runUntil(at)
    for (const [key, up] of cables) {
      if (up) continue
      const [node, ifname] = key.split('/') as [string, string]
      sim.setCable(node, ifname, true)
      sim.input(node, { kind: 'interface', ifname, up: true })
    }
    sim.runUntil(at + 10_000)

    for (const name of ['fw1', 'fw2']) {
      // All or nothing: every step that adds or removes VIPs does it for both members.
      for (const split of splitGroupSteps(sim, name)) t.fail(`seed ${seed} ${name} ${split}`)
      // No flap: a group that enters MASTER stays there at least one advert interval unless a link
      // event came in between (a master that hears the better peer yields at once, which is a
      // preemption, not a flap: it needs the peer's advert, which needs the links back).
      const log = sim.log.filter(r => r.kind === 'group' && r.node === name)
      for (let i = 1; i < log.length; i++) {
        const prev = log[i - 1] as typeof log[number]
        const cur = log[i] as typeof log[number]
        if (prev.kind !== 'group' || cur.kind !== 'group') continue
        if (prev.event.to !== 'master' || cur.at - prev.at >= 100) continue
        const cause = events.some(e => e >= prev.at - 400 && e <= cur.at)
        if (!cause) t.fail(`seed ${seed} ${name}: master at ${prev.at}, ${cur.event.to} at ${cur.at} without a link event`)
      }
    }
    t.equal(sim.nodeState('fw1').groups.fw?.state, 'master', `seed ${seed}: fw1 master at the end`)
    t.equal(sim.nodeState('fw2').groups.fw?.state, 'backup', `seed ${seed}: fw2 backup at the end`)
    t.equal(sim.stateOf('fw2', 'in'), 'backup')
    t.equal(sim.stateOf('fw2', 'out'), 'backup')
  }
})
