/**
 * Types of one VRRP router (RFC 5798 §3 "VRRP router": one virtual router instance on one
 * interface, one VRID, one address family) in the pure core.
 *
 * A router is plain data. `stepRouter` (router.ts) takes `(router, input, now)` and returns the
 * next router plus effects, transition events, drop reasons and the next deadline. Nothing here
 * reads a clock or touches a socket (architecture decision 1).
 *
 * Units: configuration and wire values keep the RFC unit (centiseconds, `…Cs`); everything the
 * core schedules is in milliseconds (`Millis`). timers.ts does the conversions.
 */
import type { Effect, Vip, VRoute, VRule } from '../effects.js'
import type { Deadline, Millis } from '../time.js'

/** RFC 5798 §6.4 states, plus keepalived's FAULT (own interface or a weight-0 tracked object down). */
export type RouterState = 'initialize' | 'backup' | 'master' | 'fault'

export const ROUTER_STATES: readonly RouterState[] = ['initialize', 'backup', 'master', 'fault']

/** Gratuitous ARP / unsolicited NA schedule on becoming MASTER (keepalived garp_master_*). */
export interface AnnounceConfig {
  /** Delay of the second announce round after the transition (keepalived garp_master_delay); 0 = no second round. */
  readonly delayMs: Millis
  /** Packets per VIP per round (keepalived garp_master_repeat); the `count` of the garp/unsolicitedNa effects. */
  readonly repeat: number
  /** Period of the refresh rounds while MASTER (keepalived garp_master_refresh); 0 = none. */
  readonly refreshMs: Millis
}

export interface RouterConfig {
  /** Unique id of this router in the node, used in effects, events and logs (e.g. `eth1/v4/51`). */
  readonly id: string
  readonly ifname: string
  readonly family: 'ipv4' | 'ipv6'
  /** RFC 5798 §5.2.3 Virtual Rtr ID, 1..255. */
  readonly vrid: number
  readonly version: 2 | 3
  /** RFC 5798 §6.1 Priority: 255 = address owner, 1..254 otherwise (configured, before tracking). */
  readonly priority: number
  /**
   * RFC 5798 §6.1 Advertisement_Interval in centiseconds. For VRRPv2 (RFC 3768 §5.3.7, whole
   * seconds on the wire) it is the seconds × 100; config validation guarantees a multiple of 100.
   */
  readonly advertIntervalCs: number
  /** RFC 5798 §6.1 Preempt_Mode. The owner (255) always preempts, whatever this says. */
  readonly preempt: boolean
  /** keepalived preempt_delay in ms; 0 = preempt without delay. See election.ts for the exact rule. */
  readonly preemptDelayMs: Millis
  /**
   * RFC 5798 §6.1 Accept_Mode. Carried for the runtime (it decides whether packets to the VIPs are
   * accepted when not the owner); it does not change the state machine.
   */
  readonly acceptMode: boolean
  readonly vips: readonly Vip[]
  /** Routes and policy rules that move with the VIPs (keepalived virtual_routes / virtual_rules); absent = none. */
  readonly routes?: readonly VRoute[]
  readonly rules?: readonly VRule[]
  /**
   * The router's primary address on `ifname` (RFC 5798 §6.1 "Primary IP Address"; for IPv6 the
   * link-local address). The runtime fills it from the interface and may update it later with
   * the `primaryAddress` input. It is the advert source and the tie-break key (§6.4.3).
   */
  readonly primaryAddress: string
  readonly announce: AnnounceConfig
  /**
   * Tracked objects (interfaces, files, scripts; names are opaque to the core) → keepalived weight.
   * weight > 0: added to the priority while the object is up; weight < 0: added while it is down;
   * weight 0: the router goes to FAULT while the object is down.
   */
  readonly track: Readonly<Record<string, number>>
  /** Name of the sync group this router belongs to (informative; node.ts checks it against the groups). */
  readonly syncGroup?: string
  /**
   * Tracked files with a weight (keepalived track_file, weight ≠ 0): path → weight. The runtime
   * feeds their value × weight as the priorityOffset `file:PATH`; the core only uses this to show
   * the file's value and weight in the status (trackStatus in election.ts).
   */
  readonly fileWeights?: Readonly<Record<string, number>>
}

/**
 * A received advertisement, already decoded and validated by the codec and the runtime
 * (checksum, TTL/hop limit, version, VRID, auth: RFC 5798 §7.1 items the codec owns).
 */
export interface AdvertInput {
  readonly kind: 'advert'
  /** IP source address of the packet (the sender's primary address). */
  readonly src: string
  readonly priority: number
  /**
   * v3: Max Adver Int (centiseconds, RFC 5798 §5.2.7). v2: Adver Int seconds × 100 (RFC 3768
   * §5.3.7), so both versions use one unit here.
   */
  readonly adverIntervalCs: number
  /** The IPvX addresses listed in the advert (RFC 5798 §5.2.9); compared with ours for a counter only. */
  readonly addresses: readonly string[]
}

/**
 * Everything a router reacts to. Inputs the runtime produces:
 * - `startup` / `shutdown`: RFC 5798 §6.4.1 Startup and §6.4.2/§6.4.3 Shutdown events.
 * - `advert`: a received ADVERTISEMENT.
 * - `timeout`: `now` has reached the deadline the router returned (any of its timers).
 * - `interfaceState`: the router's own interface went up/down (FAULT while down).
 * - `trackState`: a tracked object changed (weights or FAULT, see RouterConfig.track).
 * - `priorityOffset`: an external adjustment of the effective priority, keyed by `source` so each
 *   source can set and clear its own (e.g. `source: 'bulkSync', offset: -250` while the conntrack
 *   bulk resync is pending, architecture decision 5); offset 0 removes the source.
 * - `primaryAddress`: the interface's primary address changed.
 * - `groupDecision`: only node.ts sends it, to apply a sync group's decision to a member
 *   (architecture decision 4); see group/sync-group.ts.
 * - `maintenance`: the operator took the node out of service (`hafwctl maintenance on`): FAULT,
 *   with its own reason, until `on: false`.
 * - `configure`: a reload changed only what can change under a running router (core/reconfigure.ts
 *   `restartReasons` is empty): the config is swapped in place, tracked objects added (up) or
 *   dropped, VIPs added/removed while Master, FAULT re-evaluated. Never a restart.
 * - `groupRelease`: only node.ts sends it, to the Backup members of a group when another member
 *   heard its master release with priority 0 (see router.ts onGroupRelease).
 */
export type RouterInput =
  | { readonly kind: 'startup' }
  | { readonly kind: 'shutdown' }
  | AdvertInput
  | { readonly kind: 'timeout' }
  | { readonly kind: 'interfaceState', readonly up: boolean }
  | { readonly kind: 'trackState', readonly name: string, readonly up: boolean }
  | { readonly kind: 'priorityOffset', readonly source: string, readonly offset: number }
  | { readonly kind: 'primaryAddress', readonly address: string }
  | { readonly kind: 'groupDecision', readonly group: string, readonly state: 'backup' | 'master' | 'fault' }
  | { readonly kind: 'maintenance', readonly on: boolean }
  | { readonly kind: 'configure', readonly config: RouterConfig }
  | { readonly kind: 'groupRelease', readonly group: string }

export type RouterInputKind = RouterInput['kind']

/** Why a router changed state. Closed set; used in transition events, logs and the status API. */
export type TransitionReason =
  /** RFC 5798 §6.4.1: Startup event, not the owner → Backup. */
  | 'startup'
  /** RFC 5798 §6.4.1: Startup event, Priority 255 → Master at once. */
  | 'ownerStartup'
  /** RFC 5798 §6.4.2: Master_Down_Timer fired. */
  | 'masterDown'
  /** RFC 5798 §6.4.3: an advert with a higher priority (or equal and higher address) arrived. */
  | 'preempted'
  /** RFC 5798 §6.4.2/§6.4.3: Shutdown event. */
  | 'shutdown'
  /** The router's own interface went down (keepalived FAULT). */
  | 'interfaceDown'
  /** A weight-0 tracked object went down (keepalived FAULT). */
  | 'trackDown'
  /** Maintenance mode on (`hafwctl maintenance on`): out of service, not a failure. */
  | 'maintenance'
  /** The last fault cause cleared: back to Backup (or Master for the owner), as from Initialize. */
  | 'faultCleared'
  /** Applied a sync group decision this member did not ask for itself (architecture decision 4). */
  | 'syncGroup'

/** One state change, emitted by the single choke point (router.ts `changeState`). */
export interface TransitionEvent {
  readonly routerId: string
  readonly from: RouterState
  readonly to: RouterState
  readonly reason: TransitionReason
  readonly at: Millis
  /** Effective priority at the time of the change. */
  readonly priority: number
}

/**
 * Why an input was ignored. Closed set: each one is a named counter (architecture decision 7).
 * Severity per reason: DROP_SEVERITY in drops.ts.
 */
export type RouterDropReason =
  /** Advert while not started (Initialize). */
  | 'notRunning'
  /** Advert while in FAULT. */
  | 'inFault'
  /** Advert source is not an address of the router's family. */
  | 'badSourceAddress'
  /** Our own advert looped back (source == our primary address). */
  | 'ownAdvert'
  /** RFC 3768 §7.1: VRRPv2 advert whose Adver Int differs from the locally configured one. */
  | 'intervalMismatch'
  /** RFC 5798 §6.4.3: Master got a lower-priority (or equal priority, lower address) advert: discarded. */
  | 'lowerPriorityAsMaster'
  /** RFC 5798 §6.4.2: Backup preempting (Preempt_Mode true) discarded a lower-priority advert. */
  | 'lowerPriorityPreempting'
  /** Startup while already running (Startup is only valid in Initialize). */
  | 'alreadyRunning'
  /** Shutdown while already in Initialize (idempotent, counted). */
  | 'notStarted'
  /** Timeout input but none of the router's timers is due (early wake-up). */
  | 'noTimerDue'
  /** trackState for a name the router does not track. */
  | 'unknownTrack'
  /** primaryAddress input that does not parse or has the wrong family. */
  | 'badPrimaryAddress'
  /** groupDecision sent to a router that is not in that group, or while not started. */
  | 'badGroupDecision'
  /** A timer fired in a state where it cannot be armed: an internal error ("this is a bug", FRR). */
  | 'bugTimerInWrongState'

/** The last master this router heard from (status API). */
export interface HeardMaster {
  readonly address: string
  readonly priority: number
  readonly adverIntervalCs: number
  readonly at: Millis
}

export interface RouterCounters {
  readonly transitions: number
  readonly advertsReceived: number
  readonly advertsSent: number
  readonly priorityZeroReceived: number
  readonly priorityZeroSent: number
  /** RFC 5798 §7.1: the advert's address list differs from ours (logged and counted, still accepted). */
  readonly addressListMismatch: number
  /** Times a fellow sync-group member heard its master release and this Backup cut its Master_Down_Timer (router.ts onGroupRelease). */
  readonly groupReleases: number
  readonly drops: Readonly<Partial<Record<RouterDropReason, number>>>
}

/** The router's timers; each null when not armed. Only the ones valid in the current state are armed. */
export interface RouterTimers {
  /** RFC 5798 §6.2 Adver_Timer (Master). */
  readonly adver: Deadline
  /** RFC 5798 §6.2 Master_Down_Timer (Backup). */
  readonly masterDown: Deadline
  /** Second announce round after becoming Master (keepalived garp_master_delay). */
  readonly announce: Deadline
  /** Periodic announce refresh while Master (keepalived garp_master_refresh). */
  readonly refresh: Deadline
}

/** What the router would do on its own; differs from `state` only for sync group members held by the group. */
export type RouterWant = RouterState

/** The whole state of one router. Plain data; never mutated by the core (each step returns a new one). */
export interface Router {
  readonly config: RouterConfig
  readonly state: RouterState
  /** Sync group members: what this router would do alone (architecture decision 4). Equals `state` otherwise. */
  readonly want: RouterWant
  readonly wantReason: TransitionReason | null
  /** The sync group that decides this router's state (set by node.ts createNode), or null. */
  readonly group: string | null
  /** Between the Startup and Shutdown events. */
  readonly started: boolean
  readonly primaryAddress: string
  readonly interfaceUp: boolean
  /** Tracked object name → up. Starts all up; the runtime reports the real states. */
  readonly trackUp: Readonly<Record<string, boolean>>
  /** Maintenance mode (the `maintenance` input): a FAULT cause of its own. */
  readonly maintenance: boolean
  /** priorityOffset source → offset. */
  readonly offsets: Readonly<Record<string, number>>
  /** RFC 5798 §6.1 Master_Adver_Interval (centiseconds): ours, or learned from the master (v3). */
  readonly masterAdverIntervalCs: number
  readonly timers: RouterTimers
  /** keepalived preempt_delay: a lower-priority master may be preempted only from this instant on. */
  readonly preemptNotBefore: Deadline
  readonly lastMaster: HeardMaster | null
  readonly lastTransition: TransitionEvent | null
  readonly counters: RouterCounters
}

/**
 * The effects of becoming MASTER, as three ordered phases (architecture decision 2):
 *   advertise  — sendAdvert(own priority): claim the role on the wire first (RFC 5798 §6.4.1 (o)).
 *   ── splice point: the orchestrator inserts ctCommit HERE, before any VIP exists ──
 *   install    — vipAdd, then routeAdd, then ruleAdd (routes may need a VIP as src or next hop).
 *   announce   — garp (IPv4 VIPs) / unsolicitedNa (IPv6 VIPs), count = announce.repeat.
 * The orchestrator appends ctFlush, ctResyncFromKernel, syncBulkSend after `announce`.
 */
export interface MasterEntryPlan {
  readonly advertise: readonly Effect[]
  readonly install: readonly Effect[]
  readonly announce: readonly Effect[]
}

/** Result of one router step. */
export interface RouterStepResult {
  readonly router: Router
  /** Ordered effects. A Master entry, if any, comes last, as advertise ++ install ++ announce. */
  readonly effects: readonly Effect[]
  /**
   * Index in `effects` where the orchestrator must insert ctCommit (the start of the Master entry
   * `install` phase, i.e. after its sendAdvert and before its vipAdd); null when no Master entry.
   */
  readonly ctCommitAt: number | null
  readonly deadline: Deadline
  readonly transitions: readonly TransitionEvent[]
  readonly drops: readonly RouterDropReason[]
}

/** Status view of one router (status API, hafwctl). */
export interface RouterSnapshot {
  readonly id: string
  readonly ifname: string
  readonly family: 'ipv4' | 'ipv6'
  readonly vrid: number
  readonly version: 2 | 3
  readonly state: RouterState
  readonly want: RouterWant
  readonly syncGroup: string | null
  readonly configuredPriority: number
  readonly effectivePriority: number
  readonly primaryAddress: string
  readonly advertIntervalCs: number
  readonly masterAdverIntervalCs: number
  readonly interfaceUp: boolean
  readonly faults: readonly string[]
  /** Each tracked object: its state, weight and what it adds to the priority now. */
  readonly track: readonly TrackStatus[]
  /** Other priorityOffset sources (bulkSync demotion, maintenance) → offset. */
  readonly offsets: Readonly<Record<string, number>>
  readonly lastMaster: HeardMaster | null
  readonly lastTransition: TransitionEvent | null
  readonly counters: RouterCounters
  readonly deadline: Deadline
}

/** Kind of a tracked object, from its name prefix (`if:`, `script:`, `file:`; runtime/assemble.ts). */
export type TrackKind = 'interface' | 'script' | 'file' | 'other'

/** One tracked object of a router as the status shows it (election.ts trackStatus). */
export interface TrackStatus {
  /** The core's name: `if:eth2`, `script:chk_fw`, `file:/run/prio`. */
  readonly name: string
  readonly kind: TrackKind
  readonly weight: number
  /** Up/down (interfaces, scripts, weight-0 files); null for a weighted file (it has a value). */
  readonly up: boolean | null
  /** A weighted file: the number it holds (offset / weight); null otherwise, or not read yet. */
  readonly value: number | null
  /** What it adds to the configured priority now (before the 1..254 clamp). */
  readonly contribution: number
  /** Weight 0 and down: it holds the router in FAULT. */
  readonly fault: boolean
}

/**
 * What made a router's effective priority change (node.ts reports it with the old and new value):
 * a tracked object, a priorityOffset source (a weighted file, bulkSync, maintenance), or a reload.
 */
export type PriorityCause =
  | { readonly kind: 'track', readonly name: string, readonly up: boolean, readonly weight: number }
  | { readonly kind: 'offset', readonly source: string, readonly offset: number }
  | { readonly kind: 'reload' }
  /** Any other input (none changes the priority today; kept so a change is never unreported). */
  | { readonly kind: 'input', readonly input: RouterInputKind }

/** The effective priority of a router changed (status API event, info log line). */
export interface PriorityChangeEvent {
  readonly routerId: string
  readonly from: number
  readonly to: number
  readonly cause: PriorityCause
  readonly at: Millis
}
