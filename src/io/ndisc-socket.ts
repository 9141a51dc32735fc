/**
 * Unsolicited Neighbor Advertisements on a raw ICMPv6 socket (RFC 4861 §7.2.6), one socket per
 * interface, hop limit 255 (§7.1.2: receivers drop ND with any other hop limit).
 *
 * The kernel always computes the ICMPv6 checksum on raw ICMPv6 sockets and picks the source
 * (the interface's link-local address for ff02::1), so the checksum our encoder writes is
 * replaced on the way out; the encoder is still what fixes the layout (flags, target, TLLA).
 */
import raw from 'raw-socket'
import type { RawSocket } from 'raw-socket'
import { encodeNeighborAdvert, IPV6_ALL_NODES, NDISC_HOP_LIMIT } from '../codec/ndisc.js'
import * as so from './sockopt.js'

function int32 (v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32LE(v, 0)
  return b
}

export interface NaSender {
  send: (target: string, count: number) => Promise<void>
  close: () => void
}

export function openNaSender (ifname: string, ifindex: number, mac: string, router: boolean): NaSender {
  const sock: RawSocket = raw.createSocket({ addressFamily: raw.AddressFamily.IPv6, protocol: raw.Protocol.ICMPv6 })
  const name = Buffer.from(ifname + '\0')
  sock.setOption(so.SOL_SOCKET, so.SO_BINDTODEVICE, name, name.length)
  sock.setOption(so.IPPROTO_IPV6, so.IPV6_MULTICAST_HOPS, int32(NDISC_HOP_LIMIT), 4)
  sock.setOption(so.IPPROTO_IPV6, so.IPV6_MULTICAST_IF, int32(ifindex), 4)
  sock.setOption(so.IPPROTO_IPV6, so.IPV6_MULTICAST_LOOP, int32(0), 4)
  // We only send: stop raw-socket polling for input so it never keeps the process busy.
  sock.pauseRecv()
  sock.on('error', () => { /* reported through send() */ })
  const sendOne = async (packet: Buffer): Promise<void> => await new Promise((resolve, reject) => {
    sock.send(packet, 0, packet.length, IPV6_ALL_NODES, null, (err) => { if (err !== null) reject(err); else resolve() })
  })
  return {
    // All `count` copies go out back to back, as keepalived sends its NA burst.
    send: async (target, count) => {
      const packet = encodeNeighborAdvert({ router, target, targetLinkLayerAddress: mac }, { src: 'fe80::1', dst: IPV6_ALL_NODES })
      for (let i = 0; i < count; i++) await sendOne(packet)
    },
    close: () => { sock.close() }
  }
}
