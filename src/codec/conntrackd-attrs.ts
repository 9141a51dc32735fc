/**
 * conntrackd 1.4.x network attributes (`struct netattr`): the TLV walk and the NTA_* / NTA_EXP_* tables.
 *
 * Wire facts (specs/conntrackd-ftfw.md §1.5–§1.8): `nta_len` (BE u16) = 4 + unpadded payload, `nta_attr`
 * (BE u16), payload, zero padding to 4 that counts in the message `len` but not in `nta_len`. The receiver
 * (`msg2ct` in conntrackd's src/parse.c) rejects the whole payload on the first bad attribute; the checks
 * below run in its order.
 */
import { CodecError } from './errors.js'
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip.js'

/** Attribute header size (`NTA_SIZ`). */
export const NTA_HDR_SIZE = 4

/** Conntrack attribute ids (`enum nta_attr`, include/network.h). */
export const NTA = {
  IPV4: 0,
  IPV6: 1,
  L4PROTO: 2,
  PORT: 3,
  TCP_STATE: 4,
  STATUS: 5,
  TIMEOUT: 6,
  MARK: 7,
  MASTER_IPV4: 8,
  MASTER_IPV6: 9,
  MASTER_L4PROTO: 10,
  MASTER_PORT: 11,
  SNAT_IPV4: 12,
  DNAT_IPV4: 13,
  SPAT_PORT: 14,
  DPAT_PORT: 15,
  NAT_SEQ_ADJ: 16,
  SCTP_STATE: 17,
  SCTP_VTAG_ORIG: 18,
  SCTP_VTAG_REPL: 19,
  DCCP_STATE: 20,
  DCCP_ROLE: 21,
  ICMP_TYPE: 22,
  ICMP_CODE: 23,
  ICMP_ID: 24,
  TCP_WSCALE_ORIG: 25,
  TCP_WSCALE_REPL: 26,
  HELPER_NAME: 27,
  LABELS: 28,
  SNAT_IPV6: 29,
  DNAT_IPV6: 30,
  SYNPROXY: 31,
  ZONE: 32
} as const
/** First invalid conntrack attribute id (`NTA_MAX`). */
export const NTA_MAX = 33

/** Expectation attribute ids (`enum nta_exp_attr`). */
export const NTA_EXP = {
  MASTER_IPV4: 0,
  MASTER_IPV6: 1,
  MASTER_L4PROTO: 2,
  MASTER_PORT: 3,
  EXPECT_IPV4: 4,
  EXPECT_IPV6: 5,
  EXPECT_L4PROTO: 6,
  EXPECT_PORT: 7,
  MASK_IPV4: 8,
  MASK_IPV6: 9,
  MASK_L4PROTO: 10,
  MASK_PORT: 11,
  TIMEOUT: 12,
  FLAGS: 13,
  CLASS: 14,
  NAT_IPV4: 15,
  NAT_PORT: 16,
  NAT_L4PROTO: 17,
  NAT_DIR: 18,
  HELPER_NAME: 19,
  FN: 20
} as const
export const NTA_EXP_MAX = 21

/**
 * Size rule of one attribute id: `size` = exact payload size (fixed attributes, `nta_len` must be 4 + size),
 * or `maxLen` = largest accepted `nta_len` (variable attributes).
 */
export type AttrRule = { size: number } | { maxLen: number }

/** §1.6: payload sizes indexed by NTA_* id. */
export const CT_ATTR_RULES: readonly AttrRule[] = [
  { size: 8 }, { size: 32 }, { size: 1 }, { size: 4 }, { size: 1 }, { size: 4 }, { size: 4 }, { size: 4 },
  { size: 8 }, { size: 32 }, { size: 1 }, { size: 4 }, { size: 4 }, { size: 4 }, { size: 2 }, { size: 2 },
  { size: 24 }, { size: 1 }, { size: 4 }, { size: 4 }, { size: 1 }, { size: 1 }, { size: 1 }, { size: 1 },
  { size: 2 }, { size: 1 }, { size: 1 },
  { maxLen: 16 }, // NTA_HELPER_NAME: NUL-terminated, so at most 11 characters
  { maxLen: 1028 }, // NTA_LABELS: up to 256 words
  { size: 16 }, { size: 16 }, { size: 12 }, { size: 2 }
]

/** §1.8: payload sizes indexed by NTA_EXP_* id. */
export const EXP_ATTR_RULES: readonly AttrRule[] = [
  { size: 8 }, { size: 32 }, { size: 1 }, { size: 4 }, { size: 8 }, { size: 32 }, { size: 1 }, { size: 4 },
  { size: 8 }, { size: 32 }, { size: 1 }, { size: 4 }, { size: 4 }, { size: 4 }, { size: 4 }, { size: 8 },
  { size: 4 }, { size: 1 }, { size: 4 }, { maxLen: 16 }, { maxLen: 32 }
]

/** One raw attribute as found on the wire (payload without padding). */
export interface RawAttr {
  id: number
  /** Byte offset of the attribute header within the buffer that was walked. */
  offset: number
  value: Uint8Array
}

export type AttrErrorCode = 'CTD_ATTR_TRUNCATED' | 'CTD_BAD_ATTR_LEN' | 'CTD_ATTR_OUT_OF_RANGE' | 'CTD_ATTR_TOO_LONG'

/**
 * Walk an attribute area the way `msg2ct` / `msg2exp` do. Checks, in order, for each attribute:
 *   1. nta_len > remaining area          → CTD_ATTR_TRUNCATED
 *   2. nta_len < 4                       → CTD_BAD_ATTR_LEN
 *   3. nta_attr ≥ max id                 → CTD_ATTR_OUT_OF_RANGE
 *   4. fixed size and nta_len ≠ 4 + size → CTD_BAD_ATTR_LEN (padding must not be counted)
 *   5. variable and nta_len > its max    → CTD_ATTR_TOO_LONG
 * The loop runs while more than 4 bytes remain, so up to 4 trailing bytes are ignored, and it advances by
 * nta_len rounded up to 4 (a final attribute may omit its padding).
 */
export function walkAttrs (buf: Uint8Array, start: number, end: number, rules: readonly AttrRule[]): RawAttr[] {
  const out: RawAttr[] = []
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  let off = start
  while (end - off > NTA_HDR_SIZE) {
    const ntaLen = view.getUint16(off)
    const id = view.getUint16(off + 2)
    if (ntaLen > end - off) throw new CodecError<AttrErrorCode>('CTD_ATTR_TRUNCATED', `attribute ${id} nta_len ${ntaLen} exceeds the ${end - off} bytes left`, off)
    if (ntaLen < NTA_HDR_SIZE) throw new CodecError<AttrErrorCode>('CTD_BAD_ATTR_LEN', `attribute ${id} nta_len ${ntaLen} < 4`, off)
    const rule = rules[id]
    if (rule === undefined) throw new CodecError<AttrErrorCode>('CTD_ATTR_OUT_OF_RANGE', `attribute id ${id} ≥ ${rules.length}`, off)
    if ('size' in rule) {
      if (ntaLen !== NTA_HDR_SIZE + rule.size) throw new CodecError<AttrErrorCode>('CTD_BAD_ATTR_LEN', `attribute ${id} nta_len ${ntaLen}, expected ${NTA_HDR_SIZE + rule.size}`, off)
    } else if (ntaLen > rule.maxLen) {
      throw new CodecError<AttrErrorCode>('CTD_ATTR_TOO_LONG', `attribute ${id} nta_len ${ntaLen} > max ${rule.maxLen}`, off)
    }
    out.push({ id, offset: off, value: buf.subarray(off + NTA_HDR_SIZE, off + ntaLen) })
    off += align4(ntaLen)
  }
  return out
}

export function align4 (n: number): number {
  return (n + 3) & ~3
}

/**
 * Upper bound of the attribute area of one conntrack message: every NTA_* attribute once at its largest
 * (fixed size, or the variable maximum), padded. Both address families are counted, so it is loose; the
 * encoder writes into buffers of at least this many bytes without checking as it goes.
 */
export const CT_ATTRS_MAX_BYTES = CT_ATTR_RULES.reduce((n, r) => n + align4('size' in r ? NTA_HDR_SIZE + r.size : r.maxLen), 0)

/**
 * Write an attribute header (`nta_len` = 4 + payload, `nta_attr`) at `off` and zero the padding after the
 * payload (§1.5: padding counts in the message `len`, not in `nta_len`). Returns where the payload goes; the
 * attribute ends at `off + align4(4 + payloadLen)`. Direct stores, no per-attribute buffer: the sender writes
 * every message of a transmit round straight into the datagram it will be sent in.
 */
export function putAttrHeader (out: Uint8Array, off: number, id: number, payloadLen: number): number {
  const ntaLen = NTA_HDR_SIZE + payloadLen
  out[off] = ntaLen >>> 8
  out[off + 1] = ntaLen & 0xff
  out[off + 2] = id >>> 8
  out[off + 3] = id & 0xff
  const end = off + align4(ntaLen)
  for (let i = off + ntaLen; i < end; i++) out[i] = 0
  return off + NTA_HDR_SIZE
}

export function putU16be (out: Uint8Array, off: number, n: number): void {
  out[off] = n >>> 8
  out[off + 1] = n & 0xff
}

/** HOST-LE quirk (§1.6): conntrackd on x86/arm64 puts some u16 values on the wire little-endian. */
export function putU16le (out: Uint8Array, off: number, n: number): void {
  out[off] = n & 0xff
  out[off + 1] = n >>> 8
}

export function putU32be (out: Uint8Array, off: number, n: number): void {
  out[off] = n >>> 24
  out[off + 1] = (n >>> 16) & 0xff
  out[off + 2] = (n >>> 8) & 0xff
  out[off + 3] = n & 0xff
}

// ---- value helpers shared by the encoder and decoder ----

export function u16be (b: Uint8Array, o = 0): number { return ((b[o] as number) << 8) | (b[o + 1] as number) }
export function u16le (b: Uint8Array, o = 0): number { return (b[o] as number) | ((b[o + 1] as number) << 8) }
export function u32be (b: Uint8Array, o = 0): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0
}

export function ipText (b: Uint8Array, o: number, family: 'ipv4' | 'ipv6'): string {
  return family === 'ipv4' ? formatIPv4(b, o) : formatIPv6(b, o)
}

export function ipBytes (text: string, family: 'ipv4' | 'ipv6', field: string): Uint8Array {
  const b = family === 'ipv4' ? parseIPv4(text) : parseIPv6(text)
  if (b === null) throw new CodecError('CTD_ENCODE_INVALID', `${field}: not an ${family} address: ${text}`)
  return b
}
