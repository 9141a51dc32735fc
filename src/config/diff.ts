/**
 * Reload (SIGHUP, `hafwctl reload`): what changes between the running Model and the new one.
 * Pure. Architecture decision 8: routers whose configuration is identical are left alone — they
 * keep their state and do not flap; what can change in place does (priority, VIP list, timers,
 * tracked objects); only changes to a router's identity on the wire force a restart of that router.
 *
 * Which changes restart a router is decided in one place, the core (core/reconfigure.ts
 * `IDENTITY` / `restartReasons`, on the assembled RouterConfig): this plan says which routers
 * changed and which fields, and runtime/reload-plan.ts puts the two together for the operator
 * (the reload reply and `hafwctl reload --dry-run`).
 *
 * Router identity: the id (`instance/family`) pairs old and new routers. A family added to or
 * removed from an instance is a router added or removed; an instance renamed is one removed and
 * one added.
 */
import type { Vip } from '../core/effects.js'
import type { ConntrackModel, Model, RouterId, RouterModel, SyncGroupModel } from './normalize.js'

export interface RouterChange {
  readonly id: RouterId
  readonly old: RouterModel
  readonly next: RouterModel
  /** The RouterModel keys that differ. */
  readonly fields: ReadonlyArray<keyof RouterModel>
  /** Addresses to add / remove while master (by address/prefix/dev); empty when the VIPs are the same. */
  readonly vipsAdded: readonly Vip[]
  readonly vipsRemoved: readonly Vip[]
}

export interface SyncGroupChange {
  readonly name: string
  readonly old: SyncGroupModel
  readonly next: SyncGroupModel
}

export interface ReloadPlan {
  readonly routers: {
    readonly added: readonly RouterModel[]
    readonly removed: readonly RouterModel[]
    /** Routers whose configuration differs (in place or restarted: the core decides). */
    readonly changed: readonly RouterChange[]
    readonly unchanged: readonly RouterId[]
  }
  readonly syncGroups: {
    readonly added: readonly SyncGroupModel[]
    readonly removed: readonly SyncGroupModel[]
    readonly changed: readonly SyncGroupChange[]
    readonly unchanged: readonly string[]
  }
  readonly conntrack: {
    readonly old: ConntrackModel | null
    readonly next: ConntrackModel | null
    readonly changed: boolean
    /** The sync channel itself (transport, addresses, ports, interface, buffers, FTFW) changed: reopen it. */
    readonly transportChanged: boolean
  }
  /** Other sections: the runtime reapplies these as a whole when true. */
  readonly node: boolean
  readonly log: boolean
  readonly control: boolean
  readonly metrics: boolean
  /** Nothing at all differs. */
  readonly noop: boolean
}

/** Compute the reload plan from the running model to the new one. */
export function diffModels (old: Model, next: Model): ReloadPlan {
  const oldRouters = new Map(old.routers.map(r => [r.id, r]))
  const nextRouters = new Map(next.routers.map(r => [r.id, r]))
  const added = next.routers.filter(r => !oldRouters.has(r.id))
  const removed = old.routers.filter(r => !nextRouters.has(r.id))
  const changed: RouterChange[] = []
  const unchanged: RouterId[] = []
  for (const n of next.routers) {
    const o = oldRouters.get(n.id)
    if (o === undefined) continue
    const fields = (Object.keys(n) as Array<keyof RouterModel>).filter(k => !same(o[k], n[k]))
    if (fields.length === 0) {
      unchanged.push(n.id)
      continue
    }
    const change: RouterChange = {
      id: n.id,
      old: o,
      next: n,
      fields,
      vipsAdded: n.vips.filter(v => !o.vips.some(w => sameVip(v, w))),
      vipsRemoved: o.vips.filter(v => !n.vips.some(w => sameVip(v, w)))
    }
    changed.push(change)
  }

  const oldGroups = new Map(old.syncGroups.map(g => [g.name, g]))
  const nextGroups = new Map(next.syncGroups.map(g => [g.name, g]))
  const groupsChanged: SyncGroupChange[] = []
  const groupsUnchanged: string[] = []
  for (const g of next.syncGroups) {
    const o = oldGroups.get(g.name)
    if (o === undefined) continue
    if (same(o, g)) groupsUnchanged.push(g.name)
    else groupsChanged.push({ name: g.name, old: o, next: g })
  }

  const ctChanged = !same(old.conntrack, next.conntrack)
  const transportChanged = old.conntrack === null || next.conntrack === null
    ? ctChanged
    : !same(old.conntrack.sync, next.conntrack.sync)

  const plan: Omit<ReloadPlan, 'noop'> = {
    routers: { added, removed, changed, unchanged },
    syncGroups: {
      added: next.syncGroups.filter(g => !oldGroups.has(g.name)),
      removed: old.syncGroups.filter(g => !nextGroups.has(g.name)),
      changed: groupsChanged,
      unchanged: groupsUnchanged
    },
    conntrack: { old: old.conntrack, next: next.conntrack, changed: ctChanged, transportChanged },
    node: !same(old.node, next.node),
    log: !same(old.log, next.log),
    control: !same(old.control, next.control),
    metrics: !same(old.metrics, next.metrics)
  }
  const noop = added.length === 0 && removed.length === 0 && changed.length === 0 &&
    plan.syncGroups.added.length === 0 && plan.syncGroups.removed.length === 0 && groupsChanged.length === 0 &&
    !ctChanged && !plan.node && !plan.log && !plan.control && !plan.metrics
  return { ...plan, noop }
}

function sameVip (a: Vip, b: Vip): boolean {
  return a.address === b.address && a.prefix === b.prefix && a.dev === b.dev
}

/**
 * Structural equality of model values. Models are built by normalize.ts, so equal content has equal
 * key order and plain JSON values; comparing serializations is exact here.
 */
function same (a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
