/**
 * Effects: what the pure core asks the imperative shell to do, as plain data.
 *
 * The core returns an ordered list; `runtime/executor` runs it in that order, logs and counts
 * each one (architecture decision 2). The order is the product: on the way to MASTER the
 * conntrack commit comes before the VIPs are added and announced.
 *
 * `routerId` names one VRRP router (interface, VRID, address family), see core/vrrp/types.ts.
 */

/** A virtual address as configured: `address/prefix` and an optional device (default: the router's). */
export interface Vip {
  readonly address: string
  readonly prefix: number
  readonly family: 'ipv4' | 'ipv6'
  readonly dev?: string
}

export type Effect =
  /** Send one advertisement with this priority (0 = "I am leaving", RFC 5798 §6.4.3). */
  | { readonly kind: 'sendAdvert', readonly routerId: string, readonly priority: number }
  /** Add the router's virtual addresses to the interface (idempotent). */
  | { readonly kind: 'vipAdd', readonly routerId: string, readonly vips: readonly Vip[] }
  /** Remove the router's virtual addresses from the interface (idempotent). */
  | { readonly kind: 'vipDel', readonly routerId: string, readonly vips: readonly Vip[] }
  /** `count` gratuitous ARPs for each IPv4 VIP, one announce round (RFC 5798 §6.4.1 (o)). */
  | { readonly kind: 'garp', readonly routerId: string, readonly vips: readonly Vip[], readonly count: number }
  /** `count` unsolicited Neighbor Advertisements for each IPv6 VIP (RFC 5798 §6.4.1 (o), RFC 4861 §7.2.6). */
  | { readonly kind: 'unsolicitedNa', readonly routerId: string, readonly vips: readonly Vip[], readonly count: number }
  // --- conntrack effects (executed by the conntrack module; ordered by core/orchestrator) ---
  /** Commit the external cache into the kernel table, bounded by a time budget. */
  | { readonly kind: 'ctCommit', readonly budgetMs: number }
  /** Flush the internal and/or external cache. */
  | { readonly kind: 'ctFlush', readonly caches: 'internal' | 'external' | 'both' }
  /** Re-read the kernel table into the internal cache. */
  | { readonly kind: 'ctResyncFromKernel' }
  /** Send the whole internal cache to the peers. */
  | { readonly kind: 'syncBulkSend' }
  /** Ask the peers to send us their whole state. */
  | { readonly kind: 'syncRequestResync' }
  /** Shorten the kernel timers of entries this node no longer forwards (conntrackd -t). */
  | { readonly kind: 'ctShortenTimers', readonly purgeTimeoutS: number }

export type EffectKind = Effect['kind']
