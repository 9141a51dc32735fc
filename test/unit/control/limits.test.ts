// The control server's per-client limits as pure functions of time: the token bucket (burst,
// refill by elapsed time, capped at the burst, a clock that goes nowhere gives nothing back) and
// the choice of the client evicted for room (longest idle, never a subscriber or a client with a
// command in flight).
import t from 'tap'
import { evictionCandidate, newBucket, takeToken } from '../../../src/control/limits.js'

t.test('token bucket: a burst, then the sustained rate', async t => {
  const budget = { ratePerSecond: 10, burst: 3 }
  const b = newBucket(budget, 1000)
  t.same([takeToken(b, budget, 1000), takeToken(b, budget, 1000), takeToken(b, budget, 1000)], [true, true, true], 'the burst')
  t.equal(takeToken(b, budget, 1000), false, 'then over budget')
  t.equal(takeToken(b, budget, 1050), false, 'half a token after 50 ms at 10/s')
  t.equal(takeToken(b, budget, 1100), true, 'a whole one after 100 ms')
  t.equal(takeToken(b, budget, 1100), false)
  // A long pause refills up to the burst, not beyond.
  for (let i = 0; i < 3; i++) t.equal(takeToken(b, budget, 100_000), true, `after a pause: ${i + 1} of the burst`)
  t.equal(takeToken(b, budget, 100_000), false, 'the burst caps the refill')
  t.equal(takeToken(b, budget, 99_000), false, 'time going backwards refills nothing')
})

t.test('eviction: the longest-idle client that holds nothing; none when all watch or wait', async t => {
  const c = (client: string, lastActive: number, subscribed = false, inFlight = 0): { client: string, lastActive: number, subscribed: boolean, inFlight: number } =>
    ({ client, lastActive, subscribed, inFlight })
  t.equal(evictionCandidate([c('a', 30), c('b', 10), c('c', 20)]), 'b')
  t.equal(evictionCandidate([c('w', 0, true), c('r', 1, false, 1), c('x', 50)]), 'x', 'watchers and clients awaiting a reply are kept even when older')
  t.equal(evictionCandidate([c('w', 0, true), c('r', 1, false, 2)]), null)
  t.equal(evictionCandidate([]), null)
})
