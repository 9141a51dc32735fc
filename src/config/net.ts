/**
 * Address text helpers for the config: CIDR prefixes, listen addresses, loopback tests.
 * Built on codec/ip.ts so the config and the wire agree on what an address is (pure, no node:net).
 */
import { canonicalIP, formatIP, parseIP, type Family } from '../codec/ip.js'

export interface Cidr {
  /** Canonical address text (RFC 5952 for IPv6). */
  readonly address: string
  readonly prefix: number
  readonly family: Family
}

export type Parsed<T> = { readonly ok: true, readonly value: T } | { readonly ok: false, readonly message: string }

export const MAX_PREFIX: Readonly<Record<Family, number>> = { ipv4: 32, ipv6: 128 }

/** Parse one IP address (no prefix, no zone id). */
export function parseAddress (text: string): Parsed<{ address: string, family: Family }> {
  const p = parseIP(text.trim())
  if (p === null) return { ok: false, message: 'must be an IPv4 or IPv6 address' }
  return { ok: true, value: { address: canonicalIP(text.trim()) as string, family: p.family } }
}

/**
 * Parse `address[/prefix]`. Without a prefix the host prefix is used (/32 or /128), as keepalived
 * does for `virtual_ipaddress` entries.
 */
export function parseCidr (text: string): Parsed<Cidr> {
  const slash = text.indexOf('/')
  const addrText = (slash < 0 ? text : text.slice(0, slash)).trim()
  const a = parseAddress(addrText)
  if (!a.ok) return { ok: false, message: 'must be an IP address with an optional /prefix, e.g. "192.0.2.1/24" or "2001:db8::1/64"' }
  const max = MAX_PREFIX[a.value.family]
  let prefix = max
  if (slash >= 0) {
    const p = text.slice(slash + 1).trim()
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) {
      return { ok: false, message: `prefix length must be 0..${max} for an ${a.value.family === 'ipv4' ? 'IPv4' : 'IPv6'} address` }
    }
    prefix = Number(p)
  }
  return { ok: true, value: { address: a.value.address, prefix, family: a.value.family } }
}

export interface HostPort {
  /** Canonical IP text, without brackets. */
  readonly host: string
  readonly port: number
  readonly family: Family
}

/** Parse `127.0.0.1:9780` or `[::1]:9780`. Host names are refused: the runtime must not resolve. */
export function parseHostPort (text: string): Parsed<HostPort> {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text.trim())
  const hint = 'must be IP:PORT, e.g. "127.0.0.1:9780" or "[::1]:9780"'
  if (m === null) return { ok: false, message: hint }
  const a = parseAddress((m[1] ?? m[2]) as string)
  const port = Number(m[3])
  if (!a.ok || port < 1 || port > 65535) return { ok: false, message: hint }
  if (m[1] !== undefined && a.value.family !== 'ipv6') return { ok: false, message: hint }
  return { ok: true, value: { host: a.value.address, port, family: a.value.family } }
}

/** 127.0.0.0/8 or ::1: the only addresses the control and metrics listeners may bind (decision 9). */
export function isLoopback (address: string): boolean {
  const p = parseIP(address)
  if (p === null) return false
  if (p.family === 'ipv4') return p.bytes[0] === 127
  return p.bytes.every((b, i) => b === (i === 15 ? 1 : 0))
}

/** True for IPv4 224.0.0.0/4. */
export function isIPv4Multicast (address: string): boolean {
  const p = parseIP(address)
  return p !== null && p.family === 'ipv4' && ((p.bytes[0] as number) & 0xf0) === 0xe0
}

/** The network address of a prefix (host bits cleared), canonical text: 192.0.2.77/24 → 192.0.2.0. */
export function networkAddress (c: Cidr): string {
  const p = parseIP(c.address)
  if (p === null) return c.address
  const bytes = Uint8Array.from(p.bytes)
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, c.prefix - i * 8))
    bytes[i] = (bytes[i] as number) & ((0xff << (8 - keep)) & 0xff)
  }
  return formatIP(bytes, 0, p.family)
}
