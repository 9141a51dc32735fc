/**
 * Virtual routes and policy rules over rtnetlink (the `netlink` package), for keepalived-style
 * virtual_routes / virtual_rules.
 *
 * Messages follow what iproute2 sends for `ip route add|del` and `ip rule add|del`:
 * - rtm_table carries the table when it fits in 8 bits, RTA_TABLE / FRA_TABLE always;
 * - a unicast route without gateway is scope link, everything else scope universe; a delete
 *   uses scope NOWHERE (any scope matches, as iproute2 does);
 * - routes and rules are tagged with keepalived's protocol number (RTPROT_KEEPALIVED 18, shown
 *   as `proto keepalived`) and deleted with it, so a delete never removes an identical route or
 *   rule the operator, systemd-networkd (proto static) or the kernel installed. hafw replaces
 *   keepalived on the box, and the number says what these are: routes of the VRRP daemon; a
 *   hafwd started after keepalived also clears keepalived's leftovers of the same routes.
 * Routes are added with NLM_F_CREATE only, as keepalived does (`ip route prepend`): a virtual
 * route goes in front of a matching static route with another gateway (the usual "backup default
 * route" setup) instead of being refused; only an identical route answers EEXIST. Rules are added
 * with NLM_F_CREATE|NLM_F_EXCL (keepalived too), so an identical rule answers EEXIST. EEXIST, like
 * ESRCH/ENOENT on delete, is reported as `already` (idempotent; the caller counts it).
 *
 * Own socket: requests on the address socket (rtnl.ts) run concurrently with dumps there, which
 * confuses the package's reply matching.
 */
// The rtnetlink part of the `netlink` package only: its index also loads the nl80211 (WiFi),
// genetlink and WireGuard modules (~0.5 MiB of heap, ~0.9 MiB of RSS, measured) that hafwd never uses.
import { createRtNetlink } from 'netlink/dist/rt/rt.js'
import type { RtNetlinkSocket } from 'netlink/dist/rt/rt.js'
import type * as rt from 'netlink/dist/rt/structs.js'
import type { VRoute, VRule } from '../core/effects.js'
import { parseIP } from '../codec/ip.js'
import type { RouteControl, RouteOutcome } from './ports.js'

const AF_INET = 2
const AF_INET6 = 10
const NLM_F_EXCL = 0x200
const NLM_F_CREATE = 0x400
/** keepalived's vrrp_iproute.h RTPROT_KEEPALIVED (iproute2 rt_protos: keepalived). */
const RTPROT_KEEPALIVED = 18
const RT_SCOPE_UNIVERSE = 0
const RT_SCOPE_LINK = 253
const RT_SCOPE_NOWHERE = 255
const RTN_TYPE: Readonly<Record<VRoute['type'], number>> = { unicast: 1, blackhole: 6, unreachable: 7, prohibit: 8 }
const FR_ACT_TO_TBL = 1

function bytes (text: string): Buffer {
  const p = parseIP(text)
  if (p === null) throw new Error(`bad address ${text}`)
  return Buffer.from(p.bytes)
}

/** The netlink package rejects a NLMSG_ERROR reply with `Error('Request rejected: EEXIST')`. */
function errno (err: unknown): string | undefined {
  const m = err instanceof Error ? /Request rejected: (E[A-Z0-9]+)/.exec(err.message) : null
  return m?.[1]
}

/** `ip route` text of a route, for logs. */
export function routeText (r: VRoute): string {
  const parts = [r.type === 'unicast' ? '' : r.type, `${r.dst}/${r.prefix}`]
  if (r.via !== undefined) parts.push(`via ${r.via}`)
  if (r.dev !== undefined) parts.push(`dev ${r.dev}`)
  if (r.src !== undefined) parts.push(`src ${r.src}`)
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`)
  if (r.table !== 254) parts.push(`table ${r.table}`)
  return parts.filter(p => p !== '').join(' ')
}

/** `ip rule` text of a rule, for logs. */
export function ruleText (r: VRule): string {
  const parts: string[] = []
  if (r.priority !== undefined) parts.push(`priority ${r.priority}`)
  parts.push(`from ${r.from === undefined ? 'all' : `${r.from.address}/${r.from.prefix}`}`)
  if (r.to !== undefined) parts.push(`to ${r.to.address}/${r.to.prefix}`)
  if (r.fwmark !== undefined) parts.push(`fwmark ${r.fwmark}${r.fwmask !== undefined ? `/${r.fwmask}` : ''}`)
  parts.push(`table ${r.table}`)
  return parts.join(' ')
}

export class RtnlRouteControl implements RouteControl {
  private readonly sock: RtNetlinkSocket
  private readonly indexes = new Map<string, number>()

  constructor () {
    this.sock = createRtNetlink()
  }

  private async indexOf (ifname: string): Promise<number> {
    const known = this.indexes.get(ifname)
    if (known !== undefined) return known
    // Re-read on a miss: interfaces (a vmac, a VLAN) may appear after start.
    for (const m of await this.sock.getLinks()) {
      if (m.attrs.ifname !== undefined && m.data.index !== undefined) this.indexes.set(m.attrs.ifname, m.data.index)
    }
    const i = this.indexes.get(ifname)
    if (i === undefined) throw new Error(`interface ${ifname} does not exist`)
    return i
  }

  private async routeMessage (r: VRoute, del: boolean): Promise<{ data: rt.Route, attrs: rt.RouteAttrs }> {
    const attrs: rt.RouteAttrs = { dst: bytes(r.dst), table: r.table }
    if (r.via !== undefined) attrs.gateway = bytes(r.via)
    if (r.dev !== undefined) attrs.oif = await this.indexOf(r.dev)
    if (r.src !== undefined) attrs.prefsrc = bytes(r.src)
    if (r.metric !== undefined) attrs.priority = r.metric
    const scope = del ? RT_SCOPE_NOWHERE : (r.type === 'unicast' && r.via === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE)
    const data: rt.Route = {
      family: r.family === 'ipv6' ? AF_INET6 : AF_INET,
      dstLen: r.prefix,
      table: r.table < 256 ? r.table : 0,
      // The package's RouteProtocol enum lacks 18; the field is a plain u8 on the wire.
      protocol: RTPROT_KEEPALIVED as unknown as rt.Route['protocol'],
      scope,
      type: RTN_TYPE[r.type]
    }
    return { data, attrs }
  }

  private ruleMessage (r: VRule): { data: rt.Rule, attrs: rt.RuleAttrs } {
    const attrs: rt.RuleAttrs = { table: r.table, protocol: RTPROT_KEEPALIVED }
    if (r.from !== undefined) attrs.src = bytes(r.from.address)
    if (r.to !== undefined) attrs.dst = bytes(r.to.address)
    if (r.priority !== undefined) attrs.priority = r.priority
    if (r.fwmark !== undefined) {
      attrs.fwmark = r.fwmark
      attrs.fwmask = r.fwmask ?? 0xffffffff
    }
    const data: rt.Rule = {
      family: r.family === 'ipv6' ? AF_INET6 : AF_INET,
      srcLen: r.from?.prefix ?? 0,
      dstLen: r.to?.prefix ?? 0,
      table: r.table < 256 ? r.table : 0,
      action: FR_ACT_TO_TBL
    }
    return { data, attrs }
  }

  async addRoute (r: VRoute): Promise<RouteOutcome> {
    const m = await this.routeMessage(r, false)
    return await outcome(this.sock.newRoute(m.data, m.attrs, { flags: NLM_F_CREATE }), ['EEXIST'])
  }

  async delRoute (r: VRoute): Promise<RouteOutcome> {
    let m
    try {
      m = await this.routeMessage(r, true)
    } catch (err) {
      // The device is gone, and with it every route through it.
      if (err instanceof Error && /does not exist/.test(err.message)) return 'already'
      throw err
    }
    return await outcome(this.sock.delRoute(m.data, m.attrs), ['ESRCH', 'ENOENT', 'ENODEV'])
  }

  async addRule (r: VRule): Promise<RouteOutcome> {
    const m = this.ruleMessage(r)
    return await outcome(this.sock.newRule(m.data, m.attrs, { flags: NLM_F_CREATE | NLM_F_EXCL }), ['EEXIST'])
  }

  async delRule (r: VRule): Promise<RouteOutcome> {
    const m = this.ruleMessage(r)
    return await outcome(this.sock.delRule(m.data, m.attrs), ['ENOENT', 'ESRCH'])
  }

  close (): void {
    this.sock.socket.close()
  }
}

async function outcome (p: Promise<unknown>, already: readonly string[]): Promise<RouteOutcome> {
  try {
    await p
    return 'done'
  } catch (err) {
    const e = errno(err)
    if (e !== undefined && already.includes(e)) return 'already'
    throw err
  }
}
