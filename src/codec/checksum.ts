/**
 * The 16-bit one's-complement Internet checksum (RFC 1071) and the pseudo-header sums that
 * VRRPv3 (RFC 5798 §5.2.8) and ICMPv6 (RFC 4443 §2.3) put in front of their payload.
 *
 * The functions work on partial sums so a caller can add a pseudo-header and a payload without
 * copying them into one buffer: `finishChecksum(sumWords(payload, pseudoHeaderSum(...)))`.
 * A sum over data whose checksum field is already filled in finishes to 0 when it is valid.
 */

/** IANA protocol numbers used in pseudo-headers. */
export const IPPROTO_ICMPV6 = 58
export const IPPROTO_VRRP = 112

/**
 * Add the bytes of `data[start, end)` as big-endian 16-bit words to `sum` (RFC 1071 §4.1).
 * An odd trailing byte counts as the high byte of a word padded with zero. The result is not
 * folded; values stay far below 2^53 for any realistic packet, so plain numbers are exact.
 */
export function sumWords (data: Uint8Array, sum = 0, start = 0, end = data.length): number {
  let i = start
  for (; i + 1 < end; i += 2) sum += ((data[i] as number) << 8) | (data[i + 1] as number)
  if (i < end) sum += (data[i] as number) << 8
  return sum
}

/** Fold the carries into 16 bits and take the one's complement (RFC 1071 §4.1). */
export function finishChecksum (sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return (~sum) & 0xffff
}

/** Checksum of `data[start, end)` alone (VRRPv2, RFC 3768 §5.3.8: no pseudo-header). */
export function internetChecksum (data: Uint8Array, start = 0, end = data.length): number {
  return finishChecksum(sumWords(data, 0, start, end))
}

/**
 * Sum of the IPv4 pseudo-header: source, destination, zero, protocol, upper-layer length
 * (RFC 768 layout, used by VRRPv3 over IPv4 per RFC 5798 §5.2.8).
 */
export function ipv4PseudoHeaderSum (src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  if (src.length !== 4 || dst.length !== 4) throw new RangeError('ipv4PseudoHeaderSum: addresses must be 4 bytes')
  return sumWords(src) + sumWords(dst) + protocol + length
}

/**
 * Sum of the IPv6 pseudo-header: source, destination, 32-bit upper-layer length, 24 zero bits,
 * next header (RFC 8200 §8.1; used by VRRPv3 per RFC 5798 §5.2.8 and ICMPv6 per RFC 4443 §2.3).
 */
export function ipv6PseudoHeaderSum (src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): number {
  if (src.length !== 16 || dst.length !== 16) throw new RangeError('ipv6PseudoHeaderSum: addresses must be 16 bytes')
  return sumWords(src) + sumWords(dst) + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader
}
