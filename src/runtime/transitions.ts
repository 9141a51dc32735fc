/**
 * One choke point for every state change the daemon makes (architecture decision 3): a VRRP
 * router, a sync group, the node's conntrack role (core/orchestrator.ts), the startup bulk
 * resync (core/sync/bulk.ts, reported by the conntrack worker) and a router's effective priority
 * (tracking, offsets, reload; node.ts priorityChanges). Each change is one event with
 * from / to / reason, logged once with its severity, counted once, and handed to the listeners
 * (the status API's pushed events) — here and nowhere else.
 *
 * Severity (what `journalctl -p` and log shippers filter on):
 *   warn  a router or group entering FAULT, the role becoming fault, the startup resync given up
 *         (the node may become master with an incomplete table);
 *   info  every other change (elections, preemption, planned handovers are normal operation).
 */
import type { ControlEvent } from '../control/protocol.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

/** A change as the runtime reports it; `time` (wall clock, for display) is added here. */
export type TransitionEvent = ControlEvent extends infer E ? E extends { kind: 'transition' | 'groupTransition' | 'role' | 'bulk' | 'peer' | 'priority' } ? Omit<E, 'time'> : never : never

export type TransitionListener = (event: ControlEvent) => void

export type Severity = 'info' | 'warn'

export function severityOf (e: TransitionEvent): Severity {
  switch (e.kind) {
    case 'transition':
    case 'groupTransition':
    case 'role':
      return e.to === 'fault' ? 'warn' : 'info'
    case 'bulk':
      return e.reason === 'giveUp' ? 'warn' : 'info'
    case 'peer':
      return e.to === 'lost' ? 'warn' : 'info'
    case 'priority':
      return 'info'
  }
}

/** Counter name: transition.<to>, groupTransition.<to>, role.<to>, bulk.<to>, peer.<to>; priority.changed. */
export function counterOf (e: TransitionEvent): string {
  if (e.kind === 'priority') return 'priority.changed'
  return `${e.kind}.${e.to}`
}

function messageOf (e: TransitionEvent): string {
  switch (e.kind) {
    case 'transition': return `${e.routerId}: ${e.from} -> ${e.to} (${e.reason})`
    case 'groupTransition': return `sync group ${e.group}: ${e.from} -> ${e.to} (${e.reason})`
    case 'role': return `node role ${e.from} -> ${e.to}${e.reason !== undefined ? ` (${e.reason})` : ''}`
    case 'bulk': return `startup resync ${e.from} -> ${e.to} (${e.reason})`
    case 'peer': return `sync peer ${e.to === 'lost' ? 'lost: nothing received for 3 ALIVE intervals' : e.to} (was ${e.from})`
    case 'priority': return `${e.routerId}: priority ${e.from} -> ${e.to} (${e.cause})`
  }
}

export class Transitions {
  private readonly listeners = new Set<TransitionListener>()

  constructor (
    private readonly log: Logger,
    private readonly counters: Counters,
    private readonly wallTime: () => string = () => new Date().toISOString()
  ) {}

  emit (e: TransitionEvent): void {
    this.counters.inc(counterOf(e))
    const { kind, ...fields } = e
    this.log[severityOf(e)]({ event: kind, ...fields }, messageOf(e))
    if (this.listeners.size === 0) return
    const pushed = { ...e, time: this.wallTime() } as ControlEvent
    for (const l of this.listeners) l(pushed)
  }

  /** Listen to every change; returns the function that stops listening. */
  on (listener: TransitionListener): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }
}
