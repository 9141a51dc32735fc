/**
 * IP address text ⇄ bytes, without node:net (the codec and the core stay pure).
 *
 * Text forms accepted: dotted-quad IPv4; IPv6 with `::` compression and an optional embedded
 * dotted-quad tail. Output is canonical: RFC 5952 lower-case, longest zero run compressed.
 */

export type Family = 'ipv4' | 'ipv6'

/** Parse dotted-quad IPv4; null when malformed. */
export function parseIPv4 (text: string): Uint8Array | null {
  const out = new Uint8Array(4)
  return parseIPv4Into(text, out, 0) ? out : null
}

/**
 * Parse dotted-quad IPv4 into out[offset, offset + 4) (out null: only check); false when malformed (out may
 * then be partly written). Exactly four decimal parts of 0..255, no leading zeros ("01"), no signs or spaces.
 * Hand-written rather than split + regex: the ctnetlink encoder parses two to five addresses per
 * request, 100k requests per commit.
 */
export function parseIPv4Into (text: string, out: Uint8Array | null, offset: number): boolean {
  const len = text.length
  let i = 0
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= len || text.charCodeAt(i) !== 0x2e) return false // '.'
      i++
    }
    if (i >= len) return false
    let n = text.charCodeAt(i) - 0x30
    if (n < 0 || n > 9) return false
    i++
    if (n !== 0) { // "0" stands alone: a leading zero is malformed
      for (let k = 0; k < 2 && i < len; k++) {
        const d = text.charCodeAt(i) - 0x30
        if (d < 0 || d > 9) break
        n = n * 10 + d
        i++
      }
      if (n > 255) return false
    }
    if (out !== null) out[offset + part] = n
  }
  return i === len
}

/** Parse IPv6 (RFC 4291 §2.2 text forms, no zone id); null when malformed. */
export function parseIPv6 (text: string): Uint8Array | null {
  const out = new Uint8Array(16)
  return parseIPv6Into(text, out, 0) ? out : null
}

function hexDigit (c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20 // ASCII lower case
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1
}

/**
 * Parse IPv6 into out[offset, offset + 16) (out null: only check); false when malformed (out may then be partly
 * written). Groups of 1 to 4 hex digits separated by ':', at most one '::' standing for at least one zero group,
 * an optional dotted-quad tail for the last two groups. One pass over the text, no split or regex: the sync
 * codec parses every IPv6 address of every flow it sends.
 */
export function parseIPv6Into (text: string, out: Uint8Array | null, offset: number): boolean {
  if (text.length === 0 || text.length > 45) return false
  let head = text
  let v4tail: string | null = null
  const lastColon = text.lastIndexOf(':')
  if (lastColon >= 0 && text.indexOf('.', lastColon) > lastColon) {
    v4tail = text.slice(lastColon + 1)
    if (!parseIPv4Into(v4tail, null, 0)) return false
    head = text.slice(0, lastColon + 1) + '0:0' // two placeholder groups, overwritten below
  }
  const n = head.length
  let i = 0
  let groups = 0
  let gap = -1 // groups before the '::', -1 without one
  if (head.charCodeAt(0) === 0x3a) { // ':' opens only a leading '::'
    if (head.charCodeAt(1) !== 0x3a) return false
    gap = 0
    i = 2
  }
  while (i < n) {
    let v = 0
    let digits = 0
    for (let h = hexDigit(head.charCodeAt(i)); h >= 0 && digits <= 4; h = hexDigit(head.charCodeAt(i))) {
      v = v * 16 + h
      digits++
      i++
    }
    if (digits === 0 || digits > 4 || groups === 8) return false
    if (out !== null) { out[offset + 2 * groups] = v >> 8; out[offset + 2 * groups + 1] = v & 0xff }
    groups++
    if (i === n) break
    if (head.charCodeAt(i) !== 0x3a) return false
    i++
    if (head.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false
      gap = groups
      i++
    } else if (i === n) {
      return false // a single trailing ':'
    }
  }
  if (gap < 0) {
    if (groups !== 8) return false
  } else {
    if (groups > 7) return false // '::' stands for at least one group
    if (out !== null) {
      // The groups after '::' go to the end, zeros in between.
      const right = groups - gap
      out.copyWithin(offset + 16 - 2 * right, offset + 2 * gap, offset + 2 * groups)
      out.fill(0, offset + 2 * gap, offset + 16 - 2 * right)
    }
  }
  if (v4tail !== null && out !== null) parseIPv4Into(v4tail, out, offset + 12)
  return true
}

/** Parse either family; the family is chosen by the presence of ':'. */
export function parseIP (text: string): { family: Family, bytes: Uint8Array } | null {
  if (text.includes(':')) {
    const bytes = parseIPv6(text)
    return bytes === null ? null : { family: 'ipv6', bytes }
  }
  const bytes = parseIPv4(text)
  return bytes === null ? null : { family: 'ipv4', bytes }
}

/**
 * The family of a valid address, null when `text` does not parse (parseIP's verdict). An IPv4 address is
 * checked without allocating: the sync receiver asks this for every address of every flow it is sent.
 */
export function ipFamily (text: string): Family | null {
  if (text.includes(':')) return parseIPv6Into(text, null, 0) ? 'ipv6' : null
  return parseIPv4Into(text, null, 0) ? 'ipv4' : null
}

export function formatIPv4 (b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`
}

/** RFC 5952 canonical text: lower case, leading zeros dropped, the longest run (≥2) of zero groups as `::`. */
export function formatIPv6 (b: Uint8Array, offset = 0): string {
  // the first longest run of zero groups (no arrays: dumps format two to four addresses per entry)
  let bestStart = -1
  let bestLen = 0
  let runStart = -1
  for (let i = 0; i < 8; i++) {
    if (b[offset + 2 * i] === 0 && b[offset + 2 * i + 1] === 0) {
      if (runStart < 0) runStart = i
      if (i - runStart + 1 > bestLen) { bestStart = runStart; bestLen = i - runStart + 1 }
    } else {
      runStart = -1
    }
  }
  const group = (i: number): string => ((((b[offset + 2 * i] as number) << 8) | (b[offset + 2 * i + 1] as number))).toString(16)
  if (bestLen < 2) {
    let s = group(0)
    for (let i = 1; i < 8; i++) s += ':' + group(i)
    return s
  }
  let s = ''
  for (let i = 0; i < bestStart; i++) s += (i === 0 ? '' : ':') + group(i)
  s += '::'
  const after = bestStart + bestLen
  for (let i = after; i < 8; i++) s += (i === after ? '' : ':') + group(i)
  return s
}

export function formatIP (b: Uint8Array, offset = 0, family: Family = b.length - offset >= 16 ? 'ipv6' : 'ipv4'): string {
  return family === 'ipv4' ? formatIPv4(b, offset) : formatIPv6(b, offset)
}

/** Canonical text of an address, or null when it does not parse. */
export function canonicalIP (text: string): string | null {
  const p = parseIP(text)
  return p === null ? null : formatIP(p.bytes, 0, p.family)
}

/** Compare two addresses of one family as unsigned big-endian integers (RFC 5798 §6.4.3 tie-break). */
export function compareIP (a: string, b: string): number {
  const pa = parseIP(a)
  const pb = parseIP(b)
  if (pa === null || pb === null) throw new RangeError(`compareIP: not an IP address: ${pa === null ? a : b}`)
  if (pa.family !== pb.family) throw new RangeError(`compareIP: mixed families: ${a} vs ${b}`)
  for (let i = 0; i < pa.bytes.length; i++) {
    const d = (pa.bytes[i] as number) - (pb.bytes[i] as number)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  return 0
}

/** True for fe80::/10 (VRRPv3 over IPv6 sources and first address, RFC 5798 §5.1.2.1, §5.2.9). */
export function isIPv6LinkLocal (text: string): boolean {
  const b = parseIPv6(text)
  return b !== null && b[0] === 0xfe && ((b[1] as number) & 0xc0) === 0x80
}
