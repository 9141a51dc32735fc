/**
 * One VRRP router as a pure state machine: RFC 5798 §6.4 (VRRPv3) and RFC 3768 §6.4 (VRRPv2),
 * plus keepalived's FAULT state, tracking weights and preempt delay.
 *
 *   stepRouter(router, input, now) → { router, effects, ctCommitAt, deadline, transitions, drops }
 *
 * Shape (FRR vrrpd's "State machine" section, without its event loop):
 * - every state change goes through `changeState`, the single choke point: exit actions of the
 *   old state, entry actions of the new one, a TransitionEvent, the transition counter;
 * - a timer that fires in a state that cannot arm it is an error-level drop, never silent;
 * - Shutdown is idempotent and sends a priority-0 advert from Master.
 *
 * Sync groups (architecture decision 4). A router in a group (`router.group` set by node.ts)
 * never changes its own state from protocol events: where a lone router would transition, a
 * member only records what it *wants* (`want`, `wantReason`). The group combines the wants and
 * node.ts sends each member a `groupDecision` input, which goes through the same `changeState`.
 * Shutdown is a command, not a want, and applies directly.
 */
import { canonicalIP, compareIP } from '../../codec/ip.js'
import type { Effect } from '../effects.js'
import { earliest, isDue, type Deadline, type Millis } from '../time.js'
import {
  backupAdvertDecision, effectivePriority, faultCauses, isAddressOf, isOwner, masterYields, PRIORITY_STOP, trackStatus
} from './election.js'
import { flattenMasterEntry, leaveMasterPlan, masterEntryPlan, announceRound, vipDel } from './plans.js'
import { csToMs, masterDownInterval, skewTime } from './timers.js'
import type {
  AdvertInput, MasterEntryPlan, Router, RouterConfig, RouterCounters, RouterDropReason, RouterInput,
  RouterSnapshot, RouterState, RouterStepResult, RouterTimers, TransitionEvent, TransitionReason
} from './types.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A working copy of the router for one step; the caller's object is never touched. */
interface Draft extends Mutable<Omit<Router, 'timers' | 'counters' | 'trackUp' | 'offsets'>> {
  timers: Mutable<RouterTimers>
  counters: Mutable<Omit<RouterCounters, 'drops'>> & { drops: Partial<Record<RouterDropReason, number>> }
  trackUp: Record<string, boolean>
  offsets: Record<string, number>
}

/** What one step produced so far. A Master entry is kept apart so it can be placed last, in phases. */
interface Out {
  readonly effects: Effect[]
  master: MasterEntryPlan | null
  readonly transitions: TransitionEvent[]
  readonly drops: RouterDropReason[]
  /** A Backup member heard its master leave with priority 0 in this step (node.ts tells the other members). */
  released: boolean
}

const NO_TIMERS: RouterTimers = { adver: null, masterDown: null, announce: null, refresh: null }

/**
 * A router in Initialize, not started. Throws RangeError on a config the validator should have
 * refused (the core does not run with an impossible config).
 * @param group the sync group deciding this router's state (node.ts passes it), or null.
 */
export function createRouter (config: RouterConfig, group: string | null = null): Router {
  checkConfig(config)
  const primary = canonicalIP(config.primaryAddress) as string
  const trackUp: Record<string, boolean> = {}
  for (const name of Object.keys(config.track)) trackUp[name] = true
  return {
    config,
    state: 'initialize',
    want: 'initialize',
    wantReason: null,
    group,
    started: false,
    primaryAddress: primary,
    interfaceUp: true,
    trackUp,
    maintenance: false,
    offsets: {},
    masterAdverIntervalCs: config.advertIntervalCs,
    timers: NO_TIMERS,
    preemptNotBefore: null,
    lastMaster: null,
    lastTransition: null,
    counters: {
      transitions: 0,
      advertsReceived: 0,
      advertsSent: 0,
      priorityZeroReceived: 0,
      priorityZeroSent: 0,
      addressListMismatch: 0,
      groupReleases: 0,
      drops: {}
    }
  }
}

function checkConfig (c: RouterConfig): void {
  const bad = (what: string): never => { throw new RangeError(`router ${c.id}: ${what}`) }
  if (!Number.isInteger(c.vrid) || c.vrid < 1 || c.vrid > 255) bad(`vrid ${c.vrid} not in 1..255`)
  if (!Number.isInteger(c.priority) || c.priority < 1 || c.priority > 255) bad(`priority ${c.priority} not in 1..255`)
  // RFC 5798 §5.2.7: 12-bit field, in centiseconds; 0 is meaningless.
  if (!Number.isInteger(c.advertIntervalCs) || c.advertIntervalCs < 1 || c.advertIntervalCs > 4095) bad(`advertIntervalCs ${c.advertIntervalCs} not in 1..4095`)
  // RFC 3768 §5.3.7: VRRPv2 carries whole seconds, and only IPv4.
  if (c.version === 2 && (c.advertIntervalCs % 100 !== 0 || c.advertIntervalCs > 25500)) bad('VRRPv2 interval must be whole seconds')
  if (c.version === 2 && c.family !== 'ipv4') bad('VRRPv2 is IPv4 only')
  if (!isAddressOf(c.family, c.primaryAddress)) bad(`primaryAddress ${c.primaryAddress} is not an ${c.family} address`)
  if (c.vips.some(v => v.family !== c.family && v.dev === undefined)) bad('a VIP of the other family needs an explicit dev')
}

/** The earliest armed timer of the router. */
export function routerDeadline (router: Router): Deadline {
  const t = router.timers
  return earliest(t.masterDown, t.adver, t.announce, t.refresh)
}

/** The router's current effective priority (tracking weights and offsets applied, see election.ts). */
export function routerPriority (router: Router): number {
  return effectivePriority(router.config, router.trackUp, router.offsets)
}

/** Advance the router by one input at `now`. Pure: `router` is not modified. */
export function stepRouter (router: Router, input: RouterInput, now: Millis): RouterStepResult {
  const { d, out } = run(router, input, now)
  return finish(d, out)
}

/**
 * Like stepRouter, but keeps a Master entry as phases instead of flattening it, so node.ts can
 * merge the entries of several routers (all sendAdverts, then all vipAdds, then all announces)
 * around a single ctCommit splice point.
 */
export function stepRouterPhased (router: Router, input: RouterInput, now: Millis): {
  readonly router: Router
  readonly effects: readonly Effect[]
  readonly masterEntry: MasterEntryPlan | null
  readonly transitions: readonly TransitionEvent[]
  readonly drops: readonly RouterDropReason[]
  readonly released: boolean
} {
  const { d, out } = run(router, input, now)
  return { router: d, effects: out.effects, masterEntry: out.master, transitions: out.transitions, drops: out.drops, released: out.released }
}

function run (router: Router, input: RouterInput, now: Millis): { d: Draft, out: Out } {
  const d = draft(router)
  const out: Out = { effects: [], master: null, transitions: [], drops: [], released: false }
  switch (input.kind) {
    case 'startup': onStartup(d, out, now); break
    case 'shutdown': onShutdown(d, out, now); break
    case 'advert': onAdvert(d, out, input, now); break
    case 'timeout': onTimeout(d, out, now); break
    case 'interfaceState':
      d.interfaceUp = input.up
      updateFault(d, out, now)
      break
    case 'trackState':
      if (!(input.name in d.config.track)) { drop(d, out, 'unknownTrack'); break }
      d.trackUp[input.name] = input.up
      updateFault(d, out, now)
      break
    case 'priorityOffset':
      // Takes effect in the next advert (Master) or the next timer computation (Backup).
      if (input.offset === 0) delete d.offsets[input.source]
      else d.offsets[input.source] = input.offset
      break
    case 'primaryAddress': {
      const canonical = canonicalIP(input.address)
      if (canonical === null || !isAddressOf(d.config.family, canonical)) { drop(d, out, 'badPrimaryAddress'); break }
      d.primaryAddress = canonical
      break
    }
    case 'groupDecision': onGroupDecision(d, out, input.group, input.state, now); break
    case 'maintenance':
      d.maintenance = input.on
      updateFault(d, out, now)
      break
    case 'configure': onConfigure(d, out, input.config, now); break
    case 'groupRelease': onGroupRelease(d, out, input.group, now); break
  }
  if (d.group === null) d.want = d.state
  return { d, out }
}

function draft (r: Router): Draft {
  return {
    ...r,
    timers: { ...r.timers },
    counters: { ...r.counters, drops: { ...r.counters.drops } },
    trackUp: { ...r.trackUp },
    offsets: { ...r.offsets }
  }
}

function finish (d: Draft, out: Out): RouterStepResult {
  const router: Router = d
  let effects = out.effects
  let ctCommitAt: number | null = null
  if (out.master !== null) {
    const flat = flattenMasterEntry(out.master)
    ctCommitAt = effects.length + flat.ctCommitAt
    effects = [...effects, ...flat.effects]
  }
  return { router, effects, ctCommitAt, deadline: routerDeadline(router), transitions: out.transitions, drops: out.drops }
}

function drop (d: Draft, out: Out, reason: RouterDropReason): void {
  d.counters.drops[reason] = (d.counters.drops[reason] ?? 0) + 1
  out.drops.push(reason)
}

function priorityOf (d: Draft): number {
  return effectivePriority(d.config, d.trackUp, d.offsets)
}

/** A protocol event asks for `to`: a lone router goes there; a group member only records the wish. */
function request (d: Draft, out: Out, to: RouterState, reason: TransitionReason, now: Millis): void {
  if (d.group !== null) {
    d.want = to
    d.wantReason = reason
    return
  }
  changeState(d, out, to, reason, now)
}

/** The target when (re)entering service: RFC 5798 §6.4.1 owner → Master, otherwise Backup. */
function serviceState (d: Draft): 'master' | 'backup' {
  return isOwner(d.config) ? 'master' : 'backup'
}

/**
 * The single choke point for state changes (FRR vrrp_change_state): no-op when already there;
 * exit actions of the old state; entry actions of the new one; event; counter.
 */
function changeState (d: Draft, out: Out, to: RouterState, reason: TransitionReason, now: Millis): void {
  const from = d.state
  if (from === to) return
  const priority = priorityOf(d)

  // --- exit actions ---
  if (from === 'master') {
    // RFC 5798 §6.4.3 Shutdown sends priority 0; architecture decision 2 does the same for every
    // planned departure (fault of a tracked object, sync group, maintenance) so the peer takes
    // over after Skew_Time. Not when a better master preempted us (it is already master), and
    // not when our interface is down (nothing can be sent).
    const priorityZero = reason !== 'preempted' && d.interfaceUp
    out.effects.push(...leaveMasterPlan(d.config, priorityZero))
    if (priorityZero) { d.counters.advertsSent++; d.counters.priorityZeroSent++ }
    d.timers.adver = null
    d.timers.announce = null
    d.timers.refresh = null
  } else if (from === 'backup') {
    d.timers.masterDown = null
  } else if (from === 'initialize' && to !== 'master') {
    // A previous run that died as Master may have left the VIPs on the interface; remove them
    // before serving as Backup/Fault so two nodes never answer for one address.
    out.effects.push(...vipDel(d.config))
  }

  // --- entry actions ---
  d.state = to
  switch (to) {
    case 'master':
      // RFC 5798 §6.4.1 (o)/(p), §6.4.2: send an ADVERTISEMENT, start the Adver_Timer, take the VIPs, announce.
      d.masterAdverIntervalCs = d.config.advertIntervalCs
      d.timers.adver = now + csToMs(d.config.advertIntervalCs)
      d.timers.announce = d.config.announce.delayMs > 0 ? now + d.config.announce.delayMs : null
      d.timers.refresh = d.config.announce.refreshMs > 0 ? now + d.config.announce.refreshMs : null
      d.preemptNotBefore = null
      out.master = masterEntryPlan(d.config, priority)
      d.counters.advertsSent++
      break
    case 'backup':
      // RFC 5798 §6.4.1 (from Initialize; Fault is treated alike): Master_Adver_Interval =
      // Advertisement_Interval. From Master on preemption the interval learned from the
      // advert stays (§6.4.3); from Master otherwise it is ours already.
      if (from !== 'master') d.masterAdverIntervalCs = d.config.advertIntervalCs
      d.timers.masterDown = now + masterDownInterval(d.config.version, priority, d.masterAdverIntervalCs)
      // keepalived: the preempt delay starts at startup and when leaving fault.
      d.preemptNotBefore = from !== 'master' && d.config.preemptDelayMs > 0 ? now + d.config.preemptDelayMs : null
      break
    case 'fault':
    case 'initialize':
      d.timers = { ...NO_TIMERS }
      d.preemptNotBefore = null
      break
  }
  if (d.group !== null) settleGroupWant(d, to, reason)

  const event: TransitionEvent = { routerId: d.config.id, from, to, reason, at: now, priority }
  d.lastTransition = event
  d.counters.transitions++
  out.transitions.push(event)
}

/** After a member changed state: what it wants now on its own. */
function settleGroupWant (d: Draft, entered: RouterState, reason: TransitionReason): void {
  if (entered === 'initialize') { d.want = 'initialize'; d.wantReason = reason; return }
  const causes = faultCauses(d.config, d.interfaceUp, d.trackUp, d.maintenance)
  if (causes.length > 0) { d.want = 'fault'; d.wantReason = faultReason(d); return }
  if (entered === 'master') { d.want = 'master'; d.wantReason = reason; return }
  // Backup, or Fault held by the group: what it would do alone from here.
  if (entered === 'backup') { settleBackupWant(d); return }
  d.want = serviceState(d)
  d.wantReason = 'faultCleared'
}

/**
 * A member held in Backup wants Master exactly when its Master_Down_Timer has run out (or it is
 * the owner); any advert that re-arms the timer takes the wish back (keepalived vrrp_sync.c:
 * "held in backup by a sync group … now we have received a backup, we want to be in BACKUP").
 */
function settleBackupWant (d: Draft): void {
  if (d.group === null || d.state !== 'backup') return
  const want = isOwner(d.config) || d.timers.masterDown === null ? 'master' : 'backup'
  if (want !== d.want) {
    d.want = want
    d.wantReason = want === 'master' ? (isOwner(d.config) ? 'ownerStartup' : 'masterDown') : null
  }
}

function faultReason (d: Draft): TransitionReason {
  if (d.maintenance) return 'maintenance'
  return d.interfaceUp ? 'trackDown' : 'interfaceDown'
}

// --- event handlers -------------------------------------------------------------------------

/** RFC 5798 §6.4.1: Startup. FAULT first if a fault cause is already known (keepalived). */
function onStartup (d: Draft, out: Out, now: Millis): void {
  if (d.started) { drop(d, out, 'alreadyRunning'); return }
  d.started = true
  if (faultCauses(d.config, d.interfaceUp, d.trackUp, d.maintenance).length > 0) request(d, out, 'fault', faultReason(d), now)
  else if (isOwner(d.config)) request(d, out, 'master', 'ownerStartup', now)
  else request(d, out, 'backup', 'startup', now)
}

/** RFC 5798 §6.4.2/§6.4.3: Shutdown, in any state; idempotent. Applies directly, also to members. */
function onShutdown (d: Draft, out: Out, now: Millis): void {
  if (!d.started) { drop(d, out, 'notStarted'); return }
  d.started = false
  changeState(d, out, 'initialize', 'shutdown', now)
  d.want = 'initialize'
  d.wantReason = 'shutdown'
}

/** Enter or leave FAULT after an interface or tracked object changed. */
function updateFault (d: Draft, out: Out, now: Millis): void {
  if (!d.started) return // Startup looks at the causes itself.
  const faulty = faultCauses(d.config, d.interfaceUp, d.trackUp, d.maintenance).length > 0
  const current = d.group !== null ? d.want : d.state
  if (faulty && current !== 'fault') request(d, out, 'fault', faultReason(d), now)
  else if (!faulty && current === 'fault') request(d, out, serviceState(d), 'faultCleared', now)
}

/**
 * A reload changed only what a running router reads afresh (core/reconfigure.ts): swap the
 * config, keep the state of the tracked objects still tracked, start new ones up (the runtime
 * reports their real state right after), forget dropped ones. A Master removes the VIPs that are
 * gone and adds and announces the new ones; the others stay on the interface untouched. A new
 * priority goes out with the next advert (RFC 5798 §6.4.3). FAULT is re-evaluated last.
 */
function onConfigure (d: Draft, out: Out, next: RouterConfig, now: Millis): void {
  if (d.state === 'master') {
    const id = next.id
    const key = (v: { address: string, prefix: number, dev?: string }): string => `${v.address}/${v.prefix}@${v.dev ?? ''}`
    const before = new Set(d.config.vips.map(key))
    const after = new Set(next.vips.map(key))
    const removed = d.config.vips.filter(v => !after.has(key(v)))
    const added = next.vips.filter(v => !before.has(key(v)))
    // Rules and routes leave before the VIPs and come back after them (plans.ts installEffects / vipDel).
    const rules = diffBy(d.config.rules ?? [], next.rules ?? [])
    const routes = diffBy(d.config.routes ?? [], next.routes ?? [])
    if (rules.removed.length > 0) out.effects.push({ kind: 'ruleDel', routerId: id, rules: rules.removed })
    if (routes.removed.length > 0) out.effects.push({ kind: 'routeDel', routerId: id, routes: routes.removed })
    if (removed.length > 0) out.effects.push({ kind: 'vipDel', routerId: id, vips: removed })
    if (added.length > 0) out.effects.push({ kind: 'vipAdd', routerId: id, vips: added })
    if (routes.added.length > 0) out.effects.push({ kind: 'routeAdd', routerId: id, routes: routes.added })
    if (rules.added.length > 0) out.effects.push({ kind: 'ruleAdd', routerId: id, rules: rules.added })
    if (added.length > 0) out.effects.push(...announceRound({ ...next, vips: added }))
  }
  const trackUp: Record<string, boolean> = {}
  for (const name of Object.keys(next.track)) trackUp[name] = d.trackUp[name] ?? true
  d.trackUp = trackUp
  d.config = next
  updateFault(d, out, now)
}

/** Entries only in `before` / only in `after`, compared as whole values (routes and rules are plain data). */
function diffBy<T> (before: readonly T[], after: readonly T[]): { removed: T[], added: T[] } {
  const b = new Set(before.map(x => JSON.stringify(x)))
  const a = new Set(after.map(x => JSON.stringify(x)))
  return { removed: before.filter(x => !a.has(JSON.stringify(x))), added: after.filter(x => !b.has(JSON.stringify(x))) }
}

function onAdvert (d: Draft, out: Out, a: AdvertInput, now: Millis): void {
  if (d.state === 'initialize') { drop(d, out, 'notRunning'); return }
  if (d.state === 'fault') { drop(d, out, 'inFault'); return }
  const src = canonicalIP(a.src)
  if (src === null || !isAddressOf(d.config.family, src)) { drop(d, out, 'badSourceAddress'); return }
  // Multicast loops our own adverts back to us; they say nothing about the other routers.
  if (compareIP(src, d.primaryAddress) === 0) { drop(d, out, 'ownAdvert'); return }
  // RFC 3768 §7.1: "MUST verify that the Adver Interval in the packet is the same as the locally
  // configured for this virtual router. If the above check fails, the receiver MUST discard".
  if (d.config.version === 2 && a.adverIntervalCs !== d.config.advertIntervalCs) { drop(d, out, 'intervalMismatch'); return }

  d.counters.advertsReceived++
  if (a.priority === PRIORITY_STOP) d.counters.priorityZeroReceived++
  // RFC 5798 §7.1: "MAY verify that the IPvX Address(es) … are valid … SHOULD log the event and
  // MAY still accept": counted, accepted.
  if (!sameAddresses(a.addresses, d.config)) d.counters.addressListMismatch++
  d.lastMaster = { address: src, priority: a.priority, adverIntervalCs: a.adverIntervalCs, at: now }

  const local = priorityOf(d)
  if (d.state === 'backup') {
    if (a.priority === PRIORITY_STOP) {
      // RFC 5798 §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then: Set the
      // Master_Down_Timer to Skew_Time".
      d.timers.masterDown = now + skewTime(d.config.version, local, d.masterAdverIntervalCs)
      out.released = d.group !== null
    } else {
      const decision = backupAdvertDecision(d.config, a.priority, local, d.preemptNotBefore, now)
      d.preemptNotBefore = decision.preemptNotBefore
      if (decision.accept) {
        // RFC 5798 §6.4.2: Master_Adver_Interval from the advert (v3 only: v2 intervals are
        // equal, RFC 3768 §7.1), recompute Skew_Time/Master_Down_Interval, reset the timer.
        if (d.config.version === 3) d.masterAdverIntervalCs = a.adverIntervalCs
        d.timers.masterDown = now + masterDownInterval(d.config.version, local, d.masterAdverIntervalCs)
      } else {
        // RFC 5798 §6.4.2 "Otherwise, discard the ADVERTISEMENT": our Master_Down_Timer runs out and we preempt.
        drop(d, out, 'lowerPriorityPreempting')
      }
    }
    settleBackupWant(d)
    return
  }

  // Master, RFC 5798 §6.4.3.
  if (a.priority === PRIORITY_STOP) {
    // "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT; Reset the
    // Adver_Timer to Advertisement_Interval" — tells the leaving router's peers who is master.
    sendAdvert(d, out, local)
    d.timers.adver = now + csToMs(d.config.advertIntervalCs)
    return
  }
  if (masterYields(a.priority, src, local, d.primaryAddress)) {
    // "Cancel Adver_Timer; Set Master_Adver_Interval to Adver Interval contained in the
    // ADVERTISEMENT; Recompute …; Set Master_Down_Timer …; Transition to the Backup state"
    // (changeState does the timers).
    if (d.config.version === 3) d.masterAdverIntervalCs = a.adverIntervalCs
    request(d, out, 'backup', 'preempted', now)
    return
  }
  // "Otherwise (… lower …): Discard the ADVERTISEMENT" — our next advert asserts us.
  drop(d, out, 'lowerPriorityAsMaster')
}

function sameAddresses (addresses: readonly string[], config: RouterConfig): boolean {
  const ours = new Set(config.vips.filter(v => v.family === config.family).map(v => canonicalIP(v.address)))
  const theirs = new Set(addresses.map(a => canonicalIP(a)))
  if (ours.size !== theirs.size) return false
  for (const a of theirs) if (!ours.has(a)) return false
  return true
}

function sendAdvert (d: Draft, out: Out, priority: number): void {
  out.effects.push({ kind: 'sendAdvert', routerId: d.config.id, priority })
  d.counters.advertsSent++
}

/** Fire every due timer, in a fixed order; a due timer that the state cannot own is a bug. */
function onTimeout (d: Draft, out: Out, now: Millis): void {
  const t = d.timers
  if (!isDue(t.masterDown, now) && !isDue(t.adver, now) && !isDue(t.announce, now) && !isDue(t.refresh, now)) {
    drop(d, out, 'noTimerDue')
    return
  }
  if (isDue(t.masterDown, now)) {
    t.masterDown = null
    if (d.state !== 'backup') drop(d, out, 'bugTimerInWrongState')
    else {
      // RFC 5798 §6.4.2: "If the Master_Down_Timer fires, then: … Transition to the Master state".
      request(d, out, 'master', 'masterDown', now)
    }
  }
  if (isDue(t.adver, now)) {
    if (d.state !== 'master') { t.adver = null; drop(d, out, 'bugTimerInWrongState') } else {
      // RFC 5798 §6.4.3: "If the Adver_Timer fires, then: Send an ADVERTISEMENT; Reset the
      // Adver_Timer to Advertisement_Interval".
      sendAdvert(d, out, priorityOf(d))
      t.adver = now + csToMs(d.config.advertIntervalCs)
    }
  }
  if (isDue(t.announce, now)) {
    t.announce = null
    if (d.state !== 'master') drop(d, out, 'bugTimerInWrongState')
    else out.effects.push(...announceRound(d.config)) // keepalived garp_master_delay: the second round
  }
  if (isDue(t.refresh, now)) {
    if (d.state !== 'master') { t.refresh = null; drop(d, out, 'bugTimerInWrongState') } else {
      out.effects.push(...announceRound(d.config)) // keepalived garp_master_refresh
      t.refresh = now + d.config.announce.refreshMs
    }
  }
}

/** Apply a sync group decision (node.ts only). The member's own reason when it wanted this. */
function onGroupDecision (d: Draft, out: Out, group: string, to: 'backup' | 'master' | 'fault', now: Millis): void {
  if (d.group !== group || !d.started) { drop(d, out, 'badGroupDecision'); return }
  if (d.state === to) return
  const reason: TransitionReason = d.want === to && d.wantReason !== null ? d.wantReason : 'syncGroup'
  changeState(d, out, to, reason, now)
}

/**
 * Another member of our group heard its master release with priority 0 (node.ts only).
 *
 * RFC 5798 §6.4.2 gives a released Backup Skew_Time, but a sync group goes MASTER only when every
 * member wants it, and a member whose link died with the master's (the firewall's other leg) hears
 * nothing and would hold the group for a whole Master_Down_Interval. A master that leaves a group
 * leaves all of it, so the release on one link says the other links are being released too: each
 * Backup member shortens its Master_Down_Timer to one Master_Adver_Interval + Skew_Time. A master
 * still alive on that link (only one of its routers left, or it is not grouped) sends its next
 * advert within one interval, which re-arms the full timer (onAdvert) and keeps the member, hence
 * the group, Backup: the all-or-nothing rule still holds, only the wait is shorter. Never lengthens
 * a timer that is already shorter (the member's own master may have released it too).
 */
function onGroupRelease (d: Draft, out: Out, group: string, now: Millis): void {
  if (d.group !== group) { drop(d, out, 'badGroupDecision'); return }
  if (!d.started || d.state !== 'backup' || d.timers.masterDown === null) return // nothing to shorten
  const bound = now + csToMs(d.masterAdverIntervalCs) + skewTime(d.config.version, priorityOf(d), d.masterAdverIntervalCs)
  if (d.timers.masterDown > bound) {
    d.timers.masterDown = bound
    d.counters.groupReleases++
  }
}

/** Status view (hafwctl show vrrp, status API). */
export function routerSnapshot (r: Router): RouterSnapshot {
  return {
    id: r.config.id,
    ifname: r.config.ifname,
    family: r.config.family,
    vrid: r.config.vrid,
    version: r.config.version,
    state: r.state,
    want: r.want,
    syncGroup: r.group,
    configuredPriority: r.config.priority,
    effectivePriority: routerPriority(r),
    primaryAddress: r.primaryAddress,
    advertIntervalCs: r.config.advertIntervalCs,
    masterAdverIntervalCs: r.masterAdverIntervalCs,
    interfaceUp: r.interfaceUp,
    faults: faultCauses(r.config, r.interfaceUp, r.trackUp, r.maintenance),
    track: trackStatus(r.config, r.trackUp, r.offsets),
    offsets: Object.fromEntries(Object.entries(r.offsets).filter(([source]) => !(source.startsWith('file:') && source.slice(5) in (r.config.fileWeights ?? {})))),
    lastMaster: r.lastMaster,
    lastTransition: r.lastTransition,
    counters: r.counters,
    deadline: routerDeadline(r)
  }
}
