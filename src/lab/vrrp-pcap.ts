/**
 * VRRP adverts read back from a capture file (`tcpdump -w`, Ethernet, µs or ns stamps): who sent
 * each advert (IP source), for which router (family + VRID), with which priority, at which kernel
 * timestamp (CLOCK_REALTIME, ms). Used by the connection-storm benchmark and its e2e test to count
 * adverts per sender and the gaps between a sender's adverts, from the wire rather than from a
 * daemon's own account.
 *
 * Captured on a lab bridge (`br-in`, `br-out` in the switch namespace) every advert of either
 * firewall appears once: the bridge delivers multicast to itself, and tcpdump makes it promiscuous.
 */
import { readFileSync } from 'node:fs'

export interface WireAdvert {
  /** Kernel receive time, ms since the epoch (same clock as bench/clock.ts realNow). */
  readonly ts: number
  /** IP source, IPv4 dotted or IPv6 fully expanded (see canonicalIp). */
  readonly src: string
  readonly family: 4 | 6
  readonly vrid: number
  readonly prio: number
  /** `v4/52`, `v6/51`: one VRRP router on one LAN. */
  readonly router: string
}

/** IPv4 unchanged; IPv6 as 8 groups of 4 lowercase hex digits (`fe80:0000:…`), without zone or prefix. */
export function canonicalIp (addr: string): string {
  const a = addr.split('/')[0]?.split('%')[0] ?? addr
  if (!a.includes(':')) return a
  const [head = '', tail] = a.split('::')
  const h = head === '' ? [] : head.split(':')
  const tl = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - tl.length).fill('0'), ...tl]
  return groups.map(g => g.toLowerCase().padStart(4, '0')).join(':')
}

function ipv6At (buf: Buffer, o: number): string {
  const g: string[] = []
  for (let k = 0; k < 16; k += 2) g.push(buf.readUInt16BE(o + k).toString(16).padStart(4, '0'))
  return g.join(':')
}

/** Every VRRP advert (IPv4 proto 112, IPv6 next header 112) in a pcap file, in capture order. */
export function readVrrpPcap (file: string): WireAdvert[] {
  let buf: Buffer
  try { buf = readFileSync(file) } catch { return [] }
  const out: WireAdvert[] = []
  if (buf.length < 24) return out
  const magic = buf.readUInt32LE(0)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1
  const u32 = (o: number): number => le ? buf.readUInt32LE(o) : buf.readUInt32BE(o)
  let off = 24
  while (off + 16 <= buf.length) {
    const ts = u32(off) * 1000 + u32(off + 4) / (nano ? 1e6 : 1e3)
    const caplen = u32(off + 8)
    const p = off + 16
    off = p + caplen
    if (off > buf.length || caplen < 14 + 20 + 8) continue
    let eth = p + 12
    let type = buf.readUInt16BE(eth)
    if (type === 0x8100) { eth += 4; type = buf.readUInt16BE(eth) }
    const ip = eth + 2
    if (type === 0x0800) {
      if (buf[ip + 9] !== 112) continue
      const ihl = ((buf[ip] as number) & 0x0f) * 4
      const v = ip + ihl
      if (v + 4 > off) continue
      const src = `${buf[ip + 12] as number}.${buf[ip + 13] as number}.${buf[ip + 14] as number}.${buf[ip + 15] as number}`
      const vrid = buf[v + 1] as number
      out.push({ ts, src, family: 4, vrid, prio: buf[v + 2] as number, router: `v4/${vrid}` })
    } else if (type === 0x86dd) {
      if (buf[ip + 6] !== 112 || ip + 40 + 4 > off) continue
      const v = ip + 40
      const vrid = buf[v + 1] as number
      out.push({ ts, src: ipv6At(buf, ip + 8), family: 6, vrid, prio: buf[v + 2] as number, router: `v6/${vrid}` })
    }
  }
  return out
}

export interface GapStats {
  /** Largest gap between consecutive adverts of one router, over all routers (ms); null without adverts. */
  readonly maxGap: number | null
  /** Router with the largest gap. */
  readonly maxRouter: string | null
  /** Gaps longer than `limit`, summed over the routers. */
  readonly over: number
  /** Adverts counted (in the window). */
  readonly adverts: number
  readonly routers: number
}

/**
 * Gaps between consecutive adverts of each router among `adverts` that overlap [from, to]: the gap
 * before the first advert in the window (from the last one before it), the gaps inside, and the
 * silence from the last advert to `to` (a sender that stopped has one long trailing gap).
 */
export function advertGaps (adverts: readonly WireAdvert[], from: number, to: number, limit: number): GapStats {
  const byRouter = new Map<string, number[]>()
  for (const a of adverts) {
    if (a.ts > to) continue
    const l = byRouter.get(a.router) ?? []
    l.push(a.ts)
    byRouter.set(a.router, l)
  }
  let maxGap: number | null = null
  let maxRouter: string | null = null
  let over = 0
  let count = 0
  for (const [router, ts] of byRouter) {
    ts.sort((x, y) => x - y)
    const consider = (g: number): void => {
      if (maxGap === null || g > maxGap) { maxGap = g; maxRouter = router }
      if (g > limit) over++
    }
    for (let i = 0; i < ts.length; i++) {
      const cur = ts[i] as number
      if (cur >= from) count++
      if (i > 0 && cur >= from) consider(cur - (ts[i - 1] as number))
    }
    // silence up to the end of the window counts only when it is already longer than `limit`
    // (otherwise the next advert simply falls after `to`)
    const last = ts[ts.length - 1] as number
    if (to - last > limit) consider(to - last)
  }
  return { maxGap, maxRouter, over, adverts: count, routers: byRouter.size }
}
