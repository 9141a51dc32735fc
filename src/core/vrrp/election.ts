/**
 * Pure election predicates of VRRP (RFC 5798 §6.4) and the keepalived extensions hafwd keeps
 * (tracking weights, FAULT, preempt delay). No state here: router.ts calls these.
 */
import { compareIP, parseIP } from '../../codec/ip.js'
import type { Deadline, Millis } from '../time.js'
import type { RouterConfig, TrackKind, TrackStatus } from './types.js'

/** RFC 5798 §6.1: priority of the router that owns the virtual addresses. */
export const OWNER_PRIORITY = 255
/** RFC 5798 §6.1: highest / lowest priority of a router that is not the owner. */
export const MAX_BACKUP_PRIORITY = 254
export const MIN_BACKUP_PRIORITY = 1
/** RFC 5798 §5.2.4: priority 0 = "the current Master has stopped participating". */
export const PRIORITY_STOP = 0

/** RFC 5798 §6.4.1: the address owner goes to Master at Startup. */
export function isOwner (config: RouterConfig): boolean {
  return config.priority === OWNER_PRIORITY
}

/**
 * The priority the router advertises and elects with. keepalived semantics: a tracked object
 * with weight > 0 adds it while up, weight < 0 adds it while down; weight 0 never changes the
 * priority (it causes FAULT instead). External offsets (e.g. the bulk-sync demotion,
 * architecture decision 5) are added too. The result is clamped to 1..254 so tracking can
 * never make a router an owner or a "stopping" router. The owner keeps 255: RFC 5798 §6.1
 * reserves 255 for the address owner, and demoting it would make it advertise a priority that
 * lies about who owns the addresses.
 */
export function effectivePriority (
  config: RouterConfig,
  trackUp: Readonly<Record<string, boolean>>,
  offsets: Readonly<Record<string, number>>
): number {
  if (isOwner(config)) return OWNER_PRIORITY
  let p = config.priority
  for (const [name, weight] of Object.entries(config.track)) {
    const up = trackUp[name] ?? true
    if (weight > 0 && up) p += weight
    else if (weight < 0 && !up) p += weight
  }
  for (const offset of Object.values(offsets)) p += offset
  return Math.min(MAX_BACKUP_PRIORITY, Math.max(MIN_BACKUP_PRIORITY, p))
}

/**
 * The causes that hold the router in FAULT, as readable names (empty = no fault): maintenance
 * mode, its own interface down, or a weight-0 tracked object down (keepalived).
 */
export function faultCauses (
  config: RouterConfig,
  interfaceUp: boolean,
  trackUp: Readonly<Record<string, boolean>>,
  maintenance = false
): string[] {
  const causes: string[] = []
  if (maintenance) causes.push('maintenance')
  if (!interfaceUp) causes.push(`interface:${config.ifname}`)
  for (const [name, weight] of Object.entries(config.track)) {
    if (weight === 0 && trackUp[name] === false) causes.push(`track:${name}`)
  }
  return causes
}

function trackKind (name: string): TrackKind {
  if (name.startsWith('if:')) return 'interface'
  if (name.startsWith('script:')) return 'script'
  if (name.startsWith('file:')) return 'file'
  return 'other'
}

/**
 * Every tracked object of a router with what it does to the priority now (the same rule as
 * effectivePriority): the up/down tracks of `config.track`, then the weighted files of
 * `config.fileWeights`, whose value × weight is the `file:PATH` offset.
 */
export function trackStatus (
  config: RouterConfig,
  trackUp: Readonly<Record<string, boolean>>,
  offsets: Readonly<Record<string, number>>
): TrackStatus[] {
  const out: TrackStatus[] = []
  for (const [name, weight] of Object.entries(config.track)) {
    const up = trackUp[name] ?? true
    const contribution = (weight > 0 && up) || (weight < 0 && !up) ? weight : 0
    out.push({ name, kind: trackKind(name), weight, up, value: null, contribution, fault: weight === 0 && !up })
  }
  for (const [path, weight] of Object.entries(config.fileWeights ?? {})) {
    const offset = offsets[`file:${path}`]
    out.push({ name: `file:${path}`, kind: 'file', weight, up: null, value: offset === undefined || weight === 0 ? null : offset / weight, contribution: offset ?? 0, fault: false })
  }
  return out
}

/** RFC 5798 §6.1: the owner's Preempt_Mode is always effectively true (it always takes over). */
export function preemptMode (config: RouterConfig): boolean {
  return config.preempt || isOwner(config)
}

/**
 * RFC 5798 §6.4.3: a Master yields to an advert whose priority is greater than its own, or equal
 * with a greater primary address (addresses compared as unsigned integers, network byte order).
 * Priority 0 never wins (it is handled before, §6.4.3 "If the Priority in the ADVERTISEMENT is zero").
 */
export function masterYields (advertPriority: number, advertSrc: string, localPriority: number, localAddress: string): boolean {
  if (advertPriority > localPriority) return true
  return advertPriority === localPriority && compareIP(advertSrc, localAddress) > 0
}

/** Outcome of RFC 5798 §6.4.2 for a non-zero-priority advert received in Backup. */
export interface BackupAdvertDecision {
  /** true: reset Master_Down_Timer (follow this master); false: discard it (we are preempting). */
  readonly accept: boolean
  /** New value of the preempt-delay instant. */
  readonly preemptNotBefore: Deadline
}

/**
 * RFC 5798 §6.4.2: "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
 * than or equal to the local Priority" → accept (reset Master_Down_Timer); "Otherwise, discard".
 *
 * Preempt delay (keepalived preempt_delay, as keepalived 2.2 implements it): preemption is
 * allowed only once `preemptNotBefore` is set and reached. It is set to startup + delay (and
 * fault-cleared + delay) by router.ts; an advert with priority ≥ ours clears it (the master is
 * legitimate again); the first lower-priority advert seen while it is clear starts it at
 * now + delay. Until then lower-priority adverts are accepted like with Preempt_Mode false.
 */
export function backupAdvertDecision (
  config: RouterConfig,
  advertPriority: number,
  localPriority: number,
  preemptNotBefore: Deadline,
  now: Millis
): BackupAdvertDecision {
  const preempt = preemptMode(config)
  if (!preempt) return { accept: true, preemptNotBefore }
  const delay = isOwner(config) ? 0 : config.preemptDelayMs
  if (advertPriority >= localPriority) {
    return { accept: true, preemptNotBefore: delay > 0 ? null : preemptNotBefore }
  }
  if (delay <= 0) return { accept: false, preemptNotBefore }
  if (preemptNotBefore === null) return { accept: true, preemptNotBefore: now + delay }
  if (now < preemptNotBefore) return { accept: true, preemptNotBefore }
  return { accept: false, preemptNotBefore }
}

/** True when `address` parses as an address of `family`. */
export function isAddressOf (family: 'ipv4' | 'ipv6', address: string): boolean {
  const p = parseIP(address)
  return p !== null && p.family === family
}
