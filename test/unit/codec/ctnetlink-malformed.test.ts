// Malformed input: every rejection is a CodecError with a code from the closed set, never a
// TypeError/RangeError from a Buffer read; unknown attributes are skipped.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import {
  decodeCtnl, decodeConntrack, decodeCtnlMessage, CTNETLINK_ERROR_CODES, type CtnlMessage
} from '../../../src/codec/ctnetlink.js'
import { CTA, CTA_TUPLE, CTA_IP, CTA_PROTO, CTA_PROTOINFO, CTA_PROTOINFO_TCP } from '../../../src/codec/ctnetlink-attrs.js'
import { encodeAttrs, attrNest, attrBytes, attrU8, attrBe16, attrBe32, type AttrNode } from '../../helpers/nlattr-tools.js'
import { encodeNlMsg, splitMessages } from '../../../src/codec/netlink.js'
import { CodecError } from '../../../src/codec/errors.js'

const dir = new URL('../../fixtures/vectors/ctnetlink/', import.meta.url)
const kernelMessages: Buffer[] = []
for (const f of readdirSync(dir).filter(f => f.endsWith('.json')).sort()) {
  const v = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as { messages: Array<{ dir: string, hex: string }> }
  for (const m of v.messages) if (m.dir === 'rx') kernelMessages.push(Buffer.from(m.hex, 'hex'))
}
const known = new Set<string>(CTNETLINK_ERROR_CODES)

/** Decode; return the CodecError code, 'ok', or rethrow anything else. */
function outcome (buf: Buffer): string {
  try {
    decodeCtnl(buf)
    return 'ok'
  } catch (err) {
    if (err instanceof CodecError) return err.code
    throw err
  }
}

const ip4 = (a: number, b: number, c: number, d: number): Uint8Array => Uint8Array.of(a, b, c, d)
const tuple = (src: Uint8Array, dst: Uint8Array, extra: AttrNode[] = [], sport = 1, dport = 2): AttrNode[] => [
  attrNest(CTA_TUPLE.IP, [attrBytes(src.length === 4 ? CTA_IP.V4_SRC : CTA_IP.V6_SRC, src), attrBytes(dst.length === 4 ? CTA_IP.V4_DST : CTA_IP.V6_DST, dst)]),
  attrNest(CTA_TUPLE.PROTO, [attrU8(CTA_PROTO.NUM, 17), attrBe16(CTA_PROTO.SRC_PORT, sport), attrBe16(CTA_PROTO.DST_PORT, dport), ...extra])
]
const A = ip4(10, 0, 0, 1)
const B = ip4(10, 0, 0, 2)
const baseAttrs = (): AttrNode[] => [
  attrNest(CTA.TUPLE_ORIG, tuple(A, B)),
  attrNest(CTA.TUPLE_REPLY, tuple(B, A, [], 2, 1)),
  attrBe32(CTA.STATUS, 8),
  attrBe32(CTA.TIMEOUT, 30),
  attrBe32(CTA.ID, 1234)
]
/** A CT_NEW event (flags CREATE|EXCL) around the given attributes; family AF_INET. */
function msg (attrs: AttrNode[] | Buffer, family = 2, type = 0x0100): Buffer {
  const body = Buffer.isBuffer(attrs) ? attrs : encodeAttrs(attrs)
  return encodeNlMsg({ type, flags: 0x600, seq: 0, pid: 0 }, Buffer.concat([Buffer.from([family, 0, 0, 0]), body]))
}
const code = (buf: Buffer): string => outcome(buf)

t.test('hand-built base message decodes', async t => {
  const [m] = decodeCtnl(msg(baseAttrs()))
  t.same(m, {
    kind: 'conntrack',
    event: 'new',
    pid: 0,
    seq: 0,
    flags: 0x600,
    flow: {
      family: 'ipv4',
      orig: { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 17, sport: 1, dport: 2 },
      reply: { src: '10.0.0.2', dst: '10.0.0.1', l4proto: 17, sport: 2, dport: 1 },
      status: 8,
      timeout: 30,
      id: 1234
    }
  })
})

t.test('every truncation of every captured kernel message is a framing CodecError', async t => {
  let cases = 0
  const codes = new Set<string>()
  for (const full of kernelMessages) {
    for (let len = 1; len < full.length; len++) {
      const c = outcome(full.subarray(0, len))
      codes.add(c)
      cases++
    }
  }
  t.same([...codes].sort(), ['NLMSG_OVERRUN', 'NLMSG_SHORT_HEADER'], `${cases} truncations`)
  t.same(decodeCtnl(Buffer.alloc(0)), [], 'an empty buffer holds no messages')
})

t.test('truncated inside the message (nlmsg_len adjusted): CodecError or a clean shorter decode', async t => {
  let cases = 0
  let errors = 0
  const codes = new Set<string>()
  for (const full of kernelMessages) {
    for (let len = 16; len < full.length; len++) {
      const b = Buffer.from(full.subarray(0, len))
      b.writeUInt32LE(len, 0)
      const c = outcome(b)
      cases++
      if (c !== 'ok') { errors++; codes.add(c) }
    }
  }
  for (const c of codes) t.ok(known.has(c), `${c} is in the closed set`)
  t.ok(errors > cases / 2, `${errors} of ${cases} rejected`)
  t.ok(codes.has('NLA_OVERRUN') && codes.has('NLA_SHORT_HEADER') && codes.has('CT_MISSING_TUPLE') && codes.has('NFGENMSG_TRUNCATED'), [...codes].join(' '))
})

t.test('random byte corruption never escapes as another exception type', async t => {
  let seed = 0x12345678
  const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed }
  const codes = new Set<string>()
  for (let i = 0; i < 5000; i++) {
    const src = kernelMessages[rnd() % kernelMessages.length]!
    const b = Buffer.from(src)
    for (let k = 0; k < 1 + (rnd() % 4); k++) b[16 + (rnd() % (b.length - 16))] = rnd() & 0xff
    codes.add(outcome(b))
  }
  for (const c of codes) t.ok(c === 'ok' || known.has(c), c)
})

t.test('attribute framing errors at top level and in nests', async t => {
  const good = encodeAttrs(baseAttrs())
  // top-level nla_len < 4
  const bad1 = Buffer.from(good); bad1.writeUInt16LE(3, 0)
  t.equal(code(msg(bad1)), 'NLA_BAD_LENGTH')
  // top-level nla_len beyond the message
  const bad2 = Buffer.from(good); bad2.writeUInt16LE(0xfff0, 0)
  t.equal(code(msg(bad2)), 'NLA_OVERRUN')
  // nested: CTA_TUPLE_IP inside CTA_TUPLE_ORIG claims more than its parent holds
  const bad3 = Buffer.from(good); bad3.writeUInt16LE(bad3.readUInt16LE(4) + 4, 4)
  t.equal(code(msg(bad3)), 'NLA_OVERRUN')
  // nested: CTA_IP_V4_SRC with nla_len 2
  const bad4 = Buffer.from(good); bad4.writeUInt16LE(2, 8)
  t.equal(code(msg(bad4)), 'NLA_BAD_LENGTH')
  // nested: 2 stray bytes at the end of a nest
  const inner = encodeAttrs(tuple(A, B))
  const stray = Buffer.concat([inner, Buffer.from([0, 0, 0, 0])])
  stray.writeUInt16LE(2, inner.length) // a 4-byte region whose header says len 2
  const nest = Buffer.concat([Buffer.from([0, 0, 0x01, 0x80]), stray])
  nest.writeUInt16LE(nest.length, 0)
  t.equal(code(msg(Buffer.concat([nest, encodeAttrs(baseAttrs().slice(1))]))), 'NLA_BAD_LENGTH')
  // one byte of garbage after the last attribute
  t.equal(code(msg(Buffer.concat([good, Buffer.from([1])]))), 'NLA_SHORT_HEADER')
})

t.test('attribute semantics errors', async t => {
  t.equal(code(msg([...baseAttrs(), attrBytes(CTA.STATUS, Uint8Array.of(0, 8))])), 'CT_ATTR_TOO_SHORT', 'CTA_STATUS of 2 bytes')
  t.equal(code(msg([attrNest(CTA.TUPLE_ORIG, [attrNest(CTA_TUPLE.IP, [attrBytes(CTA_IP.V4_SRC, Uint8Array.of(10, 0, 0))])]), ...baseAttrs()])), 'CT_ATTR_TOO_SHORT', '3-byte IPv4 address')
  t.equal(code(msg([...baseAttrs(), attrNest(CTA.PROTOINFO, [attrNest(CTA_PROTOINFO.TCP, [attrBytes(CTA_PROTOINFO_TCP.FLAGS_ORIGINAL, Uint8Array.of(8))])])])), 'CT_ATTR_TOO_SHORT', 'TCP flags of 1 byte')
  t.equal(code(msg(baseAttrs().slice(1))), 'CT_MISSING_TUPLE', 'no CTA_TUPLE_ORIG')
  t.equal(code(msg([baseAttrs()[0]!, ...baseAttrs().slice(2)])), 'CT_MISSING_TUPLE', 'no CTA_TUPLE_REPLY')
  t.equal(code(msg([attrNest(CTA.TUPLE_ORIG, tuple(A, B).slice(0, 1)), ...baseAttrs().slice(1)])), 'CT_INCOMPLETE_TUPLE', 'tuple without protocol')
  t.equal(code(msg([attrNest(CTA.TUPLE_ORIG, tuple(A, B).slice(1)), ...baseAttrs().slice(1)])), 'CT_INCOMPLETE_TUPLE', 'tuple without addresses')
  const v6 = new Uint8Array(16); v6[15] = 1
  t.equal(code(msg([attrNest(CTA.TUPLE_ORIG, tuple(v6, v6)), ...baseAttrs().slice(1)])), 'CT_FAMILY_MISMATCH', 'IPv6 tuple in an AF_INET message')
  t.equal(code(msg([attrNest(CTA.TUPLE_ORIG, tuple(A, v6)), ...baseAttrs().slice(1)])), 'CT_FAMILY_MISMATCH', 'mixed tuple')
  t.equal(code(msg([attrNest(CTA.TUPLE_ORIG, tuple(v6, v6)), attrNest(CTA.TUPLE_REPLY, tuple(v6, v6))], 0)), 'ok', 'AF_UNSPEC takes the family from the tuple')
})

t.test('netlink-level errors', async t => {
  t.equal(code(Buffer.alloc(8)), 'NLMSG_SHORT_HEADER')
  const tiny = Buffer.alloc(16); tiny.writeUInt32LE(8, 0)
  t.equal(code(tiny), 'NLMSG_BAD_LENGTH')
  const over = msg(baseAttrs()); over.writeUInt32LE(over.length + 4, 0)
  t.equal(code(over), 'NLMSG_OVERRUN')
  t.equal(code(encodeNlMsg({ type: 0x0100, flags: 0, seq: 0, pid: 0 }, Buffer.from([2, 0]))), 'NFGENMSG_TRUNCATED')
  t.equal(code(encodeNlMsg({ type: 2, flags: 0, seq: 0, pid: 0 }, Buffer.alloc(12))), 'NLMSG_ERROR_TRUNCATED')
  const [get] = splitMessages(msg(baseAttrs(), 2, 0x0101))
  t.equal((() => { try { decodeConntrack(get!); return 'ok' } catch (e) { return (e as CodecError).code } })(), 'CT_NOT_CONNTRACK')
  t.same(decodeCtnlMessage(get!), { kind: 'other', type: 0x0101, seq: 0, pid: 0 }, 'a CT_GET is not ours to decode')
  const exp = decodeCtnl(msg(baseAttrs(), 2, 0x0200))
  t.same(exp, [{ kind: 'other', type: 0x0200, seq: 0, pid: 0 }], 'expectation messages are passed over')
})

t.test('unknown attributes are skipped at every level', async t => {
  const plain = decodeCtnl(msg(baseAttrs()))
  const withUnknown = decodeCtnl(msg([
    attrBytes(99, Uint8Array.of(1, 2, 3)),
    attrNest(CTA.TUPLE_ORIG, [...tuple(A, B, [attrBytes(30, Uint8Array.of(7))]), attrBe32(17, 5)]),
    ...baseAttrs().slice(1),
    attrNest(CTA.PROTOINFO, [attrNest(9, [attrU8(1, 1)])]),
    attrNest(CTA.TIMESTAMP, [attrBytes(1, new Uint8Array(8))]),
    attrBytes(0x3fff, new Uint8Array(0))
  ]))
  t.same(withUnknown, plain)
  const m = withUnknown[0] as CtnlMessage
  t.equal(m.kind, 'conntrack')
})

t.test('a multi-message buffer decodes in order; framing errors stop it', async t => {
  const done = encodeNlMsg({ type: 3, flags: 2, seq: 7, pid: 9 }, Buffer.alloc(4))
  const buf = Buffer.concat([msg(baseAttrs()), msg(baseAttrs(), 2, 0x0102), done])
  t.same(decodeCtnl(buf).map(m => m.kind === 'conntrack' ? m.event : m.kind), ['new', 'destroy', 'done'])
  t.equal(code(buf.subarray(0, buf.length - 1)), 'NLMSG_OVERRUN')
})
