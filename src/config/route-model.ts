/**
 * Config → core data for an instance's virtual routes and rules (keepalived virtual_routes /
 * virtual_rules). Pure. Each entry goes to the virtual router of its family; table names become
 * kernel table ids; a unicast route with neither gateway nor device gets the instance interface
 * (the kernel refuses a unicast route with no next hop at all).
 */
import type { Family } from '../codec/ip.js'
import type { VRoute, VRule } from '../core/effects.js'
import { parseAddress, parseCidr } from './net.js'
import type { VirtualRouteConfig, VirtualRuleConfig } from './schema.js'

/** /etc/iproute2/rt_tables reserved names (RT_TABLE_DEFAULT 253, MAIN 254, LOCAL 255). */
const TABLE_IDS: Readonly<Record<string, number>> = { default: 253, main: 254, local: 255 }

export function tableId (t: number | string): number {
  return typeof t === 'number' ? t : (TABLE_IDS[t] ?? 254)
}

function prefixOf (text: string): { address: string, prefix: number, family: Family } {
  const r = parseCidr(text)
  if (!r.ok) throw new TypeError(`normalize: unvalidated prefix ${text}`)
  return r.value
}

function addressOf (text: string): string {
  const r = parseAddress(text)
  if (!r.ok) throw new TypeError(`normalize: unvalidated address ${text}`)
  return r.value.address
}

/** The routes of one family, in file order. */
export function routesOf (routes: readonly VirtualRouteConfig[], family: Family, ifname: string): VRoute[] {
  const out: VRoute[] = []
  for (const r of routes) {
    const to = prefixOf(r.to)
    if (to.family !== family) continue
    const dev = r.dev ?? (r.type === 'unicast' && r.via === undefined ? ifname : undefined)
    out.push({
      family,
      dst: to.address,
      prefix: to.prefix,
      type: r.type,
      ...(r.via !== undefined ? { via: addressOf(r.via) } : {}),
      ...(dev !== undefined ? { dev } : {}),
      ...(r.src !== undefined ? { src: addressOf(r.src) } : {}),
      ...(r.metric !== undefined ? { metric: r.metric } : {}),
      table: tableId(r.table)
    })
  }
  return out
}

/**
 * The rules of one family, in file order. A rule with neither from nor to belongs to the
 * instance's only family (cross-checks refuse it on a dual-family instance).
 */
export function rulesOf (rules: readonly VirtualRuleConfig[], family: Family): VRule[] {
  const out: VRule[] = []
  for (const r of rules) {
    const from = r.from === undefined ? undefined : prefixOf(r.from)
    const to = r.to === undefined ? undefined : prefixOf(r.to)
    const f = from?.family ?? to?.family ?? family
    if (f !== family) continue
    out.push({
      family,
      ...(from !== undefined ? { from: { address: from.address, prefix: from.prefix } } : {}),
      ...(to !== undefined ? { to: { address: to.address, prefix: to.prefix } } : {}),
      table: tableId(r.table),
      ...(r.priority !== undefined ? { priority: r.priority } : {}),
      ...(r.fwmark !== undefined ? { fwmark: r.fwmark } : {}),
      ...(r.fwmask !== undefined ? { fwmask: r.fwmask } : {})
    })
  }
  return out
}
