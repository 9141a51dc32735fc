/**
 * Ports: the interfaces between the runtime and the outside world (architecture: "each io adapter
 * implements a port interface; tests use fakes that pass the same contract suite").
 *
 * Adapters deliver raw, undecoded input: decoding (and counting what does not decode) is the
 * runtime's ingress job, so one place owns the drop counters.
 */
import type { Vip, VRoute, VRule } from '../core/effects.js'
import type { AuthVerdict } from '../core/conntrack/engine-types.js'

export type Family = 'ipv4' | 'ipv6'

/** One VRRP packet as received on an interface. */
export interface VrrpFrame {
  readonly ifname: string
  readonly family: Family
  /** IPv4: the whole IP packet (raw IPv4 sockets deliver the header). IPv6: the VRRP payload only. */
  readonly data: Buffer
  /** Source address (the IPv6 kernel API gives no header, so this is the only source of it). */
  readonly src: string
  /** IPv6: the hop limit from recvmsg ancillary data, when the receiver can read it. */
  readonly hopLimit?: number
  /** IPv6: the destination address (group or our unicast address), when known. */
  readonly dst?: string
}

/** VRRP (IP protocol 112) on one interface and family. */
export interface VrrpTransport {
  readonly ifname: string
  readonly family: Family
  /**
   * Send an encoded VRRP payload from `src` to `dst` (the VRRP group or a unicast peer) with TTL /
   * hop limit 255. IPv6: the kernel picks the source (link-local for ff02::12) and `src` is unused.
   */
  send: (payload: Buffer, src: string, dst: string) => Promise<void>
  onFrame: (handler: (frame: VrrpFrame) => void) => void
  /** False when IPv6 frames arrive without their hop limit (RFC 5798 §7.1 check impossible). */
  readonly ipv6HopLimitChecked: boolean
  close: () => void
}

export interface LinkInfo {
  readonly ifname: string
  readonly index: number
  readonly up: boolean
  readonly mac: string | null
}

export interface AddressInfo {
  readonly ifname: string
  readonly index: number
  readonly family: Family
  readonly address: string
  readonly prefix: number
  /** Address scope from the kernel: 0 universe, 253 link. */
  readonly scope: number
}

export type LinkEvent =
  | { readonly kind: 'link', readonly link: LinkInfo }
  | { readonly kind: 'addressAdded', readonly address: AddressInfo }
  | { readonly kind: 'addressRemoved', readonly address: AddressInfo }

/** Links and addresses (rtnetlink). Adding an address that exists, or removing one that does not, succeeds. */
export interface LinkControl {
  links: () => Promise<LinkInfo[]>
  addresses: () => Promise<AddressInfo[]>
  addVip: (ifname: string, vip: Vip) => Promise<void>
  delVip: (ifname: string, vip: Vip) => Promise<void>
  onEvent: (handler: (event: LinkEvent) => void) => void
  close: () => void
}

/** What an idempotent route/rule change found: `done` changed the kernel, `already` found it as wanted (EEXIST / ESRCH / ENOENT). */
export type RouteOutcome = 'done' | 'already'

/** Virtual routes and policy rules (rtnetlink RTM_NEWROUTE / RTM_NEWRULE and their DEL). */
export interface RouteControl {
  addRoute: (route: VRoute) => Promise<RouteOutcome>
  delRoute: (route: VRoute) => Promise<RouteOutcome>
  addRule: (rule: VRule) => Promise<RouteOutcome>
  delRule: (rule: VRule) => Promise<RouteOutcome>
  close: () => void
}

/** Gratuitous ARP and unsolicited NA. */
export interface Announcer {
  garp: (ifname: string, address: string, count: number) => Promise<void>
  unsolicitedNa: (ifname: string, address: string, count: number) => Promise<void>
  /** Stop the running announce rounds of an address (its VIP is being removed). */
  cancel: (address: string) => void
  close: () => void
}

/** The conntrack state-sync channel (conntrackd FTFW datagrams over UDP unicast or multicast). */
export interface SyncTransport {
  send: (datagram: Buffer) => Promise<void>
  /** `auth`: the MAC verdict when the channel is authenticated (io/sync-auth.ts); `datagram` is then the payload. */
  onDatagram: (handler: (datagram: Buffer, from: string, auth?: AuthVerdict) => void) => void
  close: () => Promise<void>
}
