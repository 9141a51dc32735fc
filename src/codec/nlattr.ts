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

/** One parsed attribute. `value` is a view into the input (no copy). */
export interface NlAttr {
  /** Type with the flag bits masked off. */
  type: number
  nested: boolean
  netByteOrder: boolean
  value: Buffer
  /** Offset of the attribute header in the buffer that was parsed. */
  offset: number
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
 * walk the attributes by offset check a whole level first, so framing errors win as with parseAttrs).
 */
export function checkAttrs (buf: Uint8Array, start = 0, end = buf.length): void {
  for (let o = start; o < end;) o += nlAlign(attrLenAt(buf, o, end))
}

/** Parse the attributes in buf[start, end). Throws CodecError (NlattrErrorCode) on bad framing. */
export function parseAttrs (buf: Buffer, start = 0, end = buf.length): NlAttr[] {
  const out: NlAttr[] = []
  let o = start
  while (o < end) {
    const len = attrLenAt(buf, o, end)
    const rawType = (buf[o + 2] as number) | ((buf[o + 3] as number) << 8)
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      netByteOrder: (rawType & NLA_F_NET_BYTEORDER) !== 0,
      value: buf.subarray(o + NLA_HDRLEN, o + len),
      offset: o
    })
    o += nlAlign(len)
  }
  return out
}

/** Payload readers; the caller has checked the payload length (attribute minimum sizes). */
export const readU8 = (v: Buffer): number => v.readUInt8(0)
export const readBe16 = (v: Buffer): number => v.readUInt16BE(0)
export const readBe32 = (v: Buffer): number => v.readUInt32BE(0)
/** be64 as a JS number: exact below 2^53 (packet/byte counters, DCCP 48-bit sequence numbers). */
export const readBe64 = (v: Buffer): number => Number(v.readBigUInt64BE(0))
/** NUL-terminated string; a missing terminator is tolerated. */
export function readCString (v: Buffer): string {
  const nul = v.indexOf(0)
  return v.subarray(0, nul < 0 ? v.length : nul).toString('latin1')
}

/**
 * An attribute to encode: a leaf with payload bytes, or a nest with children. A tree of these gives
 * `encodingLength` for free; it suits small or hand-made messages (tests build malformed input with
 * it). The ctnetlink request encoder, on the hot path of a commit, writes into one buffer instead.
 */
export type AttrNode =
  | { readonly type: number, readonly value: Uint8Array }
  | { readonly type: number, readonly children: readonly AttrNode[] }

export const attrBytes = (type: number, value: Uint8Array): AttrNode => ({ type, value })
export const attrU8 = (type: number, n: number): AttrNode => ({ type, value: Uint8Array.of(n & 0xff) })
export function attrBe16 (type: number, n: number): AttrNode {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n & 0xffff)
  return { type, value: b }
}
export function attrBe32 (type: number, n: number): AttrNode {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return { type, value: b }
}
export function attrBe64 (type: number, n: number): AttrNode {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return { type, value: b }
}
export const attrCString = (type: number, s: string): AttrNode => ({ type, value: Buffer.from(s + '\0', 'latin1') })
export const attrNest = (type: number, children: readonly AttrNode[]): AttrNode => ({ type, children })

/** Bytes one attribute takes on the wire, padding included. */
export function attrLength (node: AttrNode): number {
  return nlAlign(NLA_HDRLEN + ('children' in node ? attrsLength(node.children) : node.value.length))
}

export function attrsLength (nodes: readonly AttrNode[]): number {
  let n = 0
  for (const node of nodes) n += attrLength(node)
  return n
}

/** Write attributes at `offset` (padding zeroed); returns the offset after the last one. */
export function writeAttrs (buf: Buffer, offset: number, nodes: readonly AttrNode[]): number {
  let o = offset
  for (const node of nodes) {
    const start = o
    o += NLA_HDRLEN
    if ('children' in node) {
      o = writeAttrs(buf, o, node.children)
      checkLen(node.type, o - start)
      buf.writeUInt16LE(o - start, start)
      // nests are flagged like the kernel and libmnl do, so byte-compares with real traffic hold
      buf.writeUInt16LE((node.type & NLA_TYPE_MASK) | NLA_F_NESTED, start + 2)
    } else {
      buf.set(node.value, o)
      o += node.value.length
      checkLen(node.type, o - start)
      buf.writeUInt16LE(o - start, start)
      buf.writeUInt16LE(node.type & NLA_TYPE_MASK, start + 2)
      const padded = start + nlAlign(o - start)
      buf.fill(0, o, padded)
      o = padded
    }
  }
  return o
}

function checkLen (type: number, len: number): void {
  // encoding our own data: a programming error, not wire input, hence not a CodecError
  if (len > 0xffff) throw new RangeError(`attribute ${type} too long for nla_len: ${len}`)
}

export function encodeAttrs (nodes: readonly AttrNode[]): Buffer {
  const buf = Buffer.alloc(attrsLength(nodes))
  writeAttrs(buf, 0, nodes)
  return buf
}
