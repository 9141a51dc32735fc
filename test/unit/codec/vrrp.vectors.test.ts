// Every keepalived advert captured in test/fixtures/captures/vrrp decodes to the fields tcpdump
// printed and re-encodes to exactly the captured bytes (dns-packet testEncoder style).
import t from 'tap'
import {
  decodeAdvert, decodeIPv4Packet, encodeAdvert, encodingLength, type VrrpAdvert, type VrrpDecodeContext
} from '../../../src/codec/vrrp.js'
import { CodecError } from '../../../src/codec/errors.js'
import { loadVectors } from './vrrp-vectors.js'

const vectors = loadVectors('vrrp')

t.test('the fixture set covers what the codec must interoperate with', async t => {
  const names = vectors.map(v => v.name)
  t.ok(vectors.length >= 18, `${vectors.length} captured adverts`)
  for (const n of ['v2-ipv4-noauth/prio100', 'v2-ipv4-pass/prio150', 'v2-ipv4-multivip/prio200', 'v3-ipv4/prio100',
    'v3-ipv4-subsecond/prio254', 'v3-ipv4-unicast/prio100', 'v3-ipv6/prio100', 'v3-ipv6-multivip/prio120', 'v3-ipv6/prio0']) {
    t.ok(names.includes(n), n)
  }
})

for (const v of vectors) {
  t.test(v.name, async t => {
    const bytes = Buffer.from(v.payloadHex, 'hex')
    const ctx: VrrpDecodeContext = { family: v.family, src: v.src, dst: v.dst, ttl: v.ttl ?? v.hopLimit }
    const advert: VrrpAdvert = decodeAdvert(bytes, ctx)
    t.strictSame(advert, v.expected, 'decoded fields match tcpdump')

    // encode: same bytes, same length, into a fresh buffer and at an offset into a larger one
    t.equal(encodingLength(advert, v.family), bytes.length, 'encodingLength')
    t.equal(encodeAdvert(advert, ctx).toString('hex'), v.payloadHex, 're-encodes to the captured bytes')
    const big = Buffer.alloc(bytes.length + 13, 0xee)
    const ret = encodeAdvert(advert, ctx, big, 7)
    t.equal(ret, big, 'returns the buffer it was given')
    t.equal(big.subarray(7, 7 + bytes.length).toString('hex'), v.payloadHex, 'encodes at an offset')
    t.equal(big.subarray(0, 7).toString('hex'), 'ee'.repeat(7), 'leaves bytes before the offset alone')
    t.equal(big.subarray(7 + bytes.length).toString('hex'), 'ee'.repeat(6), 'leaves bytes after the advert alone')
    t.same(decodeAdvert(big.subarray(7, 7 + bytes.length), ctx), advert, 'decodes again from the larger buffer')

    // the checksum field is recomputed, not copied: a decoded advert with a stale checksum encodes right
    t.equal(encodeAdvert({ ...advert, checksum: 0 }, ctx).toString('hex'), v.payloadHex)

    if (v.ipHex !== undefined) {
      const pkt = decodeIPv4Packet(Buffer.from(v.ipHex, 'hex'))
      t.same(pkt.advert, v.expected, 'decodeIPv4Packet advert')
      t.match(pkt.ip, { version: 4, ttl: 255, protocol: 112, src: v.src, dst: v.dst, headerLength: 20, payloadLength: bytes.length })
    }
  })
}

t.test('keepalived 2.2.7 checksums VRRPv3 over IPv4 with the pseudo-header', async t => {
  for (const v of vectors.filter(v => v.family === 'ipv4')) {
    const version = v.expected.version as 2 | 3
    t.equal(v.checksumCovers, version === 3 ? 'pseudo-header+vrrp' : 'vrrp-only', v.name)
    const bytes = Buffer.from(v.payloadHex, 'hex')
    if (version === 3) {
      // so the v2-style compatibility option rejects keepalived's adverts
      t.throws(() => decodeAdvert(bytes, { family: 'ipv4', src: v.src, dst: v.dst, v3Ipv4ChecksumWithoutPseudoHeader: true }),
        { code: 'VRRP_BAD_CHECKSUM' }, `${v.name} fails without pseudo-header`)
      // and the pseudo-header really uses the packet's destination: another one does not verify
      t.throws(() => decodeAdvert(bytes, { family: 'ipv4', src: v.src, dst: '10.99.0.254' }), { code: 'VRRP_BAD_CHECKSUM' })
    } else {
      // v2 has no pseudo-header: any addresses verify
      t.ok(decodeAdvert(bytes, { family: 'ipv4', src: '192.0.2.1', dst: '192.0.2.2' }))
    }
  }
})

t.test('v3 IPv4 compatibility mode round-trips its own checksum', async t => {
  const v = vectors.find(v => v.name === 'v3-ipv4/prio100')
  if (v === undefined) throw new Error('missing vector')
  const ctx = { family: 'ipv4' as const, src: v.src, dst: v.dst, v3Ipv4ChecksumWithoutPseudoHeader: true }
  const advert = decodeAdvert(Buffer.from(v.payloadHex, 'hex'), { family: 'ipv4', src: v.src, dst: v.dst })
  const compat = encodeAdvert(advert, ctx)
  t.not(compat.toString('hex'), v.payloadHex)
  t.same(decodeAdvert(compat, ctx), { ...advert, checksum: compat.readUInt16BE(6) })
  t.throws(() => decodeAdvert(compat, { family: 'ipv4', src: v.src, dst: v.dst }), CodecError)
})

t.test('IPv6 adverts: link-local source, ff02::12, pseudo-header checksum, kernel-verified mode', async t => {
  for (const v of vectors.filter(v => v.family === 'ipv6')) {
    t.match(v.src, /^fe80:/, `${v.name} source is link-local`)
    t.equal(v.dst, 'ff02::12')
    t.equal(v.hopLimit, 255)
    const bytes = Buffer.from(v.payloadHex, 'hex')
    t.throws(() => decodeAdvert(bytes, { family: 'ipv6', src: 'fe80::1', dst: v.dst }), { code: 'VRRP_BAD_CHECKSUM' })
    // IPV6_CHECKSUM on the socket: the kernel checked it, the destination may be unknown
    t.same(decodeAdvert(bytes, { family: 'ipv6', src: v.src, dst: '::', checksumVerified: true }), v.expected)
  }
})

t.test('priority-0 adverts on stop differ from the master advert only in priority and checksum', async t => {
  for (const v of vectors.filter(v => v.expected.priority === 0)) {
    const scenario = v.name.split('/')[0] as string
    const live = vectors.find(w => w.name.startsWith(scenario + '/') && w.expected.priority !== 0)
    if (live === undefined) throw new Error(`no live advert for ${scenario}`)
    t.same({ ...v.expected, priority: 1, checksum: 0 }, { ...live.expected, priority: 1, checksum: 0 }, scenario)
  }
})
