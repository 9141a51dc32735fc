import t from 'tap'
import {
  finishChecksum, internetChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum, sumWords, IPPROTO_VRRP
} from '../../../src/codec/checksum.js'
import { parseIPv4, parseIPv6 } from '../../../src/codec/ip.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7', async t => {
  const data = hex('0001 f203 f4f5 f6f7')
  // The RFC shows the one's-complement sum 0xddf2 (carries folded); the checksum is its complement.
  t.equal(sumWords(data), 0x0001 + 0xf203 + 0xf4f5 + 0xf6f7)
  t.equal(finishChecksum(sumWords(data)), (~0xddf2) & 0xffff)
  t.equal(internetChecksum(data), 0x220d)
})

t.test('data carrying its own checksum verifies to 0', async t => {
  const data = hex('0001 f203 f4f5 f6f7 0000')
  const c = internetChecksum(data)
  data.writeUInt16BE(c, 8)
  t.equal(internetChecksum(data), 0)
})

t.test('odd length pads the last byte as the high half of a word', async t => {
  t.equal(sumWords(hex('01')), 0x0100)
  t.equal(sumWords(hex('0102 03')), 0x0102 + 0x0300)
  t.equal(internetChecksum(hex('ff')), 0x00ff)
})

t.test('empty and all-zero input', async t => {
  t.equal(internetChecksum(new Uint8Array(0)), 0xffff)
  t.equal(internetChecksum(new Uint8Array(10)), 0xffff)
})

t.test('ranges and running sums', async t => {
  const data = hex('aaaa 0001 f203 f4f5 f6f7 bbbb')
  t.equal(internetChecksum(data, 2, 10), 0x220d)
  t.equal(finishChecksum(sumWords(data, sumWords(data, 0, 0, 4), 4, 10)), internetChecksum(data, 0, 10))
})

t.test('folding many carries', async t => {
  const data = new Uint8Array(100_000).fill(0xff)
  t.equal(internetChecksum(data), 0)
  t.equal(finishChecksum(0x1fffe), 0) // 0xfffe + 1 = 0xffff → complement 0
})

t.test('IPv4 pseudo-header: src, dst, zero+proto, length', async t => {
  const src = parseIPv4('10.99.0.1') as Uint8Array
  const dst = parseIPv4('224.0.0.18') as Uint8Array
  t.equal(ipv4PseudoHeaderSum(src, dst, IPPROTO_VRRP, 12), 0x0a63 + 0x0001 + 0xe000 + 0x0012 + 112 + 12)
  t.throws(() => ipv4PseudoHeaderSum(new Uint8Array(16), dst, 112, 0), RangeError)
})

t.test('IPv6 pseudo-header: 32-bit length, next header', async t => {
  const src = parseIPv6('fe80::1') as Uint8Array
  const dst = parseIPv6('ff02::12') as Uint8Array
  t.equal(ipv6PseudoHeaderSum(src, dst, IPPROTO_VRRP, 24), 0xfe80 + 1 + 0xff02 + 0x12 + 24 + 112)
  t.equal(ipv6PseudoHeaderSum(src, dst, 58, 0x10002), 0xfe80 + 1 + 0xff02 + 0x12 + 1 + 2 + 58)
  t.throws(() => ipv6PseudoHeaderSum(new Uint8Array(4), dst, 58, 0), RangeError)
})
