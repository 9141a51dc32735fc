/**
 * VRRP transport on a raw socket, IP protocol 112, one socket per (interface, family).
 *
 * - Bound to the interface (SO_BINDTODEVICE) so a frame's interface is known and adverts leave
 *   by the right link.
 * - Joins the VRRP group: 224.0.0.18 (RFC 5798 §5.1.1.2) / ff02::12 (RFC 5798 §5.1.2.2).
 * - TTL / hop limit 255 on send (RFC 5798 §5.1.1.3, §5.1.2.3), multicast loop off so we do not
 *   read our own adverts back. IPv4 is sent with IP_HDRINCL: we choose the source address.
 * - Receive: IPv4 raw sockets deliver the IP header, so the TTL check is the codec's (from the
 *   header). IPv6 raw sockets deliver no header and Linux enforces IPV6_MINHOPCOUNT for TCP only,
 *   so IPv6 is received through our small addon (native/vrrp6) with recvmsg(): it reports the
 *   hop limit (IPV6_HOPLIMIT) and the destination (IPV6_PKTINFO), and the codec checks the hop
 *   limit like the IPv4 TTL (RFC 5798 §7.1). IPV6_CHECKSUM offset 6 makes the kernel fill in
 *   the checksum on send and verify it on receive (those drops are the kernel's, not counted
 *   here). Without the addon (not built), IPv6 falls back to raw-socket receive and the hop
 *   limit is NOT checked: `ipv6HopLimitChecked` says which, and the daemon logs it.
 */
import raw from 'raw-socket'
import type { RawSocket } from 'raw-socket'
import type { Family, VrrpFrame, VrrpTransport } from './ports.js'
import * as so from './sockopt.js'
import { parseIPv4, parseIPv6 } from '../codec/ip.js'
import { encodeIPv4Packet } from '../codec/ipv4.js'
import { loadVrrp6 } from './vrrp6.js'

export const VRRP_PROTOCOL = 112
export const VRRP_GROUP_IPV4 = '224.0.0.18'
export const VRRP_GROUP_IPV6 = 'ff02::12'
/** DSCP CS6 (network control), as keepalived marks adverts. */
export const VRRP_TOS = 0xc0

export interface VrrpSocketOptions {
  readonly ifname: string
  readonly ifindex: number
  readonly family: Family
  /** Join the multicast group (off when only unicast peers are configured). */
  readonly multicast: boolean
}

/** struct ip_mreqn { in_addr multiaddr; in_addr address; int ifindex } */
function ipMreqn (group: string, ifindex: number): Buffer {
  const b = Buffer.alloc(12)
  b.set(parseIPv4(group) as Uint8Array, 0)
  b.writeInt32LE(ifindex, 8)
  return b
}

/** struct ipv6_mreq { in6_addr multiaddr; int ifindex } */
function ipv6Mreq (group: string, ifindex: number): Buffer {
  const b = Buffer.alloc(20)
  b.set(parseIPv6(group) as Uint8Array, 0)
  b.writeInt32LE(ifindex, 16)
  return b
}

function int32 (v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32LE(v, 0)
  return b
}

export function openVrrpSocket (opts: VrrpSocketOptions): VrrpTransport {
  const v4 = opts.family === 'ipv4'
  const sock: RawSocket = raw.createSocket({
    addressFamily: v4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6,
    protocol: VRRP_PROTOCOL,
    bufferSize: 4096
  })
  const name = Buffer.from(opts.ifname + '\0')
  sock.setOption(so.SOL_SOCKET, so.SO_BINDTODEVICE, name, name.length)
  if (v4) {
    // We write the IP header (IP_HDRINCL) so the source is the address the v3 checksum covers.
    sock.setOption(so.IPPROTO_IP, so.IP_HDRINCL, int32(1), 4)
    sock.setOption(so.IPPROTO_IP, so.IP_MULTICAST_LOOP, int32(0), 4)
    sock.setOption(so.IPPROTO_IP, so.IP_MULTICAST_IF, ipMreqn('0.0.0.0', opts.ifindex), 12)
    if (opts.multicast) sock.setOption(so.IPPROTO_IP, so.IP_ADD_MEMBERSHIP, ipMreqn(VRRP_GROUP_IPV4, opts.ifindex), 12)
  } else {
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_CHECKSUM, int32(6), 4)
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_UNICAST_HOPS, int32(255), 4)
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_MULTICAST_HOPS, int32(255), 4)
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_MULTICAST_LOOP, int32(0), 4)
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_MULTICAST_IF, int32(opts.ifindex), 4)
    // Traffic class CS6 like the IPv4 TOS byte (and keepalived's IPv6 adverts), so QoS treats adverts as network control.
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_TCLASS, int32(VRRP_TOS), 4)
  }
  const handlers: Array<(f: VrrpFrame) => void> = []
  const vrrp6 = v4 ? null : loadVrrp6()
  let rx6: unknown = null
  if (vrrp6 !== null) {
    // Receive through the addon; raw-socket only sends.
    sock.pauseRecv()
    rx6 = vrrp6.open(opts.ifname, opts.ifindex, opts.multicast, (data, src, dst, hopLimit) => {
      const frame: VrrpFrame = { ifname: opts.ifname, family: 'ipv6', data, src, hopLimit, ...(dst !== '' ? { dst } : {}) }
      for (const h of handlers) h(frame)
    })
  } else {
    if (!v4 && opts.multicast) sock.setOption(so.IPPROTO_IPV6, so.IPV6_JOIN_GROUP, ipv6Mreq(VRRP_GROUP_IPV6, opts.ifindex), 20)
    sock.on('message', (data: Buffer, src: string) => {
      // raw-socket reuses its receive buffer: copy before handing the bytes on.
      const frame: VrrpFrame = { ifname: opts.ifname, family: opts.family, data: Buffer.from(data), src }
      for (const h of handlers) h(frame)
    })
  }
  sock.on('error', () => { /* send errors are reported through send()'s promise */ })
  return {
    ifname: opts.ifname,
    family: opts.family,
    send: async (payload, src, dst) => {
      const packet = v4 ? encodeIPv4Packet({ tos: VRRP_TOS, ttl: 255, protocol: VRRP_PROTOCOL, src, dst }, payload) : payload
      await new Promise<void>((resolve, reject) => {
        sock.send(packet, 0, packet.length, dst, null, (err) => { if (err !== null) reject(err); else resolve() })
      })
    },
    onFrame: (h) => { handlers.push(h) },
    ipv6HopLimitChecked: v4 || rx6 !== null,
    close: () => { sock.close(); if (rx6 !== null) vrrp6?.close(rx6) }
  }
}
