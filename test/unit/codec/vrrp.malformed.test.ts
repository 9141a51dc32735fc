// Hand-made malformed adverts: each rejection is a CodecError with the documented code, checked
// in the documented order, and nothing else (no TypeError/RangeError) ever escapes decode.
import t from 'tap'
import {
  decodeAdvert, decodeIPv4Packet, encodeAdvert, encodingLength, VRRP_ERROR_CODES,
  type VrrpAdvertInput, type VrrpDecodeContext, type VrrpErrorCode
} from '../../../src/codec/vrrp.js'
import { IPV4_ERROR_CODES } from '../../../src/codec/ipv4.js'
import { CodecError } from '../../../src/codec/errors.js'
import { internetChecksum } from '../../../src/codec/checksum.js'
import { canonicalIP } from '../../../src/codec/ip.js'
import { loadVectors } from './vrrp-vectors.js'

const seen = new Set<string>()
const v4: VrrpDecodeContext = { family: 'ipv4', src: '10.99.0.1', dst: '224.0.0.18' }
const v6: VrrpDecodeContext = { family: 'ipv6', src: 'fe80::1', dst: 'ff02::12' }

function codeOf (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (!(err instanceof CodecError)) throw new Error(`expected CodecError, got ${String(err)}`)
    seen.add(err.code)
    return err.code
  }
  return 'no error'
}

const v2: VrrpAdvertInput = { version: 2, vrid: 7, priority: 100, authType: 1, adverInt: 1, authData: 'pw', addresses: ['10.0.0.1', '10.0.0.2'] }
const v3: VrrpAdvertInput = { version: 3, vrid: 7, priority: 100, maxAdverIntCs: 100, addresses: ['10.0.0.1'] }
const v3six: VrrpAdvertInput = { version: 3, vrid: 7, priority: 100, maxAdverIntCs: 100, addresses: ['fe80::7', '2001:db8::7'] }

/** Patch bytes after encoding, then fix the checksum so only the intended defect remains. */
function patched (advert: VrrpAdvertInput, ctx: VrrpDecodeContext, patch: (b: Buffer) => void, fixChecksum = true): Buffer {
  const b = encodeAdvert(advert, ctx)
  patch(b)
  if (fixChecksum) {
    if (advert.version !== 2) throw new Error('patched(): checksum fix-up only for v2 in these tests')
    b.writeUInt16BE(0, 6)
    b.writeUInt16BE(internetChecksum(b), 6)
  }
  return b
}

t.test('error codes are a closed, unique list', async t => {
  t.equal(new Set(VRRP_ERROR_CODES).size, VRRP_ERROR_CODES.length)
  t.ok(VRRP_ERROR_CODES.every(c => c.startsWith('VRRP_')))
  t.equal(new Set(IPV4_ERROR_CODES).size, IPV4_ERROR_CODES.length)
})

t.test('truncated at every length is a CodecError', async t => {
  for (const v of loadVectors('vrrp')) {
    const bytes = Buffer.from(v.payloadHex, 'hex')
    const ctx: VrrpDecodeContext = { family: v.family, src: v.src, dst: v.dst }
    for (let n = 0; n < bytes.length; n++) {
      const code = codeOf(() => decodeAdvert(bytes.subarray(0, n), ctx))
      t.equal(code, n < 8 ? 'VRRP_TRUNCATED' : 'VRRP_BAD_LENGTH', `${v.name} cut to ${n}`)
    }
    if (v.ipHex === undefined) continue
    const ip = Buffer.from(v.ipHex, 'hex')
    for (let n = 0; n < ip.length; n++) {
      const code = codeOf(() => decodeIPv4Packet(ip.subarray(0, n)))
      t.equal(code, n < 20 ? 'IPV4_TRUNCATED' : 'IPV4_BAD_LENGTH', `${v.name} IP packet cut to ${n}`)
    }
    // the IP total length also cuts: a short total length truncates the advert
    for (let total = 20; total < ip.length; total++) {
      const short = Buffer.from(ip)
      short.writeUInt16BE(total, 2)
      t.equal(codeOf(() => decodeIPv4Packet(short)), total < 28 ? 'VRRP_TRUNCATED' : 'VRRP_BAD_LENGTH', `${v.name} total length ${total}`)
    }
  }
})

t.test('random garbage only ever throws CodecError', async t => {
  let state = 12345
  const rand = (): number => { state = (state * 1103515245 + 12345) & 0x7fffffff; return state >> 16 }
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(rand() % 64)
    for (let j = 0; j < b.length; j++) b[j] = rand() & 0xff
    if (b.length > 0) b[0] = ((rand() % 2 === 0 ? 2 : 3) << 4) | 1 // reach the deeper checks often
    for (const ctx of [v4, v6]) {
      try { decodeAdvert(b, ctx) } catch (err) { if (!(err instanceof CodecError)) throw err }
    }
    const ip = Buffer.concat([Buffer.from('45000000000000003f70000000000000e0000012', 'hex'), b])
    ip.writeUInt16BE(ip.length, 2)
    ip[8] = rand() % 2 === 0 ? 255 : rand() & 0xff
    try { decodeIPv4Packet(ip) } catch (err) { if (!(err instanceof CodecError)) throw err }
  }
  t.pass('no other error type escaped')
})

t.test('version', async t => {
  for (const ver of [0, 1, 4, 15]) {
    t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[0] = (ver << 4) | 1 }), v4)), 'VRRP_BAD_VERSION', `version ${ver}`)
  }
  // VRRPv2 exists for IPv4 only (RFC 5798 §5.2.1)
  const v2onV6 = Buffer.from(encodeAdvert(v3six, v6))
  v2onV6[0] = 0x21
  t.equal(codeOf(() => decodeAdvert(v2onV6, v6)), 'VRRP_BAD_VERSION')
  t.equal(codeOf(() => decodeAdvert(encodeAdvert(v2, v4), { ...v4, version: 3 })), 'VRRP_VERSION_MISMATCH')
  t.equal(codeOf(() => decodeAdvert(encodeAdvert(v3, v4), { ...v4, version: 2 })), 'VRRP_VERSION_MISMATCH')
  t.equal(decodeAdvert(encodeAdvert(v3, v4), { ...v4, version: 3 }).version, 3)
})

t.test('type must be ADVERTISEMENT (1)', async t => {
  for (const type of [0, 2, 15]) {
    t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[0] = 0x20 | type }), v4)), 'VRRP_BAD_TYPE', `type ${type}`)
  }
})

t.test('TTL / hop limit must be 255 when known', async t => {
  for (const ttl of [0, 1, 64, 254]) {
    t.equal(codeOf(() => decodeAdvert(encodeAdvert(v3, v4), { ...v4, ttl })), 'VRRP_BAD_TTL', `ttl ${ttl}`)
    t.equal(codeOf(() => decodeAdvert(encodeAdvert(v3six, v6), { ...v6, ttl })), 'VRRP_BAD_TTL', `hop limit ${ttl}`)
  }
  t.equal(decodeAdvert(encodeAdvert(v3, v4), { ...v4, ttl: 255 }).vrid, 7)
  t.equal(decodeAdvert(encodeAdvert(v3, v4), v4).vrid, 7, 'not checked when unknown')
  // from the IPv4 header (the header checksum is the kernel's business; not checked here)
  const v = loadVectors('vrrp').find(v => v.name === 'v3-ipv4/prio100')
  const ip = Buffer.from(v?.ipHex ?? '', 'hex')
  ip[8] = 254
  t.equal(codeOf(() => decodeIPv4Packet(ip)), 'VRRP_BAD_TTL')
})

t.test('length must match the address count exactly', async t => {
  t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[3] = 3 }), v4)), 'VRRP_BAD_LENGTH', 'count too high')
  t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[3] = 1 }), v4)), 'VRRP_BAD_LENGTH', 'count too low')
  t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[3] = 0 }), v4)), 'VRRP_BAD_LENGTH', 'count zero')
  // oversized: trailing bytes after the complete advert
  for (const extra of [1, 2, 4, 8, 1000]) {
    t.equal(codeOf(() => decodeAdvert(Buffer.concat([encodeAdvert(v3, v4), Buffer.alloc(extra)]), v4)), 'VRRP_BAD_LENGTH', `+${extra} bytes`)
  }
  // v2 without its 8 auth bytes is short; v3 with 8 extra bytes is long
  const v2NoAuth = encodeAdvert(v2, v4).subarray(0, encodingLength(v2, 'ipv4') - 8)
  t.equal(codeOf(() => decodeAdvert(v2NoAuth, v4)), 'VRRP_BAD_LENGTH')
  // an IPv4-sized advert read as IPv6 (count says 16 bytes per address)
  t.equal(codeOf(() => decodeAdvert(encodeAdvert(v3, v4), { ...v6 })), 'VRRP_BAD_LENGTH')
  // IPv4 datagram padding beyond the total length is not part of the advert
  const v = loadVectors('vrrp').find(v => v.name === 'v2-ipv4-pass/prio150')
  const padded = Buffer.concat([Buffer.from(v?.ipHex ?? '', 'hex'), Buffer.alloc(6)])
  t.equal(decodeIPv4Packet(padded).advert.vrid, 52)
})

t.test('checksum', async t => {
  for (const [advert, ctx] of [[v2, v4], [v3, v4], [v3six, v6]] as const) {
    const good = encodeAdvert(advert, ctx)
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = Buffer.from(good)
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (0x80 >> (bit & 7))
      const code = codeOf(() => decodeAdvert(bad, ctx))
      // bits in the version/type nibbles and the count byte trip earlier checks
      t.ok(['VRRP_BAD_CHECKSUM', 'VRRP_BAD_VERSION', 'VRRP_BAD_TYPE', 'VRRP_BAD_LENGTH'].includes(code), `v${advert.version} ${ctx.family} bit ${bit}: ${code}`)
      if (bit >= 8 && (bit < 24 || bit >= 32)) t.equal(code, 'VRRP_BAD_CHECKSUM', `bit ${bit} is covered`)
    }
    // v3 pseudo-header: wrong source or destination address
    if (advert.version === 3) {
      t.equal(codeOf(() => decodeAdvert(good, { ...ctx, src: ctx.family === 'ipv4' ? '10.99.0.9' : 'fe80::9' })), 'VRRP_BAD_CHECKSUM')
      t.equal(codeOf(() => decodeAdvert(good, { ...ctx, dst: ctx.family === 'ipv4' ? '10.99.0.2' : 'ff02::1' })), 'VRRP_BAD_CHECKSUM')
    }
  }
})

t.test('addresses must be usable unicast addresses of the family', async t => {
  for (const addr of ['0.0.0.0', '127.0.0.1', '224.0.0.18', '239.1.2.3', '255.255.255.255']) {
    const b = encodeAdvert({ ...v3, addresses: ['10.0.0.1', addr] }, v4)
    t.equal(codeOf(() => decodeAdvert(b, v4)), 'VRRP_BAD_ADDRESS', addr)
  }
  for (const addr of ['::', '::1', 'ff02::1', 'ff05::2']) {
    const b = encodeAdvert({ ...v3six, addresses: [addr] }, v6)
    t.equal(codeOf(() => decodeAdvert(b, v6)), 'VRRP_BAD_ADDRESS', addr)
  }
  for (const addr of ['1.2.3.4', '240.0.0.1', '223.255.255.254']) {
    t.same(decodeAdvert(encodeAdvert({ ...v3, addresses: [addr] }, v4), v4).addresses, [addr])
  }
  for (const addr of ['::2', '::ffff:10.0.0.1', 'fe80::1', '2001:db8::1']) {
    t.same(decodeAdvert(encodeAdvert({ ...v3six, addresses: [addr] }, v6), v6).addresses, [canonicalIP(addr)])
  }
})

t.test('v2 authentication type', async t => {
  for (const authType of [3, 4, 128, 255]) {
    t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[4] = authType }), v4)), 'VRRP_BAD_AUTH_TYPE', `type ${authType}`)
  }
  // type 0 and 2: the 8 bytes are ignored on receive, no authData
  for (const authType of [0, 2]) {
    const a = decodeAdvert(patched(v2, v4, b => { b[4] = authType }), v4)
    t.same(a, { version: 2, type: 1, vrid: 7, priority: 100, addrCount: 2, authType, adverInt: 1, intervalCs: 100, checksum: a.checksum, addresses: ['10.0.0.1', '10.0.0.2'] })
    t.notOk('authData' in a)
  }
})

t.test('checks run in the documented order', async t => {
  // each packet has two defects; the earlier check wins
  const badVersionAndSum = patched(v2, v4, b => { b[0] = 0x11; b[6] = (b[6] as number) ^ 1 }, false)
  t.equal(codeOf(() => decodeAdvert(badVersionAndSum, v4)), 'VRRP_BAD_VERSION')
  t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[0] = 0x22 }), { ...v4, version: 3 })), 'VRRP_VERSION_MISMATCH')
  t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[0] = 0x22 }), { ...v4, ttl: 1 })), 'VRRP_BAD_TYPE')
  t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[3] = 9 }), { ...v4, ttl: 1 })), 'VRRP_BAD_TTL')
  t.equal(codeOf(() => decodeAdvert(patched(v2, v4, b => { b[3] = 9; b[6] = (b[6] as number) ^ 1 }, false), v4)), 'VRRP_BAD_LENGTH')
  t.equal(codeOf(() => decodeAdvert(patched({ ...v2, addresses: ['224.0.0.1', '10.0.0.2'] }, v4, b => { b[6] = (b[6] as number) ^ 1 }, false), v4)), 'VRRP_BAD_CHECKSUM')
  t.equal(codeOf(() => decodeAdvert(patched({ ...v2, addresses: ['224.0.0.1', '10.0.0.2'] }, v4, b => { b[4] = 9 }), v4)), 'VRRP_BAD_ADDRESS')
})

t.test('decodeIPv4Packet: IPv4 header errors and protocol', async t => {
  const v = loadVectors('vrrp').find(v => v.name === 'v3-ipv4/prio100')
  const good = Buffer.from(v?.ipHex ?? '', 'hex')
  const mod = (f: (b: Buffer) => void): Buffer => { const b = Buffer.from(good); f(b); return b }
  t.equal(codeOf(() => decodeIPv4Packet(mod(b => { b[0] = 0x65 }))), 'IPV4_BAD_VERSION')
  t.equal(codeOf(() => decodeIPv4Packet(mod(b => { b[0] = 0x44 }))), 'IPV4_BAD_IHL')
  t.equal(codeOf(() => decodeIPv4Packet(mod(b => { b[0] = 0x4f }))), 'IPV4_BAD_IHL', 'header longer than the buffer')
  t.equal(codeOf(() => decodeIPv4Packet(mod(b => { b.writeUInt16BE(19, 2) }))), 'IPV4_BAD_LENGTH')
  t.equal(codeOf(() => decodeIPv4Packet(mod(b => { b.writeUInt16BE(b.length + 1, 2) }))), 'IPV4_BAD_LENGTH')
  t.equal(codeOf(() => decodeIPv4Packet(mod(b => { b[9] = 17 }))), 'VRRP_BAD_PROTOCOL')
  // IP options (IHL 6): the advert starts after them, and the pseudo-header is unchanged
  const withOptions = Buffer.concat([good.subarray(0, 20), Buffer.from('01010100', 'hex'), good.subarray(20)])
  withOptions[0] = 0x46
  withOptions.writeUInt16BE(withOptions.length, 2)
  const pkt = decodeIPv4Packet(withOptions)
  t.equal(pkt.ip.payloadOffset, 24)
  t.equal(pkt.advert.vrid, 61)
  // options pass through to decodeAdvert
  t.equal(codeOf(() => decodeIPv4Packet(good, { version: 2 })), 'VRRP_VERSION_MISMATCH')
  t.equal(codeOf(() => decodeIPv4Packet(good, { v3Ipv4ChecksumWithoutPseudoHeader: true })), 'VRRP_BAD_CHECKSUM')
})

t.test('decode details', async t => {
  // v3: the reserved nibble is ignored on receive (RFC 5798 §5.2.7), sent as zero
  const rsvd = encodeAdvert(v3six, v6)
  rsvd[4] = 0xf0 | (rsvd[4] as number)
  t.equal(codeOf(() => decodeAdvert(rsvd, v6)), 'VRRP_BAD_CHECKSUM', 'still covered by the checksum')
  t.equal(decodeAdvert(rsvd, { ...v6, checksumVerified: true }).intervalCs, 100)
  // 12-bit interval limits
  for (const cs of [0, 1, 4095]) t.equal(decodeAdvert(encodeAdvert({ ...v3, maxAdverIntCs: cs }, v4), v4).intervalCs, cs)
  // v2 password: 8 bytes without NUL, UTF-8, trailing NULs only stripped
  t.equal((decodeAdvert(encodeAdvert({ ...v2, authData: '12345678' }, v4), v4) as { authData?: string }).authData, '12345678')
  t.equal((decodeAdvert(encodeAdvert({ ...v2, authData: 'pä' }, v4), v4) as { authData?: string }).authData, 'pä')
  t.equal((decodeAdvert(encodeAdvert({ ...v2, authData: '' }, v4), v4) as { authData?: string }).authData, '')
  const inner = patched(v2, v4, b => { b.write('a\0b', 16, 'latin1') })
  t.equal((decodeAdvert(inner, v4) as { authData?: string }).authData, 'a\0b')
  // v2 interval normalised to centiseconds
  t.equal(decodeAdvert(encodeAdvert({ ...v2, adverInt: 255 }, v4), v4).intervalCs, 25500)
  // 255 IPv6 addresses is the most the count byte allows
  const many = Array.from({ length: 255 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`)
  const big = encodeAdvert({ ...v3six, addresses: many }, v6)
  t.equal(big.length, 8 + 255 * 16)
  t.same(decodeAdvert(big, v6).addresses, many)
  // zero addresses is well-formed on the wire (whether that is acceptable is the core's call)
  t.same(decodeAdvert(encodeAdvert({ ...v3, addresses: [] }, v4), v4).addresses, [])
})

t.test('encode rejects values that cannot be on the wire (caller bugs → RangeError)', async t => {
  const bad: Array<[string, () => unknown]> = [
    ['vrid 256', () => encodeAdvert({ ...v3, vrid: 256 }, v4)],
    ['vrid 1.5', () => encodeAdvert({ ...v3, vrid: 1.5 }, v4)],
    ['priority -1', () => encodeAdvert({ ...v3, priority: -1 }, v4)],
    ['interval 4096 cs', () => encodeAdvert({ ...v3, maxAdverIntCs: 4096 }, v4)],
    ['adverInt 256 s', () => encodeAdvert({ ...v2, adverInt: 256 }, v4)],
    ['auth type 3', () => encodeAdvert({ ...v2, authType: 3 as 1 }, v4)],
    ['password 9 bytes', () => encodeAdvert({ ...v2, authData: '123456789' }, v4)],
    ['password 9 UTF-8 bytes', () => encodeAdvert({ ...v2, authData: 'ääää1' }, v4)],
    ['v2 over IPv6', () => encodeAdvert(v2, v6)],
    ['IPv6 address in IPv4 advert', () => encodeAdvert({ ...v3, addresses: ['fe80::1'] }, v4)],
    ['garbage address', () => encodeAdvert({ ...v3, addresses: ['10.0.0'] }, v4)],
    ['bad pseudo-header source', () => encodeAdvert(v3, { ...v4, src: 'fe80::1' })],
    ['256 addresses', () => encodeAdvert({ ...v3, addresses: Array.from({ length: 256 }, () => '10.0.0.1') }, v4)],
    ['buffer too small', () => encodeAdvert(v3, v4, Buffer.alloc(11))],
    ['offset past the end', () => encodeAdvert(v3, v4, Buffer.alloc(20), 9)],
    ['negative offset', () => encodeAdvert(v3, v4, Buffer.alloc(20), -1)]
  ]
  for (const [what, fn] of bad) t.throws(fn, RangeError, what)
  t.equal(encodeAdvert(v3, v4, new Uint8Array(20), 8).length, 20, 'fits exactly at the end')
})

t.test('every exported code is produced by some input', async t => {
  for (const c of [...VRRP_ERROR_CODES, ...IPV4_ERROR_CODES] as Array<VrrpErrorCode | string>) t.ok(seen.has(c), c)
})
