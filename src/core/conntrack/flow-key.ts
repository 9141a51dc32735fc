/**
 * flowKey text back to the fields it was made of (flow.ts flowKey / tupleKey):
 *
 *   family|l4proto|src|dst|sport/dport|z<zone>[|oz<orig zone>]          (ICMP: type/code/id)
 *
 * The caches index packed key bytes, not strings (flow-store.ts); cacheGet(key) turns the text into
 * a probe flow with this. Null when the text is not a flowKey. The caller compares flowKey of what
 * it finds with the text, so a lenient parse here cannot return a wrong entry.
 */
import { isIcmp, type Flow, type FlowFamily, type FlowTuple } from './flow.js'

function num (s: string | undefined): number | undefined | null {
  if (s === undefined || s === '') return undefined
  const n = Number(s)
  return Number.isFinite(n) ? n : null
}

export function parseFlowKey (key: string): Flow | null {
  const parts = key.split('|')
  if (parts.length !== 6 && parts.length !== 7) return null
  const [family, proto, src, dst, l4, z, oz] = parts as [string, string, string, string, string, string, string | undefined]
  if (family !== 'ipv4' && family !== 'ipv6') return null
  const l4proto = num(proto)
  if (l4proto === undefined || l4proto === null || !z.startsWith('z')) return null
  const zone = num(z.slice(1))
  if (zone === undefined || zone === null) return null
  const orig: FlowTuple = { src, dst, l4proto }
  const f = l4.split('/').map(num)
  if (f.some(v => v === null)) return null
  const [a, b, c] = f as Array<number | undefined>
  if (isIcmp(l4proto)) {
    if (f.length !== 3) return null
    if (a !== undefined) orig.icmpType = a
    if (b !== undefined) orig.icmpCode = b
    if (c !== undefined) orig.icmpId = c
  } else {
    if (f.length !== 2) return null
    if (a !== undefined) orig.sport = a
    if (b !== undefined) orig.dport = b
  }
  if (oz !== undefined) {
    if (!oz.startsWith('oz')) return null
    const v = num(oz.slice(2))
    if (v === undefined || v === null) return null
    orig.zone = v
  }
  return { family: family as FlowFamily, orig, reply: orig, zone }
}
