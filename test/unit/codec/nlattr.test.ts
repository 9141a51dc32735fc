import t from 'tap'
import { nlAlign, NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLATTR_ERROR_CODES } from '../../../src/codec/nlattr.js'
import {
  parseAttrs, encodeAttrs, attrsLength, attrNest, attrU8, attrBe16, attrBe32, attrBe64, attrBytes, attrCString,
  readBe16, readBe32, readBe64, readCString
} from '../../helpers/nlattr-tools.js'
import { CodecError } from '../../../src/codec/errors.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function codeOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof CodecError) return err.code
    throw err
  }
  return 'no error'
}

t.test('header is little-endian, flags are masked off the type', async t => {
  // CTA_TUPLE_ORIG as the kernel sends it (from dump.strace): len 0x34, type 0x8001 (nested)
  const buf = hex('0c00 0180 0800 0100 0a630001')
  const [a] = parseAttrs(buf)
  t.equal(a?.type, 1)
  t.equal(a?.nested, true)
  t.equal(a?.netByteOrder, false)
  t.equal(a?.value.length, 8)
  const inner = parseAttrs(a!.value)
  t.same(inner.map(x => [x.type, x.value.toString('hex')]), [[1, '0a630001']])
  const nbo = parseAttrs(hex('0800 0340 00000007'))
  t.equal(nbo[0]?.type, 3)
  t.equal(nbo[0]?.netByteOrder, true)
  t.equal(NLA_F_NESTED, 0x8000)
  t.equal(NLA_F_NET_BYTEORDER, 0x4000)
})

t.test('payload readers are big-endian (CTA_* integers)', async t => {
  t.equal(readBe16(hex('1b58')), 7000)
  t.equal(readBe32(hex('0000018a')), 0x18a)
  t.equal(readBe64(hex('0000000000000102')), 258)
  t.equal(readCString(hex('66747000')), 'ftp')
  t.equal(readCString(hex('667470')), 'ftp', 'missing NUL tolerated')
})

t.test('4-byte alignment: padding skipped, final padding may be absent', async t => {
  // u8 attr (len 5) + 3 pad, then a be16 attr (len 6) without its 2 pad bytes at the very end
  const buf = hex('0500 0100 06000000 0600 0200 1b58')
  const attrs = parseAttrs(buf)
  t.same(attrs.map(a => [a.type, a.value.toString('hex'), a.offset]), [[1, '06', 0], [2, '1b58', 8]])
  t.equal(nlAlign(5), 8)
  t.equal(nlAlign(8), 8)
  t.equal(nlAlign(0), 0)
})

t.test('parsing a sub-range reports offsets in the whole buffer', async t => {
  const buf = hex('deadbeef 0800 0100 0a630001')
  const attrs = parseAttrs(buf, 4)
  t.equal(attrs[0]?.offset, 4)
  t.equal(codeOf(() => parseAttrs(hex('deadbeef 0800 0100 0a63'), 4)), 'NLA_OVERRUN')
  const err = (() => { try { parseAttrs(hex('deadbeef 0200 0100'), 4) } catch (e) { return e as CodecError } })()
  t.equal(err?.offset, 4)
})

t.test('malformed framing gives stable codes', async t => {
  t.equal(codeOf(() => parseAttrs(hex('0800'))), 'NLA_SHORT_HEADER', '2 bytes: not even a header')
  t.equal(codeOf(() => parseAttrs(hex('08000100 0a630001 00'))), 'NLA_SHORT_HEADER', 'trailing garbage byte')
  t.equal(codeOf(() => parseAttrs(hex('0300 0100 00000000'))), 'NLA_BAD_LENGTH', 'nla_len 3')
  t.equal(codeOf(() => parseAttrs(hex('0000 0100'))), 'NLA_BAD_LENGTH', 'nla_len 0 would loop forever')
  t.equal(codeOf(() => parseAttrs(hex('0900 0100 0a630001'))), 'NLA_OVERRUN', 'one byte too long')
  t.equal(codeOf(() => parseAttrs(hex('ffff 0100 0a630001'))), 'NLA_OVERRUN')
  t.same(parseAttrs(Buffer.alloc(0)), [], 'empty is fine')
  t.same(parseAttrs(hex('0400 0700')).map(a => a.value.length), [0], 'empty payload is fine')
  t.same([...NLATTR_ERROR_CODES].sort(), ['NLA_BAD_LENGTH', 'NLA_OVERRUN', 'NLA_SHORT_HEADER'])
})

t.test('every truncation of a nested attribute list is a CodecError or a clean shorter parse', async t => {
  const buf = encodeAttrs([
    attrNest(1, [attrNest(1, [attrBytes(1, Uint8Array.of(10, 99, 0, 1)), attrBytes(2, Uint8Array.of(10, 99, 0, 2))]),
      attrNest(2, [attrU8(1, 6), attrBe16(2, 33000), attrBe16(3, 7000)])]),
    attrBe32(3, 0x18a)
  ])
  const walk = (b: Buffer): void => {
    for (const a of parseAttrs(b)) if (a.nested) walk(a.value)
  }
  for (let len = 0; len < buf.length; len++) {
    try {
      walk(buf.subarray(0, len))
    } catch (err) {
      t.ok(err instanceof CodecError, `len ${len}: ${String(err)}`)
    }
  }
})

t.test('encoder: nested flag, zeroed padding, lengths, round trip', async t => {
  const nodes = [
    attrNest(2, [attrU8(1, 17), attrBe16(2, 5353)]),
    attrBe32(7, 300),
    attrBe64(9, 2 ** 40 + 5),
    attrCString(1, 'ftp'),
    attrBytes(22, new Uint8Array(16).fill(0xaa))
  ]
  const buf = encodeAttrs(nodes)
  t.equal(buf.length, attrsLength(nodes))
  // the nest: len = 4 + 8 + 8 = 20 (0x14), type 0x8002
  t.equal(buf.subarray(0, 20).toString('hex'), '1400' + '0280' + '0500' + '0100' + '11000000' + '0600' + '0200' + '14e90000')
  const attrs = parseAttrs(buf)
  t.same(attrs.map(a => a.type), [2, 7, 9, 1, 22])
  t.equal(attrs[0]?.nested, true)
  t.equal(readBe32(attrs[1]!.value), 300)
  t.equal(readBe64(attrs[2]!.value), 2 ** 40 + 5)
  t.equal(readCString(attrs[3]!.value), 'ftp')
  t.equal(attrs[4]?.value.length, 16)
  t.same(parseAttrs(attrs[0]!.value).map(a => a.value.toString('hex')), ['11', '14e9'])
  t.throws(() => encodeAttrs([attrBytes(1, new Uint8Array(70000))]), RangeError)
})
