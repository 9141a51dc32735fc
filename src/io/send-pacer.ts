/**
 * Pacing of sync datagrams: a token bucket in datagrams.
 *
 * Why: the FTFW engine emits whatever is due in one step — after a kernel-event overrun its resync
 * propagates ~100k changes at once (≈ 6k datagrams), and a NACK re-queues as many. Sent in one
 * event-loop turn, such a burst reaches the peer in a few milliseconds and overflows its socket
 * receive buffer (conntrackd's example value 1249280 holds ~500 full datagrams) before its reader
 * runs; the losses come back as NACKs, the retransmits as a new burst, and entries fall out of the
 * resend queue for good (measured at 50k new entries/s: 350k retransmits, 75k resend-queue drops,
 * 40% of the entries never on the backup). Spreading the same datagrams over time at a rate the
 * receiver drains keeps its buffer from overflowing; steady state at 50k entries/s is ~3k
 * datagrams/s, far below the rate, so pacing only ever shapes bursts.
 *
 * Order is kept (FTFW sequence numbers are checked in order by the peer). The queue is bounded:
 * past `maxQueued` the oldest queued datagram is dropped and counted — its messages are in the
 * FTFW resend queue and come back through the peer's NACK.
 */
export interface PacerOptions<T> {
  /** Datagrams per second on average. */
  readonly ratePerSec: number
  /** Datagrams that may leave back to back (bucket depth); keep it well under the peer's buffer. */
  readonly burst: number
  /** Queued datagrams beyond which the oldest is dropped. */
  readonly maxQueued: number
  /** Monotonic milliseconds. */
  readonly now: () => number
  /** Run `fn` after `ms` milliseconds (a timer of the runtime). */
  readonly schedule: (fn: () => void, ms: number) => void
  readonly send: (item: T) => void
  readonly onDrop: (item: T) => void
}

export class SendPacer<T> {
  private readonly queue: T[] = []
  private head = 0
  private tokens: number
  private last: number
  private scheduled = false

  constructor (private readonly o: PacerOptions<T>) {
    this.tokens = o.burst
    this.last = o.now()
  }

  /** Datagrams waiting for tokens. */
  get queued (): number { return this.queue.length - this.head }

  push (item: T): void {
    this.queue.push(item)
    if (this.queued > this.o.maxQueued) this.o.onDrop(this.queue[this.head++] as T)
    this.flush()
  }

  private refill (): void {
    const now = this.o.now()
    this.tokens = Math.min(this.o.burst, this.tokens + (now - this.last) * this.o.ratePerSec / 1000)
    this.last = now
  }

  private flush (): void {
    this.refill()
    while (this.head < this.queue.length && this.tokens >= 1) {
      this.tokens -= 1
      this.o.send(this.queue[this.head++] as T)
    }
    if (this.head === this.queue.length) { this.queue.length = 0; this.head = 0 } else if (this.head > 4096) { this.queue.splice(0, this.head); this.head = 0 }
    if (this.queued > 0 && !this.scheduled) {
      this.scheduled = true
      const waitMs = Math.max(1, Math.ceil((1 - this.tokens) * 1000 / this.o.ratePerSec))
      this.o.schedule(() => { this.scheduled = false; this.flush() }, waitMs)
    }
  }
}
