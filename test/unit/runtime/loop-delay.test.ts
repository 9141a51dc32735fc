// The loop-delay monitor sees a stall of its own event loop: a lower bound on what a busy loop
// must show, never an upper bound on timing.
import t from 'tap'
import { LoopDelayMonitor } from '../../../src/runtime/loop-delay.js'

const busy = (ms: number): void => { const end = performance.now() + ms; while (performance.now() < end) { /* the stall */ } }
const tick = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('a 120 ms stall shows in recentMaxMs and worstMs at once (running window)', async t => {
  const m = new LoopDelayMonitor(60_000, 10)
  t.teardown(() => { m.stop() })
  await tick(30)
  busy(120)
  await tick(30) // the monitor's timer fires late and records it
  const s = m.snapshot()
  t.ok(s.recentMaxMs >= 60, `recentMaxMs ${s.recentMaxMs} ≥ 60`)
  t.ok(s.worstMs >= s.recentMaxMs, 'worst covers the running window')
  t.equal(s.recentP99Ms, 0, 'no complete window yet')
  t.equal(s.windowMs, 60_000)
})

t.test('after a window rolls, the stall is in the last window, and worst keeps it', async t => {
  const m = new LoopDelayMonitor(200, 10)
  t.teardown(() => { m.stop() })
  await tick(30)
  busy(120)
  await tick(250) // the window ends
  const s = m.snapshot()
  t.ok(s.worstMs >= 60, `worstMs ${s.worstMs} ≥ 60`)
  t.ok(s.recentP99Ms > 0, 'a complete window has a p99')
})
