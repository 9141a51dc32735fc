/**
 * The effect plans of a router's transitions (architecture decision 2), as data.
 *
 * Only the VRRP half lives here. The orchestrator (a later module) splices the conntrack effects
 * in: ctCommit between `advertise` and `install` of a MasterEntryPlan; ctFlush,
 * ctResyncFromKernel, syncBulkSend after `announce`; ctShortenTimers / syncRequestResync after
 * the vipDel of a Backup/Fault entry.
 */
import type { Effect, Vip } from '../effects.js'
import type { MasterEntryPlan, RouterConfig } from './types.js'

/**
 * One announce round: `repeat` gratuitous ARPs per IPv4 VIP and `repeat` unsolicited NAs per
 * IPv6 VIP (RFC 5798 §6.4.1 (o)(p): "broadcast a gratuitous ARP request" / "send an unsolicited
 * ND Neighbor Advertisement" for each address). Families with no VIP get no effect.
 */
export function announceRound (config: RouterConfig): Effect[] {
  const out: Effect[] = []
  const v4: Vip[] = config.vips.filter(v => v.family === 'ipv4')
  const v6: Vip[] = config.vips.filter(v => v.family === 'ipv6')
  const count = config.announce.repeat
  if (count <= 0) return out
  if (v4.length > 0) out.push({ kind: 'garp', routerId: config.id, vips: v4, count })
  if (v6.length > 0) out.push({ kind: 'unsolicitedNa', routerId: config.id, vips: v6, count })
  return out
}

/**
 * RFC 5798 §6.4.1 / §6.4.2 "transition to the Master state": send an ADVERTISEMENT, then (after
 * the orchestrator's ctCommit) add the VIPs and their routes and rules, then announce them.
 */
export function masterEntryPlan (config: RouterConfig, priority: number): MasterEntryPlan {
  return {
    advertise: [{ kind: 'sendAdvert', routerId: config.id, priority }],
    install: installEffects(config),
    announce: announceRound(config)
  }
}

/**
 * The install phase: VIPs, then routes, then rules (keepalived vrrp_state_become_master order).
 * Routes come after the VIPs because a route may name a VIP as `src` or reach its gateway
 * through a VIP's prefix; the kernel refuses both before the address exists.
 */
export function installEffects (config: RouterConfig): Effect[] {
  const out: Effect[] = []
  if (config.vips.length > 0) out.push({ kind: 'vipAdd', routerId: config.id, vips: config.vips })
  if (config.routes !== undefined && config.routes.length > 0) out.push({ kind: 'routeAdd', routerId: config.id, routes: config.routes })
  if (config.rules !== undefined && config.rules.length > 0) out.push({ kind: 'ruleAdd', routerId: config.id, rules: config.rules })
  return out
}

/** Flatten a Master entry plan; `ctCommitAt` is the splice index relative to the returned list. */
export function flattenMasterEntry (plan: MasterEntryPlan): { effects: Effect[], ctCommitAt: number } {
  return {
    effects: [...plan.advertise, ...plan.install, ...plan.announce],
    ctCommitAt: plan.advertise.length
  }
}

/**
 * Leaving Master (to Backup, Fault or Initialize): optionally one priority-0 advert first
 * (RFC 5798 §6.4.3 Shutdown; architecture decision 2 extends it to every planned departure so
 * the peer takes over after Skew_Time instead of Master_Down_Interval), then remove the rules,
 * routes and VIPs (vipDel).
 */
export function leaveMasterPlan (config: RouterConfig, sendPriorityZero: boolean): Effect[] {
  const out: Effect[] = []
  if (sendPriorityZero) out.push({ kind: 'sendAdvert', routerId: config.id, priority: 0 })
  out.push(...vipDel(config))
  return out
}

/**
 * Remove what a Master installed, in the reverse order of installEffects: rules, routes, then the
 * VIPs (keepalived removes its virtual rules and routes before the addresses; deleting the
 * address first would make the kernel drop routes whose src is the VIP, and our delete would
 * then miss). Idempotent in the executor; nothing for a router with nothing installed.
 */
export function vipDel (config: RouterConfig): Effect[] {
  const out: Effect[] = []
  if (config.rules !== undefined && config.rules.length > 0) out.push({ kind: 'ruleDel', routerId: config.id, rules: config.rules })
  if (config.routes !== undefined && config.routes.length > 0) out.push({ kind: 'routeDel', routerId: config.id, routes: config.routes })
  if (config.vips.length > 0) out.push({ kind: 'vipDel', routerId: config.id, vips: config.vips })
  return out
}
