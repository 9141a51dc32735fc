/**
 * VRRP sync groups: several routers that must be MASTER together or not at all (a firewall's
 * inside and outside legs). Architecture decision 4: "Sync groups decide, members apply".
 *
 * - Each member router computes its own `want` (what it would do alone; router.ts).
 * - `decideGroup` combines the wants. Order of the rules:
 *     1. every member stopped            → initialize
 *     2. any member wants FAULT          → FAULT  (the whole group leaves service)
 *     3. any member stopped              → BACKUP (all or nothing: half a group cannot be master)
 *     4. any member wants something else than MASTER → BACKUP
 *     5. every member wants MASTER       → MASTER
 *   BACKUP wins every tie, as in keepalived's vrrp_sync.c, so a member that flaps between
 *   wanting MASTER and BACKUP can at worst delay the group's MASTER, never bounce it.
 * - node.ts sends each started member whose state differs a `groupDecision` input; the member
 *   applies it through its own choke point. No member ever mutates another (keepalived's
 *   vrrp_sync.c does; that is the anti-pattern this avoids).
 * - A group's own state changes go through `changeGroupState` (event + counter), like routers.
 */
import type { Millis } from '../time.js'
import type { RouterWant } from '../vrrp/types.js'

export type GroupState = 'initialize' | 'backup' | 'master' | 'fault'

export interface SyncGroupConfig {
  readonly name: string
  /** Router ids (RouterConfig.id). */
  readonly members: readonly string[]
}

export type GroupTransitionReason =
  | 'allStopped'
  | 'memberFault'
  | 'memberStopped'
  | 'memberWantsBackup'
  | 'allWantMaster'

export interface GroupTransitionEvent {
  readonly group: string
  readonly from: GroupState
  readonly to: GroupState
  readonly reason: GroupTransitionReason
  /** The member whose want decided it (null when all members agreed). */
  readonly member: string | null
  readonly at: Millis
}

export interface SyncGroup {
  readonly config: SyncGroupConfig
  readonly state: GroupState
  readonly transitions: number
  readonly lastTransition: GroupTransitionEvent | null
}

export interface MemberWant {
  readonly id: string
  readonly want: RouterWant
}

export interface GroupDecision {
  readonly state: GroupState
  readonly reason: GroupTransitionReason
  readonly member: string | null
}

export function createSyncGroup (config: SyncGroupConfig): SyncGroup {
  return { config, state: 'initialize', transitions: 0, lastTransition: null }
}

/** Combine the members' wants (rules in the module comment). Pure; order of `members` only picks the named member. */
export function decideGroup (members: readonly MemberWant[]): GroupDecision {
  const stopped = members.filter(m => m.want === 'initialize')
  if (stopped.length === members.length) return { state: 'initialize', reason: 'allStopped', member: null }
  const faulty = members.find(m => m.want === 'fault')
  if (faulty !== undefined) return { state: 'fault', reason: 'memberFault', member: faulty.id }
  const first = stopped[0]
  if (first !== undefined) return { state: 'backup', reason: 'memberStopped', member: first.id }
  const notMaster = members.find(m => m.want !== 'master')
  if (notMaster !== undefined) return { state: 'backup', reason: 'memberWantsBackup', member: notMaster.id }
  return { state: 'master', reason: 'allWantMaster', member: null }
}

/**
 * The single choke point for a group's state: no-op when unchanged, otherwise a new group with
 * the event recorded and the counter bumped, and the event to publish.
 */
export function changeGroupState (group: SyncGroup, decision: GroupDecision, now: Millis): { group: SyncGroup, event: GroupTransitionEvent | null } {
  if (group.state === decision.state) return { group, event: null }
  const event: GroupTransitionEvent = {
    group: group.config.name,
    from: group.state,
    to: decision.state,
    reason: decision.reason,
    member: decision.member,
    at: now
  }
  return { group: { ...group, state: decision.state, transitions: group.transitions + 1, lastTransition: event }, event }
}
