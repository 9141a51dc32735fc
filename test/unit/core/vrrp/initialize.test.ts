import t from 'tap'
import { createRouter, routerSnapshot, stepRouter } from '../../../../src/core/vrrp/router.js'
import { Driver, advert, routerConfig } from '../../../helpers/vrrp-driver.js'

const vip4 = { address: '192.0.2.100', prefix: 24, family: 'ipv4' as const }

t.test('RFC 5798 §6.4.1: Startup, not the owner → Backup with Master_Down_Timer = Master_Down_Interval', async t => {
  const d = new Driver(routerConfig({ primaryAddress: '192.0.2.1' }))
  const res = d.at(1000, { kind: 'startup' })
  t.equal(d.r.state, 'backup')
  t.equal(res.deadline, 1000 + 3609, '3 × 1000 + 609 ms')
  t.same(res.effects, [{ kind: 'vipDel', routerId: 'eth1/51', vips: [vip4] }], 'stale VIPs of a previous run are removed')
  t.equal(res.ctCommitAt, null)
  t.same(res.transitions, [{ routerId: 'eth1/51', from: 'initialize', to: 'backup', reason: 'startup', at: 1000, priority: 100 }])
  t.equal(d.r.masterAdverIntervalCs, 100, 'Master_Adver_Interval = Advertisement_Interval')
  t.equal(d.r.counters.transitions, 1)
  t.same(d.r.lastTransition, res.transitions[0])
})

t.test('RFC 5798 §6.4.1: Startup, Priority 255 (owner) → Master at once; entry plan order', async t => {
  const d = new Driver(routerConfig({ primaryAddress: '192.0.2.1', priority: 255, advertIntervalCs: 10 }))
  const res = d.at(500, { kind: 'startup' })
  t.equal(d.r.state, 'master')
  t.same(res.effects, [
    { kind: 'sendAdvert', routerId: 'eth1/51', priority: 255 },
    { kind: 'vipAdd', routerId: 'eth1/51', vips: [vip4] },
    { kind: 'garp', routerId: 'eth1/51', vips: [vip4], count: 5 }
  ])
  t.equal(res.ctCommitAt, 1, 'ctCommit goes after the advert, before vipAdd')
  t.equal(res.deadline, 600, 'Adver_Timer = Advertisement_Interval (100 ms)')
  t.equal(res.transitions[0]?.reason, 'ownerStartup')
  t.equal(d.r.counters.advertsSent, 1)
})

t.test('RFC 5798 §6.4.1: IPv6 owner announces with unsolicited NA', async t => {
  const cfg = routerConfig({ primaryAddress: 'fe80::1', family: 'ipv6', priority: 255, announce: { delayMs: 0, repeat: 2, refreshMs: 0 } })
  const res = stepRouter(createRouter(cfg), { kind: 'startup' }, 0)
  t.same(res.effects.map(e => e.kind), ['sendAdvert', 'vipAdd', 'unsolicitedNa'])
  t.match(res.effects[2], { count: 2, vips: [{ address: '2001:db8::100' }] })
})

t.test('RFC 5798 §6.4.1: mixed-family VIPs (explicit dev) announce per family', async t => {
  const cfg = routerConfig({
    primaryAddress: '192.0.2.1',
    priority: 255,
    vips: [vip4, { address: '2001:db8::1', prefix: 64, family: 'ipv6', dev: 'eth1' }]
  })
  const res = stepRouter(createRouter(cfg), { kind: 'startup' }, 0)
  t.same(res.effects.map(e => e.kind), ['sendAdvert', 'vipAdd', 'garp', 'unsolicitedNa'])
})

t.test('Startup is valid only in Initialize; other inputs before Startup', async t => {
  const d = new Driver(routerConfig({ primaryAddress: '192.0.2.1' }))
  t.same(d.at(0, advert('192.0.2.2', 100)).drops, ['notRunning'], 'advert before Startup')
  t.same(d.at(0, { kind: 'timeout' }).drops, ['noTimerDue'])
  t.same(d.at(0, { kind: 'shutdown' }).drops, ['notStarted'])
  d.at(0, { kind: 'startup' })
  const again = d.at(10, { kind: 'startup' })
  t.same(again.drops, ['alreadyRunning'])
  t.same(again.effects, [])
  t.equal(again.deadline, 3609, 'timer untouched')
  t.equal(d.r.counters.drops.notRunning, 1)
  t.equal(d.r.counters.drops.alreadyRunning, 1)
})

t.test('Startup with the interface already down → FAULT, no timers', async t => {
  const d = new Driver(routerConfig({ primaryAddress: '192.0.2.1', priority: 255 }))
  d.at(0, { kind: 'interfaceState', up: false })
  t.equal(d.r.state, 'initialize', 'not started yet: only recorded')
  const res = d.at(5, { kind: 'startup' })
  t.equal(d.r.state, 'fault')
  t.equal(res.deadline, null)
  t.equal(res.transitions[0]?.reason, 'interfaceDown')
  t.same(routerSnapshot(d.r).faults, ['interface:eth1'])
})

t.test('createRouter refuses impossible configs', async t => {
  t.throws(() => createRouter(routerConfig({ primaryAddress: 'nope' })), RangeError)
  t.throws(() => createRouter(routerConfig({ primaryAddress: 'fe80::1' })), RangeError, 'family mismatch')
  t.throws(() => createRouter(routerConfig({ primaryAddress: '192.0.2.1', vrid: 0 })), RangeError)
  t.throws(() => createRouter(routerConfig({ primaryAddress: '192.0.2.1', priority: 0 })), RangeError)
  t.throws(() => createRouter(routerConfig({ primaryAddress: '192.0.2.1', advertIntervalCs: 0 })), RangeError)
  t.throws(() => createRouter(routerConfig({ primaryAddress: '192.0.2.1', advertIntervalCs: 4096 })), RangeError)
  t.throws(() => createRouter(routerConfig({ primaryAddress: '192.0.2.1', vips: [{ address: '2001:db8::1', prefix: 64, family: 'ipv6' }] })), RangeError)
})

t.test('step is pure: the input router is not modified', async t => {
  const r0 = createRouter(routerConfig({ primaryAddress: '192.0.2.1' }))
  const before = JSON.stringify(r0)
  const r1 = stepRouter(r0, { kind: 'startup' }, 0).router
  stepRouter(r1, { kind: 'timeout' }, 3609)
  stepRouter(r1, { kind: 'trackState', name: 'x', up: false }, 1)
  stepRouter(r1, { kind: 'priorityOffset', source: 's', offset: -5 }, 1)
  t.equal(JSON.stringify(r0), before)
  t.equal(r1.state, 'backup')
  t.same(r1.offsets, {})
})
