// 32-bit serial arithmetic for FTFW sequence numbers, especially across the 2^32 wrap.
import t from 'tap'
import { seq, seqAdd, seqAfter, seqBefore, seqBetween, seqDiff, seqDistance, seqNext } from '../../../../src/core/sync/seq.js'

const MAX = 0xffffffff

t.test('seqNext and seqAdd wrap at 2^32', t => {
  t.equal(seqNext(0), 1)
  t.equal(seqNext(MAX - 1), MAX)
  t.equal(seqNext(MAX), 0)
  t.equal(seqAdd(MAX, 2), 1)
  t.equal(seqAdd(0, -1), MAX)
  t.equal(seqAdd(5, -(2 ** 32)), 5)
  t.equal(seq(-1), MAX)
  t.equal(seq(2 ** 32 + 7), 7)
  t.end()
})

t.test('before/after: signed 32-bit difference', t => {
  t.ok(seqBefore(1, 2))
  t.notOk(seqBefore(2, 1))
  t.notOk(seqBefore(5, 5))
  t.notOk(seqAfter(5, 5))
  // across the wrap: MAX is just before 0
  t.ok(seqBefore(MAX, 0))
  t.ok(seqAfter(0, MAX))
  t.ok(seqBefore(MAX - 10, 10))
  t.ok(seqAfter(10, MAX - 10))
  // half-way point: a - b = 2^31 is negative as int32, so "before"
  t.ok(seqBefore(0x80000000, 0))
  t.notOk(seqBefore(0x7fffffff, 0))
  t.equal(seqDiff(0, MAX), 1)
  t.equal(seqDiff(MAX, 0), -1)
  t.equal(seqDiff(0x7fffffff, 0), 0x7fffffff)
  t.equal(seqDiff(0x80000000, 0), -0x80000000)
  // a restarted conntrackd picks up a lower Unix time as its base: before the old counter
  t.ok(seqBefore(0x6b049103, 0x6b04916f))
  t.end()
})

t.test('between is inclusive and follows the circle', t => {
  t.ok(seqBetween(5, 5, 9))
  t.ok(seqBetween(9, 5, 9))
  t.ok(seqBetween(7, 5, 9))
  t.notOk(seqBetween(4, 5, 9))
  t.notOk(seqBetween(10, 5, 9))
  // range across the wrap
  t.ok(seqBetween(MAX, MAX - 1, 2))
  t.ok(seqBetween(0, MAX - 1, 2))
  t.ok(seqBetween(2, MAX - 1, 2))
  t.notOk(seqBetween(3, MAX - 1, 2))
  t.notOk(seqBetween(MAX - 2, MAX - 1, 2))
  // single-element range
  t.ok(seqBetween(MAX, MAX, MAX))
  t.notOk(seqBetween(0, MAX, MAX))
  t.end()
})

t.test('distance is the forward u32 count', t => {
  t.equal(seqDistance(5, 9), 4)
  t.equal(seqDistance(MAX, 0), 1)
  t.equal(seqDistance(MAX - 1, 2), 4)
  t.equal(seqDistance(9, 5), 2 ** 32 - 4)
  t.equal(seqDistance(7, 7), 0)
  t.end()
})
