/**
 * VRRP advertisement codec: VRRPv2 (RFC 3768 §5, IPv4 only) and VRRPv3 (RFC 5798 §5, IPv4 and
 * IPv6). Pure bytes ⇄ object; it knows nothing about VRIDs, priorities, intervals or passwords
 * configured locally — comparing those is the core's job (RFC 5798 §7.1 second half).
 *
 * Wire layout (RFC 3768 §5.1, RFC 5798 §5.1; both versions share the first 4 bytes):
 *
 *   byte 0: version (high nibble) | type (low nibble)   byte 1: VRID   byte 2: priority   byte 3: count
 *   v2 bytes 4–7: auth type, Adver Int (seconds), checksum
 *   v3 bytes 4–7: rsvd (4 bits) + Max Adver Int (12 bits, centiseconds), checksum
 *   then count addresses (4 or 16 bytes each), then for v2 only 8 bytes of authentication data.
 *
 * decodeAdvert validation order (the first failing check throws a CodecError with that code):
 *  1. at least 8 bytes (the fixed header)                              → VRRP_TRUNCATED
 *  2. version is 2 or 3, and 2 only over IPv4 (RFC 5798 §5.2.1)        → VRRP_BAD_VERSION
 *  3. version equals ctx.version when the caller gives one             → VRRP_VERSION_MISMATCH
 *  4. type is 1, ADVERTISEMENT (RFC 3768 §5.3.2, RFC 5798 §5.2.2)      → VRRP_BAD_TYPE
 *  5. TTL / hop limit is 255 when ctx.ttl is given (RFC 3768 §7.1,
 *     RFC 5798 §7.1)                                                   → VRRP_BAD_TTL
 *  6. length is exactly 8 + count × address size (+ 8 auth bytes in v2)
 *     (RFC 3768 §7.1, RFC 5798 §7.1 "complete VRRP packet")            → VRRP_BAD_LENGTH
 *  7. checksum (v2: VRRP message only, RFC 3768 §5.3.8; v3: with the
 *     IPv4/IPv6 pseudo-header, RFC 5798 §5.2.8)                        → VRRP_BAD_CHECKSUM
 *  8. every address is a usable unicast address of the family          → VRRP_BAD_ADDRESS
 *  9. v2 authentication type is 0, 1 or 2 (RFC 3768 §5.3.6)            → VRRP_BAD_AUTH_TYPE
 * Context addresses that do not parse are caller bugs and throw RangeError, never CodecError.
 * Reserved bits (v3 rsvd nibble) and v2 auth data for types 0 and 2 are ignored on receive, as
 * both RFCs require; they are sent as zeros.
 */
import { CodecError } from './errors.js'
import { IPPROTO_VRRP, finishChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum, sumWords } from './checksum.js'
import { formatIP, parseIPv4, parseIPv6 } from './ip.js'
import type { Family } from './ip.js'
import { decodeIPv4Header } from './ipv4.js'
import type { Ipv4ErrorCode, Ipv4Header } from './ipv4.js'

/** Every reason decodeAdvert / decodeIPv4Packet rejects input, so the runtime can pre-register drop counters. */
export const VRRP_ERROR_CODES = [
  'VRRP_TRUNCATED',
  'VRRP_BAD_VERSION',
  'VRRP_VERSION_MISMATCH',
  'VRRP_BAD_TYPE',
  'VRRP_BAD_TTL',
  'VRRP_BAD_LENGTH',
  'VRRP_BAD_CHECKSUM',
  'VRRP_BAD_ADDRESS',
  'VRRP_BAD_AUTH_TYPE',
  'VRRP_BAD_PROTOCOL'
] as const
export type VrrpErrorCode = typeof VRRP_ERROR_CODES[number]

export const VRRP_TYPE_ADVERTISEMENT = 1
/** IPv4 multicast group for VRRP (RFC 3768 §5.2.2, RFC 5798 §5.1.1.2). */
export const VRRP_IPV4_GROUP = '224.0.0.18'
/** IPv6 multicast group for VRRP (RFC 5798 §5.1.2.2). */
export const VRRP_IPV6_GROUP = 'ff02::12'
/** TTL / hop limit every VRRP packet is sent with and must arrive with (RFC 5798 §5.1.1.3, §7.1). */
export const VRRP_TTL = 255
/** Fixed header bytes shared by both versions. */
export const VRRP_HEADER_LENGTH = 8
/** VRRPv2 authentication data bytes (RFC 3768 §5.3.10). */
export const VRRP_V2_AUTH_LENGTH = 8
/** Largest VRRPv3 Max Adver Int: a 12-bit field of centiseconds (RFC 5798 §5.2.7). */
export const VRRP_V3_MAX_ADVER_INT_CS = 0x0fff

/** VRRPv2 authentication types (RFC 3768 §5.3.6). 2 (IP AH) is historic; it is decoded, not checked. */
export const VRRP_AUTH_NONE = 0
export const VRRP_AUTH_SIMPLE = 1
export const VRRP_AUTH_AH = 2
export type VrrpAuthType = 0 | 1 | 2

interface VrrpAdvertBase {
  type: 1
  /** Virtual Router Identifier, 1..255 on the wire (0 is decoded; rejecting it is the core's job). */
  vrid: number
  /** 0 = master is leaving (RFC 5798 §5.2.4), 255 = address owner. */
  priority: number
  /** Count IPvX Addr as received; always equals addresses.length after decode. */
  addrCount: number
  /** Advertisement interval normalised to centiseconds (v2: adverInt × 100; v3: maxAdverIntCs). */
  intervalCs: number
  /** Checksum field as received (decode) or as computed (encode). */
  checksum: number
  /** Virtual addresses, canonical text (src/codec/ip.ts), in wire order. */
  addresses: string[]
}

/** VRRPv2 advertisement (RFC 3768 §5.3), IPv4 only. */
export interface VrrpV2Advert extends VrrpAdvertBase {
  version: 2
  authType: VrrpAuthType
  /** Advertisement interval in whole seconds (RFC 3768 §5.3.7). */
  adverInt: number
  /**
   * Simple text password (authType 1), UTF-8, trailing NUL padding removed. Absent for types
   * 0 and 2, whose 8 bytes are ignored on receive. Compare it in the core, not here.
   */
  authData?: string
}

/** VRRPv3 advertisement (RFC 5798 §5.2), IPv4 or IPv6. */
export interface VrrpV3Advert extends VrrpAdvertBase {
  version: 3
  /** Max Advertise Interval in centiseconds, 12 bits (RFC 5798 §5.2.7). */
  maxAdverIntCs: number
}

export type VrrpAdvert = VrrpV2Advert | VrrpV3Advert

/** What encodeAdvert needs: the decoded shape minus fields it derives (checksum, addrCount, intervalCs, type). */
export type VrrpAdvertInput =
  | (Omit<VrrpV2Advert, 'type' | 'addrCount' | 'intervalCs' | 'checksum'> & Partial<Pick<VrrpV2Advert, 'type' | 'addrCount' | 'intervalCs' | 'checksum'>>)
  | (Omit<VrrpV3Advert, 'type' | 'addrCount' | 'intervalCs' | 'checksum'> & Partial<Pick<VrrpV3Advert, 'type' | 'addrCount' | 'intervalCs' | 'checksum'>>)

/** Addressing of the packet carrying the advert; needed for the VRRPv3 pseudo-header. */
export interface VrrpPacketContext {
  family: Family
  /** IP source address (text). */
  src: string
  /** IP destination address (text): the group (224.0.0.18 / ff02::12) or the unicast peer. */
  dst: string
  /**
   * Compatibility for peers that checksum VRRPv3 over IPv4 like VRRPv2 (no pseudo-header).
   * keepalived 2.2.7 includes the pseudo-header (verified in test/fixtures/captures/vrrp), so leave it off for it.
   */
  v3Ipv4ChecksumWithoutPseudoHeader?: boolean
}

export interface VrrpDecodeContext extends VrrpPacketContext {
  /** IPv4 TTL or IPv6 hop limit of the received packet, when the socket reports it. */
  ttl?: number
  /** Expected protocol version; a different one is VRRP_VERSION_MISMATCH. */
  version?: 2 | 3
  /**
   * Skip step 7 because the kernel already verified the checksum (IPv6 raw socket with the
   * IPV6_CHECKSUM option drops bad packets and does not tell us the destination address).
   */
  checksumVerified?: boolean
}

function fail (code: VrrpErrorCode, message: string, offset?: number): never {
  throw new CodecError<VrrpErrorCode>(code, message, offset)
}

function addressLength (family: Family): number {
  return family === 'ipv4' ? 4 : 16
}

function familyAddress (family: Family, text: string, what: string): Uint8Array {
  const bytes = family === 'ipv4' ? parseIPv4(text) : parseIPv6(text)
  if (bytes === null) throw new RangeError(`VRRP ${what} ${JSON.stringify(text)} is not an ${family} address`)
  return bytes
}

/**
 * Checksum over `vrrp` (checksum field included, as found or as zero), with the pseudo-header the
 * version and family call for. Returns the folded complement: 0 when a received checksum is valid.
 */
function vrrpChecksum (vrrp: Uint8Array, version: 2 | 3, ctx: VrrpPacketContext): number {
  // RFC 3768 §5.3.8: v2 covers the VRRP message only.
  // RFC 5798 §5.2.8: v3 prepends the pseudo-header of RFC 2460 §8.1 (IPv6) or RFC 768 (IPv4).
  let sum = 0
  if (version === 3) {
    if (ctx.family === 'ipv6') {
      sum = ipv6PseudoHeaderSum(familyAddress('ipv6', ctx.src, 'source'), familyAddress('ipv6', ctx.dst, 'destination'), IPPROTO_VRRP, vrrp.length)
    } else if (ctx.v3Ipv4ChecksumWithoutPseudoHeader !== true) {
      sum = ipv4PseudoHeaderSum(familyAddress('ipv4', ctx.src, 'source'), familyAddress('ipv4', ctx.dst, 'destination'), IPPROTO_VRRP, vrrp.length)
    }
  }
  return finishChecksum(sumWords(vrrp, sum))
}

/** Unicast addresses only: the unspecified, loopback, multicast and limited-broadcast addresses cannot be virtual. */
function isUsableAddress (b: Uint8Array, off: number, family: Family): boolean {
  if (family === 'ipv4') {
    const a = b[off] as number
    if (a === 0 || a === 127 || (a >= 224 && a <= 239)) return false
    return !(a === 255 && b[off + 1] === 255 && b[off + 2] === 255 && b[off + 3] === 255)
  }
  if (b[off] === 0xff) return false // ff00::/8 multicast
  for (let i = 0; i < 15; i++) if (b[off + i] !== 0) return true
  const last = b[off + 15] as number
  return last !== 0 && last !== 1 // :: and ::1
}

/** Decode one advertisement (the IP payload); see the module comment for the check order. */
export function decodeAdvert (buf: Uint8Array, ctx: VrrpDecodeContext): VrrpAdvert {
  // 1. fixed header
  if (buf.length < VRRP_HEADER_LENGTH) fail('VRRP_TRUNCATED', `${buf.length} bytes, need at least ${VRRP_HEADER_LENGTH}`, buf.length)
  const b0 = buf[0] as number
  // 2–3. version
  const version = b0 >> 4
  if (version !== 2 && version !== 3) fail('VRRP_BAD_VERSION', `version ${version}`, 0)
  if (version === 2 && ctx.family !== 'ipv4') fail('VRRP_BAD_VERSION', 'VRRPv2 is defined for IPv4 only', 0)
  if (ctx.version !== undefined && ctx.version !== version) fail('VRRP_VERSION_MISMATCH', `version ${version}, expected ${ctx.version}`, 0)
  // 4. type
  const type = b0 & 0x0f
  if (type !== VRRP_TYPE_ADVERTISEMENT) fail('VRRP_BAD_TYPE', `type ${type}, expected 1 (advertisement)`, 0)
  // 5. TTL / hop limit: 255 proves the sender is on the link (RFC 5798 §7.1)
  if (ctx.ttl !== undefined && ctx.ttl !== VRRP_TTL) fail('VRRP_BAD_TTL', `TTL/hop limit ${ctx.ttl}, expected ${VRRP_TTL}`)
  // 6. length against the address count
  const addrCount = buf[3] as number
  const alen = addressLength(ctx.family)
  const expected = VRRP_HEADER_LENGTH + addrCount * alen + (version === 2 ? VRRP_V2_AUTH_LENGTH : 0)
  if (buf.length !== expected) fail('VRRP_BAD_LENGTH', `${buf.length} bytes, but ${addrCount} ${ctx.family} address(es) make ${expected}`, 3)
  // 7. checksum
  const checksum = ((buf[6] as number) << 8) | (buf[7] as number)
  if (ctx.checksumVerified !== true && vrrpChecksum(buf, version, ctx) !== 0) {
    fail('VRRP_BAD_CHECKSUM', `checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`, 6)
  }
  // 8. addresses
  const addresses: string[] = []
  for (let i = 0; i < addrCount; i++) {
    const off = VRRP_HEADER_LENGTH + i * alen
    if (!isUsableAddress(buf, off, ctx.family)) fail('VRRP_BAD_ADDRESS', `address #${i + 1} ${formatIP(buf, off, ctx.family)} cannot be a virtual address`, off)
    addresses.push(formatIP(buf, off, ctx.family))
  }
  const vrid = buf[1] as number
  const priority = buf[2] as number
  if (version === 3) {
    // RFC 5798 §5.2.7: the top 4 bits are reserved, ignored on receive.
    const maxAdverIntCs = (((buf[4] as number) & 0x0f) << 8) | (buf[5] as number)
    return { version, type: 1, vrid, priority, addrCount, maxAdverIntCs, intervalCs: maxAdverIntCs, checksum, addresses }
  }
  // 9. v2 authentication type
  const authType = buf[4] as number
  if (authType !== VRRP_AUTH_NONE && authType !== VRRP_AUTH_SIMPLE && authType !== VRRP_AUTH_AH) {
    fail('VRRP_BAD_AUTH_TYPE', `authentication type ${authType}`, 4)
  }
  const adverInt = buf[5] as number
  const advert: VrrpV2Advert = { version, type: 1, vrid, priority, addrCount, authType, adverInt, intervalCs: adverInt * 100, checksum, addresses }
  if (authType === VRRP_AUTH_SIMPLE) {
    const authStart = VRRP_HEADER_LENGTH + addrCount * alen
    let authEnd = authStart + VRRP_V2_AUTH_LENGTH
    while (authEnd > authStart && buf[authEnd - 1] === 0) authEnd--
    advert.authData = Buffer.from(buf.buffer, buf.byteOffset + authStart, authEnd - authStart).toString('utf8')
  }
  return advert
}

export interface VrrpIPv4Packet {
  ip: Ipv4Header
  advert: VrrpAdvert
}

/** Options for decodeIPv4Packet: the decode context minus what the IP header supplies. */
export type VrrpIPv4DecodeOptions = Omit<VrrpDecodeContext, 'family' | 'src' | 'dst' | 'ttl'>

/**
 * Decode what a raw IPv4 socket for protocol 112 delivers: IP header, then the advert. The TTL
 * is always checked (it is in the header). Throws CodecError with an IPV4_* or VRRP_* code; a
 * protocol other than 112 is VRRP_BAD_PROTOCOL.
 */
export function decodeIPv4Packet (buf: Uint8Array, opts: VrrpIPv4DecodeOptions = {}): VrrpIPv4Packet {
  const ip = decodeIPv4Header(buf)
  if (ip.protocol !== IPPROTO_VRRP) fail('VRRP_BAD_PROTOCOL', `IP protocol ${ip.protocol}, expected ${IPPROTO_VRRP}`, 9)
  const payload = buf.subarray(ip.payloadOffset, ip.payloadOffset + ip.payloadLength)
  const advert = decodeAdvert(payload, { ...opts, family: 'ipv4', src: ip.src, dst: ip.dst, ttl: ip.ttl })
  return { ip, advert }
}

/** Codes decodeIPv4Packet can throw. */
export type VrrpIPv4PacketErrorCode = VrrpErrorCode | Ipv4ErrorCode

function checkByte (value: number, what: string, min = 0, max = 255): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`VRRP ${what} ${value} is outside ${min}..${max}`)
}

function familyOf (advert: VrrpAdvertInput, ctx: VrrpPacketContext): Family {
  if (advert.version === 2 && ctx.family !== 'ipv4') throw new RangeError('VRRPv2 is defined for IPv4 only')
  return ctx.family
}

function authBytes (advert: VrrpAdvertInput): Uint8Array | null {
  if (advert.version !== 2 || advert.authType !== VRRP_AUTH_SIMPLE || advert.authData === undefined) return null
  const bytes = Buffer.from(advert.authData, 'utf8')
  if (bytes.length > VRRP_V2_AUTH_LENGTH) throw new RangeError(`VRRP simple password is ${bytes.length} bytes, at most ${VRRP_V2_AUTH_LENGTH}`)
  return bytes
}

/** Bytes encodeAdvert writes for this advert in this family. */
export function encodingLength (advert: VrrpAdvertInput, family: Family): number {
  return VRRP_HEADER_LENGTH + advert.addresses.length * addressLength(family) + (advert.version === 2 ? VRRP_V2_AUTH_LENGTH : 0)
}

/**
 * Encode `advert` into `buf` at `offset` (a new Buffer when `buf` is omitted), computing the count
 * and the checksum (pseudo-header from ctx for v3). Returns the buffer written to. Invalid field
 * values are caller bugs and throw RangeError: config validation must have caught them.
 */
export function encodeAdvert (advert: VrrpAdvertInput, ctx: VrrpPacketContext): Buffer
export function encodeAdvert<T extends Uint8Array> (advert: VrrpAdvertInput, ctx: VrrpPacketContext, buf: T, offset?: number): T
export function encodeAdvert (advert: VrrpAdvertInput, ctx: VrrpPacketContext, buf?: Uint8Array, offset = 0): Uint8Array {
  const family = familyOf(advert, ctx)
  const length = encodingLength(advert, family)
  checkByte(advert.vrid, 'VRID')
  checkByte(advert.priority, 'priority')
  checkByte(advert.addresses.length, 'address count')
  const out = buf ?? Buffer.alloc(length)
  if (!Number.isInteger(offset) || offset < 0 || offset + length > out.length) {
    throw new RangeError(`VRRP advert of ${length} bytes does not fit at offset ${offset} of a ${out.length}-byte buffer`)
  }
  const vrrp = out.subarray(offset, offset + length)
  vrrp.fill(0)
  vrrp[0] = (advert.version << 4) | VRRP_TYPE_ADVERTISEMENT
  vrrp[1] = advert.vrid
  vrrp[2] = advert.priority
  vrrp[3] = advert.addresses.length
  if (advert.version === 3) {
    checkByte(advert.maxAdverIntCs, 'Max Adver Int (cs)', 0, VRRP_V3_MAX_ADVER_INT_CS)
    vrrp[4] = advert.maxAdverIntCs >> 8
    vrrp[5] = advert.maxAdverIntCs & 0xff
  } else {
    checkByte(advert.authType, 'auth type', 0, 2)
    checkByte(advert.adverInt, 'Adver Int (s)')
    vrrp[4] = advert.authType
    vrrp[5] = advert.adverInt
  }
  const alen = addressLength(family)
  advert.addresses.forEach((text, i) => vrrp.set(familyAddress(family, text, 'virtual address'), VRRP_HEADER_LENGTH + i * alen))
  const auth = authBytes(advert)
  // RFC 3768 §5.3.10: the password is zero-padded to 8 bytes (fill(0) above did the padding).
  if (auth !== null) vrrp.set(auth, VRRP_HEADER_LENGTH + advert.addresses.length * alen)
  const checksum = vrrpChecksum(vrrp, advert.version, ctx)
  vrrp[6] = checksum >> 8
  vrrp[7] = checksum & 0xff
  return out
}
