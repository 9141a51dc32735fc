/**
 * Reload as a diff (architecture decision 8): apply a new set of router configs and sync groups
 * to a running node without disturbing what did not change.
 *
 * Each router of the new config is one of:
 *   same      — config identical: the router object is kept as it is (state, timers, counters);
 *   inPlace   — only fields that the state machine reads afresh at each use changed (priority,
 *               preempt, preempt delay, accept mode, VIPs, announce, advert interval, track
 *               weights with the same names): the config is swapped under the running router.
 *               A Master with new VIPs adds and announces them and removes the ones dropped
 *               (likewise for its virtual routes and rules);
 *               a new priority goes out with the next advert (RFC 5798 §6.4.3);
 *   restart   — identity changed (interface, VRID, version, family, source address, tracked
 *               names) or its sync group's membership changed: shut down (priority 0 if Master,
 *               VIPs removed) and started again;
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
import { announceRound } from './vrrp/plans.js'
import type { Router, RouterConfig } from './vrrp/types.js'

export type RouterChangeKind = 'same' | 'inPlace' | 'restart' | 'added' | 'removed'

export interface ReconfigureResult extends NodeStepResult {
  /** What happened to each router id (old and new). */
  readonly changes: Readonly<Record<string, RouterChangeKind>>
}

/** Fields whose change means the router must be restarted. */
const IDENTITY: ReadonlyArray<keyof RouterConfig> = ['ifname', 'family', 'vrid', 'version', 'primaryAddress', 'syncGroup']

function equal (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function sameMembers (a: SyncGroupConfig | undefined, b: SyncGroupConfig | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return equal([...a.members].sort(), [...b.members].sort())
}

export function classify (old: RouterConfig | undefined, next: RouterConfig, groupKept: boolean): RouterChangeKind {
  if (old === undefined) return 'added'
  if (equal(old, next)) return groupKept ? 'same' : 'restart'
  if (!groupKept || IDENTITY.some(k => !equal(old[k], next[k]))) return 'restart'
  if (!equal(Object.keys(old.track).sort(), Object.keys(next.track).sort())) return 'restart'
  return 'inPlace'
}

function vipKey (v: { address: string, prefix: number, dev?: string }): string {
  return `${v.address}/${v.prefix}@${v.dev ?? ''}`
}

/** Effects of swapping the config under a running router (see the module comment). */
function inPlaceEffects (r: Router, next: RouterConfig): Effect[] {
  if (r.state !== 'master') return []
  const before = new Set(r.config.vips.map(vipKey))
  const after = new Set(next.vips.map(vipKey))
  const removed = r.config.vips.filter(v => !after.has(vipKey(v)))
  const added = next.vips.filter(v => !before.has(vipKey(v)))
  const out: Effect[] = []
  const id = r.config.id
  // Rules and routes leave before the VIPs and come back after them (plans.ts installEffects / vipDel).
  const rules = diffBy(r.config.rules ?? [], next.rules ?? [])
  const routes = diffBy(r.config.routes ?? [], next.routes ?? [])
  if (rules.removed.length > 0) out.push({ kind: 'ruleDel', routerId: id, rules: rules.removed })
  if (routes.removed.length > 0) out.push({ kind: 'routeDel', routerId: id, routes: routes.removed })
  if (removed.length > 0) out.push({ kind: 'vipDel', routerId: id, vips: removed })
  if (added.length > 0) out.push({ kind: 'vipAdd', routerId: id, vips: added })
  if (routes.added.length > 0) out.push({ kind: 'routeAdd', routerId: id, routes: routes.added })
  if (rules.added.length > 0) out.push({ kind: 'ruleAdd', routerId: id, rules: rules.added })
  if (added.length > 0) out.push(...announceRound({ ...next, vips: added }))
  return out
}

/** Entries only in `before` / only in `after`, compared as whole values (routes and rules are plain data). */
function diffBy<T> (before: readonly T[], after: readonly T[]): { removed: T[], added: T[] } {
  const b = new Set(before.map(x => JSON.stringify(x)))
  const a = new Set(after.map(x => JSON.stringify(x)))
  return { removed: before.filter(x => !a.has(JSON.stringify(x))), added: after.filter(x => !b.has(JSON.stringify(x))) }
}

export function reconfigureNode (node: NodeState, configs: readonly RouterConfig[], groups: readonly SyncGroupConfig[], now: Millis): ReconfigureResult {
  const oldGroupOf = new Map<string, SyncGroupConfig>()
  for (const g of Object.values(node.groups)) for (const m of g.config.members) oldGroupOf.set(m, g.config)
  const newGroupOf = new Map<string, SyncGroupConfig>()
  for (const g of groups) for (const m of g.members) newGroupOf.set(m, g)

  const changes: Record<string, RouterChangeKind> = {}
  const nextIds = new Set(configs.map(c => c.id))
  for (const id of node.order) if (!nextIds.has(id)) changes[id] = 'removed'
  for (const c of configs) {
    const old = node.routers[c.id]
    const kept = old === undefined || sameMembers(oldGroupOf.get(c.id), newGroupOf.get(c.id))
    changes[c.id] = classify(old?.config, c, kept)
  }

  // Validate the whole new node before anything is stepped: createNode throws on a bad set.
  const fresh = createNode(configs, groups)

  const effects: Effect[] = []
  const transitions: NodeStepResult['transitions'][number][] = []
  const groupTransitions: NodeStepResult['groupTransitions'][number][] = []
  const drops: NodeStepResult['drops'][number][] = []
  let ctCommitAt: number | null = null
  const collect = (r: NodeStepResult): void => {
    if (r.ctCommitAt !== null && ctCommitAt === null) ctCommitAt = effects.length + r.ctCommitAt
    effects.push(...r.effects)
    transitions.push(...r.transitions)
    groupTransitions.push(...r.groupTransitions)
    drops.push(...r.drops)
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

  // 2. The new node: kept routers carried over (config swapped for inPlace), kept groups carried over.
  const routers: Record<string, Router> = {}
  for (const c of configs) {
    const kind = changes[c.id]
    const prev = old.routers[c.id]
    if (prev !== undefined && kind === 'same') routers[c.id] = prev
    else if (prev !== undefined && kind === 'inPlace') {
      effects.push(...inPlaceEffects(prev, c))
      routers[c.id] = { ...prev, config: c }
    } else routers[c.id] = fresh.routers[c.id] as Router
  }
  const groupState: Record<string, SyncGroup> = {}
  for (const g of groups) {
    const prev = old.groups[g.name]
    groupState[g.name] = prev !== undefined && sameMembers(prev.config, g) ? prev : createSyncGroup(g)
  }
  let next: NodeState = { routers, order: configs.map(c => c.id), groups: groupState }

  // 3. Start what is new or restarted.
  for (const c of configs) {
    const kind = changes[c.id]
    if (kind === 'added' || kind === 'restart') {
      const r = stepNode(next, { kind: 'router', routerId: c.id, input: { kind: 'startup' } }, now)
      next = r.node
      collect(r)
    }
  }
  return { node: next, effects, ctCommitAt, deadline: nodeDeadline(next), transitions, groupTransitions, drops, changes }
}
