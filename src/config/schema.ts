/**
 * The configuration file, as one zod 4 schema: the single source of truth for what a key means,
 * its type, its range and its default (architecture decision 8). validate.ts parses YAML through
 * it, normalize.ts turns its output into the runtime Model, json-schema.ts turns it into the JSON
 * Schema shipped for editors. Every `.describe()` text ends up in that JSON Schema, so each one
 * says what the key means, its default and its keepalived/conntrackd/RFC equivalent.
 *
 * Conventions:
 * - Every object is strict: an unknown key (a typo such as `priorty`) is an error, never ignored.
 * - Durations accept `"100ms"`, `"1s"`, `"2.5s"`, `"1m"` or a plain number of seconds, and come out
 *   of the schema as whole milliseconds (see duration.ts).
 * - Rules that relate several keys (VRRPv2 vs IPv6, sync group members, duplicate VRIDs, ...) live in
 *   cross-checks.ts, not here, so that they run even when some other key of the file is wrong.
 */
import { z } from 'zod'
import { DURATION_HINT, formatMs, parseDuration } from './duration.js'
import { isIPv4Multicast, isLoopback, networkAddress, parseAddress, parseCidr, parseHostPort } from './net.js'

// ---------------------------------------------------------------------------------------------
// Defaults that other modules need by name
// ---------------------------------------------------------------------------------------------

/** VRRP version when `version` is omitted: RFC 5798 (v3) is current; RFC 3768 (v2) is legacy. */
export const DEFAULT_VRRP_VERSION = 3
/** Advertisement interval when omitted: 1 s (RFC 3768 §5.3.7, RFC 5798 §5.2.7 default 100 cs). */
export const DEFAULT_ADVERT_INTERVAL_MS = 1000
/** Default conntrackd FTFW port (conntrackd example `Group 3780` / `Port 3780`). */
export const DEFAULT_SYNC_PORT = 3780
/** conntrackd `Protocol Accept { TCP SCTP DCCP }` from its shipped FTFW example. */
export const DEFAULT_SYNC_PROTOCOLS = ['tcp', 'sctp', 'dccp'] as const

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/** An integer in min..max; one message for every way of missing it. */
function int (min: number, max: number): z.ZodNumber {
  const error = `must be an integer ${min}..${max}`
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error })
}

/** A duration (see duration.ts) bounded to min..max milliseconds; output: whole milliseconds. */
function duration (minMs: number, maxMs: number) {
  const range = `must be ${formatMs(minMs)}..${formatMs(maxMs)}`
  return z.union([
    z.number({ error: DURATION_HINT }).nonnegative({ error: DURATION_HINT }),
    z.string({ error: DURATION_HINT }).regex(/^[0-9]+(\.[0-9]+)?\s*(ms|s|m|h)?$/, { error: DURATION_HINT })
  ], { error: DURATION_HINT }).transform((value, ctx) => {
    const r = parseDuration(value)
    if (!r.ok) {
      ctx.issues.push({ code: 'custom', message: r.message, input: value })
      return z.NEVER
    }
    if (r.ms < minMs || r.ms > maxMs) {
      ctx.issues.push({ code: 'custom', message: range, input: value })
      return z.NEVER
    }
    return r.ms
  })
}

/** A string checked by a parser from net.ts; the output stays the text the operator wrote. */
function checkedText (check: (text: string) => string | null, error: string) {
  return z.string({ error }).superRefine((text, ctx) => {
    const message = check(text)
    if (message !== null) ctx.addIssue({ code: 'custom', message, input: text })
  })
}

const ipAddress = checkedText(t => {
  const r = parseAddress(t)
  return r.ok ? null : r.message
}, 'must be an IPv4 or IPv6 address')

const ipv4Address = checkedText(t => {
  const r = parseAddress(t)
  if (!r.ok) return 'must be an IPv4 address'
  return r.value.family === 'ipv4' ? null : 'must be an IPv4 address'
}, 'must be an IPv4 address')

const cidr = checkedText(t => {
  const r = parseCidr(t)
  return r.ok ? null : r.message
}, 'must be an IP address with an optional /prefix')

/** Control and metrics listeners: loopback only (architecture decision 9). */
const loopbackListen = checkedText(t => {
  const r = parseHostPort(t)
  if (!r.ok) return r.message
  return isLoopback(r.value.host)
    ? null
    : 'must be a loopback address (127.0.0.0/8 or [::1]): the control plane is local only; use an SSH tunnel or a local proxy to reach it from elsewhere'
}, 'must be IP:PORT on loopback, e.g. "127.0.0.1:9780"')

/** The metrics listener: any address (a Prometheus server usually scrapes from another host). */
const anyListen = checkedText(t => {
  const r = parseHostPort(t)
  return r.ok ? null : r.message
}, 'must be IP:PORT, e.g. "127.0.0.1:9781", "0.0.0.0:9781" or "[::]:9781"')

/** Linux interface names: IFNAMSIZ is 16 bytes with the NUL, no '/', ':' or white space. */
const ifName = z.string({ error: 'must be a network interface name' })
  .regex(/^(?!\.{1,2}$)[^\s/:]{1,15}$/, { error: 'must be a network interface name (1..15 characters, no "/", ":" or spaces)' })

/** Instance and sync group names: they appear in router ids (`VI_OUT/ipv4`), logs and metrics. */
const objectName = z.string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, { error: 'names must be 1..64 characters of A-Z a-z 0-9 _ . - (not starting with . or -)' })

const absolutePath = z.string({ error: 'must be an absolute path' })
  .regex(/^\/[^\0]*$/, { error: 'must be an absolute path' })

const port = int(1, 65535)

const weight = int(-254, 254)

// ---------------------------------------------------------------------------------------------
// VRRP instance
// ---------------------------------------------------------------------------------------------

const vipObject = z.strictObject({
  address: cidr.describe('Virtual address with prefix, e.g. "2001:db8::1/64" (without a prefix: /32 or /128).'),
  dev: ifName.optional().describe('Device that carries this address; default: the instance interface (keepalived `dev`).')
})

const virtualAddress = z.union([
  cidr.describe('Virtual address with prefix, e.g. "192.0.2.1/24" (without a prefix: /32 or /128, as keepalived).'),
  vipObject
], { error: 'must be "address/prefix" or { address, dev }' }).transform(v => typeof v === 'string' ? { address: v } : v)

const trackInterface = z.union([
  ifName.describe('Interface name; shorthand for { name, weight: 0 } (link down puts the instance in FAULT).'),
  z.strictObject({
    name: ifName.describe('Interface whose link state is tracked (keepalived track_interface).'),
    weight: weight.default(0).describe(
      'Priority change while the link is down: a negative weight is subtracted, a positive one is added while it is up ' +
      '(keepalived semantics). 0 (default) puts the instance in FAULT while the link is down. Range -254..254.')
  })
], { error: 'must be an interface name or { name, weight }' }).transform(v => typeof v === 'string' ? { name: v, weight: 0 } : v)

const trackFile = z.strictObject({
  path: absolutePath.describe('File holding a number (keepalived track_file).'),
  weight: weight.default(1).describe(
    'The number read from the file is multiplied by this weight and added to the priority. With weight 0 any ' +
    'non-zero value puts the instance in FAULT. Default 1 (keepalived). Range -254..254.')
})

const trackScript = z.strictObject({
  name: objectName.describe('Name of the check, used in logs and status (keepalived vrrp_script name).'),
  command: z.array(z.string().min(1), { error: 'must be a list of strings (argv)' }).min(1, { error: 'must list the program and its arguments' })
    .describe('argv of the check, run without a shell: ["/usr/local/sbin/check-uplink", "--quiet"]. Exit 0 = OK.'),
  interval: duration(100, 3_600_000).prefault('1s').describe('Time between runs. Default 1s (keepalived vrrp_script interval). Range 100ms..1h.'),
  timeout: duration(100, 3_600_000).optional().describe('A run lasting longer is killed and counts as a failure. Default: the interval; must not exceed it.'),
  weight: weight.default(0).describe(
    'Priority change: a negative weight is subtracted after `fall` failures, a positive one added after `rise` successes. ' +
    '0 (default, keepalived) puts the instance in FAULT after `fall` failures. Range -254..254.'),
  rise: int(1, 1000).default(1).describe('Consecutive successes needed to become OK. Default 1 (keepalived rise).'),
  fall: int(1, 1000).default(1).describe('Consecutive failures needed to become KO. Default 1 (keepalived fall).')
})

/** A prefix whose host bits are zero (the kernel refuses a route or rule to 192.0.2.7/24). */
const networkPrefix = checkedText(t => {
  const r = parseCidr(t)
  if (!r.ok) return r.message
  const net = networkAddress(r.value)
  return net === r.value.address ? null : `host bits are set: did you mean ${net}/${r.value.prefix}?`
}, 'must be a prefix, e.g. "198.51.100.0/24" or "2001:db8:1::/48"')

/** Kernel routing table: a number (1..4294967295) or one of the names of /etc/iproute2/rt_tables. */
const routeTable = z.union([
  int(1, 4_294_967_295),
  z.enum(['main', 'local', 'default'])
], { error: 'must be a table number 1..4294967295 or main, local, default' })

const virtualRoute = z.strictObject({
  to: networkPrefix.describe('Destination prefix, e.g. "198.51.100.0/24" or "0.0.0.0/0" for the default route (ip route `to`).'),
  via: ipAddress.optional().describe('Gateway, of the family of `to` (ip route `via`).'),
  dev: ifName.optional().describe('Output device. Default: the instance interface for a unicast route without `via`; none otherwise (the kernel picks it from `via`).'),
  src: ipAddress.optional().describe('Preferred source address, often a virtual address (ip route `src`). The route is added after the virtual addresses, so a VIP works here.'),
  metric: int(0, 4_294_967_295).optional().describe('Route metric (ip route `metric`). Default: the kernel default (0 for IPv4, 1024 for IPv6).'),
  table: routeTable.default('main').describe('Routing table, a number or main/local/default (ip route `table`). Default main (254).'),
  type: z.enum(['unicast', 'blackhole', 'unreachable', 'prohibit']).default('unicast').describe(
    'Route type: unicast (default), or blackhole / unreachable / prohibit, which take no `via` (ip route types).')
})

const virtualRule = z.strictObject({
  from: networkPrefix.optional().describe('Source prefix (ip rule `from`). Default: all.'),
  to: networkPrefix.optional().describe('Destination prefix (ip rule `to`). Default: all.'),
  table: routeTable.describe('Table to look up for matching packets (ip rule `table`), a number or main/local/default.'),
  priority: int(0, 4_294_967_295).optional().describe('Rule preference (ip rule `priority`/`pref`); lower runs first. Default: chosen by the kernel.'),
  fwmark: int(0, 4_294_967_295).optional().describe('Match the netfilter mark (ip rule `fwmark`).'),
  fwmask: int(1, 4_294_967_295).optional().describe('Mask applied to the mark before comparing it (ip rule `fwmark MARK/MASK`). Default: all ones. Needs fwmark.')
})

/** A hook's argv: the program (absolute path, run without a shell) and its arguments. */
const hookArgv = z.array(z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }), { error: 'must be a list of strings (argv)' })
  .min(1, { error: 'must list the program and its arguments' })
  .superRefine((argv, ctx) => {
    const program = argv[0]
    if (program !== undefined && !program.startsWith('/')) {
      ctx.addIssue({ code: 'custom', message: 'the program must be an absolute path (hooks run without a shell and without PATH lookup)', path: [0], input: program })
    }
  })

/**
 * Notify hooks (keepalived notify_master / notify_backup / notify_fault / notify_stop / notify):
 * programs run after the transition's in-process work (runtime/notify.ts). Shared by instances and
 * sync groups.
 */
const notifySchema = z.strictObject({
  master: hookArgv.optional().describe(
    'argv run after becoming MASTER, once the conntrack commit, the VIPs and the first gratuitous ARP / NA are done ' +
    '(keepalived notify_master). No shell: ["/usr/local/sbin/routes-up", "--table", "100"].'),
  backup: hookArgv.optional().describe('argv run after entering BACKUP (VIPs removed, conntrack steps done) (keepalived notify_backup).'),
  fault: hookArgv.optional().describe('argv run after entering FAULT (keepalived notify_fault).'),
  stop: hookArgv.optional().describe('argv run when the instance or group stops: hafwd shutting down, or removed by a reload (keepalived notify_stop).'),
  any: hookArgv.optional().describe(
    'argv run after every transition, after the state\'s own hook, with keepalived\'s generic notify arguments appended: ' +
    '"INSTANCE" NAME STATE PRIORITY for an instance, "GROUP" NAME STATE 0 for a sync group; STATE is MASTER, BACKUP, FAULT or STOP ' +
    '(keepalived notify), so existing scripts work unchanged.'),
  timeout: duration(100, 3_600_000).prefault('10s').describe(
    'A hook still running after this long is killed (SIGTERM, then SIGKILL 2s later) and counted as a timeout. Default 10s. Range 100ms..1h.')
}).describe(
  'Programs run on transitions, one after another per instance or group, never blocking VRRP (keepalived notify_*). The program ' +
  '(an absolute path) must exist, be executable and be safe: not writable by other users, nor in a directory they can write ' +
  '(keepalived enable_script_security).')

const instanceSchema = z.strictObject({
  interface: ifName.describe('Interface the VRRP advertisements are sent and received on (keepalived `interface`).'),
  vrid: int(1, 255).describe('Virtual Router Identifier 1..255 (RFC 5798 §5.2.3, keepalived virtual_router_id). Unique per interface and address family.'),
  priority: int(1, 255).default(100).describe(
    'Priority 1..254 for a backup-capable router; 255 only for the address owner, the node whose real addresses are the ' +
    'virtual addresses (RFC 5798 §5.2.4). Default 100 (keepalived, RFC 5798 §6.1).'),
  version: z.literal([2, 3], { error: 'must be 2 or 3' }).default(DEFAULT_VRRP_VERSION).describe(
    'VRRP version: 3 (RFC 5798, default, IPv4 and IPv6) or 2 (RFC 3768, IPv4 only). keepalived vrrp_version.'),
  advertInterval: duration(10, 255_000).prefault('1s').describe(
    'Advertisement interval. VRRPv3: 10ms..40.95s in 10ms steps (RFC 5798 §5.2.7, 12-bit centiseconds); VRRPv2: whole ' +
    'seconds 1..255 (RFC 3768 §5.3.7). Default 1s (keepalived advert_int).'),
  preempt: z.boolean().default(true).describe('Take over from a lower-priority master (RFC 5798 §6.1 Preempt_Mode, default true; keepalived nopreempt = false).'),
  preemptDelay: duration(0, 1_000_000).prefault('0s').describe('Extra delay before preempting a lower-priority master (keepalived preempt_delay, 0..1000s, default 0).'),
  acceptMode: z.boolean().default(false).describe(
    'Accept packets addressed to the virtual addresses while master even when not the address owner ' +
    '(RFC 5798 §6.1 Accept_Mode, default false; keepalived accept). Defined by VRRPv3; kept for v2 as keepalived does.'),
  virtualAddresses: z.array(virtualAddress, { error: 'must be a list of addresses' }).min(1, { error: 'must list at least one virtual address (RFC 5798 §5.2.5: Count IPvX Addr ≥ 1)' }).describe(
    'Virtual addresses (keepalived virtual_ipaddress). IPv4 and IPv6 may be mixed: they run as two virtual routers ' +
    '(RFC 5798 §5.2 — one per address family) with ids NAME/ipv4 and NAME/ipv6. VRRPv2 is IPv4 only.'),
  unicast: z.strictObject({
    peers: z.array(ipAddress).min(1, { error: 'must list at least one peer' }).describe(
      'Peer addresses to send advertisements to, of the same family as the virtual addresses (keepalived unicast_peer). ' +
      'A dual-family instance needs a peer of each family.'),
    checkSource: z.boolean().default(true).describe(
      'Drop adverts whose IP source is not one of the peers, before they reach the router (keepalived check_unicast_src, ' +
      'which keepalived leaves off by default). Default true; false = keepalived\'s default behaviour.')
  }).optional().describe('Send advertisements by unicast to the listed peers instead of the VRRP multicast group (not in the RFCs; keepalived unicast_peer).'),
  sourceAddresses: z.array(ipAddress).max(2, { error: 'must list at most one address per family' }).optional().describe(
    'Source address of the advertisements, at most one per family (keepalived mcast_src_ip / unicast_src_ip). ' +
    'Default: the primary address of the interface; for IPv6 it must be link-local (RFC 5798 §5.1.2.1).'),
  authentication: z.strictObject({
    type: z.literal('pass', { error: 'must be "pass" (simple text password, the only type keepalived interoperates with)' }).describe('Authentication type: "pass" (RFC 2338 type 1).'),
    password: z.string({ error: 'must be a string' }).regex(/^[\x20-\x7e]{1,8}$/, { error: 'must be 1..8 printable ASCII characters (RFC 3768 §5.3.6 carries 8 octets)' })
      .describe('Password, 1..8 ASCII characters (keepalived auth_pass; keepalived silently truncates longer ones, hafw refuses them).')
  }).optional().describe('VRRPv2 only: simple password authentication (RFC 3768 §5.3.6 keeps the field for compatibility; RFC 5798 removed it).'),
  announce: z.strictObject({
    delay: duration(0, 3_600_000).prefault('5s').describe('Delay of the second round of gratuitous ARP / unsolicited NA after becoming master; 0 = no second round (keepalived garp_master_delay, default 5s).'),
    repeat: int(1, 100).default(5).describe('Messages per address in each round (keepalived garp_master_repeat, default 5).'),
    refresh: duration(0, 86_400_000).prefault('0s').describe('Keep re-announcing this often while master; 0 = off (keepalived garp_master_refresh, default 0).'),
    refreshRepeat: int(1, 100).default(1).describe('Messages per address in each refresh (keepalived garp_master_refresh_repeat, default 1).')
  }).prefault({}).describe('Gratuitous ARP (IPv4) and unsolicited Neighbor Advertisement (IPv6) after becoming master (RFC 5798 §6.4.1, RFC 4861 §7.2.6).'),
  track: z.strictObject({
    interfaces: z.array(trackInterface).default([]).describe('Interfaces whose link state changes the priority or puts the instance in FAULT (keepalived track_interface).'),
    files: z.array(trackFile).default([]).describe('Files whose number changes the priority (keepalived track_file).'),
    scripts: z.array(trackScript).default([]).describe('Periodic checks whose result changes the priority (keepalived vrrp_script + track_script).')
  }).prefault({}).describe('What is tracked. The effective priority stays within 1..254; an address owner (255) may only use weight 0.'),
  routes: z.array(virtualRoute, { error: 'must be a list of routes' }).default([]).describe(
    'Routes added when the instance becomes MASTER, right after its virtual addresses, and removed when it leaves MASTER, ' +
    'before them (keepalived virtual_routes). Each route belongs to the virtual router of its family.'),
  rules: z.array(virtualRule, { error: 'must be a list of rules' }).default([]).describe(
    'Policy routing rules added after the routes when the instance becomes MASTER and removed first when it leaves MASTER ' +
    '(keepalived virtual_rules: from/to/table/priority/fwmark). A rule without from/to needs a single-family instance.'),
  vmac: z.union([
    z.boolean(),
    z.strictObject({ name: ifName.describe('Name of the macvlan interface. Default vrrp.VRID (keepalived use_vmac NAME).') })
  ], { error: 'must be true, false or { name }' }).default(false).describe(
    'Virtual MAC (keepalived use_vmac): create a macvlan interface (mode private) on `interface` with the RFC 5798 §7.3 ' +
    'virtual router MAC (IPv4 00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID), put the virtual addresses without a `dev` on it, ' +
    'and send the adverts and gratuitous ARPs / NAs from it, so the MAC the LAN knows does not change on failover. Removed at ' +
    'stop. Single-family instances with multicast adverts. Default false.'),
  v3Ipv4ChecksumCompat: z.boolean().default(false).describe(
    'VRRPv3 over IPv4 only: compute the checksum without the IPv4 pseudo-header, for old peers that do so ' +
    '(RFC 5798 §5.2.8 includes it; the closest keepalived knob is old_unicast_checksum). Default false.'),
  notify: notifySchema.optional().describe('Notify hooks of this instance; a dual-family instance runs them for each family\'s router (keepalived notify_* in vrrp_instance).')
})

const syncGroupSchema = z.strictObject({
  members: z.array(objectName).min(1, { error: 'must list at least one instance' }).describe(
    'Instances that move together: the group is MASTER only when every member can be, and any member in FAULT puts the ' +
    'whole group in FAULT (keepalived vrrp_sync_group). An instance belongs to at most one group.'),
  notify: notifySchema.optional().describe('Notify hooks of the group, run on the group\'s transitions beside the members\' own (keepalived notify_* in vrrp_sync_group).')
})

// ---------------------------------------------------------------------------------------------
// conntrack sync
// ---------------------------------------------------------------------------------------------

const protocolName = z.enum(['tcp', 'udp', 'udplite', 'sctp', 'dccp', 'icmp', 'icmpv6', 'gre'])
const tcpStateName = z.enum(['SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'])

const conntrackSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Replicate the conntrack table to the peer and run the conntrack steps on transitions. Default true when the section is present.'),
  sync: z.strictObject({
    transport: z.enum(['udp', 'multicast']).describe('"udp" (unicast to one peer, conntrackd UDP block) or "multicast" (IPv4, conntrackd Multicast block). Both speak conntrackd 1.4 FTFW.'),
    interface: ifName.describe('Dedicated sync link (conntrackd `Interface`); its addresses are never replicated.'),
    udp: z.strictObject({
      address: ipAddress.describe('Local address to bind (conntrackd IPv4_address / IPv6_address).'),
      peer: ipAddress.describe('Peer address to send to (conntrackd IPv4_Destination_Address / IPv6_Destination_Address).'),
      port: port.default(DEFAULT_SYNC_PORT).describe('UDP port, the same on both nodes (conntrackd Port, default 3780).')
    }).optional().describe('Required when transport is "udp".'),
    multicast: z.strictObject({
      group: checkedText(t => isIPv4Multicast(t) ? null : 'must be an IPv4 multicast address (224.0.0.0/4)', 'must be an IPv4 multicast address')
        .default('225.0.0.50').describe('Multicast group (conntrackd IPv4_address, default in its example 225.0.0.50).'),
      port: port.default(DEFAULT_SYNC_PORT).describe('UDP port (conntrackd `Group`, which is the port number; default 3780).'),
      interfaceAddress: ipv4Address.describe('Local IPv4 address of the sync interface used to join and send (conntrackd IPv4_interface).'),
      members: z.array(ipv4Address).min(1).optional().describe(
        'Sync interface addresses of the other nodes: datagrams from any other source are dropped before they are parsed (hafw). ' +
        'Without it only datagrams carrying our own address are dropped.')
    }).optional().describe('Required when transport is "multicast".'),
    sndBuffer: int(4096, 2_147_483_647).optional().describe('SO_SNDBUF(FORCE) in bytes (conntrackd SndSocketBuffer; its example uses 1249280). Default: the kernel default.'),
    rcvBuffer: int(4096, 2_147_483_647).optional().describe('SO_RCVBUF(FORCE) in bytes (conntrackd RcvSocketBuffer; its example uses 1249280). Default: the kernel default.'),
    checksum: z.boolean().default(true).describe('Fill and check the UDP checksum of sync packets (conntrackd Checksum, default on).'),
    ftfw: z.strictObject({
      resendQueueSize: int(1, 16_777_216).default(131072).describe('Messages kept for retransmission (conntrackd ResendQueueSize, default 131072).'),
      ackWindowSize: int(1, 65_535).default(300).describe('Acknowledge after this many in-sequence messages (conntrackd ACKWindowSize, default 300).'),
      aliveInterval: duration(100, 60_000).prefault('1s').describe('Send ALIVE / idle ACK this often (hard-coded 1s in conntrackd; keep 1s when the peer is conntrackd).')
    }).prefault({}).describe('FTFW reliability parameters (conntrackd `Mode FTFW { ... }`).'),
    auth: z.strictObject({
      keyFiles: z.array(absolutePath).min(1).max(2).describe(
        'Files holding the shared key (at least 16 bytes; trailing whitespace ignored; not readable by others). We send with the ' +
        'first and accept both: add the new key second, reload both nodes, swap the order, reload, drop the old one.')
    }).optional().describe('Authenticate every sync datagram with HMAC-SHA256 and a replay counter (hafw only: conntrackd cannot speak it). Off when absent.')
  }).describe('How state travels to the peer.'),
  commitBudget: duration(100, 600_000).prefault('2s').describe(
    'Longest time the commit of the external cache into the kernel may delay the VIPs when becoming master; what is left is ' +
    'committed after (hafw; conntrackd -c blocks until done). Default 2s.'),
  eventBuffer: int(4096, 1_073_741_824).default(67_108_864).describe(
    'Receive buffer of the kernel event socket in bytes, the SO_RCVBUFFORCE value (the kernel doubles it; conntrackd ' +
    'NetlinkBufferSize). When events come faster than they are read the kernel drops them: counted (ct.overrun), ' +
    'and the internal cache is resynced from a dump. Default 67108864 (64 MiB, about 100k queued events: 1 s of a 100k/s storm).'),
  purgeTimeout: duration(0, 3_600_000).prefault('60s').describe('After leaving MASTER, entries this node no longer forwards get their kernel timeout shortened to this (conntrackd PurgeTimeout, default 60s).'),
  startupResyncTimeout: duration(0, 600_000).prefault('5s').describe(
    'At start-up, request the peer\'s table and advertise a demoted priority until it has arrived, for at most this long ' +
    '(architecture decision 5; conntrackd StartupResync). 0 = no start-up resync. Default 5s.'),
  commitRanges: z.array(cidr).min(1).optional().describe(
    'Accept and commit peer entries only when their original source (the side that opened the connection) is in one of these ' +
    'prefixes, e.g. the inside networks when new connections come only from inside (hafw). Default: any origin.'),
  disableExternalCache: z.boolean().default(false).describe('Write peer state straight into the kernel table instead of an external cache (conntrackd DisableExternalCache, default off).'),
  filter: z.strictObject({
    protocols: z.strictObject({
      accept: z.array(protocolName).min(1).optional().describe('Replicate only these protocols (conntrackd Protocol Accept).'),
      ignore: z.array(protocolName).min(1).optional().describe('Replicate everything except these protocols (conntrackd Protocol Ignore).')
    }).prefault({}).describe('Give either accept or ignore. Default: accept tcp, sctp, dccp (conntrackd example).'),
    addresses: z.strictObject({
      ignore: z.array(cidr).default([]).describe(
        'Extra addresses/prefixes whose flows are not replicated (conntrackd Address Ignore). Loopback, every virtual address ' +
        'and the local interface addresses are added automatically.')
    }).prefault({}),
    tcpStates: z.strictObject({
      accept: z.array(tcpStateName).min(1).optional().describe('Replicate TCP flows only in these states (conntrackd State Accept).'),
      ignore: z.array(tcpStateName).min(1).optional().describe('Do not replicate TCP flows in these states (conntrackd State Ignore).')
    }).prefault({}).describe('Give accept or ignore, or neither (default: every state).')
  }).prefault({}).describe('What is replicated (conntrackd Filter From Userspace).')
})

// ---------------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------------

export const configSchema = z.strictObject({
  node: z.strictObject({
    name: objectName.optional().describe('Name of this node in logs, status and metrics. Default: the host name.')
  }).prefault({}).describe('This node.'),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('Log level (pino levels). Default info.')
  }).prefault({}).describe('Logging (JSON lines on stdout).'),
  control: z.strictObject({
    socket: absolutePath.default('/run/hafw/hafwd.sock').describe('Unix socket of the control API used by hafwctl (mode 0600, root). Default /run/hafw/hafwd.sock.'),
    tcp: z.strictObject({
      listen: loopbackListen.default('127.0.0.1:9780').describe('Loopback address and port, e.g. "127.0.0.1:9780" (default) or "[::1]:9780".'),
      token: z.string({ error: 'must be a string' }).min(16, { error: 'must be at least 16 characters' }).describe('Bearer token that clients must present (≥ 16 characters).')
    }).optional().describe('Also serve the control API over WebSocket on a loopback TCP port (architecture decision 9). Off by default.'),
    maxClients: int(1, 4096).default(64).describe(
      'Control connections at once. When full, the longest-idle client without a subscription or a request in flight is ' +
      'closed to make room, so hafwctl state always gets an answer; only a server full of watchers answers HTTP 503. Default 64.'),
    idleTimeout: duration(0, 86_400_000).prefault('60s').describe(
      'Close a client that sends nothing for this long and is not subscribed to events (hafwctl state --watch is). 0 = never. Default 60s.'),
    requestBudget: z.strictObject({
      rate: int(1, 100_000).default(50).describe('Requests per second a client may send on average. Default 50.'),
      burst: int(1, 100_000).default(200).describe('Requests a client may send at once. Default 200.')
    }).prefault({}).describe('Per-client token bucket: a client over it gets a rateLimited error and is closed (1008).')
  }).prefault({}).describe('Control plane (local only). maxClients, idleTimeout and requestBudget take effect at start.'),
  metrics: z.strictObject({
    listen: anyListen.default('127.0.0.1:9781').describe('Address and port of the metrics endpoint. Default "127.0.0.1:9781" (loopback); ' +
      'another address (e.g. "0.0.0.0:9781" for a Prometheus server on another host) is allowed and logged as a warning: the endpoint has no authentication, so firewall it.')
  }).optional().describe('Serve Prometheus metrics over HTTP (/metrics, /healthz). Off when absent.'),
  vrrp: z.strictObject({
    instances: z.record(objectName, instanceSchema).describe('VRRP instances by name (keepalived vrrp_instance). Each yields one virtual router per address family.'),
    syncGroups: z.record(objectName, syncGroupSchema).default({}).describe('Sync groups by name (keepalived vrrp_sync_group).')
  }).describe('VRRP (RFC 5798 / RFC 3768).'),
  conntrack: conntrackSchema.optional().describe('Connection tracking state replication (replaces conntrackd). Off when absent.')
}).describe('hafwd configuration (hafw.yaml).')

/** The validated file: defaults applied, durations in milliseconds, text kept as written. */
export type Config = z.output<typeof configSchema>
export type InstanceConfig = z.output<typeof instanceSchema>
export type SyncGroupConfig = z.output<typeof syncGroupSchema>
export type VirtualRouteConfig = z.output<typeof virtualRoute>
export type VirtualRuleConfig = z.output<typeof virtualRule>
export type NotifyConfig = z.output<typeof notifySchema>
export type ConntrackConfig = z.output<typeof conntrackSchema>
export type ProtocolName = z.output<typeof protocolName>
export type TcpStateName = z.output<typeof tcpStateName>

// ---------------------------------------------------------------------------------------------
// Schema introspection for "did you mean ...?"
// ---------------------------------------------------------------------------------------------

/** The parts of zod 4's public `_zod.def` this walk reads. */
interface WalkDef {
  readonly type: string
  readonly shape?: Readonly<Record<string, z.ZodType>>
  readonly innerType?: z.ZodType
  readonly in?: z.ZodType
  readonly element?: z.ZodType
  readonly valueType?: z.ZodType
  readonly options?: readonly z.ZodType[]
}

function defOf (s: z.ZodType): WalkDef {
  return s._zod.def as unknown as WalkDef
}

/** Unwrap default/optional/pipe wrappers down to the schema that does the work. */
function unwrap (s: z.ZodType): z.ZodType {
  for (;;) {
    const d = defOf(s)
    if (d.innerType !== undefined) s = d.innerType
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in
    else return s
  }
}

/** The keys allowed in the object at `path` of the file (empty when the path is not an object). */
export function knownKeysAt (path: ReadonlyArray<PropertyKey>): string[] {
  let candidates: z.ZodType[] = [configSchema]
  for (const seg of path) {
    const next: z.ZodType[] = []
    for (const c of candidates) {
      const s = unwrap(c)
      const d = defOf(s)
      if (d.type === 'object' && d.shape !== undefined && typeof seg === 'string' && seg in d.shape) next.push(d.shape[seg] as z.ZodType)
      else if (d.type === 'array' && d.element !== undefined && typeof seg === 'number') next.push(d.element)
      else if (d.type === 'record' && d.valueType !== undefined) next.push(d.valueType)
    }
    candidates = next.flatMap(c => {
      const d = defOf(unwrap(c))
      return d.type === 'union' && d.options !== undefined ? [...d.options] : [c]
    })
  }
  const keys = new Set<string>()
  for (const c of candidates) {
    const s = unwrap(c)
    const d = defOf(s)
    if (d.type === 'union' && d.options !== undefined) {
      for (const o of d.options) {
        const od = defOf(unwrap(o))
        if (od.type === 'object' && od.shape !== undefined) Object.keys(od.shape).forEach(k => keys.add(k))
      }
    } else if (d.type === 'object' && d.shape !== undefined) {
      Object.keys(d.shape).forEach(k => keys.add(k))
    }
  }
  return [...keys]
}
