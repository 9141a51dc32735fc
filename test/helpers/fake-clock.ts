/**
 * A manual clock for core tests: the core takes `now` as an argument, so a test clock is just a
 * number with helpers. No global timer patching (code-models §7, avoid 7).
 */
import type { Deadline, Millis } from '../../src/core/time.js'

export class FakeClock {
  private t: Millis

  constructor (start: Millis = 0) {
    this.t = start
  }

  now (): Millis {
    return this.t
  }

  /** Move forward by `ms` (never backwards: the runtime's clock is monotonic). */
  advance (ms: Millis): Millis {
    if (ms < 0) throw new RangeError('FakeClock.advance: negative')
    this.t += ms
    return this.t
  }

  /** Jump to `at` (≥ now). */
  set (at: Millis): Millis {
    if (at < this.t) throw new RangeError(`FakeClock.set: ${at} is before ${this.t}`)
    this.t = at
    return this.t
  }

  /**
   * Jump to `deadline` and return it, for `step(state, {kind:'timeout'}, clock.runUntil(d))`.
   * Throws on a null deadline: a test that expects a timer must have one.
   */
  runUntil (deadline: Deadline): Millis {
    if (deadline === null) throw new Error('FakeClock.runUntil: no deadline armed')
    return this.set(deadline)
  }
}
