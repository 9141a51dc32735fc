/**
 * The transition plans (architecture decision 2): the VRRP node's ordered effects plus the conntrack
 * work, in one fixed order, instead of a notify script that runs after the VIPs are up.
 *
 * conntrackd's own script (doc/sync/primary-backup.sh, shipped with conntrackd 1.4.7) and what each
 * command becomes here:
 *
 *   primary:  conntrackd -c   commit the external cache into the kernel   → ctCommit{budgetMs}
 *             conntrackd -f   flush the internal AND the external cache   → ctFlush{'both'}
 *                             (no argument = ALL_FLUSH_CACHE, spec §4.4)
 *             conntrackd -R   resync the internal cache from the kernel   → ctResyncFromKernel
 *             conntrackd -B   bulk-send the internal cache to the peer    → syncBulkSend
 *   backup:   conntrackd -s   "is conntrackd running?"                    → nothing: we are the daemon
 *             conntrackd -t   flush the kernel table after PurgeTimeout   → ctShortenTimers{purgeTimeoutS}
 *             conntrackd -n   ask the peer for a full resync              → syncRequestResync
 *   fault:    conntrackd -t                                               → ctShortenTimers{purgeTimeoutS}
 *
 * The difference with keepalived + the script is where the commit goes. Plans, exactly:
 *
 *   to MASTER:  [other effects of the step] sendAdvert… → ctCommit → vipAdd… → garp/NA…
 *               → ctFlush{both} → ctResyncFromKernel → syncBulkSend
 *               (node.ts marks the splice point `ctCommitAt`: after the new master's adverts,
 *               before its first vipAdd, so no packet reaches a VIP before the table is in)
 *   to BACKUP:  [… priority-0 advert, vipDel…] → ctShortenTimers → syncRequestResync
 *   to FAULT:   [… vipDel…] → ctShortenTimers
 *
 * Conntrack state is one per node, VRRP state is per sync group (or per router outside any group).
 * So the conntrack steps follow the node's ROLE, derived after each step from those units:
 *   master if any unit is master, else backup if any is backup, else fault if any is fault, else
 *   initialize.
 * The steps run once per role change, never once per router: a sync group of four routers going
 * MASTER commits once. A unit leaving MASTER while another unit stays MASTER changes nothing for
 * conntrack (shortening timers would drop the sessions the node still forwards). Going to
 * initialize (everything stopped) runs nothing; keepalived's script has no such case either.
 *
 * With conntrack disabled (config null) the VRRP effects pass through unchanged; the role is still
 * tracked so that enabling conntrack on reload starts from the right role.
 */
import type { Effect } from './effects.js'
import type { NodeState, NodeStepResult } from './node.js'
import type { Router } from './vrrp/types.js'

/** The part of ConntrackModel (config/normalize.ts) the plans need. */
export interface ConntrackPlanConfig {
  readonly commitBudgetMs: number
  readonly purgeTimeoutMs: number
}

export type NodeRole = 'initialize' | 'backup' | 'master' | 'fault'

export interface OrchestratorState {
  readonly role: NodeRole
  /** State of every unit at the last step: `group:NAME` or `router:ID`. */
  readonly units: Readonly<Record<string, NodeRole>>
}

export interface RoleChange {
  readonly from: NodeRole
  readonly to: NodeRole
  /** Units whose state changed in this step (what caused it). */
  readonly units: readonly string[]
}

export interface OrchestratedStep {
  readonly state: OrchestratorState
  /** The final ordered plan for the executor. */
  readonly effects: readonly Effect[]
  /** Non-null when the node's conntrack role changed in this step (log line, counter, observers). */
  readonly roleChange: RoleChange | null
}

export function createOrchestrator (): OrchestratorState {
  return { role: 'initialize', units: {} }
}

/** Unit states of a node: sync groups by their decision, lone routers by their own state. */
export function nodeUnits (node: NodeState): Record<string, NodeRole> {
  const units: Record<string, NodeRole> = {}
  for (const [name, g] of Object.entries(node.groups)) units[`group:${name}`] = g.state
  for (const id of node.order) {
    const r = node.routers[id] as Router
    if (r.group === null) units[`router:${id}`] = r.state
  }
  return units
}

/** The node's conntrack role from its units (module comment). */
export function nodeRole (units: Readonly<Record<string, NodeRole>>): NodeRole {
  const states = new Set(Object.values(units))
  for (const role of ['master', 'backup', 'fault'] as const) if (states.has(role)) return role
  return 'initialize'
}

/** Conntrack steps that follow the announce phase on the way to MASTER. */
export function masterTail (): Effect[] {
  return [{ kind: 'ctFlush', caches: 'both' }, { kind: 'ctResyncFromKernel' }, { kind: 'syncBulkSend' }]
}

function purgeTimeoutS (cfg: ConntrackPlanConfig): number {
  return Math.ceil(cfg.purgeTimeoutMs / 1000)
}

/** Where ctCommit goes: node.ts's splice point, or before the first vipAdd if it gave none. */
function commitIndex (effects: readonly Effect[], ctCommitAt: number | null): number {
  if (ctCommitAt !== null && ctCommitAt >= 0 && ctCommitAt <= effects.length) return ctCommitAt
  const firstAdd = effects.findIndex(e => e.kind === 'vipAdd')
  return firstAdd < 0 ? effects.length : firstAdd
}

/**
 * The conntrack effects of one role change, spliced into the step's VRRP effects. `everyUnitMaster`:
 * no group or lone router of the node is anything but master (the node role is master as soon as
 * one is).
 */
export function planRoleChange (effects: readonly Effect[], ctCommitAt: number | null, from: NodeRole, to: NodeRole, cfg: ConntrackPlanConfig, everyUnitMaster = false): Effect[] {
  const out = [...effects]
  if (from === to) return out
  switch (to) {
    case 'master': {
      const at = commitIndex(out, ctCommitAt)
      out.splice(at, 0, { kind: 'ctCommit', budgetMs: cfg.commitBudgetMs, takeover: true, everyUnitMaster })
      out.push(...masterTail())
      break
    }
    case 'backup':
      out.push({ kind: 'ctShortenTimers', purgeTimeoutS: purgeTimeoutS(cfg) }, { kind: 'syncRequestResync' })
      break
    case 'fault':
      out.push({ kind: 'ctShortenTimers', purgeTimeoutS: purgeTimeoutS(cfg) })
      break
    case 'initialize':
      break
  }
  return out
}

type StepView = Pick<NodeStepResult, 'node' | 'effects' | 'ctCommitAt'>

/**
 * The final ordered plan of one node step. `step` is stepNode's (or reconfigureNode's) result;
 * `cfg` the conntrack model, null when conntrack is off.
 */
export function orchestrate (state: OrchestratorState, step: StepView, cfg: ConntrackPlanConfig | null): OrchestratedStep {
  const units = nodeUnits(step.node)
  const role = nodeRole(units)
  const next: OrchestratorState = { role, units }
  if (role === state.role) return { state: next, effects: step.effects, roleChange: null }
  const changed = Object.keys(units).filter(u => state.units[u] !== units[u]).sort()
  const roleChange: RoleChange = { from: state.role, to: role, units: changed }
  const everyUnitMaster = Object.values(units).every(u => u === 'master')
  const effects = cfg === null ? step.effects : planRoleChange(step.effects, step.ctCommitAt, state.role, role, cfg, everyUnitMaster)
  return { state: next, effects, roleChange }
}
