/**
 * conntrackd 1.4.x network messages (FTFW over UDP or multicast): header, control messages, datagram walk and
 * packing. Wire facts: specs/conntrackd-ftfw.md §1, confirmed against conntrackd 1.4.7 captures in
 * test/fixtures/captures/conntrackd/.
 *
 * The codec only answers "is this a well-formed message, and what does it say". Sequence tracking, ACK windows,
 * HELLO handling and resend queues are the FTFW core's job (src/core/sync/).
 */
import { CodecError } from './errors.js'
import { EXP_ATTR_RULES, walkAttrs } from './conntrackd-attrs.js'
import { readCtAttrs, writeCtAttrs, type CtAttrs } from './conntrackd-ct.js'

export type { CtAttrs, NatSeqAdj, Synproxy } from './conntrackd-ct.js'
export { NTA, NTA_EXP, NTA_MAX, NTA_EXP_MAX } from './conntrackd-attrs.js'

/** `CONNTRACKD_PROTOCOL_VERSION` */
export const CTD_PROTOCOL_VERSION = 1
/** `struct nethdr` size (`NETHDR_SIZ`). */
export const NETHDR_SIZE = 8
/** `struct nethdr_ack` size (`NETHDR_ACK_SIZ`): header + from + to. */
export const NETHDR_ACK_SIZE = 16
/** IPv4 + UDP header bytes taken off the interface MTU for the send buffer (`headersiz`, §1.1). */
export const CTD_DATAGRAM_OVERHEAD = 28
/** Largest message `len` (u16). */
export const CTD_MAX_MESSAGE_LEN = 0xffff

/** Message types (`NET_T_*`, §1.4). */
export const NetType = {
  CT_NEW: 0,
  CT_UPD: 1,
  CT_DEL: 2,
  EXP_NEW: 3,
  EXP_UPD: 4,
  EXP_DEL: 5,
  CTL: 10
} as const
/** `NET_T_STATE_MAX`: highest data type. */
export const NET_T_STATE_MAX = 5

/** Header flags (`NET_F_*`, §1.4). */
export const NetFlag = {
  UNUSED: 0x01,
  RESYNC: 0x02,
  NACK: 0x04,
  ACK: 0x08,
  ALIVE: 0x10,
  HELLO: 0x20,
  HELLO_BACK: 0x40
} as const
const HELLO_BITS = NetFlag.HELLO | NetFlag.HELLO_BACK

/** Every CodecError code this codec (and its attribute walker) can throw: a closed set, one drop counter each. */
export const CTD_ERROR_CODES = [
  /** Fewer than 8 bytes left for a header, fewer than 16 for an ACK/NACK/RESYNC, or `len` > bytes left. */
  'CTD_TRUNCATED',
  /** `len` is 0, below 8, or below 16 for ACK/NACK/RESYNC. */
  'CTD_BAD_LENGTH',
  /** Version nibble is not 1. */
  'CTD_BAD_VERSION',
  /** Type is neither a data type (0–5) nor control (10). */
  'CTD_BAD_TYPE',
  /** conntrackd classifies the flags as BAD: data with control bits, or control without ACK/NACK/RESYNC/ALIVE. */
  'CTD_BAD_FLAGS',
  /** An attribute's nta_len exceeds the bytes left in the message. */
  'CTD_ATTR_TRUNCATED',
  /** nta_len < 4, or a fixed-size attribute whose nta_len is not exactly 4 + size. */
  'CTD_BAD_ATTR_LEN',
  /** Attribute id ≥ NTA_MAX (33) or ≥ NTA_EXP_MAX (21). */
  'CTD_ATTR_OUT_OF_RANGE',
  /** A variable attribute (helper name, labels, expectation strings) longer than its maximum. */
  'CTD_ATTR_TOO_LONG',
  /** encode: a field value that cannot be put on the wire (bad address, out-of-range number, oversize). */
  'CTD_ENCODE_INVALID'
] as const
export type CtdErrorCode = (typeof CTD_ERROR_CODES)[number]

/** The raw 8-byte header (`struct nethdr`), fields in host order. */
export interface NetHeader {
  version: number
  type: number
  flags: number
  /** Total message length, header and attribute padding included. */
  len: number
  seq: number
}

interface CommonFields {
  /** Sender's sequence number (§3.1). */
  seq: number
  /** NET_F_HELLO: the sender has not yet seen our HELLO_BACK (§3.6). */
  hello: boolean
  /** NET_F_HELLO_BACK: answer to a HELLO we sent. */
  helloBack: boolean
}

export type CtEvent = 'new' | 'upd' | 'del'

/** NET_T_STATE_CT_NEW / UPD / DEL. */
export interface CtdCtMessage extends CommonFields {
  kind: 'ct'
  event: CtEvent
  attrs: CtAttrs
}

/** One expectation attribute, size-checked but otherwise left raw (payload without padding). */
export interface ExpAttr {
  id: number
  value: Uint8Array
}

/** NET_T_STATE_EXP_NEW / UPD / DEL. Expectation payloads are validated (§1.8 sizes) but kept opaque. */
export interface CtdExpMessage extends CommonFields {
  kind: 'exp'
  event: CtEvent
  attrs: ExpAttr[]
}

/** ACK, NACK and RESYNC share the 16-byte header; [from, to] is inclusive (RESYNC sends 0, 0). */
export interface CtdRangeMessage extends CommonFields {
  kind: 'ack' | 'nack' | 'resync'
  from: number
  to: number
}

export interface CtdAliveMessage extends CommonFields {
  kind: 'alive'
}

export type CtdMessage = CtdCtMessage | CtdExpMessage | CtdRangeMessage | CtdAliveMessage
export type CtdMessageKind = CtdMessage['kind']

const EVENTS: readonly CtEvent[] = ['new', 'upd', 'del']
const RANGE_FLAG = { ack: NetFlag.ACK, nack: NetFlag.NACK, resync: NetFlag.RESYNC } as const

function err (code: CtdErrorCode, message: string, offset?: number): CodecError<CtdErrorCode> {
  return new CodecError<CtdErrorCode>(code, message, offset)
}

/** `IS_ACK || IS_NACK || IS_RESYNC`: these carry the 16-byte header (§1.3). */
function isRangeHeader (type: number, flags: number): boolean {
  return type === NetType.CTL && (flags & (NetFlag.ACK | NetFlag.NACK | NetFlag.RESYNC)) !== 0
}

/** Read the 8-byte header at `offset` (needs 8 bytes). */
export function readHeader (buf: Uint8Array, offset = 0): NetHeader {
  if (buf.length - offset < NETHDR_SIZE) throw err('CTD_TRUNCATED', `${buf.length - offset} bytes left, header needs ${NETHDR_SIZE}`, offset)
  const b0 = buf[offset] as number
  const v = new DataView(buf.buffer, buf.byteOffset + offset, NETHDR_SIZE)
  return { version: b0 >> 4, type: b0 & 0x0f, flags: buf[offset + 1] as number, len: v.getUint16(2), seq: v.getUint32(4) }
}

/**
 * Frame check, exactly conntrackd's datagram walk (`channel_handler_routine`, §1.1). A failure here means
 * conntrackd stops processing the rest of the datagram. Returns the header.
 *   1. < 8 bytes left                           → CTD_TRUNCATED
 *   2. len == 0                                 → CTD_BAD_LENGTH
 *   3. len > bytes left                         → CTD_TRUNCATED
 *   4. ACK/NACK/RESYNC with < 16 bytes left     → CTD_TRUNCATED
 *      ACK/NACK/RESYNC with len < 16            → CTD_BAD_LENGTH
 *      any other message with len < 8           → CTD_BAD_LENGTH
 */
export function frameMessage (buf: Uint8Array, offset = 0): NetHeader {
  const h = readHeader(buf, offset)
  const remain = buf.length - offset
  if (h.len === 0) throw err('CTD_BAD_LENGTH', 'len is 0', offset)
  if (h.len > remain) throw err('CTD_TRUNCATED', `len ${h.len} > ${remain} bytes left`, offset)
  if (isRangeHeader(h.type, h.flags)) {
    if (remain < NETHDR_ACK_SIZE) throw err('CTD_TRUNCATED', `${remain} bytes left, ACK header needs ${NETHDR_ACK_SIZE}`, offset)
    if (h.len < NETHDR_ACK_SIZE) throw err('CTD_BAD_LENGTH', `len ${h.len} < ${NETHDR_ACK_SIZE} for ACK/NACK/RESYNC`, offset)
  } else if (h.len < NETHDR_SIZE) {
    throw err('CTD_BAD_LENGTH', `len ${h.len} < ${NETHDR_SIZE}`, offset)
  }
  return h
}

/**
 * Classify a framed header (§1.4, `IS_*` macros and `digest_msg`): version, then type, then flags.
 * DATA = type ≤ 5 with only HELLO bits; control = type 10 with ACK, else NACK, else RESYNC, else ALIVE.
 */
export function classify (h: NetHeader, offset = 0): CtdMessageKind {
  if (h.version !== CTD_PROTOCOL_VERSION) throw err('CTD_BAD_VERSION', `version ${h.version}`, offset)
  if (h.type <= NET_T_STATE_MAX) {
    if ((h.flags & ~HELLO_BITS) !== 0) throw err('CTD_BAD_FLAGS', `data message with flags 0x${h.flags.toString(16)}`, offset)
    return h.type <= NetType.CT_DEL ? 'ct' : 'exp'
  }
  if (h.type !== NetType.CTL) throw err('CTD_BAD_TYPE', `type ${h.type}`, offset)
  if ((h.flags & NetFlag.ACK) !== 0) return 'ack'
  if ((h.flags & NetFlag.NACK) !== 0) return 'nack'
  if ((h.flags & NetFlag.RESYNC) !== 0) return 'resync'
  if ((h.flags & NetFlag.ALIVE) !== 0) return 'alive'
  throw err('CTD_BAD_FLAGS', `control message with flags 0x${h.flags.toString(16)}`, offset)
}

/**
 * Decode one message at `offset`: frame check, classification, then the payload (attribute errors:
 * CTD_ATTR_*). Returns the message and the bytes it occupies (`len`). Throws CodecError only.
 */
export function decodeMessage (buf: Uint8Array, offset = 0): { message: CtdMessage, length: number } {
  const h = frameMessage(buf, offset)
  return { message: decodeFramed(buf, offset, h), length: h.len }
}

function decodeFramed (buf: Uint8Array, offset: number, h: NetHeader): CtdMessage {
  const kind = classify(h, offset)
  const common: CommonFields = { seq: h.seq, hello: (h.flags & NetFlag.HELLO) !== 0, helloBack: (h.flags & NetFlag.HELLO_BACK) !== 0 }
  const end = offset + h.len
  switch (kind) {
    case 'ct':
      return { kind, event: EVENTS[h.type] as CtEvent, ...common, attrs: readCtAttrs(buf, offset + NETHDR_SIZE, end) }
    case 'exp':
      return {
        kind,
        event: EVENTS[h.type - NetType.EXP_NEW] as CtEvent,
        ...common,
        attrs: walkAttrs(buf, offset + NETHDR_SIZE, end, EXP_ATTR_RULES).map(a => ({ id: a.id, value: Uint8Array.from(a.value) }))
      }
    case 'ack':
    case 'nack':
    case 'resync': {
      const v = new DataView(buf.buffer, buf.byteOffset + offset, NETHDR_ACK_SIZE)
      return { kind, ...common, from: v.getUint32(8), to: v.getUint32(12) }
    }
    case 'alive':
      return { kind, ...common }
  }
}

/** A message conntrackd would not process, with where and why. */
export interface CtdMalformed {
  code: CtdErrorCode
  /** Offset in the datagram of the message (of the attribute, for CTD_ATTR_* / CTD_BAD_ATTR_LEN). */
  offset: number
  /** Offset in the datagram where the message starts. */
  messageOffset: number
  /** Number of good messages before this one in `messages` (to merge the two lists in wire order). */
  index: number
  /**
   * The header, when the message was framed correctly (every code but CTD_TRUNCATED / CTD_BAD_LENGTH).
   * FTFW needs it: a data message with a bad payload is still sequenced and acknowledged by conntrackd (§3.4).
   */
  header?: NetHeader
  /** True when conntrackd stops walking the datagram here (framing errors, §1.1). */
  stop: boolean
}

export interface CtdDatagram {
  messages: CtdMessage[]
  malformed: CtdMalformed[]
}

/**
 * Walk a datagram like conntrackd (§1.1): messages back to back, each advancing by `len` (not necessarily a
 * multiple of 4). A framing error stops the walk; a message rejected for version, type, flags or payload is
 * reported and the walk goes on. Never throws.
 */
export function decodeDatagram (buf: Uint8Array): CtdDatagram {
  const messages: CtdMessage[] = []
  const malformed: CtdMalformed[] = []
  let off = 0
  while (off < buf.length) {
    let h: NetHeader
    try {
      h = frameMessage(buf, off)
    } catch (e) {
      malformed.push({ ...codeOf(e, off), messageOffset: off, index: messages.length, stop: true })
      break
    }
    try {
      messages.push(decodeFramed(buf, off, h))
    } catch (e) {
      malformed.push({ ...codeOf(e, off), messageOffset: off, index: messages.length, header: h, stop: false })
    }
    off += h.len
  }
  return { messages, malformed }
}

function codeOf (e: unknown, offset: number): { code: CtdErrorCode, offset: number } {
  if (e instanceof CodecError) return { code: e.code as CtdErrorCode, offset: e.offset ?? offset }
  throw e
}

function flagsOf (m: CtdMessage): number {
  let f = (m.hello ? NetFlag.HELLO : 0) | (m.helloBack ? NetFlag.HELLO_BACK : 0)
  if (m.kind === 'ack' || m.kind === 'nack' || m.kind === 'resync') f |= RANGE_FLAG[m.kind]
  else if (m.kind === 'alive') f |= NetFlag.ALIVE
  return f
}

function typeOf (m: CtdMessage): number {
  switch (m.kind) {
    case 'ct': return NetType.CT_NEW + EVENTS.indexOf(m.event)
    case 'exp': return NetType.EXP_NEW + EVENTS.indexOf(m.event)
    default: return NetType.CTL
  }
}

function checkU32 (v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw err('CTD_ENCODE_INVALID', `${field}: ${v} is not a u32`)
  return v
}

function expPayload (attrs: readonly ExpAttr[]): Uint8Array[] {
  return attrs.map(a => {
    const rule = EXP_ATTR_RULES[a.id]
    if (rule === undefined) throw err('CTD_ENCODE_INVALID', `expectation attribute id ${a.id} ≥ ${EXP_ATTR_RULES.length}`)
    const ok = 'size' in rule ? a.value.length === rule.size : 4 + a.value.length <= rule.maxLen
    if (!ok) throw err('CTD_ENCODE_INVALID', `expectation attribute ${a.id}: bad size ${a.value.length}`)
    const b = new Uint8Array((4 + a.value.length + 3) & ~3)
    const v = new DataView(b.buffer)
    v.setUint16(0, 4 + a.value.length)
    v.setUint16(2, a.id)
    b.set(a.value, 4)
    return b
  })
}

/** Bytes `encodeMessage(m)` produces (= the header `len`). */
export function encodingLength (m: CtdMessage): number {
  switch (m.kind) {
    case 'ct': return NETHDR_SIZE + writeCtAttrs(m.attrs).length
    case 'exp': return NETHDR_SIZE + expPayload(m.attrs).reduce((n, b) => n + b.length, 0)
    case 'alive': return NETHDR_SIZE
    default: return NETHDR_ACK_SIZE
  }
}

/**
 * Encode one message as conntrackd sends it: byte 0 = 0x10 | type, flags, BE len (padding included), BE seq;
 * ACK/NACK/RESYNC add BE from and to; data messages carry attributes in conntrackd's order (§1.7).
 */
export function encodeMessage (m: CtdMessage): Buffer {
  let body: Uint8Array[] = []
  let size: number
  if (m.kind === 'ct') {
    const w = writeCtAttrs(m.attrs)
    const b = new Uint8Array(w.length)
    w.writeTo(b, 0)
    body = [b]
    size = NETHDR_SIZE + w.length
  } else if (m.kind === 'exp') {
    body = expPayload(m.attrs)
    size = NETHDR_SIZE + body.reduce((n, b) => n + b.length, 0)
  } else {
    size = m.kind === 'alive' ? NETHDR_SIZE : NETHDR_ACK_SIZE
  }
  if (size > CTD_MAX_MESSAGE_LEN) throw err('CTD_ENCODE_INVALID', `message of ${size} bytes exceeds ${CTD_MAX_MESSAGE_LEN}`)
  const out = Buffer.alloc(size)
  out[0] = (CTD_PROTOCOL_VERSION << 4) | typeOf(m)
  out[1] = flagsOf(m)
  out.writeUInt16BE(size, 2)
  out.writeUInt32BE(checkU32(m.seq, 'seq'), 4)
  if (m.kind === 'ack' || m.kind === 'nack' || m.kind === 'resync') {
    out.writeUInt32BE(checkU32(m.from, 'range start (from)'), 8)
    out.writeUInt32BE(checkU32(m.to, 'range end (to)'), 12)
  }
  let off = NETHDR_SIZE
  for (const b of body) { out.set(b, off); off += b.length }
  return out
}

/**
 * Pack messages into datagrams as conntrackd's buffered channel does (§1.1, `channel_send`): a buffer of
 * `mtu − 28` bytes; a message is appended while `buffer.len + msg.len < size` (strict), otherwise the buffer is
 * flushed first; a message too big for an empty buffer goes out alone. Order is preserved, messages never split.
 * The caller flushes at the end of each transmit round, i.e. calls this once per round.
 */
export function packDatagram (messages: ReadonlyArray<CtdMessage | Uint8Array>, mtu: number): Buffer[] {
  const size = mtu - CTD_DATAGRAM_OVERHEAD
  const out: Buffer[] = []
  let cur: Uint8Array[] = []
  let curLen = 0
  const flush = (): void => {
    if (curLen > 0) out.push(Buffer.concat(cur, curLen))
    cur = []
    curLen = 0
  }
  for (const m of messages) {
    const b = m instanceof Uint8Array ? m : encodeMessage(m)
    if (curLen + b.length < size) {
      cur.push(b)
      curLen += b.length
      continue
    }
    flush()
    if (b.length < size) {
      cur.push(b)
      curLen = b.length
    } else {
      out.push(Buffer.from(b))
    }
  }
  flush()
  return out
}
