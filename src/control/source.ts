/**
 * Where the control server gets its data: a status snapshot, the runtime counters, and a stream
 * of transition events. The daemon's source reads the runner; tests pass a fake.
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { NodeStepResult } from '../core/node.js'
import type { Router } from '../core/vrrp/types.js'
import type { Clock } from '../runtime/clock.js'
import type { Runner } from '../runtime/runner.js'
import type { Counters } from '../runtime/stats.js'
import type { Transitions } from '../runtime/transitions.js'
import type { ControlEvent, RouterStatus, Status } from './protocol.js'

export type EventListener = (event: ControlEvent) => void

export interface StatusSource {
  status: () => Status
  counters: () => Record<string, number>
  /** Listen to transitions; returns the function that stops listening. */
  onEvent: (listener: EventListener) => () => void
}

/** The hafw package version, read once from package.json (two levels up from src/ and dist/ alike). */
export function packageVersion (): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/** The events of one node step, in the order the core produced them: routers first, then groups. */
export function stepEvents (result: Pick<NodeStepResult, 'transitions' | 'groupTransitions'>, time: string): ControlEvent[] {
  return [
    ...result.transitions.map(t => ({ kind: 'transition' as const, routerId: t.routerId, from: t.from, to: t.to, reason: t.reason, priority: t.priority, at: t.at, time })),
    ...result.groupTransitions.map(g => ({ kind: 'groupTransition' as const, group: g.group, from: g.from, to: g.to, reason: g.reason, member: g.member, at: g.at, time }))
  ]
}

export interface RunnerSourceOptions {
  readonly runner: Runner
  readonly counters: Counters
  /** Every router, group, role and bulk change (runtime/transitions.ts), pushed as events. */
  readonly transitions: Transitions
  /** node.name from the model; null: the host name. */
  readonly nodeName: string | null
  readonly clock: Clock
  /** Conntrack status, when the module runs. */
  readonly conntrack?: () => unknown
  /** Maintenance mode (runtime/commands.ts): shown in the status, changes pushed as events. */
  readonly maintenance?: MaintenanceView
  /** How late the loops run (runtime/loop-delay.ts). */
  readonly loopDelay?: () => Status['loopDelay']
}

export interface MaintenanceView {
  on: () => boolean
  onChange: (listener: (on: boolean) => void) => void
}

export function runnerStatusSource (opts: RunnerSourceOptions): StatusSource {
  const { runner, counters, clock } = opts
  const node = opts.nodeName ?? hostname()
  const version = packageVersion()
  const startedAt = clock()
  const listeners = new Set<EventListener>()
  const emit = (events: readonly ControlEvent[]): void => { for (const l of listeners) for (const e of events) l(e) }
  opts.transitions.on(e => { emit([e]) })
  opts.maintenance?.onChange(on => { emit([{ kind: 'maintenance', on, at: clock(), time: new Date().toISOString() }]) })
  return {
    status: () => {
      const now = clock()
      const snap = runner.snapshot()
      const routers: RouterStatus[] = snap.routers.map(r => {
        const config = (runner.state.routers[r.id] as Router).config
        return { ...r, vips: config.vips.map(v => ({ address: v.address, prefix: v.prefix, dev: v.dev ?? null })) }
      })
      return {
        node,
        pid: process.pid,
        version,
        uptimeMs: now - startedAt,
        now,
        time: new Date().toISOString(),
        routers,
        groups: snap.groups,
        counters: counters.toJSON(),
        role: runner.role,
        ...(opts.maintenance !== undefined ? { maintenance: opts.maintenance.on() } : {}),
        ...(opts.conntrack !== undefined ? { conntrack: opts.conntrack() } : {}),
        ...(opts.loopDelay !== undefined ? { loopDelay: opts.loopDelay() } : {})
      }
    },
    counters: () => counters.toJSON(),
    onEvent: (l) => {
      listeners.add(l)
      return () => { listeners.delete(l) }
    }
  }
}
