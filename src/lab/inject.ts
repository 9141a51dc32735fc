/**
 * Crafted VRRP (IP protocol 112) packets sent from inside a lab namespace, for tests of what a
 * daemon does with hostile or broken input on its segment. The test process builds the bytes
 * (usually a valid advert from src/codec/vrrp.ts, then corrupted); a small program run with
 * `ip netns exec` (src/lab/inject-send.ts, built to dist/) puts them on the wire unchanged.
 *
 * Only multicast to the VRRP groups of the lab's own segments is meant to be sent: the sockets
 * are bound to a namespace interface, so nothing reaches the host.
 */
import { execa } from 'execa'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { encodeIPv4Packet } from '../codec/ipv4.js'
import { VRRP_IPV4_GROUP, VRRP_IPV6_GROUP } from '../codec/vrrp.js'
import { repoRoot } from './hafwd-process.js'

/** One packet for the sender (JSON on its stdin). */
export interface WirePacket {
  readonly family: 'ipv4' | 'ipv6'
  readonly ifname: string
  readonly dst: string
  /** IPv4: the whole datagram, header included. IPv6: the VRRP payload. Hex. */
  readonly hex: string
  /** IPv6 hop limit (IPv4 carries its TTL in the header). */
  readonly hopLimit?: number
  /** IPv6: let the sending kernel compute the VRRP checksum (IPV6_CHECKSUM offset 6). */
  readonly kernelChecksum?: boolean
}

/** An IPv4 VRRP datagram with the header we choose: TTL 255 and DSCP CS6 unless told otherwise. */
export function ipv4Vrrp (ifname: string, payload: Uint8Array, o: { src: string, dst?: string, ttl?: number }): WirePacket {
  const dst = o.dst ?? VRRP_IPV4_GROUP
  const datagram = encodeIPv4Packet({ tos: 0xc0, ttl: o.ttl ?? 255, protocol: 112, src: o.src, dst }, payload)
  return { family: 'ipv4', ifname, dst, hex: datagram.toString('hex') }
}

/**
 * An IPv6 VRRP payload. The source is the sending interface's link-local address (the kernel's
 * choice for ff02::12); with `kernelChecksum` the kernel writes a valid checksum at offset 6,
 * otherwise the bytes go out as given.
 */
export function ipv6Vrrp (ifname: string, payload: Uint8Array, o: { dst?: string, hopLimit?: number, kernelChecksum?: boolean } = {}): WirePacket {
  return {
    family: 'ipv6',
    ifname,
    dst: o.dst ?? VRRP_IPV6_GROUP,
    hex: Buffer.from(payload).toString('hex'),
    hopLimit: o.hopLimit ?? 255,
    kernelChecksum: o.kernelChecksum ?? true
  }
}

/** Deterministic pseudo-random bytes (xorshift32), so a failing run can be replayed. */
export function seededBytes (seed: number, length: number): Buffer {
  let x = (seed | 0) === 0 ? 0x9e3779b9 : seed | 0
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

function senderEntry (): string {
  const entry = join(repoRoot(), 'dist', 'lab', 'inject-send.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build`)
  return entry
}

/** Send `packets` in order from namespace `ns`, `gapMs` apart; resolves with how many left. */
export async function inject (ns: string, packets: readonly WirePacket[], opts: { gapMs?: number } = {}): Promise<number> {
  const r = await execa('ip', ['netns', 'exec', ns, process.execPath, senderEntry(), String(opts.gapMs ?? 5)], {
    input: JSON.stringify(packets), reject: false, timeout: 60_000
  })
  const sent = Number.parseInt(String(r.stdout).trim(), 10)
  if (r.exitCode !== 0 || Number.isNaN(sent)) {
    throw new Error(`inject in ${ns} failed (exit ${String(r.exitCode)}, stdout ${JSON.stringify(r.stdout)}): ${String(r.stderr).trim()}`)
  }
  return sent
}
