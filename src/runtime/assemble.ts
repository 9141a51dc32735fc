/**
 * Config model + what the kernel says about the interfaces → the core's router configs and the
 * wire descriptions. Pure: the daemon reads links/addresses first and passes them in.
 *
 * Errors are operator errors (missing interface, no usable source address) and name the config
 * key, because the daemon refuses to start on them.
 */
import type { Model, RouterModel } from '../config/normalize.js'
import type { RouterConfig } from '../core/vrrp/types.js'
import type { SyncGroupConfig } from '../core/group/sync-group.js'
import type { AddressInfo, LinkInfo } from '../io/ports.js'
import type { RouterWire } from './vrrp-wire.js'

export interface Assembly {
  readonly routers: RouterConfig[]
  readonly groups: SyncGroupConfig[]
  readonly wires: RouterWire[]
}

export class AssemblyError extends Error {
  override readonly name = 'AssemblyError'
}

/**
 * Track names the core sees: `if:NAME` for tracked interfaces, `script:NAME`, and `file:PATH` for
 * files with weight 0 (FAULT while non-zero). Files with a weight scale their number into a
 * priorityOffset instead (runtime/trackers.ts), so they are not up/down tracks.
 */
export function trackWeights (r: RouterModel): Record<string, number> {
  const out: Record<string, number> = {}
  for (const i of r.track.interfaces) out[`if:${i.name}`] = i.weight
  for (const f of r.track.files) if (f.weight === 0) out[`file:${f.path}`] = 0
  for (const s of r.track.scripts) out[`script:${s.name}`] = s.weight
  return out
}

/**
 * The advert source of a router: the configured one, else the interface's first non-VIP address
 * of the family (IPv4: global scope; IPv6: the link-local, RFC 5798 §5.1.2.1).
 */
export function primaryAddressOf (r: RouterModel, addrs: readonly AddressInfo[]): string | null {
  if (r.sourceAddress !== null) return r.sourceAddress
  const vips = new Set(r.vips.map(v => v.address))
  const mine = addrs.filter(a => a.ifname === r.interface && a.family === r.family && !vips.has(a.address))
  const pick = r.family === 'ipv6' ? mine.find(a => a.scope === 253) : mine.find(a => a.scope === 0)
  return pick?.address ?? null
}

export function assemble (model: Model, links: readonly LinkInfo[], addrs: readonly AddressInfo[]): Assembly {
  const problems: string[] = []
  // A vmac interface is created by the daemon (io/vmac.ts) before the sockets open: it counts as present.
  const names = new Set([...links.map(l => l.ifname), ...model.routers.flatMap(r => r.vmac === null ? [] : [r.vmac.name])])
  const routers: RouterConfig[] = []
  const wires: RouterWire[] = []
  for (const r of model.routers) {
    const key = `vrrp.instances.${r.instance}`
    if (!links.some(l => l.ifname === r.interface)) { problems.push(`${key}.interface: interface ${r.interface} does not exist`); continue }
    for (const v of r.vips) if (v.dev !== undefined && !names.has(v.dev)) problems.push(`${key}.virtualAddresses: device ${v.dev} of ${v.address} does not exist`)
    for (const rt of r.routes) if (rt.dev !== undefined && !names.has(rt.dev)) problems.push(`${key}.routes: device ${rt.dev} of the route to ${rt.dst}/${rt.prefix} does not exist`)
    for (const t of r.track.interfaces) if (!names.has(t.name)) problems.push(`${key}.track.interfaces: interface ${t.name} does not exist`)
    const primary = primaryAddressOf(r, addrs)
    if (primary === null) {
      problems.push(`${key}: ${r.interface} has no ${r.family === 'ipv6' ? 'IPv6 link-local' : 'IPv4'} address to send adverts from (set sourceAddresses or add one)`)
      continue
    }
    routers.push({
      id: r.id,
      ifname: r.interface,
      family: r.family,
      vrid: r.vrid,
      version: r.version,
      priority: r.priority,
      advertIntervalCs: r.advertIntervalCs,
      preempt: r.preempt,
      preemptDelayMs: r.preemptDelayMs,
      acceptMode: r.acceptMode,
      vips: r.vips,
      ...(r.routes.length > 0 ? { routes: r.routes } : {}),
      ...(r.rules.length > 0 ? { rules: r.rules } : {}),
      primaryAddress: primary,
      announce: { delayMs: r.announce.delayMs, repeat: r.announce.repeat, refreshMs: r.announce.refreshMs },
      track: trackWeights(r),
      ...(r.track.files.some(f => f.weight !== 0) ? { fileWeights: Object.fromEntries(r.track.files.filter(f => f.weight !== 0).map(f => [f.path, f.weight])) } : {}),
      ...(r.syncGroup !== null ? { syncGroup: r.syncGroup } : {})
    })
    wires.push({
      id: r.id,
      // keepalived use_vmac: adverts leave from the macvlan, with the virtual MAC as source (RFC 5798 §7.3).
      ifname: r.vmac?.name ?? r.interface,
      family: r.family,
      vrid: r.vrid,
      version: r.version,
      advertIntervalCs: r.advertIntervalCs,
      vips: r.vips,
      password: r.authentication?.password ?? null,
      v3Ipv4ChecksumCompat: r.v3Ipv4ChecksumCompat,
      unicastPeers: r.unicastPeers,
      checkSource: r.unicastCheckSource
    })
  }
  if (problems.length > 0) throw new AssemblyError(problems.join('\n'))
  const groups = model.syncGroups.map(g => ({ name: g.name, members: g.routers }))
  return { routers, groups, wires }
}
