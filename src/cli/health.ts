/**
 * The health verdict of `hafwctl state`, as an exit code for health checks and monitoring:
 *   0 every sync group and router of this node is MASTER
 *   1 all are BACKUP, none in FAULT
 *   2 at least one is in FAULT
 *   3 mixed (some MASTER and some BACKUP, or some not started; also a node with no router)
 *   4 hafwd unreachable (not running, permission denied, no answer)
 *   5 hafwd busy: it runs but refused this client now (HTTP 503 connection limit, request budget)
 *  64 usage error
 */
import type { ControlEvent, Status } from '../control/protocol.js'

export const EXIT = { master: 0, backup: 1, fault: 2, mixed: 3, unreachable: 4, busy: 5, usage: 64, refused: 1 } as const

export type Health = 'MASTER' | 'BACKUP' | 'FAULT' | 'MIXED'

export function health (status: Pick<Status, 'routers' | 'groups'>): Health {
  const states = [...status.groups.map(g => g.state), ...status.routers.map(r => r.state)]
  if (states.length === 0) return 'MIXED'
  if (states.includes('fault')) return 'FAULT'
  if (states.every(s => s === 'master')) return 'MASTER'
  if (states.every(s => s === 'backup')) return 'BACKUP'
  return 'MIXED'
}

export function exitCodeOf (h: Health): number {
  switch (h) {
    case 'MASTER': return EXIT.master
    case 'BACKUP': return EXIT.backup
    case 'FAULT': return EXIT.fault
    case 'MIXED': return EXIT.mixed
  }
}

/** The status after a pushed event (`--watch` keeps its verdict current without asking again). */
export function applyEvent (status: Status, e: ControlEvent): Status {
  if (e.kind === 'transition') {
    const { kind: _k, time: _t, ...transition } = e
    return {
      ...status,
      routers: status.routers.map(r => r.id === e.routerId ? { ...r, state: e.to, lastTransition: transition } : r),
      groups: status.groups.map(g => ({ ...g, members: g.members.map(m => m.id === e.routerId ? { ...m, state: e.to } : m) }))
    }
  }
  if (e.kind === 'priority') return { ...status, routers: status.routers.map(r => r.id === e.routerId ? { ...r, effectivePriority: e.to } : r) }
  if (e.kind !== 'groupTransition') return status
  const { kind: _k, time: _t, ...transition } = e
  return { ...status, groups: status.groups.map(g => g.name === e.group ? { ...g, state: e.to, transitions: g.transitions + 1, lastTransition: transition } : g) }
}
