// Loads the keepalived byte vectors extracted by test/fixtures/captures/vrrp/extract-vectors.mjs.
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface CapturedVector {
  name: string
  kind: 'vrrp' | 'ndisc'
  family: 'ipv4' | 'ipv6'
  src: string
  dst: string
  ttl?: number
  hopLimit?: number
  checksumCovers?: 'pseudo-header+vrrp' | 'vrrp-only'
  /** Whole IPv4 datagram (IPv4 only), as a raw IPv4 socket delivers it. */
  ipHex?: string
  /** VRRP message or ICMPv6 message. */
  payloadHex: string
  expected: Record<string, unknown>
}

const dir = fileURLToPath(new URL('../../fixtures/vectors/vrrp/', import.meta.url))

export function loadVectors (kind: CapturedVector['kind']): CapturedVector[] {
  const out: CapturedVector[] = []
  for (const f of readdirSync(dir).filter(f => f.endsWith('.json')).sort()) {
    const file = JSON.parse(readFileSync(dir + f, 'utf8')) as { vectors: CapturedVector[] }
    out.push(...file.vectors.filter(v => v.kind === kind))
  }
  return out
}
