/**
 * ICMPv6 Neighbor Advertisement (RFC 4861 §4.4) with the Target Link-Layer Address option
 * (§4.6.1), for the unsolicited NA a new master sends for each IPv6 virtual address (RFC 5798
 * §6.4.1 (b), RFC 4861 §7.2.6). Encode is what hafwd sends; decode exists so tests and e2e can
 * check what was sent (and what keepalived or the kernel send).
 *
 * Message: type 136, code 0, checksum, R|S|O flags + 29 reserved bits, 16-byte target, options.
 * The checksum covers the IPv6 pseudo-header (RFC 4443 §2.3), so src and dst are needed.
 * keepalived 2.2.7 sends src = the virtual address itself, dst = ff02::1, hop limit 255,
 * S = 0, O = 1, R = the interface's forwarding sysctl, one TLLA option with the interface MAC.
 *
 * decodeNeighborAdvert validation order (RFC 4861 §7.1.2; first failure throws):
 *  1. at least 24 bytes                                     → NDISC_TRUNCATED
 *  2. ICMPv6 type 136                                       → NDISC_BAD_TYPE
 *  3. ICMP code 0                                           → NDISC_BAD_CODE
 *  4. hop limit 255 when ctx.hopLimit is given              → NDISC_BAD_HOP_LIMIT
 *  5. checksum with the IPv6 pseudo-header                  → NDISC_BAD_CHECKSUM
 *  6. target is not a multicast address                     → NDISC_BAD_TARGET
 *  7. Solicited is 0 when the destination is multicast      → NDISC_BAD_FLAGS
 *  8. every option has length > 0 and fits in the message   → NDISC_BAD_OPTION
 * Unknown options are skipped (§4.6); the first TLLA option wins.
 */
import { CodecError } from './errors.js'
import { IPPROTO_ICMPV6, finishChecksum, ipv6PseudoHeaderSum, sumWords } from './checksum.js'
import { formatIPv6, parseIPv6 } from './ip.js'

export const NDISC_ERROR_CODES = [
  'NDISC_TRUNCATED',
  'NDISC_BAD_TYPE',
  'NDISC_BAD_CODE',
  'NDISC_BAD_HOP_LIMIT',
  'NDISC_BAD_CHECKSUM',
  'NDISC_BAD_TARGET',
  'NDISC_BAD_FLAGS',
  'NDISC_BAD_OPTION'
] as const
export type NdiscErrorCode = typeof NDISC_ERROR_CODES[number]

export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136
/** Hop limit for every Neighbor Discovery message (RFC 4861 §7.1.2). */
export const NDISC_HOP_LIMIT = 255
/** Destination of an unsolicited NA: all-nodes (RFC 4861 §7.2.6). */
export const IPV6_ALL_NODES = 'ff02::1'
/** Option type of the Target Link-Layer Address (RFC 4861 §4.6.1). */
export const ND_OPT_TARGET_LINKADDR = 2
/** Fixed part: type, code, checksum, flags/reserved, target. */
export const NA_HEADER_LENGTH = 24

const FLAG_ROUTER = 0x80
const FLAG_SOLICITED = 0x40
const FLAG_OVERRIDE = 0x20

export interface NeighborAdvert {
  /** R: the sender is a router (RFC 4861 §4.4); a firewall that forwards sets it. */
  router: boolean
  /** S: reply to a solicitation; always 0 in an unsolicited NA (§7.2.6). */
  solicited: boolean
  /** O: override existing cache entries; 1 so neighbours switch to the new master's MAC. */
  override: boolean
  /** Target address, canonical text. */
  target: string
  /** MAC from the Target Link-Layer Address option, lower-case `aa:bb:cc:dd:ee:ff`, when present. */
  targetLinkLayerAddress?: string
  /** Checksum field as received or computed. */
  checksum: number
}

/** Encoder input: flags default to the unsolicited-NA values (S = 0, O = 1); R must be chosen. */
export interface NeighborAdvertInput {
  router: boolean
  solicited?: boolean
  override?: boolean
  target: string
  /** Ethernet MAC (`aa:bb:cc:dd:ee:ff` or with `-`); omitted → no option. */
  targetLinkLayerAddress?: string
}

/** IPv6 addressing of the NA; the checksum needs both ends. */
export interface NdiscContext {
  src: string
  dst: string
  /** Hop limit of the received packet, when known (decode only). */
  hopLimit?: number
}

function fail (code: NdiscErrorCode, message: string, offset?: number): never {
  throw new CodecError<NdiscErrorCode>(code, message, offset)
}

function ipv6 (text: string, what: string): Uint8Array {
  const b = parseIPv6(text)
  if (b === null) throw new RangeError(`NA ${what} ${JSON.stringify(text)} is not an IPv6 address`)
  return b
}

/** Parse a 48-bit MAC written with ':' or '-' separators. */
export function parseMac (text: string): Uint8Array | null {
  const parts = text.split(/[:-]/)
  if (parts.length !== 6 || !parts.every(p => /^[0-9a-fA-F]{2}$/.test(p))) return null
  return Uint8Array.from(parts.map(p => parseInt(p, 16)))
}

export function formatMac (b: Uint8Array, offset = 0): string {
  const parts: string[] = []
  for (let i = 0; i < 6; i++) parts.push((b[offset + i] as number).toString(16).padStart(2, '0'))
  return parts.join(':')
}

function checksumOf (msg: Uint8Array, ctx: NdiscContext): number {
  return finishChecksum(sumWords(msg, ipv6PseudoHeaderSum(ipv6(ctx.src, 'source'), ipv6(ctx.dst, 'destination'), IPPROTO_ICMPV6, msg.length)))
}

/** Bytes encodeNeighborAdvert writes: 24, plus 8 with a link-layer address option. */
export function neighborAdvertEncodingLength (na: NeighborAdvertInput): number {
  return NA_HEADER_LENGTH + (na.targetLinkLayerAddress === undefined ? 0 : 8)
}

/**
 * Encode an NA into `buf` at `offset` (a new Buffer when omitted) and fill in the checksum for
 * ctx.src → ctx.dst. Bad target or MAC text is a caller bug: RangeError.
 */
export function encodeNeighborAdvert (na: NeighborAdvertInput, ctx: NdiscContext): Buffer
export function encodeNeighborAdvert<T extends Uint8Array> (na: NeighborAdvertInput, ctx: NdiscContext, buf: T, offset?: number): T
export function encodeNeighborAdvert (na: NeighborAdvertInput, ctx: NdiscContext, buf?: Uint8Array, offset = 0): Uint8Array {
  const length = neighborAdvertEncodingLength(na)
  const out = buf ?? Buffer.alloc(length)
  if (!Number.isInteger(offset) || offset < 0 || offset + length > out.length) {
    throw new RangeError(`NA of ${length} bytes does not fit at offset ${offset} of a ${out.length}-byte buffer`)
  }
  const msg = out.subarray(offset, offset + length)
  msg.fill(0)
  msg[0] = ICMPV6_NEIGHBOR_ADVERTISEMENT
  msg[4] = (na.router ? FLAG_ROUTER : 0) | ((na.solicited ?? false) ? FLAG_SOLICITED : 0) | ((na.override ?? true) ? FLAG_OVERRIDE : 0)
  msg.set(ipv6(na.target, 'target'), 8)
  if (na.targetLinkLayerAddress !== undefined) {
    const mac = parseMac(na.targetLinkLayerAddress)
    if (mac === null) throw new RangeError(`NA link-layer address ${JSON.stringify(na.targetLinkLayerAddress)} is not a MAC`)
    msg[24] = ND_OPT_TARGET_LINKADDR
    msg[25] = 1 // length in units of 8 bytes (RFC 4861 §4.6)
    msg.set(mac, 26)
  }
  const checksum = checksumOf(msg, ctx)
  msg[2] = checksum >> 8
  msg[3] = checksum & 0xff
  return out
}

/** Decode an NA (the ICMPv6 message, no IPv6 header); see the module comment for the check order. */
export function decodeNeighborAdvert (buf: Uint8Array, ctx: NdiscContext): NeighborAdvert {
  if (buf.length < NA_HEADER_LENGTH) fail('NDISC_TRUNCATED', `${buf.length} bytes, need at least ${NA_HEADER_LENGTH}`, buf.length)
  if (buf[0] !== ICMPV6_NEIGHBOR_ADVERTISEMENT) fail('NDISC_BAD_TYPE', `ICMPv6 type ${buf[0]}, expected ${ICMPV6_NEIGHBOR_ADVERTISEMENT}`, 0)
  if (buf[1] !== 0) fail('NDISC_BAD_CODE', `ICMP code ${buf[1]}, expected 0`, 1)
  if (ctx.hopLimit !== undefined && ctx.hopLimit !== NDISC_HOP_LIMIT) fail('NDISC_BAD_HOP_LIMIT', `hop limit ${ctx.hopLimit}, expected ${NDISC_HOP_LIMIT}`)
  const checksum = ((buf[2] as number) << 8) | (buf[3] as number)
  if (checksumOf(buf, ctx) !== 0) fail('NDISC_BAD_CHECKSUM', `checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`, 2)
  if (buf[8] === 0xff) fail('NDISC_BAD_TARGET', `target ${formatIPv6(buf, 8)} is multicast`, 8)
  const flags = buf[4] as number
  const solicited = (flags & FLAG_SOLICITED) !== 0
  if (solicited && ipv6(ctx.dst, 'destination')[0] === 0xff) fail('NDISC_BAD_FLAGS', 'Solicited flag set on a multicast NA', 4)
  const na: NeighborAdvert = {
    router: (flags & FLAG_ROUTER) !== 0,
    solicited,
    override: (flags & FLAG_OVERRIDE) !== 0,
    target: formatIPv6(buf, 8),
    checksum
  }
  for (let off = NA_HEADER_LENGTH; off < buf.length;) {
    if (off + 2 > buf.length) fail('NDISC_BAD_OPTION', 'option header runs past the end', off)
    const units = buf[off + 1] as number
    if (units === 0) fail('NDISC_BAD_OPTION', 'option with length 0', off + 1)
    if (off + units * 8 > buf.length) fail('NDISC_BAD_OPTION', `option of ${units * 8} bytes runs past the end`, off + 1)
    if (buf[off] === ND_OPT_TARGET_LINKADDR && na.targetLinkLayerAddress === undefined) na.targetLinkLayerAddress = formatMac(buf, off + 2)
    off += units * 8
  }
  return na
}
