/**
 * The sending half of src/lab/inject.ts: a tiny program run inside a lab namespace (`ip netns
 * exec <ns> node dist/lab/inject-send.js`) that writes crafted IP protocol 112 packets exactly as
 * given. It reads a JSON list of packets on stdin and prints how many it sent.
 *
 * - IPv4: IP_HDRINCL, the caller's IP header goes out as written (TTL included); Linux only fills
 *   in the total length, the identification (when 0) and the header checksum (raw(7)).
 * - IPv6: the payload is the VRRP message; the hop limit is set per socket, and the VRRP checksum
 *   is either left as crafted or filled in by the kernel (IPV6_CHECKSUM offset 6), because the
 *   kernel chooses the link-local source the pseudo-header covers.
 * Every socket is bound to the given interface, so nothing leaves by another link.
 */
import raw from 'raw-socket'
import type { RawSocket } from 'raw-socket'
import { readFileSync } from 'node:fs'
import * as so from '../io/sockopt.js'
import type { WirePacket } from './inject.js'

function int32 (v: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32LE(v, 0)
  return b
}

function open (p: WirePacket): RawSocket {
  const v4 = p.family === 'ipv4'
  const sock = raw.createSocket({ addressFamily: v4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6, protocol: 112 })
  // A raw socket for protocol 112 also receives every advert on the segment: this one only sends.
  sock.pauseRecv()
  const name = Buffer.from(p.ifname + '\0')
  sock.setOption(so.SOL_SOCKET, so.SO_BINDTODEVICE, name, name.length)
  if (v4) {
    sock.setOption(so.IPPROTO_IP, so.IP_HDRINCL, int32(1), 4)
  } else {
    const hops = p.hopLimit ?? 255
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_MULTICAST_HOPS, int32(hops), 4)
    sock.setOption(so.IPPROTO_IPV6, so.IPV6_UNICAST_HOPS, int32(hops), 4)
    if (p.kernelChecksum === true) sock.setOption(so.IPPROTO_IPV6, so.IPV6_CHECKSUM, int32(6), 4)
  }
  return sock
}

/**
 * One packet on a fresh socket. raw-socket reports a failed send as an 'error' event (and closes
 * the socket) instead of calling back, so listen for both, with a deadline in case neither comes.
 */
async function sendOnce (p: WirePacket): Promise<void> {
  const sock = open(p)
  const bytes = Buffer.from(p.hex, 'hex')
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('no send completion within 2 s')) }, 2000)
      sock.on('error', (err) => { clearTimeout(timer); reject(err) })
      sock.send(bytes, 0, bytes.length, p.dst, null, (err) => { clearTimeout(timer); if (err !== null) reject(err); else resolve() })
    })
  } finally {
    sock.close()
  }
}

/** Transient failures (ENOBUFS on a busy machine) are retried; a packet that never leaves is an error. */
async function sendOne (p: WirePacket): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await sendOnce(p)
      return
    } catch (err) {
      if (attempt >= 3) throw err
      process.stderr.write(`inject: retrying after ${String(err)}\n`)
      await new Promise(resolve => setTimeout(resolve, 20 * attempt))
    }
  }
}

async function main (): Promise<number> {
  const gapMs = Number(process.argv[2] ?? '5')
  const packets = JSON.parse(readFileSync(0, 'utf8')) as WirePacket[]
  let sent = 0
  for (const p of packets) {
    try {
      await sendOne(p)
      sent++
    } catch (err) {
      process.stderr.write(`inject: ${p.family} ${p.hex.slice(0, 16)}…: ${String(err)}\n`)
    }
    await new Promise(resolve => setTimeout(resolve, gapMs))
  }
  process.stdout.write(`${sent}\n`)
  return sent === packets.length ? 0 : 1
}

main().then(code => { process.exit(code) }, (err: unknown) => {
  process.stderr.write(`inject: ${String(err)}\n`)
  process.exit(2)
})
