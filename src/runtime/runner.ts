/**
 * The loop (str0m's model): input → stepNode(node, input, now) → executor(effects) → one timer at
 * the earliest deadline. The runner is the only place that holds the node state and arms a timer.
 *
 * Every transition is logged as one structured line {routerId, from, to, reason} and handed to
 * observers (status API); drops are counted by reason.
 */
import { nodeSnapshot, stepNode } from '../core/node.js'
import type { NodeInput, NodeSnapshot, NodeState, NodeStepResult } from '../core/node.js'
import { reconfigureNode } from '../core/reconfigure.js'
import { createOrchestrator, orchestrate } from '../core/orchestrator.js'
import type { ConntrackPlanConfig, NodeRole, OrchestratorState } from '../core/orchestrator.js'
import type { ReconfigureResult } from '../core/reconfigure.js'
import type { SyncGroupConfig } from '../core/group/sync-group.js'
import type { PriorityCause, RouterConfig } from '../core/vrrp/types.js'
import type { Deadline } from '../core/time.js'
import type { Clock } from './clock.js'
import type { Executor } from './executor.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'
import type { Transitions } from './transitions.js'

/** The cause of a priority change as one readable phrase (log line, pushed event). */
export function describePriorityCause (c: PriorityCause): string {
  switch (c.kind) {
    case 'track': return `${c.name} ${c.up ? 'up' : 'down'}, weight ${c.weight > 0 ? '+' : ''}${c.weight}`
    case 'offset': return c.offset === 0 ? `${c.source} cleared` : `${c.source} offset ${c.offset > 0 ? '+' : ''}${c.offset}`
    case 'reload': return 'configuration reloaded'
    case 'input': return `${c.input} input`
  }
}

/** What caused a step: a node input, or a configuration reload. */
export type StepCause = NodeInput | { readonly kind: 'reconfigure' }

export type StepObserver = (result: NodeStepResult, cause: StepCause) => void

/** Told of every step once its effects are queued; `effectsDone` settles when they have run (notify hooks wait on it). */
export type EffectsObserver = (result: NodeStepResult, effectsDone: Promise<void>) => void

export class Runner {
  private node: NodeState
  private timer: NodeJS.Timeout | null = null
  private armedFor: Deadline = null
  private stopped = false
  private readonly observers: StepObserver[] = []
  private readonly effectsObservers: EffectsObserver[] = []
  private orchestrator: OrchestratorState = createOrchestrator()
  private conntrackPlan: ConntrackPlanConfig | null = null

  constructor (
    node: NodeState,
    private readonly clock: Clock,
    private readonly executor: Executor,
    private readonly log: Logger,
    private readonly counters: Counters,
    /** Where every router, group and role change is logged, counted and pushed. */
    private readonly transitions: Transitions
  ) {
    this.node = node
  }

  onStep (o: StepObserver): void { this.observers.push(o) }

  onEffectsQueued (o: EffectsObserver): void { this.effectsObservers.push(o) }

  /** The conntrack plan settings (null: conntrack off, the VRRP effects run as they are). */
  setConntrackPlan (cfg: ConntrackPlanConfig | null): void { this.conntrackPlan = cfg }

  /** The node's role as the orchestrator last saw it. */
  get role (): NodeRole { return this.orchestrator.role }

  get state (): NodeState { return this.node }

  snapshot (): NodeSnapshot { return nodeSnapshot(this.node) }

  /** Step the node with one input at the current time; returns when its effects are queued. */
  dispatch (input: NodeInput): Promise<void> {
    if (this.stopped && input.kind !== 'all') return Promise.resolve()
    return this.apply(stepNode(this.node, input, this.clock()), input)
  }

  /**
   * Apply a new configuration as a diff (core/reconfigure.ts). Throws RangeError, before any
   * change, when the new set is inconsistent.
   */
  reconfigure (routers: readonly RouterConfig[], groups: readonly SyncGroupConfig[]): { result: ReconfigureResult, done: Promise<void> } {
    const result = reconfigureNode(this.node, routers, groups, this.clock())
    return { result, done: this.apply(result, { kind: 'reconfigure' }) }
  }

  private apply (r: NodeStepResult, cause: StepCause): Promise<void> {
    this.node = r.node
    for (const t of r.transitions) this.transitions.emit({ kind: 'transition', routerId: t.routerId, from: t.from, to: t.to, reason: t.reason, priority: t.priority, at: t.at })
    for (const g of r.groupTransitions) this.transitions.emit({ kind: 'groupTransition', group: g.group, from: g.from, to: g.to, reason: g.reason, member: g.member, at: g.at })
    for (const p of r.priorityChanges) this.transitions.emit({ kind: 'priority', routerId: p.routerId, from: p.from, to: p.to, cause: describePriorityCause(p.cause), at: p.at })
    // One prefix for every dropped input, wire or core (the router's own count is in its state).
    for (const d of r.drops) this.counters.inc(`rx.drop.${d.reason}`)
    for (const o of this.observers) o(r, cause)
    // The conntrack steps follow the node's role (core/orchestrator.ts): spliced in here, once.
    const plan = orchestrate(this.orchestrator, r, this.conntrackPlan)
    this.orchestrator = plan.state
    if (plan.roleChange !== null) {
      const c = plan.roleChange
      this.transitions.emit({ kind: 'role', from: c.from, to: c.to, reason: c.units.join(','), at: this.clock() })
    }
    const queued = this.executor.run(plan.effects)
    for (const o of this.effectsObservers) o(r, queued)
    this.arm(r.deadline)
    return queued
  }

  /** One timer, re-armed at the node's earliest deadline after every step. */
  private arm (deadline: Deadline): void {
    if (this.stopped) return
    if (deadline === this.armedFor && this.timer !== null) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.armedFor = deadline
    if (deadline === null) return
    const delay = Math.max(0, deadline - this.clock())
    this.timer = setTimeout(() => {
      this.timer = null
      this.armedFor = null
      void this.dispatch({ kind: 'timeout' })
    }, Math.ceil(delay))
  }

  /** Shut every router down (priority-0 adverts, VIPs removed), wait for the effects, stop the timer. */
  async shutdown (): Promise<void> {
    await this.dispatch({ kind: 'all', input: { kind: 'shutdown' } })
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.executor.drain()
  }
}
