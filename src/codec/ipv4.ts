/**
 * Minimal IPv4 header read (RFC 791 §3.1) for raw IPv4 receive: a raw socket for protocol 112
 * hands us the whole datagram, IP header included, and VRRP needs the TTL (RFC 3768 §7.1,
 * RFC 5798 §7.1), the source (tie-break, pseudo-header) and the destination (pseudo-header).
 *
 * Validation order (first failure wins):
 *  1. at least 20 bytes                               → IPV4_TRUNCATED
 *  2. version nibble is 4                             → IPV4_BAD_VERSION
 *  3. IHL ≥ 5 and the header fits in the buffer       → IPV4_BAD_IHL
 *  4. total length ≥ header length and ≤ buffer size  → IPV4_BAD_LENGTH
 * Bytes past the total length (link padding) are ignored. The header checksum is not verified:
 * the kernel has already dropped datagrams whose header checksum is wrong.
 */
import { CodecError } from './errors.js'
import { formatIPv4, parseIPv4 } from './ip.js'

export const IPV4_ERROR_CODES = [
  'IPV4_TRUNCATED',
  'IPV4_BAD_VERSION',
  'IPV4_BAD_IHL',
  'IPV4_BAD_LENGTH'
] as const
export type Ipv4ErrorCode = typeof IPV4_ERROR_CODES[number]

/** Smallest IPv4 header (IHL 5). */
export const IPV4_MIN_HEADER_LENGTH = 20

export interface Ipv4Header {
  version: 4
  /** Header length in bytes (IHL × 4); the payload starts here. */
  headerLength: number
  /** Total datagram length from the header, in bytes. */
  totalLength: number
  /** Type of service / DSCP+ECN byte (keepalived sends 0xc0, CS6). */
  tos: number
  ttl: number
  protocol: number
  src: string
  dst: string
  /** Offset of the payload in the buffer (same as headerLength). */
  payloadOffset: number
  /** Payload length: totalLength − headerLength. */
  payloadLength: number
}

function fail (code: Ipv4ErrorCode, message: string, offset?: number): never {
  throw new CodecError<Ipv4ErrorCode>(code, message, offset)
}

/** Read the IPv4 header at the start of `buf`; see the module comment for the check order. */
export function decodeIPv4Header (buf: Uint8Array): Ipv4Header {
  if (buf.length < IPV4_MIN_HEADER_LENGTH) fail('IPV4_TRUNCATED', `${buf.length} bytes, need at least ${IPV4_MIN_HEADER_LENGTH}`, buf.length)
  const b0 = buf[0] as number
  const version = b0 >> 4
  if (version !== 4) fail('IPV4_BAD_VERSION', `version ${version}, expected 4`, 0)
  const headerLength = (b0 & 0x0f) * 4
  if (headerLength < IPV4_MIN_HEADER_LENGTH) fail('IPV4_BAD_IHL', `IHL ${headerLength / 4} is below 5`, 0)
  if (headerLength > buf.length) fail('IPV4_BAD_IHL', `header of ${headerLength} bytes exceeds the ${buf.length} received`, 0)
  const totalLength = ((buf[2] as number) << 8) | (buf[3] as number)
  if (totalLength < headerLength) fail('IPV4_BAD_LENGTH', `total length ${totalLength} is below the header length ${headerLength}`, 2)
  if (totalLength > buf.length) fail('IPV4_BAD_LENGTH', `total length ${totalLength} exceeds the ${buf.length} bytes received`, 2)
  return {
    version: 4,
    headerLength,
    totalLength,
    tos: buf[1] as number,
    ttl: buf[8] as number,
    protocol: buf[9] as number,
    src: formatIPv4(buf, 12),
    dst: formatIPv4(buf, 16),
    payloadOffset: headerLength,
    payloadLength: totalLength - headerLength
  }
}

/** What a sender chooses in an IPv4 header; the rest (id, checksum) the kernel fills in on an IP_HDRINCL socket. */
export interface Ipv4HeaderInput {
  tos: number
  ttl: number
  protocol: number
  src: string
  dst: string
}

/**
 * A 20-byte IPv4 header followed by `payload`, for a raw socket with IP_HDRINCL (so the advert
 * source is the router's primary address, which the VRRPv3 pseudo-header checksum was computed
 * over, RFC 5798 §5.2.8). Identification 0 and checksum 0: Linux fills both (raw(7)). Don't
 * Fragment is clear, as keepalived sends it.
 */
export function encodeIPv4Packet (h: Ipv4HeaderInput, payload: Uint8Array): Buffer {
  const src = parseIPv4(h.src)
  const dst = parseIPv4(h.dst)
  if (src === null || dst === null) throw new RangeError(`encodeIPv4Packet: bad address ${src === null ? h.src : h.dst}`)
  const out = Buffer.alloc(IPV4_MIN_HEADER_LENGTH + payload.length)
  out[0] = 0x45
  out[1] = h.tos
  out.writeUInt16BE(out.length, 2)
  out[8] = h.ttl
  out[9] = h.protocol
  out.set(src, 12)
  out.set(dst, 16)
  out.set(payload, IPV4_MIN_HEADER_LENGTH)
  return out
}
