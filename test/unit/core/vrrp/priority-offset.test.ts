import t from 'tap'
import { routerPriority } from '../../../../src/core/vrrp/router.js'
import { advert, backupAt0, masterAfterDown } from '../../../helpers/vrrp-driver.js'

t.test('priorityOffset (architecture decision 5): a large demotion advertises priority 1 until removed', async t => {
  const d = masterAfterDown()
  const res = d.at(4000, { kind: 'priorityOffset', source: 'bulkSync', offset: -1000 })
  t.same(res.effects, [])
  t.equal(routerPriority(d.r), 1)
  t.same(d.fire().effects, [{ kind: 'sendAdvert', routerId: 'eth1/51', priority: 1 }])
  d.at(5000, { kind: 'priorityOffset', source: 'bulkSync', offset: 0 })
  t.same(d.r.offsets, {}, 'offset 0 removes the source')
  t.same(d.fire().effects, [{ kind: 'sendAdvert', routerId: 'eth1/51', priority: 100 }])
})

t.test('priorityOffset: sources add up, each replaceable on its own', async t => {
  const d = backupAt0()
  d.at(1, { kind: 'priorityOffset', source: 'a', offset: -10 })
  d.at(2, { kind: 'priorityOffset', source: 'b', offset: 30 })
  t.equal(routerPriority(d.r), 120)
  d.at(3, { kind: 'priorityOffset', source: 'a', offset: -50 })
  t.equal(routerPriority(d.r), 80)
})

t.test('priorityOffset: a demoted Backup follows a lower master instead of preempting it (RFC 5798 §6.4.2)', async t => {
  const d = backupAt0({ priority: 200 })
  t.same(d.at(1000, advert('192.0.2.2', 100)).drops, ['lowerPriorityPreempting'])
  d.at(1100, { kind: 'priorityOffset', source: 'bulkSync', offset: -250 })
  const res = d.at(2000, advert('192.0.2.2', 100))
  t.same(res.drops, [])
  // Skew_Time with priority 1: floor(255 × 1000 / 256) = 996.
  t.equal(res.deadline, 2000 + 3996)
})

t.test('priorityOffset: the owner is never demoted', async t => {
  const d = backupAt0({ priority: 255 })
  d.at(1, { kind: 'priorityOffset', source: 'bulkSync', offset: -250 })
  t.equal(routerPriority(d.r), 255)
})
