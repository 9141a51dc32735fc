/**
 * How late each event loop runs its timers, for the status API and metrics: the evidence behind
 * "VRRP never waits for conntrack" (issue 13), per thread, on the operator's own box.
 *
 * node:perf_hooks monitorEventLoopDelay samples the loop with a timer of `resolutionMs` and records
 * how late it fired. Reported per window (10 s): the last complete window's p99 and max, the
 * running window's max so far (a stall shows at once, not 10 s later), and the worst since start.
 * The VRRP thread's numbers are what its advert timers suffered; a conntrack worker's show a storm,
 * a commit or a GC on its own loop.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { IntervalHistogram } from 'node:perf_hooks'

export interface LoopDelay {
  /** Max of the last complete window and the running one, in ms. */
  readonly recentMaxMs: number
  /** p99 of the last complete window, in ms (0 before the first window ends). */
  readonly recentP99Ms: number
  /** Worst since the monitor started, in ms. */
  readonly worstMs: number
  readonly windowMs: number
}

const NS_PER_MS = 1e6

export class LoopDelayMonitor {
  private readonly h: IntervalHistogram
  private readonly timer: NodeJS.Timeout
  private lastMaxMs = 0
  private lastP99Ms = 0
  private worstMs = 0

  constructor (private readonly windowMs = 10_000, resolutionMs = 10) {
    this.h = monitorEventLoopDelay({ resolution: resolutionMs })
    this.h.enable()
    this.timer = setInterval(() => { this.roll() }, windowMs)
    this.timer.unref()
  }

  snapshot (): LoopDelay {
    const runningMax = this.runningMaxMs()
    return {
      recentMaxMs: round(Math.max(this.lastMaxMs, runningMax)),
      recentP99Ms: round(this.lastP99Ms),
      worstMs: round(Math.max(this.worstMs, runningMax)),
      windowMs: this.windowMs
    }
  }

  stop (): void {
    clearInterval(this.timer)
    this.h.disable()
  }

  private roll (): void {
    this.lastMaxMs = this.runningMaxMs()
    this.lastP99Ms = this.h.count > 0 ? this.h.percentile(99) / NS_PER_MS : 0
    this.worstMs = Math.max(this.worstMs, this.lastMaxMs)
    this.h.reset()
  }

  /** The histogram's max before any sample is a sentinel; 0 then. */
  private runningMaxMs (): number {
    return this.h.count > 0 ? this.h.max / NS_PER_MS : 0
  }
}

function round (ms: number): number {
  return Math.round(ms * 10) / 10
}
