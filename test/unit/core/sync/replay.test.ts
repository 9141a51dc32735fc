// The anti-replay window of authenticated sync (src/core/sync/replay.ts), RFC 4303 §3.4.3 style.
import t from 'tap'
import { acceptCounter, EMPTY_REPLAY_WINDOW, REPLAY_WINDOW } from '../../../../src/core/sync/replay.js'
import type { ReplayWindow } from '../../../../src/core/sync/replay.js'

function run (counters: readonly number[]): Array<boolean> {
  let w: ReplayWindow = EMPTY_REPLAY_WINDOW
  return counters.map(c => {
    const n = acceptCounter(w, c)
    if (n !== null) w = n
    return n !== null
  })
}

t.test('in order, duplicates, reordering inside the window, too old', async t => {
  const base = 1_764_000_000_000_000
  t.same(run([base, base + 1, base + 1, base + 3, base + 2, base + 2]), [true, true, false, true, true, false])
  t.same(run([base + 100, base + 100 - (REPLAY_WINDOW - 1), base + 100 - REPLAY_WINDOW]), [true, true, false], 'the window is REPLAY_WINDOW counters wide')
  t.same(run([base, base + 1000, base + 999, base]), [true, true, true, false], 'a big jump slides the whole window')
  t.same(run([base, base - 1]), [true, true], 'the first counter only sets the top')
})

t.test('counters that are not safe non-negative integers are refused', async t => {
  t.equal(acceptCounter(EMPTY_REPLAY_WINDOW, -1), null)
  t.equal(acceptCounter(EMPTY_REPLAY_WINDOW, 1.5), null)
  t.equal(acceptCounter(EMPTY_REPLAY_WINDOW, 2 ** 53), null)
})
