/**
 * Reload as a diff (architecture decision 8): apply a new set of router configs and sync groups
 * to a running node without disturbing what did not change.
 *
 * Each router of the new config is one of:
 *   same      — config identical: the router object is kept as it is (state, timers, counters);
 *   inPlace   — only fields that the state machine reads afresh at each use changed (priority,
 *               preempt, preempt delay, accept mode, VIPs, announce, advert interval, tracked
 *               objects added, removed or reweighted): the router steps a `configure` input
 *               (vrrp/router.ts): state and timers kept, a Master adds and announces new VIPs
 *               and removes the dropped ones only (likewise its virtual routes and
 *               rules), FAULT re-evaluated; a new priority goes out
 *               with the next advert (RFC 5798 §6.4.3);
 *   restart   — identity changed (IDENTITY: interface, VRID, version, family, source address,
 *               sync group name) or its sync group's membership changed: shut down (priority 0
 *               if Master, VIPs removed) and started again;
 *   added / removed.
 * Removals and restarts are stepped as Shutdown inputs on the old node, additions and restarts as
 * Startup inputs on the new one, so sync groups decide through the usual path (node.ts).
 */
import type { Effect } from './effects.js'
import type { Millis } from './time.js'
import { createSyncGroup } from './group/sync-group.js'
import type { SyncGroup, SyncGroupConfig } from './group/sync-group.js'
import { createNode, nodeDeadline, stepNode } from './node.js'
import type { NodeState, NodeStepResult } from './node.js'
import type { Router, RouterConfig } from './vrrp/types.js'

export type RouterChangeKind = 'same' | 'inPlace' | 'restart' | 'added' | 'removed'

export interface ReconfigureResult extends NodeStepResult {
  /** What happened to each router id (old and new). */
  readonly changes: Readonly<Record<string, RouterChangeKind>>
  /** Routers restarted: why (see IDENTITY). */
  readonly restartReasons: Readonly<Record<string, readonly RestartReason[]>>
}

/**
 * Fields whose change means the router must be restarted: the one source of truth for "what
 * restarts" (the reload, its dry run and the README say what this list says). Everything else
 * in RouterConfig changes in place.
 */
export const IDENTITY = ['ifname', 'family', 'vrid', 'version', 'primaryAddress', 'syncGroup'] as const satisfies ReadonlyArray<keyof RouterConfig>

/** Why a change restarts a router: an IDENTITY field, or its sync group's membership. */
export type RestartReason = (typeof IDENTITY)[number] | 'syncGroupMembers'

function equal (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function sameMembers (a: SyncGroupConfig | undefined, b: SyncGroupConfig | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return equal([...a.members].sort(), [...b.members].sort())
}

/** The reasons a router kept from `old` to `next` must restart; empty: it changes in place (or not at all). */
export function restartReasons (old: RouterConfig, next: RouterConfig, groupKept: boolean): RestartReason[] {
  const reasons: RestartReason[] = IDENTITY.filter(k => !equal(old[k], next[k]))
  if (!groupKept) reasons.push('syncGroupMembers')
  return reasons
}

export function classify (old: RouterConfig | undefined, next: RouterConfig, groupKept: boolean): RouterChangeKind {
  if (old === undefined) return 'added'
  if (restartReasons(old, next, groupKept).length > 0) return 'restart'
  return equal(old, next) ? 'same' : 'inPlace'
}

export function reconfigureNode (node: NodeState, configs: readonly RouterConfig[], groups: readonly SyncGroupConfig[], now: Millis): ReconfigureResult {
  const oldGroupOf = new Map<string, SyncGroupConfig>()
  for (const g of Object.values(node.groups)) for (const m of g.config.members) oldGroupOf.set(m, g.config)
  const newGroupOf = new Map<string, SyncGroupConfig>()
  for (const g of groups) for (const m of g.members) newGroupOf.set(m, g)

  const changes: Record<string, RouterChangeKind> = {}
  const reasons: Record<string, RestartReason[]> = {}
  const nextIds = new Set(configs.map(c => c.id))
  for (const id of node.order) if (!nextIds.has(id)) changes[id] = 'removed'
  for (const c of configs) {
    const old = node.routers[c.id]
    const kept = old === undefined || sameMembers(oldGroupOf.get(c.id), newGroupOf.get(c.id))
    changes[c.id] = classify(old?.config, c, kept)
    if (changes[c.id] === 'restart' && old !== undefined) reasons[c.id] = restartReasons(old.config, c, kept)
  }

  // Validate the whole new node before anything is stepped: createNode throws on a bad set.
  const fresh = createNode(configs, groups)

  const effects: Effect[] = []
  const transitions: NodeStepResult['transitions'][number][] = []
  const groupTransitions: NodeStepResult['groupTransitions'][number][] = []
  const drops: NodeStepResult['drops'][number][] = []
  const priorityChanges: NodeStepResult['priorityChanges'][number][] = []
  let ctCommitAt: number | null = null
  const collect = (r: NodeStepResult): void => {
    if (r.ctCommitAt !== null && ctCommitAt === null) ctCommitAt = effects.length + r.ctCommitAt
    effects.push(...r.effects)
    transitions.push(...r.transitions)
    groupTransitions.push(...r.groupTransitions)
    drops.push(...r.drops)
    priorityChanges.push(...r.priorityChanges)
  }

  // 1. Shut down what goes away or restarts, on the old node.
  let old = node
  for (const id of node.order) {
    const kind = changes[id]
    if ((kind === 'removed' || kind === 'restart') && (old.routers[id] as Router).started) {
      const r = stepNode(old, { kind: 'router', routerId: id, input: { kind: 'shutdown' } }, now)
      old = r.node
      collect(r)
    }
  }

  // 2. The new node: kept routers carried over (inPlace ones still with their old config), kept groups carried over.
  const routers: Record<string, Router> = {}
  for (const c of configs) {
    const kind = changes[c.id]
    const prev = old.routers[c.id]
    if (prev !== undefined && (kind === 'same' || kind === 'inPlace')) routers[c.id] = prev
    else routers[c.id] = fresh.routers[c.id] as Router
  }
  const groupState: Record<string, SyncGroup> = {}
  for (const g of groups) {
    const prev = old.groups[g.name]
    groupState[g.name] = prev !== undefined && sameMembers(prev.config, g) ? prev : createSyncGroup(g)
  }
  let next: NodeState = { routers, order: configs.map(c => c.id), groups: groupState }

  // 3. Swap the config under the routers that change in place (a step each, so a member's FAULT
  //    re-evaluation goes through its sync group).
  for (const c of configs) {
    if (changes[c.id] !== 'inPlace') continue
    const r = stepNode(next, { kind: 'router', routerId: c.id, input: { kind: 'configure', config: c } }, now)
    next = r.node
    collect(r)
  }

  // 4. Start what is new or restarted.
  for (const c of configs) {
    const kind = changes[c.id]
    if (kind === 'added' || kind === 'restart') {
      const r = stepNode(next, { kind: 'router', routerId: c.id, input: { kind: 'startup' } }, now)
      next = r.node
      collect(r)
    }
  }
  return { node: next, effects, ctCommitAt, deadline: nodeDeadline(next), transitions, groupTransitions, drops, priorityChanges, changes, restartReasons: reasons }
}
