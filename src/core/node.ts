/**
 * The whole VRRP side of one hafwd node as one pure state machine: every router and every sync
 * group. The runtime drives it like a single str0m object:
 *
 *   stepNode(node, input, now) → { node, effects, ctCommitAt, deadline, transitions, groupTransitions, drops }
 *
 * and arms one timer at `deadline` (the earliest of all routers), feeding `{ kind: 'timeout' }`
 * when it fires.
 *
 * Effect order within one step: first every priority-0 advert of the step (a group leaving
 * MASTER tells the peer on every live link before it removes any VIP: the runtime awaits each
 * vipDel, and the peer's Skew_Time should not wait behind them — keepalived's
 * vrrp_restore_interface sends priority 0 first too), then the routers' other ordinary effects in
 * processing order (periodic adverts, vipDel of leave-Master plans), then the Master entries
 * of every router that became Master in this step, merged by phase:
 *   all sendAdverts  →  [ctCommitAt: the orchestrator inserts ctCommit here]  →  all vipAdds  →  all garp/NA
 * so a sync group that goes MASTER commits the conntrack table once, before any of its VIPs
 * exists (architecture decision 2).
 */
import type { Effect } from './effects.js'
import { earliest, isDue, type Deadline, type Millis } from './time.js'
import { changeGroupState, createSyncGroup, decideGroup, type GroupState, type GroupTransitionEvent, type SyncGroup, type SyncGroupConfig } from './group/sync-group.js'
import { DROP_SEVERITY, type DropSeverity } from './vrrp/drops.js'
import { createRouter, routerDeadline, routerPriority, routerSnapshot, stepRouterPhased } from './vrrp/router.js'
import type { MasterEntryPlan, PriorityCause, PriorityChangeEvent, Router, RouterConfig, RouterDropReason, RouterInput, RouterSnapshot, TransitionEvent } from './vrrp/types.js'

export interface NodeState {
  /** Router id → router. */
  readonly routers: Readonly<Record<string, Router>>
  /** Router ids in configuration order (deterministic processing order). */
  readonly order: readonly string[]
  /** Group name → group. */
  readonly groups: Readonly<Record<string, SyncGroup>>
}

/**
 * Inputs of the node:
 * - `router`: one input for one router (adverts are dispatched by the runtime by ifname/VRID/family).
 * - `all`: the same input to every router, in one step (startup, shutdown, the bulk-sync
 *   priorityOffset of architecture decision 5): a node shutdown sends every priority-0 advert at once.
 * - `interface`: link state of an interface → `interfaceState` to every router on it.
 * - `track`: a tracked object changed → `trackState` to every router tracking that name.
 * - `timeout`: the node's deadline was reached; every router with a due timer is stepped.
 * `groupDecision` and `groupRelease` are internal and refused from outside.
 */
export type NodeInput =
  | { readonly kind: 'router', readonly routerId: string, readonly input: RouterInput }
  | { readonly kind: 'all', readonly input: RouterInput }
  | { readonly kind: 'interface', readonly ifname: string, readonly up: boolean }
  | { readonly kind: 'track', readonly name: string, readonly up: boolean }
  | { readonly kind: 'timeout' }

export type NodeDropReason = RouterDropReason | 'unknownRouter' | 'reservedInput'

/** Log level for a node drop: the router table (vrrp/drops.ts) plus the two node-level reasons. */
export function nodeDropSeverity (reason: NodeDropReason): DropSeverity {
  if (reason === 'unknownRouter') return 'warn' // the runtime dispatched to a router the node does not have
  if (reason === 'reservedInput') return 'error' // groupDecision from outside: a caller bug
  return DROP_SEVERITY[reason]
}

export interface NodeDrop {
  readonly routerId: string | null
  readonly reason: NodeDropReason
}

export interface NodeStepResult {
  readonly node: NodeState
  readonly effects: readonly Effect[]
  /** Where ctCommit goes in `effects` (before the first vipAdd of a Master entry); null when nobody became Master. */
  readonly ctCommitAt: number | null
  readonly deadline: Deadline
  readonly transitions: readonly TransitionEvent[]
  readonly groupTransitions: readonly GroupTransitionEvent[]
  readonly drops: readonly NodeDrop[]
  /** Routers whose effective priority changed in this step, with the cause (logged at info by the runtime). */
  readonly priorityChanges: readonly PriorityChangeEvent[]
}

/** Why `input` changed a router's effective priority (for the priority-change event). */
function priorityCause (r: Router, input: RouterInput): PriorityCause {
  switch (input.kind) {
    case 'trackState': return { kind: 'track', name: input.name, up: input.up, weight: r.config.track[input.name] ?? 0 }
    case 'priorityOffset': return { kind: 'offset', source: input.source, offset: input.offset }
    case 'configure': return { kind: 'reload' }
    default: return { kind: 'input', input: input.kind }
  }
}

export interface GroupSnapshot {
  readonly name: string
  readonly state: GroupState
  readonly members: ReadonlyArray<{ readonly id: string, readonly state: string, readonly want: string }>
  readonly transitions: number
  readonly lastTransition: GroupTransitionEvent | null
}

export interface NodeSnapshot {
  readonly routers: readonly RouterSnapshot[]
  readonly groups: readonly GroupSnapshot[]
  readonly deadline: Deadline
}

/**
 * Build the node. Throws RangeError on inconsistent input (duplicate ids, unknown or shared
 * members, a RouterConfig.syncGroup that disagrees with the groups), which config validation
 * should have refused already.
 */
export function createNode (configs: readonly RouterConfig[], groups: readonly SyncGroupConfig[]): NodeState {
  const groupOf = new Map<string, string>()
  const ids = new Set(configs.map(c => c.id))
  if (ids.size !== configs.length) throw new RangeError('createNode: duplicate router id')
  const groupMap: Record<string, SyncGroup> = {}
  for (const g of groups) {
    if (g.name in groupMap) throw new RangeError(`createNode: duplicate sync group ${g.name}`)
    if (g.members.length === 0) throw new RangeError(`createNode: sync group ${g.name} has no member`)
    for (const m of g.members) {
      if (!ids.has(m)) throw new RangeError(`createNode: sync group ${g.name}: unknown router ${m}`)
      if (groupOf.has(m)) throw new RangeError(`createNode: router ${m} is in two sync groups`)
      groupOf.set(m, g.name)
    }
    groupMap[g.name] = createSyncGroup(g)
  }
  const routers: Record<string, Router> = {}
  for (const c of configs) {
    const group = groupOf.get(c.id) ?? null
    if (c.syncGroup !== undefined && c.syncGroup !== group) {
      throw new RangeError(`createNode: router ${c.id} names sync group ${c.syncGroup} but is listed in ${group ?? 'none'}`)
    }
    routers[c.id] = createRouter(c, group)
  }
  return { routers, order: configs.map(c => c.id), groups: groupMap }
}

/** The earliest deadline of all routers. */
export function nodeDeadline (node: NodeState): Deadline {
  return earliest(...node.order.map(id => routerDeadline(node.routers[id] as Router)))
}

/** Advance the node by one input at `now`. Pure: `node` is not modified. */
export function stepNode (node: NodeState, input: NodeInput, now: Millis): NodeStepResult {
  const routers: Record<string, Router> = { ...node.routers }
  const groups: Record<string, SyncGroup> = { ...node.groups }
  const effects: Effect[] = []
  const entries: MasterEntryPlan[] = []
  const transitions: TransitionEvent[] = []
  const groupTransitions: GroupTransitionEvent[] = []
  const drops: NodeDrop[] = []
  const priorityChanges: PriorityChangeEvent[] = []
  const touched = new Set<string>()
  /** Group → the member that heard its master release (priority 0) in this step. */
  const released = new Map<string, string>()

  const apply = (id: string, routerInput: RouterInput): void => {
    const r = routers[id] as Router
    const res = stepRouterPhased(r, routerInput, now)
    routers[id] = res.router
    const from = routerPriority(r)
    const to = routerPriority(res.router)
    if (from !== to) priorityChanges.push({ routerId: id, from, to, cause: priorityCause(res.router, routerInput), at: now })
    if (res.released && res.router.group !== null && !released.has(res.router.group)) released.set(res.router.group, id)
    effects.push(...res.effects)
    if (res.masterEntry !== null) entries.push(res.masterEntry)
    transitions.push(...res.transitions)
    for (const reason of res.drops) drops.push({ routerId: id, reason })
    if (res.router.group !== null) touched.add(res.router.group)
  }

  switch (input.kind) {
    case 'router':
      if (!(input.routerId in routers)) drops.push({ routerId: input.routerId, reason: 'unknownRouter' })
      else if (isReserved(input.input)) drops.push({ routerId: input.routerId, reason: 'reservedInput' })
      else apply(input.routerId, input.input)
      break
    case 'all':
      if (isReserved(input.input)) drops.push({ routerId: null, reason: 'reservedInput' })
      else for (const id of node.order) apply(id, input.input)
      break
    case 'interface':
      for (const id of node.order) {
        if ((routers[id] as Router).config.ifname === input.ifname) apply(id, { kind: 'interfaceState', up: input.up })
      }
      break
    case 'track':
      for (const id of node.order) {
        if (input.name in (routers[id] as Router).config.track) apply(id, { kind: 'trackState', name: input.name, up: input.up })
      }
      break
    case 'timeout':
      for (const id of node.order) {
        if (isDue(routerDeadline(routers[id] as Router), now)) apply(id, { kind: 'timeout' })
      }
      break
  }

  // A member heard its master release: the group's other Backup members wait one advert interval
  // + Skew_Time instead of a full Master_Down_Interval (router.ts onGroupRelease says why).
  for (const [name, releasedBy] of released) {
    for (const id of (groups[name] as SyncGroup).config.members) {
      if (id !== releasedBy) apply(id, { kind: 'groupRelease', group: name })
    }
  }

  // Sync groups decide once per step, after every member has seen the input, and members apply.
  // One decision per step means a member whose want changes back and forth within the step
  // cannot make the group add and remove its VIPs in the same step.
  for (const name of Object.keys(groups)) {
    if (!touched.has(name)) continue
    const group = groups[name] as SyncGroup
    const members = group.config.members.map(id => routers[id] as Router)
    const decision = decideGroup(members.map(m => ({ id: m.config.id, want: m.want })))
    const changed = changeGroupState(group, decision, now)
    groups[name] = changed.group
    if (changed.event !== null) groupTransitions.push(changed.event)
    if (decision.state === 'initialize') continue
    const target = decision.state
    for (const m of members) {
      if (m.started && m.state !== target) apply(m.config.id, { kind: 'groupDecision', group: name, state: target })
    }
  }

  // Priority-0 adverts first (module comment); a stable partition keeps each kind's order.
  const zeros = effects.filter(isPriorityZero)
  if (zeros.length > 0) effects.splice(0, effects.length, ...zeros, ...effects.filter(e => !isPriorityZero(e)))

  let ctCommitAt: number | null = null
  if (entries.length > 0) {
    const advertise = entries.flatMap(e => e.advertise)
    ctCommitAt = effects.length + advertise.length
    effects.push(...advertise, ...entries.flatMap(e => e.install), ...entries.flatMap(e => e.announce))
  }
  const next: NodeState = { routers, order: node.order, groups }
  return { node: next, effects, ctCommitAt, deadline: nodeDeadline(next), transitions, groupTransitions, drops, priorityChanges }
}

function isPriorityZero (e: Effect): boolean {
  return e.kind === 'sendAdvert' && e.priority === 0
}

/** Inputs only node.ts may send to a router. */
function isReserved (input: RouterInput): boolean {
  return input.kind === 'groupDecision' || input.kind === 'groupRelease'
}

/** Status view of the node (status API, hafwctl). */
export function nodeSnapshot (node: NodeState): NodeSnapshot {
  return {
    routers: node.order.map(id => routerSnapshot(node.routers[id] as Router)),
    groups: Object.values(node.groups).map(g => ({
      name: g.config.name,
      state: g.state,
      members: g.config.members.map(id => {
        const r = node.routers[id] as Router
        return { id, state: r.state, want: r.want }
      }),
      transitions: g.transitions,
      lastTransition: g.lastTransition
    })),
    deadline: nodeDeadline(node)
  }
}
