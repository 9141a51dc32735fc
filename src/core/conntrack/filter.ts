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
import { parseIP, parseIPv4Into, parseIPv6Into } from '../../codec/ip.js'
import { L4Proto, TCP_STATES, type Flow, type FlowFamily } from './flow.js'
import { K_PROTO, K_SRC, packedTcpState, type RecordLayout } from './flow-record.js'

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
  /** IPv4 host addresses (full-length prefixes) as unsigned 32-bit numbers, for an O(1) lookup. */
  readonly hosts4: ReadonlySet<number>
  /** IPv6 host addresses, scanned (a node has a handful: its own addresses and the VIPs). */
  readonly hosts6: readonly Uint8Array[]
  /** Shorter prefixes, tested one by one. */
  readonly prefixes: readonly Prefix[]
  /** The local addresses last given to withLocalAddresses. */
  readonly local: readonly FilterCidr[]
  readonly tcpStates: { readonly mode: 'accept' | 'ignore', readonly states: ReadonlySet<number> } | null
  /**
   * Where an address under test is parsed: every kernel event checks two addresses, and a fresh
   * array (or a key string) per check was a tenth of the event path's CPU at 50k events/s.
   * Holds nothing between calls.
   */
  readonly scratch: Uint8Array
}

const ACCEPT: FilterVerdict = { accept: true }

function compilePrefixes (cidrs: readonly FilterCidr[]): { hosts4: Set<number>, hosts6: Uint8Array[], prefixes: Prefix[] } {
  const hosts4 = new Set<number>()
  const hosts6: Uint8Array[] = []
  const prefixes: Prefix[] = []
  for (const c of cidrs) {
    const p = parseIP(c.address)
    if (p === null) throw new RangeError(`filter: not an IP address: ${c.address}`)
    const full = p.family === 'ipv4' ? 32 : 128
    if (!Number.isInteger(c.prefix) || c.prefix < 0 || c.prefix > full) throw new RangeError(`filter: bad prefix ${c.address}/${c.prefix}`)
    if (c.prefix !== full) prefixes.push({ family: p.family, bytes: p.bytes, bits: c.prefix })
    else if (p.family === 'ipv4') hosts4.add(u32(p.bytes))
    else if (!hosts6.some(h => sameBytes(h, p.bytes, 16))) hosts6.push(p.bytes)
  }
  return { hosts4, hosts6, prefixes }
}

function u32 (b: Uint8Array, at = 0): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0
}

function sameBytes (a: Uint8Array, b: Uint8Array, n: number, bAt = 0): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[bAt + i]) return false
  return true
}

/** Is the address at bytes[at] in prefix p? */
function inPrefix (p: Prefix, bytes: Uint8Array, at: number): boolean {
  const whole = p.bits >>> 3
  for (let i = 0; i < whole; i++) if (p.bytes[i] !== bytes[at + i]) return false
  const rest = p.bits & 7
  if (rest === 0) return true
  const mask = (0xff << (8 - rest)) & 0xff
  return ((p.bytes[whole] as number) & mask) === ((bytes[at + whole] as number) & mask)
}

/**
 * Compile the config's filter plus the node's current local addresses. Throws RangeError on an
 * unknown TCP state name or a malformed address (config validation refuses both first).
 */
export function compileFilter (config: FilterConfig, local: readonly FilterCidr[] = []): FlowFilter {
  const protocols = new Set(config.protocols.list.map(n => FILTER_PROTOCOLS[n]))
  const { hosts4, hosts6, prefixes } = compilePrefixes([...config.ignoreAddresses, ...local])
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
  return { config, protocolMode: config.protocols.mode, protocols, hosts4, hosts6, prefixes, local: [...local], tcpStates, scratch: new Uint8Array(16) }
}

/** The same filter with a new set of local interface addresses (from rtnetlink). */
export function withLocalAddresses (filter: FlowFilter, local: readonly FilterCidr[]): FlowFilter {
  return compileFilter(filter.config, local)
}

function addressIgnored (filter: FlowFilter, family: FlowFamily, text: string): boolean {
  const b = filter.scratch
  if (!(family === 'ipv4' ? parseIPv4Into(text, b, 0) : parseIPv6Into(text, b, 0))) return false
  return addressBytesIgnored(filter, family, b, 0)
}

/** The address at bytes[at] (4 or 16 bytes by family): one of the filter's addresses or in one of its prefixes? */
function addressBytesIgnored (filter: FlowFilter, family: FlowFamily, bytes: Uint8Array, at: number): boolean {
  if (family === 'ipv4') {
    if (filter.hosts4.has(u32(bytes, at))) return true
  } else {
    for (const h of filter.hosts6) if (sameBytes(h, bytes, 16, at)) return true
  }
  for (const x of filter.prefixes) if (x.family === family && inPrefix(x, bytes, at)) return true
  return false
}

/** Is `text` one of the filter's addresses or in one of its prefixes (configured + local)? */
export function addressListed (filter: FlowFilter, family: FlowFamily, text: string): boolean {
  return addressIgnored(filter, family, text)
}

/** addressListed on an address's bytes (4 or 16 by family) at bytes[at]. */
export function addressBytesListed (filter: FlowFilter, family: FlowFamily, bytes: Uint8Array, at: number): boolean {
  return addressBytesIgnored(filter, family, bytes, at)
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

/**
 * filterFlow on a packed record (flow-record.ts, as record-batch.ts holds them): the same checks in
 * the same order on the record's bytes. Returns why it is refused, or null to replicate it.
 */
export function filterPacked (filter: FlowFilter, lay: RecordLayout, u8: Uint8Array, dv: DataView, off: number): FilterReason | null {
  const proto = u8[off + K_PROTO] as number
  if (filter.protocols.has(proto) !== (filter.protocolMode === 'accept')) return 'protocol'
  if (addressBytesIgnored(filter, lay.family, u8, off + K_SRC) || addressBytesIgnored(filter, lay.family, u8, off + lay.rSrc)) return 'address'
  const st = filter.tcpStates
  if (st !== null && proto === L4Proto.TCP) {
    const state = packedTcpState(lay, u8, dv, off)
    if (state !== undefined && st.states.has(state) !== (st.mode === 'accept')) return 'tcpState'
  }
  return null
}
