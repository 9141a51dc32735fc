/**
 * The plan of a reload as an operator reads it (`hafwctl reload --dry-run`, and the same words in
 * the reload's own reply): for each router, what happens to it — the core's classification
 * (core/reconfigure.ts: IDENTITY is the one list of what restarts), the config keys that force a
 * restart, and what changes in place. Pure.
 *
 * The config-side diff (config/diff.ts) names the changed keys; the core decides restart or in
 * place. A router the core keeps as `same` while some of its keys changed (authentication,
 * unicast peers, checksum mode: wire settings the runtime swaps under it) is reported `inPlace`.
 */
import type { ReloadPlan, RouterChange } from '../config/diff.js'
import type { RouterModel } from '../config/normalize.js'
import type { RestartReason, RouterChangeKind } from '../core/reconfigure.js'

export interface RouterPlan {
  readonly id: string
  readonly change: RouterChangeKind
  /** restart: the config keys whose change forces it (full key paths). */
  readonly restart: readonly string[]
  /** inPlace: what changes, one phrase each. */
  readonly inPlace: readonly string[]
}

/** The config key (under vrrp.instances.NAME) behind each restart reason. */
const REASON_KEY: Readonly<Record<RestartReason, string>> = {
  ifname: 'interface',
  family: 'virtualAddresses (family)',
  vrid: 'vrid',
  version: 'version',
  primaryAddress: 'sourceAddresses',
  syncGroup: 'syncGroup',
  syncGroupMembers: 'sync group members'
}

/** RouterModel field → config key as written in the file. */
const FIELD_KEY: Partial<Record<keyof RouterModel, string>> = {
  advertIntervalCs: 'advertInterval',
  preemptDelayMs: 'preemptDelay',
  vips: 'virtualAddresses',
  unicastPeers: 'unicast.peers',
  unicastCheckSource: 'unicast.checkSource',
  sourceAddress: 'sourceAddresses',
  addressOwner: 'priority (address owner)'
}

function vipText (v: { address: string, prefix: number, dev?: string }): string {
  return `${v.address}/${v.prefix}${v.dev === undefined ? '' : `@${v.dev}`}`
}

function signed (n: number): string { return n > 0 ? `+${n}` : String(n) }

/** Tracked objects as `name → weight` (the names the status shows: if:, file:, script:). */
function tracks (r: RouterModel): Map<string, number> {
  return new Map([
    ...r.track.interfaces.map(i => [`if:${i.name}`, i.weight] as const),
    ...r.track.files.map(f => [`file:${f.path}`, f.weight] as const),
    ...r.track.scripts.map(s => [`script:${s.name}`, s.weight] as const)
  ])
}

/** Model keys behind the core's IDENTITY fields: never an in-place change (the restart names them). */
const IDENTITY_KEYS: ReadonlySet<keyof RouterModel> = new Set<keyof RouterModel>(['interface', 'family', 'vrid', 'version', 'sourceAddress', 'syncGroup'])

/** The in-place changes of one router, in words. */
export function describeInPlace (c: RouterChange): string[] {
  const out: string[] = []
  for (const f of c.fields) {
    if (IDENTITY_KEYS.has(f)) continue
    switch (f) {
      case 'priority': out.push(`priority ${c.old.priority} -> ${c.next.priority}`); break
      case 'vips': {
        const parts = [...c.vipsAdded.map(v => `+${vipText(v)}`), ...c.vipsRemoved.map(v => `-${vipText(v)}`)]
        out.push(`virtualAddresses ${parts.length > 0 ? parts.join(' ') : 'reordered'}`)
        break
      }
      case 'track': {
        const before = tracks(c.old)
        const after = tracks(c.next)
        const parts: string[] = []
        for (const [name, w] of after) {
          const was = before.get(name)
          if (was === undefined) parts.push(`+${name} (weight ${signed(w)})`)
          else if (was !== w) parts.push(`${name} weight ${signed(was)} -> ${signed(w)}`)
        }
        for (const name of before.keys()) if (!after.has(name)) parts.push(`-${name}`)
        out.push(`track ${parts.length > 0 ? parts.join(' ') : 'checker settings'}`)
        break
      }
      default: out.push(FIELD_KEY[f] ?? f)
    }
  }
  return out
}

/** The plan of each router: the core's verdict with the config keys and changes behind it. */
export function routerPlans (
  diff: ReloadPlan,
  core: { readonly changes: Readonly<Record<string, RouterChangeKind>>, readonly restartReasons: Readonly<Record<string, readonly RestartReason[]>> }
): RouterPlan[] {
  const changed = new Map(diff.routers.changed.map(c => [c.id, c]))
  const instanceOf = new Map([...diff.routers.added, ...diff.routers.removed, ...diff.routers.changed.map(c => c.next)].map(r => [r.id, r.instance]))
  return Object.entries(core.changes).map(([id, kind]) => {
    const c = changed.get(id)
    const inPlace = c === undefined ? [] : describeInPlace(c)
    if (kind === 'restart') {
      const base = `vrrp.instances.${instanceOf.get(id) ?? id}`
      const restart = (core.restartReasons[id] ?? []).map(r => r === 'syncGroupMembers' ? `syncGroups (members of ${c?.next.syncGroup ?? c?.old.syncGroup ?? 'its group'})` : `${base}.${REASON_KEY[r]}`)
      return { id, change: kind, restart, inPlace }
    }
    if (kind === 'same' && inPlace.length > 0) return { id, change: 'inPlace', restart: [], inPlace }
    return { id, change: kind, restart: [], inPlace: kind === 'inPlace' ? inPlace : [] }
  })
}

/** One line per router that is not unchanged, for hafwctl and the log. */
export function planLines (plans: readonly RouterPlan[]): string[] {
  return plans.filter(p => p.change !== 'same').map(p => {
    switch (p.change) {
      case 'restart': return `${p.id}: restart (${p.restart.join(', ')} changed)${p.inPlace.length > 0 ? `; also ${p.inPlace.join('; ')}` : ''}`
      case 'inPlace': return `${p.id}: in place, no restart: ${p.inPlace.length > 0 ? p.inPlace.join('; ') : 'settings'}`
      case 'added': return `${p.id}: added (starts as BACKUP)`
      case 'removed': return `${p.id}: removed (priority 0 if MASTER, VIPs removed)`
      default: return `${p.id}: ${p.change}`
    }
  })
}
