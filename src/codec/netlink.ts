/**
 * Netlink message framing (`struct nlmsghdr`, [UAPI] linux/netlink.h) and the nfnetlink header
 * (`struct nfgenmsg`, linux/netfilter/nfnetlink.h).
 *
 * nlmsghdr is 16 bytes in HOST order: u32 len, u16 type, u16 flags, u32 seq, u32 pid. As in nlattr.ts
 * the host is assumed little-endian and the fields are read/written explicitly as LE.
 * nfgenmsg is 4 bytes: u8 family, u8 version, be16 res_id (the only big-endian field here).
 *
 * Validation order for each message at offset `o` of a receive buffer:
 *   1. at least 16 bytes left, else NLMSG_SHORT_HEADER;
 *   2. nlmsg_len >= 16, else NLMSG_BAD_LENGTH;
 *   3. o + nlmsg_len <= buffer end, else NLMSG_OVERRUN.
 * Messages are 4-byte aligned; a final message may lack its padding.
 */
import { CodecError } from './errors.js'
import { nlAlign } from './nlattr.js'

export const NLMSG_HDRLEN = 16
export const NFGENMSG_LEN = 4

export type NetlinkErrorCode =
  | 'NLMSG_SHORT_HEADER'
  | 'NLMSG_BAD_LENGTH'
  | 'NLMSG_OVERRUN'
  | 'NLMSG_ERROR_TRUNCATED'
  | 'NFGENMSG_TRUNCATED'
export const NETLINK_ERROR_CODES: readonly NetlinkErrorCode[] = ['NLMSG_SHORT_HEADER', 'NLMSG_BAD_LENGTH',
  'NLMSG_OVERRUN', 'NLMSG_ERROR_TRUNCATED', 'NFGENMSG_TRUNCATED']

/** Control message types. */
export const NlMsgType = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const

/** nlmsg_flags. GET requests use ROOT/MATCH (DUMP = both), NEW requests REPLACE/EXCL/CREATE/APPEND. */
export const NlmF = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  /** On NLMSG_ERROR: only the original header is echoed, not its payload. */
  CAPPED: 0x100,
  /** On NLMSG_ERROR: extended ack TLVs follow. */
  ACK_TLVS: 0x200
} as const

export const AF = { UNSPEC: 0, INET: 2, INET6: 10 } as const
export const NFNETLINK_V0 = 0
export const NFNETLINK_V1 = 1

export interface NlMsgHeader {
  len: number
  type: number
  flags: number
  seq: number
  pid: number
}

/** One framed message: header plus a view of its payload (bytes after the 16-byte header). */
export interface NlMessage {
  header: NlMsgHeader
  payload: Buffer
  /** Offset of the header in the parsed buffer. */
  offset: number
}

export function decodeNlMsgHeader (buf: Buffer, offset = 0): NlMsgHeader {
  if (buf.length - offset < NLMSG_HDRLEN) {
    throw new CodecError<NetlinkErrorCode>('NLMSG_SHORT_HEADER', `${buf.length - offset} bytes left, nlmsghdr needs 16`, offset)
  }
  return {
    len: buf.readUInt32LE(offset),
    type: buf.readUInt16LE(offset + 4),
    flags: buf.readUInt16LE(offset + 6),
    seq: buf.readUInt32LE(offset + 8),
    pid: buf.readUInt32LE(offset + 12)
  }
}

/** Split one recv() buffer into messages. Throws CodecError (NetlinkErrorCode) on bad framing. */
export function splitMessages (buf: Buffer): NlMessage[] {
  const out: NlMessage[] = []
  let o = 0
  while (o < buf.length) {
    const header = decodeNlMsgHeader(buf, o)
    if (header.len < NLMSG_HDRLEN) throw new CodecError<NetlinkErrorCode>('NLMSG_BAD_LENGTH', `nlmsg_len ${header.len} < 16`, o)
    if (o + header.len > buf.length) {
      throw new CodecError<NetlinkErrorCode>('NLMSG_OVERRUN', `nlmsg_len ${header.len} runs ${o + header.len - buf.length} bytes past the end`, o)
    }
    out.push({ header, payload: buf.subarray(o + NLMSG_HDRLEN, o + header.len), offset: o })
    o += nlAlign(header.len)
  }
  return out
}

/** Frame a payload; `len` is computed. */
export function encodeNlMsg (h: Omit<NlMsgHeader, 'len'>, payload: Uint8Array): Buffer {
  const buf = Buffer.alloc(NLMSG_HDRLEN + payload.length)
  writeNlMsgHeader(buf, 0, { ...h, len: buf.length })
  buf.set(payload, NLMSG_HDRLEN)
  return buf
}

export function writeNlMsgHeader (buf: Buffer, offset: number, h: NlMsgHeader): void {
  buf.writeUInt32LE(h.len >>> 0, offset)
  buf.writeUInt16LE(h.type, offset + 4)
  buf.writeUInt16LE(h.flags, offset + 6)
  buf.writeUInt32LE(h.seq >>> 0, offset + 8)
  buf.writeUInt32LE(h.pid >>> 0, offset + 12)
}

/**
 * NLMSG_ERROR payload: s32 error (0 = ACK, else -errno) then the request's header, followed by its
 * payload unless the kernel capped the echo (NLM_F_CAPPED), then optional extended-ack TLVs.
 */
export interface NlError {
  /** Positive errno, 0 for an ACK. */
  errno: number
  /** Header of the request this answers (match on `seq`). */
  request: NlMsgHeader
}

export function decodeNlError (msg: NlMessage): NlError {
  if (msg.payload.length < 4 + NLMSG_HDRLEN) {
    throw new CodecError<NetlinkErrorCode>('NLMSG_ERROR_TRUNCATED', `NLMSG_ERROR payload ${msg.payload.length} bytes, needs 20`, msg.offset + NLMSG_HDRLEN)
  }
  const error = msg.payload.readInt32LE(0)
  return { errno: error === 0 ? 0 : -error, request: decodeNlMsgHeader(msg.payload, 4) }
}

export interface NfGenMsg {
  /** AF_UNSPEC 0, AF_INET 2, AF_INET6 10. */
  family: number
  version: number
  /** be16 on the wire. */
  resId: number
}

export function decodeNfGenMsg (payload: Buffer, baseOffset = 0): NfGenMsg {
  if (payload.length < NFGENMSG_LEN) {
    throw new CodecError<NetlinkErrorCode>('NFGENMSG_TRUNCATED', `payload ${payload.length} bytes, nfgenmsg needs 4`, baseOffset)
  }
  return { family: payload.readUInt8(0), version: payload.readUInt8(1), resId: payload.readUInt16BE(2) }
}

export function writeNfGenMsg (buf: Buffer, offset: number, g: NfGenMsg): void {
  buf.writeUInt8(g.family, offset)
  buf.writeUInt8(g.version, offset + 1)
  buf.writeUInt16BE(g.resId, offset + 2)
}
