import t from 'tap'
import { advert, masterAfterDown } from '../../../helpers/vrrp-driver.js'

const vips = [{ address: '192.0.2.100', prefix: 24, family: 'ipv4' as const }]

t.test('RFC 5798 §6.4.3: Adver_Timer fires → send ADVERTISEMENT, re-arm', async t => {
  const d = masterAfterDown()
  let res = d.fire()
  t.same(res.effects, [{ kind: 'sendAdvert', routerId: 'eth1/51', priority: 100 }])
  t.equal(res.deadline, 3609 + 2000)
  t.same(res.transitions, [])
  res = d.fire()
  t.equal(res.deadline, 3609 + 3000)
  t.equal(d.r.counters.advertsSent, 3)
})

t.test('RFC 5798 §6.4.3: priority 0 received → send ADVERTISEMENT and reset Adver_Timer', async t => {
  const d = masterAfterDown()
  const res = d.at(4000, advert('192.0.2.2', 0))
  t.same(res.effects, [{ kind: 'sendAdvert', routerId: 'eth1/51', priority: 100 }])
  t.equal(res.deadline, 5000)
  t.equal(d.r.state, 'master')
})

t.test('RFC 5798 §6.4.3: higher priority → Backup; no priority 0, VIPs removed, Master_Down_Timer from the advert interval', async t => {
  const d = masterAfterDown()
  const res = d.at(4000, advert('192.0.2.2', 120, 20))
  t.equal(d.r.state, 'backup')
  t.same(res.effects, [{ kind: 'vipDel', routerId: 'eth1/51', vips }])
  t.equal(d.r.masterAdverIntervalCs, 20)
  // 3 × 200 + floor(156 × 20 × 10 / 256) = 600 + 121
  t.equal(res.deadline, 4000 + 721)
  t.equal(d.r.timers.adver, null, 'Adver_Timer cancelled')
  t.same(res.transitions, [{ routerId: 'eth1/51', from: 'master', to: 'backup', reason: 'preempted', at: 4000, priority: 100 }])
})

t.test('RFC 5798 §6.4.3: equal priority, greater primary address → Backup', async t => {
  const d = masterAfterDown()
  d.at(4000, advert('192.0.2.200', 100))
  t.equal(d.r.state, 'backup')
})

t.test('RFC 5798 §6.4.3: equal priority, lower address; or lower priority → discard', async t => {
  const d = masterAfterDown({ primaryAddress: '192.0.2.50' })
  let res = d.at(4000, advert('192.0.2.9', 100))
  t.same(res.drops, ['lowerPriorityAsMaster'])
  t.same(res.effects, [])
  t.equal(res.deadline, 4609, 'Adver_Timer unchanged')
  res = d.at(4100, advert('192.0.2.200', 99))
  t.same(res.drops, ['lowerPriorityAsMaster'])
  t.equal(d.r.state, 'master')
  t.equal(d.r.counters.drops.lowerPriorityAsMaster, 2)
})

t.test('RFC 5798 §6.4.3: the address tie-break is numeric, not textual', async t => {
  const d = masterAfterDown({ primaryAddress: '192.0.2.9' })
  d.at(4000, advert('192.0.2.10', 100))
  t.equal(d.r.state, 'backup', '.10 > .9 although "10" < "9" as text')
})

t.test('RFC 5798 §6.4.3: Shutdown in Master → priority-0 advert, VIPs removed, Initialize; idempotent', async t => {
  const d = masterAfterDown()
  const res = d.at(4000, { kind: 'shutdown' })
  t.same(res.effects, [
    { kind: 'sendAdvert', routerId: 'eth1/51', priority: 0 },
    { kind: 'vipDel', routerId: 'eth1/51', vips }
  ])
  t.equal(d.r.state, 'initialize')
  t.equal(res.deadline, null)
  t.equal(d.r.counters.priorityZeroSent, 1)
  const again = d.at(4001, { kind: 'shutdown' })
  t.same(again.effects, [])
  t.same(again.drops, ['notStarted'])
  t.same(d.at(4002, advert('192.0.2.2', 100)).drops, ['notRunning'])
})

t.test('Shutdown in Backup: no advert, no VIP change', async t => {
  const d = masterAfterDown()
  d.at(4000, advert('192.0.2.2', 200))
  const res = d.at(4100, { kind: 'shutdown' })
  t.same(res.effects, [])
  t.equal(res.deadline, null)
  t.equal(d.r.state, 'initialize')
})

t.test('keepalived garp_master_delay / garp_master_refresh: second round and refresh rounds', async t => {
  const d = masterAfterDown({ announce: { delayMs: 5000, repeat: 3, refreshMs: 60000 } })
  t.equal(d.r.timers.announce, 3609 + 5000)
  t.equal(d.r.timers.refresh, 3609 + 60000)
  // Run adverts until the second round.
  let garps = 0
  while (d.r.timers.announce !== null) {
    const res = d.fire()
    garps += res.effects.filter(e => e.kind === 'garp').length
    if (res.effects.some(e => e.kind === 'garp')) {
      t.equal(d.last?.router.timers.announce, null)
      t.same(res.effects.find(e => e.kind === 'garp'), { kind: 'garp', routerId: 'eth1/51', vips, count: 3 })
    }
  }
  t.equal(garps, 1, 'exactly one second round')
  // 8609: the 5th advert and the second round are due at the same instant (5000 is a multiple of 1000).
  t.equal(d.last?.effects.map(e => e.kind).join(','), 'sendAdvert,garp')
  let refreshAt = -1
  for (let i = 0; i < 60 && refreshAt < 0; i++) {
    const res = d.fire()
    if (res.effects.some(e => e.kind === 'garp')) refreshAt = d.last?.router.timers.adver as number - 1000
  }
  t.equal(refreshAt, 3609 + 60000)
  t.equal(d.r.timers.refresh, 3609 + 120000, 'refresh re-armed')
  // Leaving Master clears the announce timers.
  d.at(d.r.timers.adver as number - 1, advert('192.0.2.2', 200))
  t.same(d.r.timers, { adver: null, masterDown: d.r.timers.masterDown, announce: null, refresh: null })
})

t.test('FRR rule: a timer firing in a state that cannot arm it is an error-level drop, not silence', async t => {
  const d = masterAfterDown()
  // Forge an impossible router: Master with a Master_Down_Timer.
  d.r = { ...d.r, timers: { ...d.r.timers, masterDown: 4000 } }
  const res = d.at(4000, { kind: 'timeout' })
  t.same(res.drops, ['bugTimerInWrongState'])
  t.equal(d.r.state, 'master')
  t.equal(d.r.timers.masterDown, null)
  t.same(res.transitions, [])
})
