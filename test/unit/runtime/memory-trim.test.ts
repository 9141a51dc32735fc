// The periodic malloc_trim (src/runtime/memory-trim.ts) on a scripted timer: first after the startup
// delay, then every period, counted; a throwing trim is counted, not fatal; stop cancels it.
import t from 'tap'
import { startMemoryTrim, MEMORY_TRIM_EVERY_MS, MEMORY_TRIM_FIRST_MS } from '../../../src/runtime/memory-trim.js'

/** A timer list the test fires by hand, with the virtual time of each firing. */
function fakeTimers (): { schedule: (fn: () => void, ms: number) => { cancel: () => void }, fireNext: () => number | null, pending: () => number } {
  let now = 0
  const timers: Array<{ at: number, fn: () => void, live: boolean }> = []
  return {
    schedule: (fn, ms) => {
      const x = { at: now + ms, fn, live: true }
      timers.push(x)
      return { cancel: () => { x.live = false } }
    },
    fireNext: () => {
      const live = timers.filter(x => x.live).sort((a, b) => a.at - b.at)
      const x = live[0]
      if (x === undefined) return null
      x.live = false
      now = x.at
      x.fn()
      return now
    },
    pending: () => timers.filter(x => x.live).length
  }
}

t.test('first after the startup delay, then every period; released memory is counted', async t => {
  const clock = fakeTimers()
  const counted: string[] = []
  const answers = [true, false, true]
  let calls = 0
  const stop = startMemoryTrim({ trim: () => answers[calls++] ?? false, count: n => { counted.push(n) }, schedule: clock.schedule })
  t.equal(calls, 0, 'nothing at start')
  t.equal(clock.fireNext(), MEMORY_TRIM_FIRST_MS)
  t.equal(clock.fireNext(), MEMORY_TRIM_FIRST_MS + MEMORY_TRIM_EVERY_MS)
  t.equal(clock.fireNext(), MEMORY_TRIM_FIRST_MS + 2 * MEMORY_TRIM_EVERY_MS)
  t.equal(calls, 3)
  t.same(counted, ['memory.trim.released', 'memory.trim.released'], 'counted when memory went back')
  stop()
  t.equal(clock.pending(), 0, 'stop cancels the next one')
  t.equal(clock.fireNext(), null)
})

t.test('a throwing trim is counted and the schedule goes on', async t => {
  const clock = fakeTimers()
  const counted: string[] = []
  let calls = 0
  const stop = startMemoryTrim({ trim: () => { calls++; throw new Error('broken addon') }, count: n => { counted.push(n) }, schedule: clock.schedule, firstAfterMs: 5, everyMs: 7 })
  t.equal(clock.fireNext(), 5)
  t.equal(clock.fireNext(), 12)
  t.equal(calls, 2)
  t.same(counted, ['memory.trim.failed', 'memory.trim.failed'])
  stop()
  stop()
  t.equal(clock.pending(), 0)
})

t.test('stopped while a trim runs: no next one', async t => {
  const clock = fakeTimers()
  let stop = (): void => {}
  stop = startMemoryTrim({ trim: () => { stop(); return false }, count: () => {}, schedule: clock.schedule })
  clock.fireNext()
  t.equal(clock.pending(), 0)
})
