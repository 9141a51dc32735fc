/**
 * conntrackd 1.4.x network messages (FTFW over UDP or multicast): header, control messages, datagram walk and
 * packing. Wire facts: specs/conntrackd-ftfw.md §1, confirmed against conntrackd 1.4.7 captures in
 * test/fixtures/captures/conntrackd/.
 *
 * The codec only answers "is this a well-formed message, and what does it say". Sequence tracking, ACK windows,
 * HELLO handling and resend queues are the FTFW core's job (src/core/sync/).
 */
import { CodecError } from './errors.js'
import { CT_ATTRS_MAX_BYTES, EXP_ATTR_RULES, putAttrHeader, putU16be, putU32be, u16be, u32be, walkAttrs } from './conntrackd-attrs.js'
import { checkCtAttrs, readCtAttrs, writeCtAttrs, type CtAttrs } from './conntrackd-ct.js'

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

/**
 * A NEW/UPD/DEL message as decodeDatagram(buf, 'payload') gives it: the attribute area checked (checkCtAttrs)
 * but not decoded, a view into the datagram.
 */
export interface CtdCtPayloadMessage extends CommonFields {
  kind: 'ctPayload'
  event: CtEvent
  payload: Uint8Array
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
  return { version: b0 >> 4, type: b0 & 0x0f, flags: buf[offset + 1] as number, len: u16be(buf, offset + 2), seq: u32be(buf, offset + 4) }
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
  const seq = h.seq
  const hello = (h.flags & NetFlag.HELLO) !== 0
  const helloBack = (h.flags & NetFlag.HELLO_BACK) !== 0
  const end = offset + h.len
  // Object literals written out (no spread of a common part): one allocation per message, every message of
  // a kind with the same shape.
  switch (kind) {
    case 'ct':
      return { kind, event: EVENTS[h.type] as CtEvent, seq, hello, helloBack, attrs: readCtAttrs(buf, offset + NETHDR_SIZE, end) }
    case 'exp':
      return {
        kind,
        event: EVENTS[h.type - NetType.EXP_NEW] as CtEvent,
        seq,
        hello,
        helloBack,
        attrs: walkAttrs(buf, offset + NETHDR_SIZE, end, EXP_ATTR_RULES).map(a => ({ id: a.id, value: Uint8Array.from(a.value) }))
      }
    case 'ack':
    case 'nack':
    case 'resync':
      return { kind, seq, hello, helloBack, from: u32be(buf, offset + 8), to: u32be(buf, offset + 12) }
    case 'alive':
      return { kind, seq, hello, helloBack }
  }
}

/** decodeFramed with the attributes of a conntrack message checked, not decoded (CtdCtPayloadMessage). */
function decodeFramedPayload (buf: Uint8Array, offset: number, h: NetHeader): CtdPayloadModeMessage {
  if (classify(h, offset) !== 'ct') return decodeFramed(buf, offset, h) as CtdPayloadModeMessage
  const start = offset + NETHDR_SIZE
  const end = offset + h.len
  checkCtAttrs(buf, start, end)
  return { kind: 'ctPayload', event: EVENTS[h.type] as CtEvent, seq: h.seq, hello: (h.flags & NetFlag.HELLO) !== 0, helloBack: (h.flags & NetFlag.HELLO_BACK) !== 0, payload: buf.subarray(start, end) }
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

export interface CtdDatagram<M = CtdMessage> {
  messages: M[]
  malformed: CtdMalformed[]
}

/** What decodeDatagram(buf, 'payload') holds: conntrack messages as checked payloads, the others decoded. */
export type CtdPayloadModeMessage = Exclude<CtdMessage, CtdCtMessage> | CtdCtPayloadMessage

/**
 * Walk a datagram like conntrackd (§1.1): messages back to back, each advancing by `len` (not necessarily a
 * multiple of 4). A framing error stops the walk; a message rejected for version, type, flags or payload is
 * reported and the walk goes on. Never throws.
 */
export function decodeDatagram (buf: Uint8Array): CtdDatagram
export function decodeDatagram (buf: Uint8Array, ct: 'payload'): CtdDatagram<CtdPayloadModeMessage>
export function decodeDatagram (buf: Uint8Array, ct: 'attrs' | 'payload' = 'attrs'): CtdDatagram<CtdMessage | CtdPayloadModeMessage> {
  const messages: Array<CtdMessage | CtdPayloadModeMessage> = []
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
      messages.push(ct === 'payload' ? decodeFramedPayload(buf, off, h) : decodeFramed(buf, off, h))
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

/** The flags byte (§1.4): HELLO bits, plus the control bit of ACK/NACK/RESYNC/ALIVE. */
function flagsOf (kind: CtdMessageKind, hello: boolean, helloBack: boolean): number {
  let f = (hello ? NetFlag.HELLO : 0) | (helloBack ? NetFlag.HELLO_BACK : 0)
  if (kind === 'ack' || kind === 'nack' || kind === 'resync') f |= RANGE_FLAG[kind]
  else if (kind === 'alive') f |= NetFlag.ALIVE
  return f
}

function eventType (event: CtEvent): number {
  return event === 'new' ? 0 : event === 'upd' ? 1 : 2
}

function checkU32 (v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw err('CTD_ENCODE_INVALID', `${field}: ${v} is not a u32`)
  return v
}

/** The 8-byte header: byte 0 = 0x10 | type, flags, BE len (padding included), BE seq (§1.2). */
function putHeader (out: Uint8Array, off: number, type: number, flags: number, len: number, seq: number): void {
  out[off] = (CTD_PROTOCOL_VERSION << 4) | type
  out[off + 1] = flags
  putU16be(out, off + 2, len)
  putU32be(out, off + 4, checkU32(seq, 'seq'))
}

/** Bytes a conntrack data message can take at most: `writeCtMessage` needs this much room. */
export const CT_MESSAGE_MAX_BYTES = NETHDR_SIZE + CT_ATTRS_MAX_BYTES

/**
 * Encode a NEW/UPD/DEL message at `out[off…]` (room: CT_MESSAGE_MAX_BYTES) and return its length. Attributes in
 * conntrackd's order (§1.7). Throws CTD_ENCODE_INVALID (leaving `out` partly written) for unencodable attributes.
 */
export function writeCtMessage (out: Uint8Array, off: number, event: CtEvent, attrs: CtAttrs, seq: number, hello: boolean, helloBack: boolean): number {
  const len = writeCtAttrs(attrs, out, off + NETHDR_SIZE) - off
  putHeader(out, off, NetType.CT_NEW + eventType(event), flagsOf('ct', hello, helloBack), len, seq)
  return len
}

/**
 * A NEW/UPD/DEL message whose NTA attributes are already encoded (`body`, e.g. written from a cache record:
 * core/conntrack/record-attrs.ts) at `out[off…]` (room: CT_MESSAGE_MAX_BYTES); returns its length. Throws
 * CTD_ENCODE_INVALID for a body that is not whole attributes (not a multiple of 4) or would not fit.
 */
export function writeCtBodyMessage (out: Uint8Array, off: number, event: CtEvent, body: Uint8Array, seq: number, hello: boolean, helloBack: boolean): number {
  const len = NETHDR_SIZE + body.length
  if ((body.length & 3) !== 0 || len > CT_MESSAGE_MAX_BYTES) throw err('CTD_ENCODE_INVALID', `an encoded body of ${body.length} bytes is not a whole attribute area`)
  out.set(body, off + NETHDR_SIZE)
  putHeader(out, off, NetType.CT_NEW + eventType(event), flagsOf('ct', hello, helloBack), len, seq)
  return len
}

/** Encode an ACK/NACK/RESYNC (16 bytes, inclusive [from, to]) or ALIVE (8 bytes) at `out[off…]`; returns its length. */
export function writeCtlMessage (out: Uint8Array, off: number, kind: 'ack' | 'nack' | 'resync' | 'alive', from: number, to: number, seq: number, hello: boolean, helloBack: boolean): number {
  const len = kind === 'alive' ? NETHDR_SIZE : NETHDR_ACK_SIZE
  putHeader(out, off, NetType.CTL, flagsOf(kind, hello, helloBack), len, seq)
  if (kind !== 'alive') {
    putU32be(out, off + 8, checkU32(from, 'range start (from)'))
    putU32be(out, off + 12, checkU32(to, 'range end (to)'))
  }
  return len
}

function expPayload (attrs: readonly ExpAttr[]): Uint8Array[] {
  return attrs.map(a => {
    const rule = EXP_ATTR_RULES[a.id]
    if (rule === undefined) throw err('CTD_ENCODE_INVALID', `expectation attribute id ${a.id} ≥ ${EXP_ATTR_RULES.length}`)
    const ok = 'size' in rule ? a.value.length === rule.size : 4 + a.value.length <= rule.maxLen
    if (!ok) throw err('CTD_ENCODE_INVALID', `expectation attribute ${a.id}: bad size ${a.value.length}`)
    const b = new Uint8Array((4 + a.value.length + 3) & ~3)
    putAttrHeader(b, 0, a.id, a.value.length)
    b.set(a.value, 4)
    return b
  })
}

/** An expectation message (never on the hot path: hafw does not send expectations) as one buffer. */
function encodeExp (m: CtdExpMessage): Buffer {
  const body = expPayload(m.attrs)
  const size = NETHDR_SIZE + body.reduce((n, b) => n + b.length, 0)
  if (size > CTD_MAX_MESSAGE_LEN) throw err('CTD_ENCODE_INVALID', `message of ${size} bytes exceeds ${CTD_MAX_MESSAGE_LEN}`)
  const out = Buffer.alloc(size)
  putHeader(out, 0, NetType.EXP_NEW + eventType(m.event), flagsOf('exp', m.hello, m.helloBack), size, m.seq)
  let off = NETHDR_SIZE
  for (const b of body) { out.set(b, off); off += b.length }
  return out
}

/** Encode any non-expectation message at `out[off…]` (room: CT_MESSAGE_MAX_BYTES); returns its length. */
function writeMessage (out: Uint8Array, off: number, m: Exclude<CtdMessage, CtdExpMessage>): number {
  switch (m.kind) {
    case 'ct': return writeCtMessage(out, off, m.event, m.attrs, m.seq, m.hello, m.helloBack)
    case 'alive': return writeCtlMessage(out, off, 'alive', 0, 0, m.seq, m.hello, m.helloBack)
    default: return writeCtlMessage(out, off, m.kind, m.from, m.to, m.seq, m.hello, m.helloBack)
  }
}

/** Bytes `encodeMessage(m)` produces (= the header `len`). */
export function encodingLength (m: CtdMessage): number {
  return encodeMessage(m).length
}

/**
 * Encode one message as conntrackd sends it: byte 0 = 0x10 | type, flags, BE len (padding included), BE seq;
 * ACK/NACK/RESYNC add BE from and to; data messages carry attributes in conntrackd's order (§1.7).
 */
export function encodeMessage (m: CtdMessage): Buffer {
  if (m.kind === 'exp') return encodeExp(m)
  const scratch = Buffer.allocUnsafe(CT_MESSAGE_MAX_BYTES)
  const len = writeMessage(scratch, 0, m)
  return Buffer.from(scratch.subarray(0, len))
}

/**
 * Memory datagrams are carved from: consecutive regions of a chunk, each handed out once and never written
 * again (a datagram may still wait in a socket queue when the next round runs), a fresh chunk when one is used
 * up, as Buffer's own pool does but in bigger chunks: creating a buffer costs about as much as encoding a few
 * dozen messages. A closed chunk lives on until the last datagram cut from it is dropped.
 * A datagram is therefore a view into a shared chunk (as a pooled Buffer is into Node's 8 KiB pool): to hand it
 * to another thread, copy it; `postMessage` would clone the whole chunk, and transferring the chunk would
 * detach it under the rounds still writing to it.
 */
export class PackArena {
  buf: Buffer
  /** Bytes handed out so far. */
  used = 0

  constructor (readonly chunk = 1 << 16) {
    this.buf = Buffer.allocUnsafe(chunk)
  }
}

/**
 * conntrackd's buffered channel (§1.1, `channel_send`): a buffer of `mtu − 28` bytes; a message is appended while
 * `buffer.len + msg.len < size` (strict), otherwise the buffer is flushed first; a message too big for an empty
 * buffer goes out alone. Order is preserved, messages never split. One packer per transmit round, flushed at its
 * end (`finish`).
 *
 * Messages are encoded in place: write one at `buf[end…]` (the room after `end` is always at least
 * CT_MESSAGE_MAX_BYTES), then `commit(len)` applies the rule above. A message whose encoding failed is simply not
 * committed. The datagrams are consecutive slices of the arena: a message that opens the next datagram is
 * already where that datagram starts, so nothing is copied. When the arena's chunk runs out, the open datagram
 * moves to a fresh chunk; the datagrams already closed keep the old one.
 */
export class DatagramPacker {
  readonly datagrams: Buffer[] = []
  /** The arena's chunk: closed datagrams, the open one, then room for one more message. */
  buf: Buffer
  /** Where the next message is written (the end of the open datagram). */
  end: number
  /** Where the open datagram starts. */
  private start: number
  private readonly size: number

  constructor (mtu: number, private readonly arena: PackArena = new PackArena(mtu + CT_MESSAGE_MAX_BYTES)) {
    this.size = mtu - CTD_DATAGRAM_OVERHEAD
    this.buf = arena.buf
    this.start = this.end = arena.used
    this.reserve(Math.max(this.size, 0) + CT_MESSAGE_MAX_BYTES)
  }

  /** Make room for `len` bytes at `end`. */
  reserve (len: number): void {
    if (this.end + len <= this.buf.length) return
    const open = this.end - this.start
    const fresh = Buffer.allocUnsafe(Math.max(this.arena.chunk, open + len + Math.max(this.size, 0) + CT_MESSAGE_MAX_BYTES))
    this.buf.copy(fresh, 0, this.start, this.end)
    this.arena.buf = this.buf = fresh
    this.arena.used = 0
    this.start = 0
    this.end = open
  }

  /** The message of `len` bytes just written at `end` joins the open datagram, or opens the next one. */
  commit (len: number): void {
    const at = this.end
    if (at - this.start + len < this.size) {
      this.end = at + len
    } else {
      if (at > this.start) this.datagrams.push(this.buf.subarray(this.start, at))
      this.end = at + len
      if (len < this.size) {
        this.start = at
      } else {
        this.datagrams.push(this.buf.subarray(at, this.end))
        this.start = this.end
      }
    }
    this.reserve(CT_MESSAGE_MAX_BYTES)
  }

  /** Append an already encoded message. */
  add (msg: Uint8Array): void {
    this.reserve(msg.length)
    this.buf.set(msg, this.end)
    this.commit(msg.length)
  }

  /** Flush the open datagram; returns every datagram of the round, in order. The arena keeps what follows. */
  finish (): Buffer[] {
    if (this.end > this.start) this.datagrams.push(this.buf.subarray(this.start, this.end))
    this.start = this.end
    this.arena.used = this.end
    return this.datagrams
  }
}

/**
 * Pack messages into datagrams as conntrackd's buffered channel does (DatagramPacker). The caller flushes at the
 * end of each transmit round, i.e. calls this once per round.
 */
export function packDatagram (messages: ReadonlyArray<CtdMessage | Uint8Array>, mtu: number): Buffer[] {
  const p = new DatagramPacker(mtu)
  for (const m of messages) {
    if (m instanceof Uint8Array) p.add(m)
    else if (m.kind === 'exp') p.add(encodeExp(m))
    else p.commit(writeMessage(p.buf, p.end, m))
  }
  return p.finish()
}
