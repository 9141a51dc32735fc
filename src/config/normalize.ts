/**
 * Config (the file, validated) → Model (what the runtime builds from). Pure.
 *
 * - One RouterModel per VRRP router, i.e. per instance and address family: RFC 5798 runs IPv4 and
 *   IPv6 as separate virtual routers (§5.2), so an instance listing both becomes `NAME/ipv4` and
 *   `NAME/ipv6`.
 * - Both routers of one instance stay together: when the instance is in a sync group, both are
 *   members of it; otherwise an implicit group `instance:NAME` holds them. A firewall must not be
 *   master for IPv4 on one box and for IPv6 on the other.
 * - Durations in milliseconds (`...Ms`), advertisement intervals in centiseconds (`advertIntervalCs`,
 *   the RFC 5798 §5.2.7 unit; VRRPv2 values are whole seconds × 100), addresses in canonical text.
 *
 * The input must have passed validate.ts; normalize does not re-check it.
 */
import type { Family } from '../codec/ip.js'
import type { Vip, VRoute, VRule } from '../core/effects.js'
import { routesOf, rulesOf } from './route-model.js'
import { parseAddress, parseCidr, parseHostPort, type Cidr, type HostPort } from './net.js'
import type { Config, InstanceConfig, NotifyConfig, ProtocolName, TcpStateName } from './schema.js'
import { DEFAULT_SYNC_PROTOCOLS } from './schema.js'

export type { Cidr, HostPort } from './net.js'

/** `${instance}/${family}`, e.g. `VI_OUT/ipv4`: stable across reloads while the instance keeps its name. */
export type RouterId = string

export type LogLevel = Config['log']['level']

export interface Model {
  readonly node: {
    /** null: the runtime uses the host name. */
    readonly name: string | null
  }
  readonly log: { readonly level: LogLevel }
  readonly control: ControlModel
  /** null: no metrics listener. */
  readonly metrics: { readonly listen: HostPort } | null
  /** Sorted by id. */
  readonly routers: readonly RouterModel[]
  /** Explicit groups and the implicit per-instance ones, sorted by name. */
  readonly syncGroups: readonly SyncGroupModel[]
  /** null: conntrack replication is off (section absent or enabled: false). */
  readonly conntrack: ConntrackModel | null
}

export interface ControlModel {
  readonly socket: string
  /** null: unix socket only. */
  readonly tcp: { readonly listen: HostPort, readonly token: string } | null
  readonly maxClients: number
  /** 0 = clients are never closed for idleness. */
  readonly idleTimeoutMs: number
  readonly requestBudget: { readonly ratePerSecond: number, readonly burst: number }
}

export interface RouterModel {
  readonly id: RouterId
  /** The instance name in the file. */
  readonly instance: string
  readonly family: Family
  readonly interface: string
  readonly vrid: number
  /** Configured priority 1..255. */
  readonly priority: number
  /** priority 255: the virtual addresses are this node's own (RFC 5798 §5.2.4). */
  readonly addressOwner: boolean
  readonly version: 2 | 3
  /** Advertisement interval in centiseconds (RFC 5798 §5.2.7); v2: seconds × 100. */
  readonly advertIntervalCs: number
  readonly preempt: boolean
  readonly preemptDelayMs: number
  readonly acceptMode: boolean
  /** This family's virtual addresses, in file order, canonical text. */
  readonly vips: readonly Vip[]
  /**
   * keepalived use_vmac: the macvlan interface that carries this router's VIPs (those without a
   * dev) and sends its adverts, with the RFC 5798 §7.3 virtual MAC; null = none.
   */
  readonly vmac: { readonly name: string, readonly mac: string } | null
  /** This family's virtual routes and rules (keepalived virtual_routes / virtual_rules), in file order. */
  readonly routes: readonly VRoute[]
  readonly rules: readonly VRule[]
  /** Unicast destinations of this family; null = the VRRP multicast group (224.0.0.18 / ff02::12). */
  readonly unicastPeers: readonly string[] | null
  /** unicast.checkSource: only the peers' adverts reach the router (ignored without peers). */
  readonly unicastCheckSource: boolean
  /** Advertisement source; null = chosen by the runtime from the interface (IPv6: link-local). */
  readonly sourceAddress: string | null
  /** VRRPv2 only. */
  readonly authentication: { readonly type: 'pass', readonly password: string } | null
  readonly announce: AnnounceModel
  readonly track: TrackModel
  /** VRRPv3 over IPv4: checksum without the pseudo-header. Always false for IPv6 and v2. */
  readonly v3Ipv4ChecksumCompat: boolean
  /** Name of the sync group this router belongs to (explicit or `instance:NAME`), null when alone. */
  readonly syncGroup: string | null
  /** The instance's notify hooks (null: none); not part of the router's wire identity, swapped by a reload. */
  readonly notify: NotifyModel | null
}

/** Notify hooks of an instance or a sync group (runtime/notify.ts); null: no such hook. */
export interface NotifyModel {
  readonly master: readonly string[] | null
  readonly backup: readonly string[] | null
  readonly fault: readonly string[] | null
  readonly stop: readonly string[] | null
  /** keepalived's generic `notify`: the transition is appended to this argv. */
  readonly any: readonly string[] | null
  readonly timeoutMs: number
}

export interface AnnounceModel {
  /** Delay of the second round after becoming master; 0 = no second round. */
  readonly delayMs: number
  /** Messages per address per round. */
  readonly repeat: number
  /** Refresh period while master; 0 = off. */
  readonly refreshMs: number
  readonly refreshRepeat: number
}

export interface TrackModel {
  readonly interfaces: ReadonlyArray<{ readonly name: string, readonly weight: number }>
  readonly files: ReadonlyArray<{ readonly path: string, readonly weight: number }>
  readonly scripts: readonly TrackScriptModel[]
}

export interface TrackScriptModel {
  readonly name: string
  readonly command: readonly string[]
  readonly intervalMs: number
  /** Defaults to the interval. */
  readonly timeoutMs: number
  readonly weight: number
  readonly rise: number
  readonly fall: number
}

export interface SyncGroupModel {
  /** The group's name in the file, or `instance:NAME` for an implicit group. */
  readonly name: string
  /** true: made by normalize to keep the families of one ungrouped instance together. */
  readonly implicit: boolean
  /** Instance names, in file order. */
  readonly instances: readonly string[]
  /** Router ids of those instances, sorted. */
  readonly routers: readonly RouterId[]
  /** The group's notify hooks (null: none; always null for an implicit group). */
  readonly notify: NotifyModel | null
}

export type SyncTransportModel =
  | {
    readonly transport: 'udp'
    /** Local bind address. */
    readonly address: string
    readonly peer: string
    readonly family: Family
    readonly port: number
  }
  | {
    readonly transport: 'multicast'
    readonly group: string
    readonly port: number
    /** Local IPv4 address of the sync interface (IP_MULTICAST_IF / IP_ADD_MEMBERSHIP). */
    readonly interfaceAddress: string
    /** The other nodes' addresses (the only accepted sources); null: any but our own. */
    readonly members: readonly string[] | null
  }

export interface ConntrackModel {
  readonly sync: SyncTransportModel & {
    readonly interface: string
    /** Bytes; null = kernel default. */
    readonly sndBuffer: number | null
    readonly rcvBuffer: number | null
    readonly checksum: boolean
    readonly ftfw: {
      readonly resendQueueSize: number
      readonly ackWindowSize: number
      readonly aliveIntervalMs: number
    }
    /** Authenticated sync: key files, the first one sends (null: off, conntrackd-compatible). */
    readonly auth: { readonly keyFiles: readonly string[] } | null
  }
  /** Loopback and every VIP: never the source of a peer entry we accept (the runtime adds the interface addresses). */
  readonly ownAddresses: readonly Cidr[]
  /** Peer entries are accepted only from these origins (null: any). */
  readonly commitRanges: readonly Cidr[] | null
  readonly commitBudgetMs: number
  /** SO_RCVBUFFORCE value of the kernel event socket. */
  readonly eventBufferBytes: number
  readonly purgeTimeoutMs: number
  /** 0 = no start-up resync. */
  readonly startupResyncTimeoutMs: number
  readonly disableExternalCache: boolean
  readonly filter: {
    readonly protocols: { readonly mode: 'accept' | 'ignore', readonly list: readonly ProtocolName[] }
    /**
     * Configured prefixes + loopback + every virtual address (host prefixes). The runtime adds
     * the local interface addresses, which only it can see.
     */
    readonly ignoreAddresses: readonly Cidr[]
    /** null: every TCP state is replicated. */
    readonly tcpStates: { readonly mode: 'accept' | 'ignore', readonly list: readonly TcpStateName[] } | null
  }
}

const FAMILIES: readonly Family[] = ['ipv4', 'ipv6']

/** Build the runtime model from a validated config. */
export function normalize (config: Config): Model {
  const groupOf = new Map<string, string>()
  for (const [name, g] of Object.entries(config.vrrp.syncGroups)) {
    for (const m of g.members) groupOf.set(m, name)
  }

  const routers: RouterModel[] = []
  const familiesOf = new Map<string, Family[]>()
  for (const [name, inst] of Object.entries(config.vrrp.instances)) {
    const vips = inst.virtualAddresses.map(v => toVip(v.address, v.dev))
    const families = FAMILIES.filter(f => vips.some(v => v.family === f))
    familiesOf.set(name, families)
    const group = groupOf.get(name) ?? (families.length > 1 ? implicitGroupName(name) : null)
    for (const family of families) routers.push(routerOf(name, inst, family, vips.filter(v => v.family === family), group))
  }
  routers.sort((a, b) => compareText(a.id, b.id))

  const syncGroups: SyncGroupModel[] = []
  for (const [name, g] of Object.entries(config.vrrp.syncGroups)) {
    syncGroups.push({ name, implicit: false, instances: [...g.members], routers: routerIdsOf(g.members, familiesOf), notify: notifyOf(g.notify) })
  }
  for (const [name, families] of familiesOf) {
    if (families.length > 1 && !groupOf.has(name)) {
      syncGroups.push({ name: implicitGroupName(name), implicit: true, instances: [name], routers: routerIdsOf([name], familiesOf), notify: null })
    }
  }
  syncGroups.sort((a, b) => compareText(a.name, b.name))

  return {
    node: { name: config.node.name ?? null },
    log: { level: config.log.level },
    control: {
      socket: config.control.socket,
      tcp: config.control.tcp === undefined ? null : { listen: hostPort(config.control.tcp.listen), token: config.control.tcp.token },
      maxClients: config.control.maxClients,
      idleTimeoutMs: config.control.idleTimeout,
      requestBudget: { ratePerSecond: config.control.requestBudget.rate, burst: config.control.requestBudget.burst }
    },
    metrics: config.metrics === undefined ? null : { listen: hostPort(config.metrics.listen) },
    routers,
    syncGroups,
    conntrack: conntrackOf(config, routers)
  }
}

export function routerId (instance: string, family: Family): RouterId {
  return `${instance}/${family}`
}

function implicitGroupName (instance: string): string {
  return `instance:${instance}`
}

function routerIdsOf (instances: readonly string[], familiesOf: ReadonlyMap<string, Family[]>): RouterId[] {
  return instances.flatMap(i => (familiesOf.get(i) ?? []).map(f => routerId(i, f))).sort(compareText)
}

function routerOf (name: string, inst: InstanceConfig, family: Family, allVips: Vip[], syncGroup: string | null): RouterModel {
  const vmac = vmacOf(inst, family)
  // With a virtual MAC the VIPs live on the macvlan, unless they name their own device.
  const vips = vmac === null ? allVips : allVips.map(v => v.dev === undefined ? { ...v, dev: vmac.name } : v)
  const peers = inst.unicast?.peers.map(p => mustAddress(p)).filter(a => a.family === family).map(a => a.address)
  const source = (inst.sourceAddresses ?? []).map(s => mustAddress(s)).find(a => a.family === family)
  return {
    id: routerId(name, family),
    instance: name,
    family,
    interface: inst.interface,
    vrid: inst.vrid,
    priority: inst.priority,
    addressOwner: inst.priority === 255,
    version: inst.version,
    // RFC 5798 §5.2.7: centiseconds. The schema has checked whole 10 ms (v3) / whole seconds (v2).
    advertIntervalCs: Math.round(inst.advertInterval / 10),
    preempt: inst.preempt,
    preemptDelayMs: inst.preemptDelay,
    acceptMode: inst.acceptMode,
    vips,
    vmac,
    routes: routesOf(inst.routes, family, inst.interface),
    rules: rulesOf(inst.rules, family),
    unicastPeers: peers ?? null,
    unicastCheckSource: inst.unicast?.checkSource ?? true,
    sourceAddress: source?.address ?? null,
    authentication: inst.authentication === undefined ? null : { type: 'pass', password: inst.authentication.password },
    announce: {
      delayMs: inst.announce.delay,
      repeat: inst.announce.repeat,
      refreshMs: inst.announce.refresh,
      refreshRepeat: inst.announce.refreshRepeat
    },
    track: {
      interfaces: inst.track.interfaces.map(i => ({ name: i.name, weight: i.weight })),
      files: inst.track.files.map(f => ({ path: f.path, weight: f.weight })),
      scripts: inst.track.scripts.map(s => ({
        name: s.name,
        command: [...s.command],
        intervalMs: s.interval,
        timeoutMs: s.timeout ?? s.interval,
        weight: s.weight,
        rise: s.rise,
        fall: s.fall
      }))
    },
    v3Ipv4ChecksumCompat: inst.version === 3 && family === 'ipv4' && inst.v3Ipv4ChecksumCompat,
    syncGroup,
    notify: notifyOf(inst.notify)
  }
}

/** RFC 5798 §7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6. */
export function virtualMac (family: Family, vrid: number): string {
  return `00:00:5e:00:0${family === 'ipv4' ? 1 : 2}:${vrid.toString(16).padStart(2, '0')}`
}

function vmacOf (inst: InstanceConfig, family: Family): { name: string, mac: string } | null {
  if (inst.vmac === false) return null
  const name = inst.vmac === true ? `vrrp.${inst.vrid}` : inst.vmac.name
  return { name, mac: virtualMac(family, inst.vrid) }
}

function notifyOf (n: NotifyConfig | undefined): NotifyModel | null {
  if (n === undefined) return null
  const argv = (a: readonly string[] | undefined): string[] | null => a === undefined ? null : [...a]
  return { master: argv(n.master), backup: argv(n.backup), fault: argv(n.fault), stop: argv(n.stop), any: argv(n.any), timeoutMs: n.timeout }
}

function conntrackOf (config: Config, routers: readonly RouterModel[]): ConntrackModel | null {
  const ct = config.conntrack
  if (ct === undefined || !ct.enabled) return null
  const s = ct.sync
  let transport: SyncTransportModel
  if (s.transport === 'udp') {
    const udp = s.udp as NonNullable<typeof s.udp>
    const address = mustAddress(udp.address)
    transport = { transport: 'udp', address: address.address, peer: mustAddress(udp.peer).address, family: address.family, port: udp.port }
  } else {
    const mc = s.multicast as NonNullable<typeof s.multicast>
    transport = { transport: 'multicast', group: mustAddress(mc.group).address, port: mc.port, interfaceAddress: mustAddress(mc.interfaceAddress).address, members: mc.members === undefined ? null : mc.members.map(m => mustAddress(m).address) }
  }
  const p = ct.filter.protocols
  const protocols = p.accept !== undefined
    ? { mode: 'accept' as const, list: [...p.accept] }
    : p.ignore !== undefined
      ? { mode: 'ignore' as const, list: [...p.ignore] }
      : { mode: 'accept' as const, list: [...DEFAULT_SYNC_PROTOCOLS] }
  const st = ct.filter.tcpStates
  const tcpStates = st.accept !== undefined
    ? { mode: 'accept' as const, list: [...st.accept] }
    : st.ignore !== undefined ? { mode: 'ignore' as const, list: [...st.ignore] } : null

  // conntrackd needs all of these listed by hand in `Address Ignore`; hafw knows them.
  const ignore = new Map<string, Cidr>()
  const add = (c: Cidr): void => { ignore.set(`${c.address}/${c.prefix}`, c) }
  ct.filter.addresses.ignore.forEach(text => add(mustCidr(text)))
  add({ address: '127.0.0.1', prefix: 32, family: 'ipv4' })
  add({ address: '::1', prefix: 128, family: 'ipv6' })
  for (const r of routers) for (const v of r.vips) add({ address: v.address, prefix: v.family === 'ipv4' ? 32 : 128, family: v.family })
  const own = new Map<string, Cidr>()
  own.set('127.0.0.1/32', { address: '127.0.0.1', prefix: 32, family: 'ipv4' })
  own.set('::1/128', { address: '::1', prefix: 128, family: 'ipv6' })
  for (const r of routers) for (const v of r.vips) own.set(`${v.address}/${v.family}`, { address: v.address, prefix: v.family === 'ipv4' ? 32 : 128, family: v.family })

  return {
    sync: {
      ...transport,
      interface: s.interface,
      sndBuffer: s.sndBuffer ?? null,
      rcvBuffer: s.rcvBuffer ?? null,
      checksum: s.checksum,
      ftfw: { resendQueueSize: s.ftfw.resendQueueSize, ackWindowSize: s.ftfw.ackWindowSize, aliveIntervalMs: s.ftfw.aliveInterval },
      auth: s.auth === undefined ? null : { keyFiles: [...s.auth.keyFiles] }
    },
    ownAddresses: [...own.values()],
    commitRanges: ct.commitRanges === undefined ? null : ct.commitRanges.map(mustCidr),
    commitBudgetMs: ct.commitBudget,
    eventBufferBytes: ct.eventBuffer,
    purgeTimeoutMs: ct.purgeTimeout,
    startupResyncTimeoutMs: ct.startupResyncTimeout,
    disableExternalCache: ct.disableExternalCache,
    filter: { protocols, ignoreAddresses: [...ignore.values()], tcpStates }
  }
}

function toVip (text: string, dev: string | undefined): Vip {
  const c = mustCidr(text)
  return dev === undefined ? { address: c.address, prefix: c.prefix, family: c.family } : { address: c.address, prefix: c.prefix, family: c.family, dev }
}

// The helpers below cannot fail on validated input; a failure means normalize was called on a
// Config that did not come from validate.ts, which is a programming error.

function mustCidr (text: string): Cidr {
  const r = parseCidr(text)
  if (!r.ok) throw new TypeError(`normalize: unvalidated address ${text}`)
  return r.value
}

function mustAddress (text: string): { address: string, family: Family } {
  const r = parseAddress(text)
  if (!r.ok) throw new TypeError(`normalize: unvalidated address ${text}`)
  return r.value
}

function hostPort (text: string): HostPort {
  const r = parseHostPort(text)
  if (!r.ok) throw new TypeError(`normalize: unvalidated listen address ${text}`)
  return r.value
}

/** Code-unit order, independent of locale, so ids sort the same everywhere. */
function compareText (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
