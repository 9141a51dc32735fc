/**
 * The lab topology, in network namespaces this code creates and removes itself:
 *
 *   client ── br-in ──┬── fw1 eth1   fw1 eth0 ──┬── br-out ── server
 *   10.1.0.100        └── fw2 eth1   fw2 eth0 ──┘            192.0.2.100
 *                         fw1 eth2 ── fw2 eth2  (sync link 10.2.0.1 / 10.2.0.2)
 *
 * Inside 10.1.0.0/24 + fd00:1::/64 (VIP .1 / ::1), outside 192.0.2.0/24 + 2001:db8:0:1::/64 (VIP
 * .1 / ::1). The bridges live in a "switch" namespace. All traffic stays in these namespaces:
 * nothing is routed to the host or beyond.
 *
 * The firewalls get the ruleset from the field: INPUT and FORWARD policy DROP, NEW connections
 * only from inside, ESTABLISHED/RELATED back, SNAT to the outside VIP, VRRP (proto 112) and the
 * conntrack sync port allowed, INVALID packets counted in their own rule.
 */
import { nsExec, sh } from './sh.js'

export interface FwNode {
  readonly name: 'fw1' | 'fw2'
  readonly ns: string
  readonly priority: number
  readonly inside: string
  readonly outside: string
  readonly sync: string
  readonly peerSync: string
}

export interface Topology {
  readonly prefix: string
  readonly ns: { client: string, fw1: string, fw2: string, server: string, sw: string }
  readonly fw: readonly [FwNode, FwNode]
  readonly vip: { inside4: string, outside4: string, inside6: string, outside6: string }
  readonly client: { v4: string, v6: string }
  readonly server: { v4: string, v6: string }
}

export function topology (prefix: string): Topology {
  const n = (s: string): string => `${prefix}-${s}`
  return {
    prefix,
    ns: { client: n('client'), fw1: n('fw1'), fw2: n('fw2'), server: n('server'), sw: n('sw') },
    fw: [
      { name: 'fw1', ns: n('fw1'), priority: 100, inside: '10.1.0.2', outside: '192.0.2.2', sync: '10.2.0.1', peerSync: '10.2.0.2' },
      { name: 'fw2', ns: n('fw2'), priority: 50, inside: '10.1.0.3', outside: '192.0.2.3', sync: '10.2.0.2', peerSync: '10.2.0.1' }
    ],
    vip: { inside4: '10.1.0.1', outside4: '192.0.2.1', inside6: 'fd00:1::1', outside6: '2001:db8:0:1::1' },
    client: { v4: '10.1.0.100', v6: 'fd00:1::100' },
    server: { v4: '192.0.2.100', v6: '2001:db8:0:1::100' }
  }
}

const ip = async (...args: string[]): Promise<string> => await sh('ip', args)

async function nsSysctl (ns: string, ...kv: string[]): Promise<void> {
  for (const x of kv) await nsExec(ns, 'sysctl', ['-q', '-w', x])
}

/** Move one end of a new veth pair into each namespace, rename, bring up. Interface names ≤ 15 chars. */
async function veth (a: { ns: string, ifname: string }, b: { ns: string, ifname: string }, tmp: string): Promise<void> {
  await ip('link', 'add', `${tmp}a`, 'type', 'veth', 'peer', 'name', `${tmp}b`)
  await ip('link', 'set', `${tmp}a`, 'netns', a.ns)
  await ip('link', 'set', `${tmp}b`, 'netns', b.ns)
  await nsExec(a.ns, 'ip', ['link', 'set', `${tmp}a`, 'name', a.ifname])
  await nsExec(b.ns, 'ip', ['link', 'set', `${tmp}b`, 'name', b.ifname])
  await nsExec(a.ns, 'ip', ['link', 'set', a.ifname, 'up'])
  await nsExec(b.ns, 'ip', ['link', 'set', b.ifname, 'up'])
}

export async function existingNamespaces (): Promise<string[]> {
  const out = await sh('ip', ['netns', 'list'], { allowFail: true })
  return out.split('\n').map(l => l.split(' ')[0] ?? '').filter(s => s !== '')
}

/** Remove every namespace of this topology (and so every interface in it). Safe to call twice. */
export async function destroy (t: Topology): Promise<void> {
  const have = new Set(await existingNamespaces())
  for (const ns of Object.values(t.ns)) if (have.has(ns)) await sh('ip', ['netns', 'del', ns], { allowFail: true })
}

export async function create (t: Topology): Promise<void> {
  await destroy(t)
  for (const ns of Object.values(t.ns)) {
    await ip('netns', 'add', ns)
    await nsExec(ns, 'ip', ['link', 'set', 'lo', 'up'])
    // No IPv6 duplicate address detection: addresses (and VIPs) are usable at once, and the
    // link-local source of VRRPv3/IPv6 adverts exists before hafwd starts.
    await nsSysctl(ns, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0')
  }
  const sw = t.ns.sw
  await nsExec(sw, 'ip', ['link', 'add', 'br-in', 'type', 'bridge'])
  await nsExec(sw, 'ip', ['link', 'add', 'br-out', 'type', 'bridge'])
  await nsExec(sw, 'ip', ['link', 'set', 'br-in', 'up'])
  await nsExec(sw, 'ip', ['link', 'set', 'br-out', 'up'])
  const tmp = `h${process.pid % 100000}`
  const port = async (ns: string, ifname: string, bridge: string, swName: string): Promise<void> => {
    await veth({ ns, ifname }, { ns: sw, ifname: swName }, `${tmp}${swName}`.slice(0, 13))
    await nsExec(sw, 'ip', ['link', 'set', swName, 'master', bridge])
  }
  await port(t.ns.client, 'eth0', 'br-in', 'p-client')
  await port(t.ns.server, 'eth0', 'br-out', 'p-server')
  for (const fw of t.fw) {
    await port(fw.ns, 'eth1', 'br-in', `p-${fw.name}-in`)
    await port(fw.ns, 'eth0', 'br-out', `p-${fw.name}-out`)
  }
  await veth({ ns: t.fw[0].ns, ifname: 'eth2' }, { ns: t.fw[1].ns, ifname: 'eth2' }, `${tmp}s`)

  await nsExec(t.ns.client, 'ip', ['addr', 'add', `${t.client.v4}/24`, 'dev', 'eth0'])
  await nsExec(t.ns.client, 'ip', ['addr', 'add', `${t.client.v6}/64`, 'dev', 'eth0'])
  await nsExec(t.ns.client, 'ip', ['route', 'add', 'default', 'via', t.vip.inside4])
  await nsExec(t.ns.client, 'ip', ['-6', 'route', 'add', 'default', 'via', t.vip.inside6])
  await nsExec(t.ns.server, 'ip', ['addr', 'add', `${t.server.v4}/24`, 'dev', 'eth0'])
  await nsExec(t.ns.server, 'ip', ['addr', 'add', `${t.server.v6}/64`, 'dev', 'eth0'])
  // IPv6 is routed, not NATed: the server reaches the inside prefix through the outside VIP.
  await nsExec(t.ns.server, 'ip', ['-6', 'route', 'add', 'fd00:1::/64', 'via', t.vip.outside6])
  for (const fw of t.fw) {
    const host = fw.name === 'fw1' ? 2 : 3
    await nsExec(fw.ns, 'ip', ['addr', 'add', `${fw.inside}/24`, 'dev', 'eth1'])
    await nsExec(fw.ns, 'ip', ['addr', 'add', `${fw.outside}/24`, 'dev', 'eth0'])
    await nsExec(fw.ns, 'ip', ['addr', 'add', `fd00:1::${host}/64`, 'dev', 'eth1'])
    await nsExec(fw.ns, 'ip', ['addr', 'add', `2001:db8:0:1::${host}/64`, 'dev', 'eth0'])
    await nsExec(fw.ns, 'ip', ['addr', 'add', `${fw.sync}/24`, 'dev', 'eth2'])
    await nsSysctl(fw.ns, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1')
    // A firewall must not pick up a connection from the middle: without a conntrack entry a
    // mid-stream segment is INVALID (dropped), not a NEW connection. This is what makes the
    // replicated state necessary, and what the session tests prove.
    await nsExec(fw.ns, 'modprobe', ['nf_conntrack'], { allowFail: true })
  }
}

/** The firewall ruleset from the field (iptables; Debian's iptables is the nft backend). */
export async function applyRuleset (t: Topology, opts: { syncPort?: number } = {}): Promise<void> {
  const syncPort = String(opts.syncPort ?? 3780)
  for (const fw of t.fw) {
    for (const tool of ['iptables', 'ip6tables'] as const) {
      const run = async (...args: string[]): Promise<void> => { await nsExec(fw.ns, tool, args) }
      await run('-P', 'INPUT', 'DROP')
      await run('-P', 'FORWARD', 'DROP')
      await run('-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT')
      await run('-A', 'INPUT', '-p', '112', '-j', 'ACCEPT')
      await run('-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
      await run('-A', 'INPUT', '-i', 'eth2', '-p', 'udp', '--dport', syncPort, '-j', 'ACCEPT')
      await run('-A', 'INPUT', '-p', tool === 'iptables' ? 'icmp' : 'ipv6-icmp', '-j', 'ACCEPT')
      await run('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP')
      await run('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
      await run('-A', 'FORWARD', '-i', 'eth1', '-o', 'eth0', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'ACCEPT')
    }
    await nsExec(fw.ns, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'eth0', '-s', '10.1.0.0/24', '-j', 'SNAT', '--to-source', t.vip.outside4])
    // conntrack exists in the namespace now (the rules above use it): no mid-stream pickup.
    await nsSysctl(fw.ns, 'net.netfilter.nf_conntrack_tcp_loose=0')
  }
}

/** Addresses on an interface of a namespace, as `ip -j addr` reports them; none while the link is down. */
export async function addressesOf (ns: string, ifname: string): Promise<string[]> {
  const out = await nsExec(ns, 'ip', ['-j', 'addr', 'show', 'dev', ifname, 'up'], { allowFail: true })
  if (out.trim() === '') return []
  const parsed = JSON.parse(out) as Array<{ addr_info?: Array<{ local: string }> }>
  return parsed.flatMap(l => (l.addr_info ?? []).map(a => a.local))
}
