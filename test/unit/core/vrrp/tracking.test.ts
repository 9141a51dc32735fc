import t from 'tap'
import { effectivePriority } from '../../../../src/core/vrrp/election.js'
import { routerPriority, routerSnapshot } from '../../../../src/core/vrrp/router.js'
import { advert, backupAt0, Driver, masterAfterDown, routerConfig } from '../../../helpers/vrrp-driver.js'

const vips = [{ address: '192.0.2.100', prefix: 24, family: 'ipv4' as const }]

t.test('keepalived weights: +w while up, −w while down, clamped to 1..254; owner stays 255', async t => {
  const cfg = routerConfig({ primaryAddress: '192.0.2.1', track: { up20: 20, down30: -30, chk: 0 } })
  t.equal(effectivePriority(cfg, {}, {}), 120, 'all up (the default): +20')
  t.equal(effectivePriority(cfg, { up20: false }, {}), 100)
  t.equal(effectivePriority(cfg, { down30: false }, {}), 90)
  t.equal(effectivePriority(cfg, { up20: false, down30: false }, {}), 70)
  t.equal(effectivePriority(cfg, { chk: false }, {}), 120, 'weight 0 never changes the priority')
  t.equal(effectivePriority({ ...cfg, priority: 250 }, {}, {}), 254)
  t.equal(effectivePriority({ ...cfg, priority: 10 }, { up20: false, down30: false }, {}), 1)
  t.equal(effectivePriority({ ...cfg, priority: 255 }, { up20: false, down30: false }, { x: -100 }), 255)
})

t.test('tracking: a weight change in Master takes effect in the next advert', async t => {
  const d = masterAfterDown({ track: { uplink: -60 } })
  const res = d.at(4000, { kind: 'trackState', name: 'uplink', up: false })
  t.same(res.effects, [], 'no immediate advert')
  t.same(res.transitions, [])
  t.equal(routerPriority(d.r), 40)
  t.same(d.fire().effects, [{ kind: 'sendAdvert', routerId: 'eth1/51', priority: 40 }])
})

t.test('tracking: a weight change in Backup changes Skew_Time and the preemption decision', async t => {
  const d = backupAt0({ track: { uplink: 60 } })
  t.equal(d.last?.deadline, 3000 + Math.floor(96 * 1000 / 256), 'priority 160 at startup → skew 375')
  let res = d.at(1000, advert('192.0.2.2', 150))
  t.same(res.drops, ['lowerPriorityPreempting'], '150 < 160: preempt')
  d.at(1500, { kind: 'trackState', name: 'uplink', up: false })
  res = d.at(2000, advert('192.0.2.2', 150))
  t.same(res.drops, [], '150 ≥ 100 now: follow')
  t.equal(res.deadline, 2000 + 3609)
})

t.test('FAULT: weight-0 tracked object down in Master → priority-0 advert, VIPs removed; cleared → Backup', async t => {
  const d = masterAfterDown({ track: { fw: 0 } })
  const res = d.at(4000, { kind: 'trackState', name: 'fw', up: false })
  t.equal(d.r.state, 'fault')
  t.same(res.effects, [
    { kind: 'sendAdvert', routerId: 'eth1/51', priority: 0 },
    { kind: 'vipDel', routerId: 'eth1/51', vips }
  ], 'architecture decision 2: priority 0 on leaving Master while the interface is up')
  t.equal(res.deadline, null)
  t.same(res.transitions, [{ routerId: 'eth1/51', from: 'master', to: 'fault', reason: 'trackDown', at: 4000, priority: 100 }])
  t.same(routerSnapshot(d.r).faults, ['track:fw'])
  t.same(d.at(4100, advert('192.0.2.2', 50)).drops, ['inFault'])
  const back = d.at(5000, { kind: 'trackState', name: 'fw', up: true })
  t.equal(d.r.state, 'backup')
  t.same(back.effects, [], 'VIPs already gone')
  t.equal(back.deadline, 5000 + 3609)
  t.equal(back.transitions[0]?.reason, 'faultCleared')
})

t.test('FAULT: own interface down in Master → no advert (cannot send), VIPs removed', async t => {
  const d = masterAfterDown()
  const res = d.at(4000, { kind: 'interfaceState', up: false })
  t.equal(d.r.state, 'fault')
  t.same(res.effects, [{ kind: 'vipDel', routerId: 'eth1/51', vips }])
  t.equal(res.transitions[0]?.reason, 'interfaceDown')
  t.equal(d.r.counters.priorityZeroSent, 0)
})

t.test('FAULT: several causes; cleared only when the last one clears; owner returns to Master', async t => {
  const d = new Driver(routerConfig({ primaryAddress: '192.0.2.1', priority: 255, track: { a: 0, b: 0 } }))
  d.at(0, { kind: 'startup' })
  t.equal(d.r.state, 'master')
  d.at(10, { kind: 'trackState', name: 'a', up: false })
  d.at(20, { kind: 'interfaceState', up: false })
  d.at(30, { kind: 'trackState', name: 'b', up: false })
  t.same(routerSnapshot(d.r).faults, ['interface:eth1', 'track:a', 'track:b'])
  d.at(40, { kind: 'trackState', name: 'a', up: true })
  d.at(50, { kind: 'interfaceState', up: true })
  t.equal(d.r.state, 'fault')
  const res = d.at(60, { kind: 'trackState', name: 'b', up: true })
  t.equal(d.r.state, 'master', 'RFC 5798 §6.4.1 owner rule applies when leaving FAULT')
  t.same(res.effects.map(e => e.kind), ['sendAdvert', 'vipAdd', 'garp'])
  t.equal(d.r.counters.transitions, 3, 'initialize→master, master→fault, fault→master')
})

t.test('FAULT from Backup: no effects; timers cancelled', async t => {
  const d = backupAt0({ track: { fw: 0 } })
  const res = d.at(100, { kind: 'trackState', name: 'fw', up: false })
  t.equal(d.r.state, 'fault')
  t.same(res.effects, [])
  t.equal(res.deadline, null)
})

t.test('Unknown tracked name is a named drop', async t => {
  const d = backupAt0()
  t.same(d.at(1, { kind: 'trackState', name: 'nope', up: false }).drops, ['unknownTrack'])
})

t.test('primaryAddress input updates the tie-break and the loopback check', async t => {
  const d = masterAfterDown({ primaryAddress: '192.0.2.5' })
  t.same(d.at(4000, { kind: 'primaryAddress', address: 'fe80::1' }).drops, ['badPrimaryAddress'])
  d.at(4001, { kind: 'primaryAddress', address: '192.0.2.250' })
  t.same(d.at(4002, advert('192.0.2.250', 100)).drops, ['ownAdvert'])
  t.same(d.at(4003, advert('192.0.2.200', 100)).drops, ['lowerPriorityAsMaster'], '.200 < .250 now')
})
