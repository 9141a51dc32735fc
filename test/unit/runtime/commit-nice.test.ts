// The conntrack worker's nice while it commits (conntrack-worker.ts commitNice): up by WORKER_NICE
// at the start of a commit, back to the starting value after it. Nice is per thread on Linux, and
// setpriority(0) names the calling thread: run here, it moves this test's own thread.
import t from 'tap'
import { getPriority, setPriority } from 'node:os'
import { commitNice, WORKER_NICE } from '../../../src/runtime/conntrack-worker.js'

const root = typeof process.getuid === 'function' && process.getuid() === 0

t.test('committing raises the nice by WORKER_NICE, the end of the commit lowers it back', { skip: root ? false : 'lowering a nice value back needs root (CAP_SYS_NICE) or RLIMIT_NICE' }, async t => {
  const start = getPriority(0)
  t.teardown(() => { setPriority(0, start) })
  const set = commitNice()
  set(true)
  t.equal(getPriority(0), Math.min(19, start + WORKER_NICE), 'nicer while committing')
  set(true)
  t.equal(getPriority(0), Math.min(19, start + WORKER_NICE), 'idempotent')
  set(false)
  t.equal(getPriority(0), start, 'back to the starting value')
})
