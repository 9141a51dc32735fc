/**
 * conntrackd-compatible sync transport (conntrackd-ftfw spec §6.1), on node:dgram.
 *
 * - UDP unicast: bind our sync address and port, send to the peer's address and the same port
 *   (conntrackd "UDP { IPv4_address, IPv4_Destination_Address, Port }"). IPv6 works the same way.
 * - IPv4 multicast: bind 0.0.0.0:port with SO_REUSEADDR, join the group on the sync interface
 *   address, multicast loop off, TTL 1, send to group:port (conntrackd "Multicast { IPv4_address,
 *   Group (the port), IPv4_interface }").
 * conntrackd never checks the source port, so we send from the bound socket. Node cannot set
 * SO_NO_CHECK, so datagrams always carry a UDP checksum, which conntrackd accepts with either
 * of its `Checksum` settings.
 */
import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import type { SyncTransport } from './ports.js'
import { SendPacer } from './send-pacer.js'

/**
 * Sync send pacing (see send-pacer.ts): 20k datagrams/s ≈ 28 MB/s ≈ 340k messages/s, in bursts of at
 * most 32 datagrams (~75 KB of the peer's receive buffer, a sixteenth of conntrackd's example 1249280).
 * 100k new entries/s need ~5.9k datagrams/s (17 messages of 84 bytes each); at the earlier 6k/s the
 * pacer itself was the bottleneck (wire p50 442 ms at 100k/s; 30 ms at 20k/s, bench/conntrack-path.md).
 */
export const SYNC_SEND_RATE = 20_000
export const SYNC_SEND_BURST = 32
const SYNC_SEND_MAX_QUEUED = 65_536

interface Outgoing { readonly datagram: Buffer, readonly done: (err: Error | null) => void }

export type SyncUdpOptions =
  | { readonly transport: 'udp', readonly family: 'ipv4' | 'ipv6', readonly address: string, readonly peer: string, readonly port: number, readonly sndBuffer?: number | null, readonly rcvBuffer?: number | null }
  | { readonly transport: 'multicast', readonly group: string, readonly port: number, readonly interfaceAddress: string, readonly sndBuffer?: number | null, readonly rcvBuffer?: number | null }

/** `clock`: the runtime's monotonic milliseconds, for the send pacer. */
export async function openSyncUdp (o: SyncUdpOptions, clock: () => number): Promise<SyncTransport> {
  const family = o.transport === 'udp' ? o.family : 'ipv4'
  const sock: Socket = createSocket({ type: family === 'ipv6' ? 'udp6' : 'udp4', reuseAddr: true })
  const handlers: Array<(d: Buffer, from: string) => void> = []
  sock.on('message', (msg, rinfo) => { for (const h of handlers) h(msg, rinfo.address) })
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject)
    sock.bind({ port: o.port, address: o.transport === 'udp' ? o.address : '0.0.0.0', exclusive: false }, () => {
      sock.off('error', reject)
      resolve()
    })
  })
  sock.on('error', () => { /* send errors are reported through send(); receive errors are transient */ })
  if (o.sndBuffer != null) sock.setSendBufferSize(o.sndBuffer)
  if (o.rcvBuffer != null) sock.setRecvBufferSize(o.rcvBuffer)
  const dest = o.transport === 'udp' ? o.peer : o.group
  if (o.transport === 'multicast') {
    sock.addMembership(o.group, o.interfaceAddress)
    sock.setMulticastInterface(o.interfaceAddress)
    sock.setMulticastLoopback(false)
    sock.setMulticastTTL(1)
  }
  const pacer = new SendPacer<Outgoing>({
    ratePerSec: SYNC_SEND_RATE,
    burst: SYNC_SEND_BURST,
    maxQueued: SYNC_SEND_MAX_QUEUED,
    now: clock,
    schedule: (fn, ms) => { setTimeout(fn, ms) },
    send: (x) => { sock.send(x.datagram, o.port, dest, (err) => { x.done(err ?? null) }) },
    onDrop: (x) => { x.done(new Error('sync send queue full: oldest datagram dropped (the peer NACKs it)')) }
  })
  return {
    send: async (datagram) => await new Promise<void>((resolve, reject) => {
      pacer.push({ datagram, done: (err) => { if (err !== null) reject(err); else resolve() } })
    }),
    onDatagram: (h) => { handlers.push(h) },
    close: async () => await new Promise<void>(resolve => { sock.close(() => { resolve() }) })
  }
}
