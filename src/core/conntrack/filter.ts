/**
 * Which kernel conntrack entries this node replicates (conntrackd's `Filter` block, applied in user
 * space to events and dumps; spec §4.2). Received peer state is never filtered (spec §4.1).
 *
 * Checks, in conntrackd's order (`ct_filter_check`, src/filter.c):
 *   1. protocol  — accept or ignore list of L4 protocols;
 *   2. address   — the ignore list is matched against the ORIGINAL source and the REPLY source:
 *                  a flow from this box has orig.src local, a flow to this box (or to a VIP without
 *                  DNAT) has reply.src local. DNAT'd or SNAT'd forwarded flows match neither and are
 *                  replicated;
 *   3. TCP state — accept or ignore list, TCP only; an event without a TCP state (ctnetlink sends
 *                  protoinfo only when it changed, spec §5.4) passes, as conntrackd does.
 *
 * conntrackd needs every local address and VIP written by hand in `Address Ignore`. Here the
 * config model already lists loopback and every VIP; the runtime adds the interface addresses it
 * sees over rtnetlink with `withLocalAddresses` whenever they change.
 */
import { parseIP } from '../../codec/ip.js'
import { L4Proto, TCP_STATES, type Flow, type FlowFamily } from './flow.js'

/** Protocol names of the config (config/schema.ts protocolName). */
export type FilterProtocolName = 'tcp' | 'udp' | 'udplite' | 'sctp' | 'dccp' | 'icmp' | 'icmpv6' | 'gre'

export const FILTER_PROTOCOLS: Readonly<Record<FilterProtocolName, number>> = {
  tcp: L4Proto.TCP,
  udp: L4Proto.UDP,
  udplite: L4Proto.UDPLITE,
  sctp: L4Proto.SCTP,
  dccp: L4Proto.DCCP,
  icmp: L4Proto.ICMP,
  icmpv6: L4Proto.ICMPV6,
  gre: L4Proto.GRE
}

/** An address prefix, as config/net.ts Cidr (the core may not import config). */
export interface FilterCidr {
  readonly address: string
  readonly prefix: number
  readonly family: FlowFamily
}

/** The shape of ConntrackModel['filter'] (config/normalize.ts). */
export interface FilterConfig {
  readonly protocols: { readonly mode: 'accept' | 'ignore', readonly list: readonly FilterProtocolName[] }
  readonly ignoreAddresses: readonly FilterCidr[]
  readonly tcpStates: { readonly mode: 'accept' | 'ignore', readonly list: readonly string[] } | null
}

/** Why a flow was not replicated; each one is a named counter (architecture decision 7). */
export type FilterReason = 'protocol' | 'address' | 'tcpState'
export const FILTER_REASONS: readonly FilterReason[] = ['protocol', 'address', 'tcpState']

export type FilterVerdict = { readonly accept: true } | { readonly accept: false, readonly reason: FilterReason }

interface Prefix { readonly family: FlowFamily, readonly bytes: Uint8Array, readonly bits: number }

/** A compiled filter: plain data, rebuilt (never mutated) when the local addresses change. */
export interface FlowFilter {
  readonly config: FilterConfig
  readonly protocolMode: 'accept' | 'ignore'
  readonly protocols: ReadonlySet<number>
  /** Host addresses (full-length prefixes), canonical text, for an O(1) lookup. */
  readonly hosts: ReadonlySet<string>
  /** Shorter prefixes, tested one by one. */
  readonly prefixes: readonly Prefix[]
  /** The local addresses last given to withLocalAddresses. */
  readonly local: readonly FilterCidr[]
  readonly tcpStates: { readonly mode: 'accept' | 'ignore', readonly states: ReadonlySet<number> } | null
}

const ACCEPT: FilterVerdict = { accept: true }

function compilePrefixes (cidrs: readonly FilterCidr[]): { hosts: Set<string>, prefixes: Prefix[] } {
  const hosts = new Set<string>()
  const prefixes: Prefix[] = []
  for (const c of cidrs) {
    const p = parseIP(c.address)
    if (p === null) throw new RangeError(`filter: not an IP address: ${c.address}`)
    const full = p.family === 'ipv4' ? 32 : 128
    if (!Number.isInteger(c.prefix) || c.prefix < 0 || c.prefix > full) throw new RangeError(`filter: bad prefix ${c.address}/${c.prefix}`)
    if (c.prefix === full) {
      hosts.add(`${p.family}|${Array.from(p.bytes).join('.')}`)
    } else {
      prefixes.push({ family: p.family, bytes: p.bytes, bits: c.prefix })
    }
  }
  return { hosts, prefixes }
}

function hostKey (family: FlowFamily, bytes: Uint8Array): string {
  return `${family}|${Array.from(bytes).join('.')}`
}

function inPrefix (p: Prefix, bytes: Uint8Array): boolean {
  const whole = p.bits >>> 3
  for (let i = 0; i < whole; i++) if (p.bytes[i] !== bytes[i]) return false
  const rest = p.bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((p.bytes[whole] as number) & mask) === ((bytes[whole] as number) & mask)
}

/**
 * Compile the config's filter plus the node's current local addresses. Throws RangeError on an
 * unknown TCP state name or a malformed address (config validation refuses both first).
 */
export function compileFilter (config: FilterConfig, local: readonly FilterCidr[] = []): FlowFilter {
  const protocols = new Set(config.protocols.list.map(n => FILTER_PROTOCOLS[n]))
  const { hosts, prefixes } = compilePrefixes([...config.ignoreAddresses, ...local])
  let tcpStates: FlowFilter['tcpStates'] = null
  if (config.tcpStates !== null) {
    const states = new Set<number>()
    for (const name of config.tcpStates.list) {
      const v = (TCP_STATES as readonly string[]).indexOf(name)
      if (v < 0) throw new RangeError(`filter: unknown TCP state ${name}`)
      states.add(v)
    }
    tcpStates = { mode: config.tcpStates.mode, states }
  }
  return { config, protocolMode: config.protocols.mode, protocols, hosts, prefixes, local: [...local], tcpStates }
}

/** The same filter with a new set of local interface addresses (from rtnetlink). */
export function withLocalAddresses (filter: FlowFilter, local: readonly FilterCidr[]): FlowFilter {
  return compileFilter(filter.config, local)
}

function addressIgnored (filter: FlowFilter, family: FlowFamily, text: string): boolean {
  const p = parseIP(text)
  if (p === null || p.family !== family) return false
  if (filter.hosts.has(hostKey(family, p.bytes))) return true
  return filter.prefixes.some(x => x.family === family && inPrefix(x, p.bytes))
}

/** Is `text` one of the filter's addresses or in one of its prefixes (configured + local)? */
export function addressListed (filter: FlowFilter, family: FlowFamily, text: string): boolean {
  return addressIgnored(filter, family, text)
}

/** A filter that is only an address list (for the peer-entry checks of engine-peer.ts). */
export function addressList (cidrs: readonly FilterCidr[], local: readonly FilterCidr[] = []): FlowFilter {
  return compileFilter({ protocols: { mode: 'ignore', list: [] }, ignoreAddresses: cidrs, tcpStates: null }, local)
}

/** Should this kernel flow be replicated? (order and rules: module comment) */
export function filterFlow (filter: FlowFilter, flow: Flow): FilterVerdict {
  const proto = flow.orig.l4proto
  if (filter.protocols.has(proto) !== (filter.protocolMode === 'accept')) return { accept: false, reason: 'protocol' }
  if (addressIgnored(filter, flow.family, flow.orig.src) || addressIgnored(filter, flow.family, flow.reply.src)) {
    return { accept: false, reason: 'address' }
  }
  const st = filter.tcpStates
  if (st !== null && proto === L4Proto.TCP && flow.tcp?.state !== undefined) {
    if (st.states.has(flow.tcp.state) !== (st.mode === 'accept')) return { accept: false, reason: 'tcpState' }
  }
  return ACCEPT
}
