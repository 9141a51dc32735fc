import t from 'tap'
import { createRouter } from '../../../../src/core/vrrp/router.js'
import { advert, backupAt0, masterAfterDown, routerConfig } from '../../../helpers/vrrp-driver.js'

const v2 = { version: 2 as const }

t.test('RFC 3768 §6.4.1/§6.1: v2 Backup, Master_Down_Interval = 3 × Advertisement_Interval + (256 − p)/256 s', async t => {
  const d = backupAt0({ ...v2, advertIntervalCs: 300 })
  t.equal(d.last?.deadline, 9000 + 609)
  d.at(1000, advert('192.0.2.2', 200, 300))
  t.equal(d.last?.deadline, 1000 + 9609)
})

t.test('RFC 3768 §7.1: advert with another Adver Int is discarded (named drop), timer untouched', async t => {
  const d = backupAt0(v2)
  const res = d.at(1000, advert('192.0.2.2', 200, 200))
  t.same(res.drops, ['intervalMismatch'])
  t.equal(res.deadline, 3609)
  t.equal(d.r.counters.drops.intervalMismatch, 1)
  t.equal(d.r.counters.advertsReceived, 0)
  t.equal(d.r.masterAdverIntervalCs, 100, 'v2 never learns an interval')
})

t.test('RFC 3768 §7.1: a v2 Master also discards a higher-priority advert with another interval', async t => {
  const d = masterAfterDown(v2)
  const res = d.at(4000, advert('192.0.2.2', 250, 200))
  t.same(res.drops, ['intervalMismatch'])
  t.equal(d.r.state, 'master')
})

t.test('RFC 3768 §6.4.2: v2 priority 0 → Master_Down_Timer = Skew_Time', async t => {
  const d = backupAt0(v2)
  const res = d.at(1000, advert('192.0.2.2', 0, 100))
  t.equal(res.deadline, 1609)
})

t.test('RFC 3768 §6.4.3: v2 Master preempted → Backup with the configured interval', async t => {
  const d = masterAfterDown({ ...v2, advertIntervalCs: 200 })
  const res = d.at(8000, advert('192.0.2.2', 101, 200))
  t.equal(d.r.state, 'backup')
  t.equal(res.deadline, 8000 + 6609)
})

t.test('RFC 3768 §5.3.7: v2 is IPv4 only and whole seconds', async t => {
  t.throws(() => createRouter(routerConfig({ ...v2, family: 'ipv6', primaryAddress: 'fe80::1' })), RangeError)
  t.throws(() => createRouter(routerConfig({ ...v2, primaryAddress: '192.0.2.1', advertIntervalCs: 150 })), RangeError)
})
