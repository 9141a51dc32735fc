/**
 * Runs the core's effects, in order, one plan after another (architecture decision 2).
 *
 * Plans are queued: the effects of step N all start before any effect of step N+1, so a
 * sendAdvert can never overtake the vipDel of an earlier step. Within a plan each effect is
 * awaited before the next starts (a run of adverts is sent together), which is what makes "commit before the VIPs are added" true on
 * the wire; announcements (GARP/NA rounds that linger for seconds in arping) are started in
 * order but not awaited, so they never hold back the next advert.
 *
 * A failed effect is logged and counted by kind and never stops the plan: the effects after it
 * are independent (a failed GARP must not keep the VIPs from being removed later).
 *
 * One exception to the queue: a plan made only of adverts (a Master's periodic advert, RFC 5798
 * §6.4.3) never waits behind another plan. The commit of a takeover may hold the queue for its
 * whole budget (seconds with 100k entries), and the rest of a takeover plan after it (VIPs, GARP
 * spawns, flush, kernel resync, bulk) for longer; the new master's adverts must keep their
 * interval meanwhile, or the peer's Master_Down timer fires and both go MASTER. (They used to pass
 * only a conntrack step in progress: an advert due while the VIPs were being added queued behind
 * the flush and resync that followed, and a new master went silent for 200 ms after its commit
 * budget.) Nothing an advert could overtake matters: a router with a queued vipDel has left
 * MASTER and sends no periodic advert, and a priority-0 advert travels in its leave plan, in order.
 */
import type { Effect, EffectKind } from '../core/effects.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'
import type { Clock } from './clock.js'

/** One handler per effect kind; a kind with no handler is counted as skipped (e.g. no conntrack module). */
export type EffectHandlers = { [K in EffectKind]?: (effect: Extract<Effect, { kind: K }>) => Promise<void> }

/** Kinds started but not awaited (see the module comment). */
const BACKGROUND: ReadonlySet<EffectKind> = new Set(['garp', 'unsolicitedNa'])
/** Kinds that may hold the queue long (conntrack work, done by the conntrack worker): adverts pass them. */
const CONNTRACK: ReadonlySet<EffectKind> = new Set(['ctCommit', 'ctFlush', 'ctResyncFromKernel', 'syncBulkSend', 'syncRequestResync', 'ctShortenTimers'])

export class Executor {
  private tail: Promise<void> = Promise.resolve()
  private readonly background = new Set<Promise<void>>()
  /** Conntrack effects in progress at the head of the queue. */
  private conntrackRunning = 0
  /** Plans queued and not finished. */
  private queued = 0
  /** Resolves once every announcement queued so far has been started. */
  private starting: Promise<void> = Promise.resolve()

  constructor (
    private readonly handlers: EffectHandlers,
    private readonly counters: Counters,
    private readonly log: Logger,
    private readonly clock: Clock
  ) {}

  /** Queue a plan; resolves when every effect of it has run (background ones: started). */
  run (effects: readonly Effect[]): Promise<void> {
    if (effects.length === 0) return this.tail
    if (effects.every(e => e.kind === 'sendAdvert')) {
      if (this.conntrackRunning > 0) this.counters.inc('executor.advertPassedConntrack')
      else if (this.queued > 0) this.counters.inc('executor.advertPassedPlan')
      return Promise.all(effects.map(async e => { await this.one(e, false) })).then(() => undefined)
    }
    this.queued++
    this.tail = this.tail.then(async () => {
      for (let i = 0; i < effects.length;) {
        // Consecutive adverts (a sync group's members) leave together: their relative order
        // carries no meaning, and awaiting each send would delay the VIPs by the sum.
        let j = i
        while (j < effects.length && (effects[j] as Effect).kind === 'sendAdvert') j++
        if (j > i + 1) {
          await Promise.all(effects.slice(i, j).map(async e => { await this.one(e) }))
          i = j
        } else {
          await this.one(effects[i] as Effect)
          i++
        }
      }
    }).finally(() => { this.queued-- })
    return this.tail
  }

  /** Resolves when everything queued so far, background announcements included, has finished. */
  async drain (): Promise<void> {
    await this.tail
    await Promise.allSettled([...this.background])
  }

  private async one (effect: Effect, waitStarts = true): Promise<void> {
    const handler = this.handlers[effect.kind] as ((e: Effect) => Promise<void>) | undefined
    if (handler === undefined) {
      this.counters.inc(`effect.${effect.kind}.skipped`)
      return
    }
    const started = this.clock()
    const slow = CONNTRACK.has(effect.kind)
    if (slow) this.conntrackRunning++
    // An announcement spawns arping (a fork of this process: 10-25 ms on the VRRP thread, more
    // under load): each starts in its own turn of the event loop, so an Adver_Timer that falls due
    // meanwhile fires between two spawns instead of after all of them (70 ms seen at a takeover).
    // Every later effect of a plan waits until the announcements before it have started (a vipDel
    // must cancel a GARP round, never precede it); adverts-only plans do not wait (run()).
    const background = BACKGROUND.has(effect.kind)
    let begun: Promise<void>
    if (background) {
      let signal = (): void => {}
      const hasStarted = new Promise<void>(resolve => { signal = resolve })
      const before = this.starting
      this.starting = hasStarted
      begun = before.then(async () => { await new Promise<void>(resolve => { setImmediate(resolve) }) }).then(async () => {
        const p = handler(effect)
        signal()
        await p
      })
    } else {
      if (waitStarts) await this.starting
      begun = handler(effect)
    }
    const done = begun.finally(() => { if (slow) this.conntrackRunning-- }).then(
      () => {
        this.counters.inc(`effect.${effect.kind}.ok`)
        // Every step of a transition plan is logged with its duration; periodic adverts only in debug.
        const level = effect.kind === 'sendAdvert' ? 'debug' : 'info'
        this.log[level]({ effect, ms: round(this.clock() - started) }, `${effect.kind} done`)
      },
      (err: unknown) => {
        this.counters.inc(`effect.${effect.kind}.failed`)
        this.log.warn({ effect, err: String(err), ms: round(this.clock() - started) }, 'effect failed')
      })
    if (background) {
      this.background.add(done)
      void done.finally(() => this.background.delete(done))
      return
    }
    await done
  }
}

function round (ms: number): number {
  return Math.round(ms * 1000) / 1000
}
