/**
 * Netlink attributes (`struct nlattr`, [UAPI] linux/netlink.h): u16 nla_len, u16 nla_type, payload,
 * padding to a 4-byte boundary. nla_len counts header + payload, not the padding.
 *
 * Byte order: the nlattr HEADER is in host order. hafw runs on little-endian Linux (x86-64, arm64,
 * and every other platform Debian ships conntrackd for except s390x), so header fields are read and
 * written explicitly as little-endian; a big-endian host would need this module changed. PAYLOAD
 * integers are not this module's concern: ctnetlink sends them in network order (be16/be32/be64),
 * so the read/write helpers below are named by their byte order.
 *
 * The type field's two top bits are flags: NLA_F_NESTED (the kernel sets it on every ctnetlink nest)
 * and NLA_F_NET_BYTEORDER. They are masked off the type and reported separately.
 *
 * Validation order for each attribute, at offset `o` of a region ending at `end`:
 *   1. at least 4 bytes left for the header, else NLA_SHORT_HEADER;
 *   2. nla_len >= 4, else NLA_BAD_LENGTH;
 *   3. o + nla_len <= end, else NLA_OVERRUN.
 * The last attribute's padding may be missing at the very end of the region (its length is not
 * counted in nla_len), but any other leftover is caught by step 1.
 */
import { CodecError } from './errors.js'

export const NLA_HDRLEN = 4
export const NLA_F_NESTED = 0x8000
export const NLA_F_NET_BYTEORDER = 0x4000
export const NLA_TYPE_MASK = 0x3fff

export type NlattrErrorCode = 'NLA_SHORT_HEADER' | 'NLA_BAD_LENGTH' | 'NLA_OVERRUN'
export const NLATTR_ERROR_CODES: readonly NlattrErrorCode[] = ['NLA_SHORT_HEADER', 'NLA_BAD_LENGTH', 'NLA_OVERRUN']

/** Round up to the netlink alignment (NLA_ALIGNTO = NLMSG_ALIGNTO = 4). */
export function nlAlign (n: number): number {
  return (n + 3) & ~3
}

/**
 * Check the header of the attribute at `o` of a region ending at `end` (steps 1–3 above) and return
 * its nla_len. Throws CodecError (NlattrErrorCode).
 */
export function attrLenAt (buf: Uint8Array, o: number, end: number): number {
  if (end - o < NLA_HDRLEN) throw new CodecError<NlattrErrorCode>('NLA_SHORT_HEADER', `${end - o} bytes left, attribute header needs 4`, o)
  const len = (buf[o] as number) | ((buf[o + 1] as number) << 8)
  if (len < NLA_HDRLEN) throw new CodecError<NlattrErrorCode>('NLA_BAD_LENGTH', `nla_len ${len} < 4`, o)
  if (o + len > end) throw new CodecError<NlattrErrorCode>('NLA_OVERRUN', `nla_len ${len} runs ${o + len - end} bytes past the end`, o)
  return len
}

/**
 * Check the framing of every attribute in buf[start, end) without building anything (decoders that
 * walk the attributes by offset check a whole level first, so framing errors win over content errors).
 */
export function checkAttrs (buf: Uint8Array, start = 0, end = buf.length): void {
  for (let o = start; o < end;) o += nlAlign(attrLenAt(buf, o, end))
}

// ---------------------------------------------------------------------------------------------
// Writing (host byte order headers, as the kernel reads them): the fixed-size attributes the
// ctnetlink requests carry. Each writes a whole aligned attribute, padding included, and returns
// the offset after it. Used by the request encoder (ctnetlink-request.ts) and by the commit's
// writer from packed records (core/conntrack/record-request.ts), so both put the same bytes.

/** nlattr header: nla_len, nla_type. */
export function writeAttrHeader (buf: Uint8Array, o: number, len: number, type: number): void {
  buf[o] = len
  buf[o + 1] = len >>> 8
  buf[o + 2] = type
  buf[o + 3] = type >>> 8
}

/** Close a nest opened at `start` (its 4 header bytes reserved), flagged NLA_F_NESTED like the kernel. */
export function writeNestEnd (buf: Uint8Array, start: number, end: number, type: number): number {
  const len = end - start
  // encoding our own data: a programming error, not wire input
  if (len > 0xffff) throw new RangeError(`attribute ${type} too long for nla_len: ${len}`)
  writeAttrHeader(buf, start, len, (type & NLA_TYPE_MASK) | NLA_F_NESTED)
  return end
}

/** u8 payload (low 8 bits), 3 bytes of padding. */
export function writeU8Attr (buf: Uint8Array, o: number, type: number, v: number): number {
  writeAttrHeader(buf, o, 5, type)
  buf[o + 4] = v & 0xff
  buf[o + 5] = 0
  buf[o + 6] = 0
  buf[o + 7] = 0
  return o + 8
}

/** Two raw bytes (e.g. struct nf_ct_tcp_flags), 2 bytes of padding. */
export function writeU8PairAttr (buf: Uint8Array, o: number, type: number, a: number, b: number): number {
  writeAttrHeader(buf, o, 6, type)
  buf[o + 4] = a
  buf[o + 5] = b
  buf[o + 6] = 0
  buf[o + 7] = 0
  return o + 8
}

/** Big-endian u16 (low 16 bits), 2 bytes of padding. */
export function writeBe16Attr (buf: Uint8Array, o: number, type: number, v: number): number {
  const n = v & 0xffff
  writeAttrHeader(buf, o, 6, type)
  buf[o + 4] = n >>> 8
  buf[o + 5] = n
  buf[o + 6] = 0
  buf[o + 7] = 0
  return o + 8
}

/** Big-endian u32. */
export function writeBe32Attr (buf: Uint8Array, o: number, type: number, v: number): number {
  const n = v >>> 0
  writeAttrHeader(buf, o, 8, type)
  buf[o + 4] = n >>> 24
  buf[o + 5] = n >>> 16
  buf[o + 6] = n >>> 8
  buf[o + 7] = n
  return o + 8
}
