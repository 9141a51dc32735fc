import t from 'tap'
import { routerSnapshot } from '../../../../src/core/vrrp/router.js'
import { advert, backupAt0 } from '../../../helpers/vrrp-driver.js'

t.test('RFC 5798 §6.4.2: Master_Down_Timer fires → Master, at exactly the deadline', async t => {
  const d = backupAt0()
  const res = d.fire()
  t.equal(d.r.state, 'master')
  t.same(res.transitions, [{ routerId: 'eth1/51', from: 'backup', to: 'master', reason: 'masterDown', at: 3609, priority: 100 }])
  t.same(res.effects.map(e => e.kind), ['sendAdvert', 'vipAdd', 'garp'])
  t.match(res.effects[0], { priority: 100 })
  t.equal(res.ctCommitAt, 1)
  t.equal(res.deadline, 3609 + 1000, 'Adver_Timer armed')
})

t.test('RFC 5798 §6.4.2: advert with priority ≥ local resets Master_Down_Timer', async t => {
  const d = backupAt0()
  let res = d.at(2000, advert('192.0.2.2', 150))
  t.equal(res.deadline, 2000 + 3609)
  t.same(res.effects, [])
  res = d.at(4000, advert('192.0.2.2', 100))
  t.equal(res.deadline, 4000 + 3609, 'equal priority is accepted too')
  t.equal(d.r.state, 'backup')
  t.same(d.r.lastMaster, { address: '192.0.2.2', priority: 100, adverIntervalCs: 100, at: 4000 })
  t.equal(d.r.counters.advertsReceived, 2)
})

t.test('RFC 5798 §6.4.2: v3 Backup learns Master_Adver_Interval from the advert', async t => {
  const d = backupAt0()
  const res = d.at(100, advert('192.0.2.2', 200, 50))
  t.equal(d.r.masterAdverIntervalCs, 50)
  // 3 × 500 + floor(156 × 50 × 10 / 256) = 1500 + 304
  t.equal(res.deadline, 100 + 1804)
  t.equal(routerSnapshot(d.r).masterAdverIntervalCs, 50)
})

t.test('RFC 5798 §6.4.2: priority 0 → Master_Down_Timer = Skew_Time', async t => {
  const d = backupAt0()
  d.at(100, advert('192.0.2.2', 200, 10))
  const res = d.at(700, advert('192.0.2.2', 0, 10))
  // Skew_Time with the learned 10 cs: floor(156 × 100 / 256) = 60
  t.equal(res.deadline, 760)
  t.equal(d.r.counters.priorityZeroReceived, 1)
  const up = d.fire()
  t.equal(up.transitions[0]?.at, 760)
  t.equal(d.r.state, 'master')
})

t.test('RFC 5798 §6.4.2: lower priority with Preempt_Mode true → discard (timer keeps running)', async t => {
  const d = backupAt0({ priority: 150 })
  const first = d.at(0, { kind: 'timeout' })
  t.same(first.drops, ['noTimerDue'])
  const res = d.at(1000, advert('192.0.2.2', 100))
  t.same(res.drops, ['lowerPriorityPreempting'])
  t.equal(res.deadline, 3000 + Math.floor(106 * 1000 / 256), 'still the startup deadline (3414)')
  t.equal(d.r.lastMaster?.priority, 100, 'the master is still recorded for status')
  const up = d.fire()
  t.equal(up.transitions[0]?.at, 3414)
})

t.test('RFC 5798 §6.4.2: lower priority with Preempt_Mode false → accepted, timer reset', async t => {
  const d = backupAt0({ priority: 150, preempt: false })
  const res = d.at(1000, advert('192.0.2.2', 100))
  t.same(res.drops, [])
  t.equal(res.deadline, 1000 + 3414)
})

t.test('RFC 5798 §6.1: the owner preempts even with preempt false', async t => {
  const d = backupAt0({ priority: 150, preempt: false })
  t.equal(d.r.state, 'backup')
  // An owner is never Backup after startup; check the predicate through a Backup owner made by a higher owner.
  const o = backupAt0({ priority: 255, preempt: false })
  t.equal(o.r.state, 'master')
  const res = o.at(10, advert('192.0.2.9', 255))
  t.equal(o.r.state, 'backup', 'two owners: the higher address wins (§6.4.3)')
  t.same(res.effects.map(e => e.kind), ['vipDel'])
  const lower = o.at(20, advert('192.0.2.9', 100))
  t.same(lower.drops, ['lowerPriorityPreempting'], 'a Backup owner discards lower adverts')
})

t.test('keepalived preempt_delay: preemption only from startup + delay, restarted by a ≥ advert', async t => {
  const d = backupAt0({ priority: 150, preemptDelayMs: 5000 })
  t.equal(d.r.preemptNotBefore, 5000)
  let res = d.at(1000, advert('192.0.2.2', 100))
  t.same(res.drops, [], 'inside the delay the lower master is followed')
  t.equal(res.deadline, 1000 + 3414)
  res = d.at(4999, advert('192.0.2.2', 100))
  t.equal(res.deadline, 4999 + 3414)
  res = d.at(5000, advert('192.0.2.2', 100))
  t.same(res.drops, ['lowerPriorityPreempting'], 'delay over: discard and preempt')
  t.equal(res.deadline, 4999 + 3414)
  // A higher master clears the delay; the next lower advert starts a new one at now + delay.
  res = d.at(6000, advert('192.0.2.3', 200))
  t.equal(d.r.preemptNotBefore, null)
  res = d.at(7000, advert('192.0.2.2', 100))
  t.same(res.drops, [])
  t.equal(d.r.preemptNotBefore, 12000)
  res = d.at(12000, advert('192.0.2.2', 100))
  t.same(res.drops, ['lowerPriorityPreempting'])
})

t.test('Own advert looped back is ignored and counted', async t => {
  const d = backupAt0()
  const res = d.at(1000, advert('192.0.2.1', 100))
  t.same(res.drops, ['ownAdvert'])
  t.equal(res.deadline, 3609, 'timer untouched')
  t.equal(d.r.counters.drops.ownAdvert, 1)
  t.equal(d.r.counters.advertsReceived, 0)
})

t.test('Advert from an address of the wrong family or garbage is dropped', async t => {
  const d = backupAt0()
  t.same(d.at(1, advert('fe80::2', 100)).drops, ['badSourceAddress'])
  t.same(d.at(2, advert('not-an-ip', 100)).drops, ['badSourceAddress'])
})

t.test('RFC 5798 §7.1: a different address list is counted but the advert is still accepted', async t => {
  const d = backupAt0()
  const res = d.at(1000, advert('192.0.2.2', 100, 100, ['192.0.2.101']))
  t.equal(res.deadline, 1000 + 3609)
  t.equal(d.r.counters.addressListMismatch, 1)
  d.at(2000, advert('192.0.2.2', 100, 100, ['192.0.2.100']))
  t.equal(d.r.counters.addressListMismatch, 1, 'matching list not counted')
})
