// Netlink attribute tools for tests: parse a message into attribute objects and build (also
// malformed) messages from a tree. The daemon's decoder walks attributes by offset and its encoder
// writes in one pass (src/codec/ctnetlink*.ts); these slower, simpler forms serve as independent
// readers and writers of test input.
import { attrLenAt, nlAlign, NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK } from '../../src/codec/nlattr.js'

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
