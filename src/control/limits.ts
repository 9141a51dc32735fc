/**
 * Per-client limits of the control server (issue 12): a request budget (token bucket) and the
 * choice of which idle client makes room when the server is full. Pure functions of the time
 * the server passes in, so tests drive them with a fake clock.
 */

export interface RequestBudget {
  /** Sustained requests per second. */
  readonly ratePerSecond: number
  /** Requests that may come at once (the bucket size). */
  readonly burst: number
}

export interface Bucket {
  tokens: number
  /** When `tokens` was last refilled (ms, the server's clock). */
  at: number
}

export function newBucket (budget: RequestBudget, now: number): Bucket {
  return { tokens: budget.burst, at: now }
}

/** Take one token; false when the client is over its budget. Refills by elapsed time first. */
export function takeToken (b: Bucket, budget: RequestBudget, now: number): boolean {
  const elapsed = Math.max(0, now - b.at)
  b.tokens = Math.min(budget.burst, b.tokens + elapsed * budget.ratePerSecond / 1000)
  b.at = now
  if (b.tokens < 1) return false
  b.tokens -= 1
  return true
}

export interface ClientActivity<C> {
  readonly client: C
  /** Last request or connection time (ms). */
  readonly lastActive: number
  /** Subscribed to events: a watcher, never evicted for room. */
  readonly subscribed: boolean
  /** Commands still running for it: its reply must not be lost. */
  readonly inFlight: number
}

/**
 * The client to evict when the connection limit is reached: the longest-idle one that holds
 * nothing (no subscription, no request in flight), or null when every client is busy.
 *
 * Why evict rather than reserve slots for one-shot requests: reserved slots fill with idle
 * clients too (the same leak, one pool later), and the server cannot tell at upgrade time
 * which client will stay. A client that holds no subscription and awaits no reply loses
 * nothing but its socket, and can reconnect; so while any such client exists, a new one —
 * `hafwctl state` in a health check — always gets in. Only a server full of watchers or of
 * clients with requests in flight answers 503 (hafwctl exit 5, "busy").
 */
export function evictionCandidate<C> (clients: Iterable<ClientActivity<C>>): C | null {
  let best: ClientActivity<C> | null = null
  for (const c of clients) {
    if (c.subscribed || c.inFlight > 0) continue
    if (best === null || c.lastActive < best.lastActive) best = c
  }
  return best === null ? null : best.client
}
