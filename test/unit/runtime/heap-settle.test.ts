// runtime/heap-settle.ts: a collection when node exposes gc (the daemon's --expose-gc), a no-op
// that says so when it does not.
import t from 'tap'
import { settleHeap } from '../../../src/runtime/heap-settle.js'

t.test('without gc: nothing runs, false', async t => {
  const g = globalThis as { gc?: () => void }
  const saved = g.gc
  delete g.gc
  t.teardown(() => { if (saved !== undefined) g.gc = saved })
  t.equal(settleHeap(), false)
})

t.test('with gc: it runs once, true', async t => {
  const g = globalThis as { gc?: () => void }
  const saved = g.gc
  let calls = 0
  g.gc = () => { calls++ }
  t.teardown(() => { if (saved === undefined) delete g.gc; else g.gc = saved })
  t.equal(settleHeap(), true)
  t.equal(calls, 1)
})
