// Unsolicited Neighbor Advertisements: keepalived's captured NAs decode and re-encode byte for
// byte; malformed input gives the documented NDISC_* codes.
import t from 'tap'
import {
  decodeNeighborAdvert, encodeNeighborAdvert, neighborAdvertEncodingLength, formatMac, parseMac,
  IPV6_ALL_NODES, NDISC_ERROR_CODES, type NdiscContext, type NeighborAdvertInput
} from '../../../src/codec/ndisc.js'
import { CodecError } from '../../../src/codec/errors.js'
import { IPPROTO_ICMPV6, finishChecksum, ipv6PseudoHeaderSum, sumWords } from '../../../src/codec/checksum.js'
import { parseIPv6 } from '../../../src/codec/ip.js'
import { loadVectors } from './vrrp-vectors.js'

const vectors = loadVectors('ndisc')
const seen = new Set<string>()
function codeOf (fn: () => unknown): string {
  try { fn() } catch (err) {
    if (!(err instanceof CodecError)) throw new Error(`expected CodecError, got ${String(err)}`)
    seen.add(err.code)
    return err.code
  }
  return 'no error'
}

t.test('captured keepalived NAs (with and without the Router flag)', async t => {
  t.ok(vectors.length >= 5, `${vectors.length} NAs`)
  t.ok(vectors.some(v => v.expected.router === true), 'one from a forwarding interface')
  t.ok(vectors.some(v => v.expected.router === false), 'one from a host interface')
  for (const v of vectors) {
    t.test(v.name, async t => {
      const bytes = Buffer.from(v.payloadHex, 'hex')
      const ctx: NdiscContext = { src: v.src, dst: v.dst, hopLimit: v.hopLimit }
      // keepalived: source is the VIP itself, to all-nodes, hop limit 255
      t.equal(v.src, v.expected.target)
      t.equal(v.dst, IPV6_ALL_NODES)
      const na = decodeNeighborAdvert(bytes, ctx)
      t.strictSame(na, v.expected)
      t.equal(neighborAdvertEncodingLength(na), bytes.length)
      t.equal(encodeNeighborAdvert(na, ctx).toString('hex'), v.payloadHex)
      const big = Buffer.alloc(bytes.length + 10, 0xaa)
      t.equal(encodeNeighborAdvert(na, ctx, big, 5), big)
      t.equal(big.toString('hex'), 'aa'.repeat(5) + v.payloadHex + 'aa'.repeat(5))
      // encoder defaults are the unsolicited-NA flags
      const input: NeighborAdvertInput = { router: na.router, target: na.target, targetLinkLayerAddress: na.targetLinkLayerAddress }
      t.equal(encodeNeighborAdvert(input, ctx).toString('hex'), v.payloadHex)
      // the checksum covers the pseudo-header
      t.equal(codeOf(() => decodeNeighborAdvert(bytes, { ...ctx, src: 'fe80::dead' })), 'NDISC_BAD_CHECKSUM')
    })
  }
})

const ctx: NdiscContext = { src: '2001:db8::7', dst: IPV6_ALL_NODES }
const na: NeighborAdvertInput = { router: true, target: '2001:db8::7', targetLinkLayerAddress: '02:00:5e:00:01:07' }

t.test('encode: layout of R=1 S=0 O=1 with TLLA', async t => {
  const b = encodeNeighborAdvert(na, ctx)
  t.equal(b.length, 32)
  t.equal(b[0], 136)
  t.equal(b[1], 0)
  t.equal(b.readUInt32BE(4), 0xa0000000)
  t.equal(b.subarray(24).toString('hex'), '020102005e000107', 'type 2, length 1 (8 bytes), MAC')
  const noOpt = encodeNeighborAdvert({ router: false, solicited: true, override: false, target: 'fe80::1' }, { src: 'fe80::1', dst: 'fe80::2' })
  t.equal(noOpt.length, 24)
  t.same(decodeNeighborAdvert(noOpt, { src: 'fe80::1', dst: 'fe80::2' }), { router: false, solicited: true, override: false, target: 'fe80::1', checksum: noOpt.readUInt16BE(2) })
})

t.test('MAC text', async t => {
  t.same(parseMac('02-00-5E-00-01-07'), Uint8Array.from([2, 0, 0x5e, 0, 1, 7]))
  for (const bad of ['', '02:00:5e:00:01', '02:00:5e:00:01:07:08', '2:0:5e:0:1:7', 'zz:00:5e:00:01:07']) t.equal(parseMac(bad), null, bad)
  t.equal(formatMac(Uint8Array.from([0xaa, 0xbb, 0xcc, 0, 1, 0xff])), 'aa:bb:cc:00:01:ff')
})

t.test('truncated at every length', async t => {
  const b = encodeNeighborAdvert(na, ctx)
  for (let n = 0; n < b.length; n++) {
    const code = codeOf(() => decodeNeighborAdvert(b.subarray(0, n), ctx))
    t.equal(code, n < 24 ? 'NDISC_TRUNCATED' : 'NDISC_BAD_CHECKSUM', `cut to ${n}`)
  }
})

/** Recompute the checksum after patching so only the intended defect remains. */
function fixChecksum (b: Buffer, c: NdiscContext = ctx): Buffer {
  b.writeUInt16BE(0, 2)
  const pseudo = ipv6PseudoHeaderSum(parseIPv6(c.src) as Uint8Array, parseIPv6(c.dst) as Uint8Array, IPPROTO_ICMPV6, b.length)
  b.writeUInt16BE(finishChecksum(sumWords(b, pseudo)), 2)
  return b
}
function patched (patch: (b: Buffer) => void): Buffer {
  const b = encodeNeighborAdvert(na, ctx)
  patch(b)
  return fixChecksum(b)
}

t.test('malformed', async t => {
  t.equal(codeOf(() => decodeNeighborAdvert(patched(b => { b[0] = 135 }), ctx)), 'NDISC_BAD_TYPE')
  t.equal(codeOf(() => decodeNeighborAdvert(patched(b => { b[1] = 1 }), ctx)), 'NDISC_BAD_CODE')
  t.equal(codeOf(() => decodeNeighborAdvert(encodeNeighborAdvert(na, ctx), { ...ctx, hopLimit: 254 })), 'NDISC_BAD_HOP_LIMIT')
  const flipped = encodeNeighborAdvert(na, ctx)
  flipped[20] = (flipped[20] as number) ^ 1
  t.equal(codeOf(() => decodeNeighborAdvert(flipped, ctx)), 'NDISC_BAD_CHECKSUM')
  t.equal(codeOf(() => decodeNeighborAdvert(encodeNeighborAdvert({ ...na, target: 'ff02::1' }, ctx), ctx)), 'NDISC_BAD_TARGET')
  t.equal(codeOf(() => decodeNeighborAdvert(encodeNeighborAdvert({ ...na, solicited: true }, ctx), ctx)), 'NDISC_BAD_FLAGS')
  t.equal(codeOf(() => decodeNeighborAdvert(patched(b => { b[25] = 0 }), ctx)), 'NDISC_BAD_OPTION', 'option length 0')
  t.equal(codeOf(() => decodeNeighborAdvert(patched(b => { b[25] = 2 }), ctx)), 'NDISC_BAD_OPTION', 'option past the end')
  // an odd trailing byte cannot hold an option header
  const odd = Buffer.concat([encodeNeighborAdvert({ router: true, target: '2001:db8::7' }, ctx), Buffer.from([1])])
  t.equal(codeOf(() => decodeNeighborAdvert(fixChecksum(odd), ctx)), 'NDISC_BAD_OPTION')
  // unknown options are skipped; the first TLLA wins
  const extra = Buffer.concat([encodeNeighborAdvert({ router: true, target: '2001:db8::7' }, ctx),
    Buffer.from('0e01000000000000', 'hex'), Buffer.from('0201aabbccddeeff', 'hex'), Buffer.from('0201111111111111', 'hex')])
  t.equal(decodeNeighborAdvert(fixChecksum(extra), ctx).targetLinkLayerAddress, 'aa:bb:cc:dd:ee:ff')
})

t.test('encode rejects caller bugs with RangeError', async t => {
  t.throws(() => encodeNeighborAdvert({ ...na, target: '10.0.0.1' }, ctx), RangeError)
  t.throws(() => encodeNeighborAdvert({ ...na, targetLinkLayerAddress: 'nope' }, ctx), RangeError)
  t.throws(() => encodeNeighborAdvert(na, { ...ctx, src: '10.0.0.1' }), RangeError)
  t.throws(() => encodeNeighborAdvert(na, ctx, Buffer.alloc(31)), RangeError)
})

t.test('every exported code is produced by some input', async t => {
  for (const c of NDISC_ERROR_CODES) t.ok(seen.has(c), c)
})
