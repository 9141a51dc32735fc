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

/**
 * A route that moves with the VIPs (keepalived virtual_routes): added after the VIPs when the
 * router becomes MASTER, removed before them when it leaves. `dst` is the network address
 * (host bits zero); `table` is the kernel table id (254 = main).
 */
export interface VRoute {
  readonly family: 'ipv4' | 'ipv6'
  readonly dst: string
  readonly prefix: number
  /** unicast (default), or a route type that needs no next hop (ip route: blackhole, unreachable, prohibit). */
  readonly type: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit'
  /** Gateway (RTA_GATEWAY). */
  readonly via?: string
  /** Output device (RTA_OIF). */
  readonly dev?: string
  /** Preferred source address (RTA_PREFSRC), often a VIP. */
  readonly src?: string
  /** Route metric (RTA_PRIORITY). */
  readonly metric?: number
  readonly table: number
}

/** A policy routing rule that moves with the VIPs (keepalived virtual_rules, the common subset). */
export interface VRule {
  readonly family: 'ipv4' | 'ipv6'
  /** Source prefix (FRA_SRC); absent = from all. */
  readonly from?: { readonly address: string, readonly prefix: number }
  /** Destination prefix (FRA_DST); absent = to all. */
  readonly to?: { readonly address: string, readonly prefix: number }
  /** Table to look up (FR_ACT_TO_TBL). */
  readonly table: number
  /** Rule preference (FRA_PRIORITY); absent = chosen by the kernel. */
  readonly priority?: number
  /** Netfilter mark (FRA_FWMARK) and mask (FRA_FWMASK, default all ones). */
  readonly fwmark?: number
  readonly fwmask?: number
}

export type Effect =
  /** Send one advertisement with this priority (0 = "I am leaving", RFC 5798 §6.4.3). */
  | { readonly kind: 'sendAdvert', readonly routerId: string, readonly priority: number }
  /** Add the router's virtual addresses to the interface (idempotent). */
  | { readonly kind: 'vipAdd', readonly routerId: string, readonly vips: readonly Vip[] }
  /** Remove the router's virtual addresses from the interface (idempotent). */
  | { readonly kind: 'vipDel', readonly routerId: string, readonly vips: readonly Vip[] }
  /** Add the router's virtual routes (after its VIPs: a route may use a VIP as src). EEXIST is success. */
  | { readonly kind: 'routeAdd', readonly routerId: string, readonly routes: readonly VRoute[] }
  /** Remove the router's virtual routes (before its VIPs). ESRCH/ENOENT is success. */
  | { readonly kind: 'routeDel', readonly routerId: string, readonly routes: readonly VRoute[] }
  /** Add the router's policy rules (after its routes). EEXIST is success. */
  | { readonly kind: 'ruleAdd', readonly routerId: string, readonly rules: readonly VRule[] }
  /** Remove the router's policy rules (first of the VIP phase on leaving MASTER). ENOENT is success. */
  | { readonly kind: 'ruleDel', readonly routerId: string, readonly rules: readonly VRule[] }
  /** `count` gratuitous ARPs for each IPv4 VIP, one announce round (RFC 5798 §6.4.1 (o)). */
  | { readonly kind: 'garp', readonly routerId: string, readonly vips: readonly Vip[], readonly count: number }
  /** `count` unsolicited Neighbor Advertisements for each IPv6 VIP (RFC 5798 §6.4.1 (o), RFC 4861 §7.2.6). */
  | { readonly kind: 'unsolicitedNa', readonly routerId: string, readonly vips: readonly Vip[], readonly count: number }
  // --- conntrack effects (executed by the conntrack module; ordered by core/orchestrator) ---
  /** Commit the external cache into the kernel table, bounded by a time budget. */
  /**
   * `takeover`: from the MASTER plan (orchestrator.ts); an operator's commit (hafwctl commit) has none.
   * `everyUnitMaster`: every group and lone router of the node is master at that moment (none still
   * waits for a peer's adverts: core/sync/bulk.ts `alone`).
   */
  | { readonly kind: 'ctCommit', readonly budgetMs: number, readonly takeover?: boolean, readonly everyUnitMaster?: boolean }
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
