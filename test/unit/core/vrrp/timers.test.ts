import t from 'tap'
import { csToMs, masterDownInterval, skewTime } from '../../../../src/core/vrrp/timers.js'

t.test('RFC 5798 §6.1: Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256, truncated to ms', async t => {
  t.equal(skewTime(3, 100, 100), 609, 'priority 100, 1 s: 609.375 ms → 609')
  t.equal(skewTime(3, 100, 10), 60, 'priority 100, 100 ms: 60.9375 ms → 60')
  t.equal(skewTime(3, 200, 10), 21, 'priority 200, 100 ms: 21.875 ms → 21')
  t.equal(skewTime(3, 254, 100), 7, 'priority 254, 1 s: 7.8125 ms → 7')
  t.equal(skewTime(3, 1, 100), 996, 'priority 1, 1 s: 996.09 ms → 996')
  t.equal(skewTime(3, 255, 100), 3, 'priority 255 (owner): 3.9 ms → 3')
  t.equal(skewTime(3, 128, 4095), 20475, 'largest interval: exact, no overflow')
})

t.test('RFC 5798 §6.1: Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time', async t => {
  t.equal(masterDownInterval(3, 100, 100), 3609)
  t.equal(masterDownInterval(3, 100, 10), 360)
  t.equal(masterDownInterval(3, 200, 10), 321)
  t.equal(masterDownInterval(3, 150, 50), 1500 + 207, 'learned 500 ms interval: skew 207.03 → 207')
})

t.test('RFC 3768 §6.1 (v2): Skew_Time = (256 − Priority) / 256 s, independent of the interval', async t => {
  t.equal(skewTime(2, 100, 100), 609)
  t.equal(skewTime(2, 100, 300), 609, 'same skew at 3 s adverts')
  t.equal(masterDownInterval(2, 100, 100), 3609)
  t.equal(masterDownInterval(2, 100, 300), 9609)
  t.equal(masterDownInterval(2, 254, 100), 3007)
})

t.test('RFC 5798 §6.1: our truncation equals keepalived 2.2 microsecond value truncated to ms', async t => {
  // keepalived: v3 ((256 − p) × interval_cs × 625) / 16 µs; v2 (256 − p) × 1 000 000 / 256 µs.
  let checked = 0
  for (let p = 1; p <= 255; p++) {
    for (const cs of [1, 3, 10, 25, 50, 100, 150, 1000, 4095]) {
      const kaV3 = Math.floor(((256 - p) * cs * 625) / 16)
      if (skewTime(3, p, cs) !== Math.floor(kaV3 / 1000)) t.fail(`v3 p=${p} cs=${cs}`)
      checked++
    }
    const kaV2 = Math.floor(((256 - p) * 1_000_000) / 256)
    if (skewTime(2, p, 100) !== Math.floor(kaV2 / 1000)) t.fail(`v2 p=${p}`)
  }
  t.equal(checked, 255 * 9)
  t.equal(csToMs(7), 70)
})
