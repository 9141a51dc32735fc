// conntrackd message codec: spec examples byte for byte, classification, packing, and malformed input.
import t from 'tap'
import { CodecError } from '../../../src/codec/errors.js'
import {
  CTD_ERROR_CODES, DatagramPacker, NTA, PackArena, classify, decodeDatagram, decodeMessage, encodeMessage, encodingLength, packDatagram,
  readHeader, writeCtMessage, type CtdMessage
} from '../../../src/codec/conntrackd.js'
import { loadCapture } from './conntrackd-vectors.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function codeOf (fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (e instanceof CodecError) return e.code
    throw e
  }
  return 'no error'
}

// specs/conntrackd-ftfw.md §1.9
const WORKED = hex(`
  10 20 00 44 65 00 00 01
  00 0c 00 00 c0 a8 01 0a 0a 00 00 05
  00 08 00 05 00 00 00 0e
  00 05 00 02 06 00 00 00
  00 08 00 03 9c 40 00 50
  00 05 00 04 03 00 00 00
  00 08 00 06 00 06 97 80
  00 08 00 07 00 00 00 00`)
const WORKED_MSG: CtdMessage = {
  kind: 'ct',
  event: 'new',
  seq: 0x65000001,
  hello: true,
  helloBack: false,
  attrs: { src: '192.168.1.10', dst: '10.0.0.5', status: 0x0e, l4proto: 6, sport: 40000, dport: 80, tcpState: 3, timeout: 432000, mark: 0 }
}

t.test('spec §1.9 worked example, both ways', t => {
  t.equal(encodeMessage(WORKED_MSG).toString('hex'), WORKED.toString('hex'))
  t.equal(encodingLength(WORKED_MSG), 68)
  t.same(decodeMessage(WORKED), { message: WORKED_MSG, length: 68 })
  t.end()
})

t.test('spec §1.9 control examples', t => {
  const ack: CtdMessage = { kind: 'ack', seq: 0x65000010, hello: false, helloBack: false, from: 0x63000000, to: 0x6300012b }
  t.equal(encodeMessage(ack).toString('hex'), '1a08001065000010630000006300012b')
  t.same(decodeMessage(hex('1a08001065000010630000006300012b')).message, ack)
  const alive: CtdMessage = { kind: 'alive', seq: 7, hello: true, helloBack: false }
  t.equal(encodeMessage(alive).toString('hex'), '1a30000800000007')
  const resync: CtdMessage = { kind: 'resync', seq: 1, hello: false, helloBack: true, from: 0, to: 0 }
  t.equal(encodeMessage(resync).toString('hex'), '1a42001000000001' + '00'.repeat(8))
  const nack: CtdMessage = { kind: 'nack', seq: 2, hello: false, helloBack: false, from: 5, to: 9 }
  t.same(decodeMessage(encodeMessage(nack)).message, nack)
  // NTA_SPAT_PORT = 1024 from an x86 peer: 00 06 00 0e 00 04 00 00
  const spat = encodeMessage({ kind: 'ct', event: 'upd', seq: 0, hello: false, helloBack: false, attrs: { spatPort: 1024 } })
  t.equal(spat.subarray(8).toString('hex'), '0006000e00040000')
  t.end()
})

t.test('every attribute round-trips, in conntrackd order', t => {
  const m: CtdMessage = {
    kind: 'ct',
    event: 'del',
    seq: 0xffffffff,
    hello: false,
    helloBack: true,
    attrs: {
      src: 'fd00::1', dst: 'fd00::2', status: 0x1ce, l4proto: 132, sport: 1, dport: 65535,
      sctpState: 3, sctpVtagOrig: 0xdeadbeef, sctpVtagRepl: 1, dccpState: 2, dccpRole: 1,
      tcpState: 3, tcpWscaleOrig: 7, tcpWscaleRepl: 14, icmpType: 128, icmpCode: 0, icmpId: 0x1234,
      timeout: 30, mark: 0xffffffff, masterSrc: '10.0.0.1', masterDst: '10.0.0.2', masterL4proto: 6, masterSport: 1000, masterDport: 21,
      snatAddr: 'fd00::9', dnatAddr: 'fd00::8', spatPort: 0x0102, dpatPort: 0xfffe,
      natSeqAdj: { origCorrectionPos: 1, origOffsetBefore: 2, origOffsetAfter: 3, replCorrectionPos: 4, replOffsetBefore: 5, replOffsetAfter: 6 },
      helper: 'sip-5060abc', labels: [1, 0, 0, 0x80000000], synproxy: { its: 1, isn: 2, tsoff: 3 }, zone: 65535
    }
  }
  const b = encodeMessage(m)
  t.equal(b.length, encodingLength(m))
  t.equal(b.readUInt16BE(2), b.length)
  t.same(decodeMessage(b).message, m)
  // ids in emission order
  const ids: number[] = []
  for (let o = 8; o < b.length; o += (b.readUInt16BE(o) + 3) & ~3) ids.push(b.readUInt16BE(o + 2))
  t.same(ids, [NTA.IPV6, NTA.STATUS, NTA.L4PROTO, NTA.PORT, NTA.TCP_STATE, NTA.TCP_WSCALE_ORIG, NTA.TCP_WSCALE_REPL,
    NTA.SCTP_STATE, NTA.SCTP_VTAG_ORIG, NTA.SCTP_VTAG_REPL, NTA.DCCP_STATE, NTA.DCCP_ROLE, NTA.ICMP_TYPE, NTA.ICMP_CODE,
    NTA.ICMP_ID, NTA.TIMEOUT, NTA.MARK, NTA.MASTER_IPV4, NTA.MASTER_L4PROTO, NTA.MASTER_PORT, NTA.SNAT_IPV6,
    NTA.DNAT_IPV6, NTA.SPAT_PORT, NTA.DPAT_PORT, NTA.NAT_SEQ_ADJ, NTA.HELPER_NAME, NTA.LABELS, NTA.SYNPROXY, NTA.ZONE])
  // helper: nta_len = 4 + 11 + 1 = 16 (the maximum), ICMP id little-endian
  t.ok(b.includes(hex('0010001b 7369702d3530363061626300')))
  t.ok(b.includes(hex('00060018 3412 0000')))
  t.end()
})

t.test('expectation messages: sizes checked, payload opaque', t => {
  const m: CtdMessage = {
    kind: 'exp',
    event: 'new',
    seq: 9,
    hello: false,
    helloBack: false,
    attrs: [{ id: 0, value: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) }, { id: 2, value: Uint8Array.of(6) }, { id: 19, value: Buffer.from('ftp\0') }]
  }
  const b = encodeMessage(m)
  t.equal(b[0], 0x13)
  t.same(decodeMessage(b).message, m)
  t.equal(codeOf(() => decodeMessage(hex('1300001000000001 00050015 01000000'))), 'CTD_ATTR_OUT_OF_RANGE', 'exp id 21')
  t.equal(codeOf(() => decodeMessage(hex('1300001000000001 00060002 01020000'))), 'CTD_BAD_ATTR_LEN')
  t.equal(codeOf(() => encodeMessage({ ...m, attrs: [{ id: 2, value: Uint8Array.of(1, 2) }] })), 'CTD_ENCODE_INVALID')
  t.end()
})

t.test('classification (§1.4)', t => {
  const h = (type: number, flags: number, version = 1): ReturnType<typeof readHeader> => ({ version, type, flags, len: 16, seq: 0 })
  t.equal(classify(h(0, 0)), 'ct')
  t.equal(classify(h(2, 0x60)), 'ct', 'HELLO bits ride on data')
  t.equal(classify(h(5, 0x20)), 'exp')
  t.equal(classify(h(10, 0x08 | 0x04)), 'ack', 'ACK wins over NACK')
  t.equal(classify(h(10, 0x04 | 0x02)), 'nack', 'NACK wins over RESYNC')
  t.equal(classify(h(10, 0x02 | 0x10)), 'resync', 'RESYNC wins over ALIVE')
  t.equal(classify(h(10, 0x70)), 'alive')
  t.equal(codeOf(() => classify(h(10, 0x20))), 'CTD_BAD_FLAGS', 'HELLO alone is BAD')
  t.equal(codeOf(() => classify(h(10, 0x60))), 'CTD_BAD_FLAGS')
  t.equal(codeOf(() => classify(h(10, 0x01))), 'CTD_BAD_FLAGS')
  t.equal(codeOf(() => classify(h(0, 0x08))), 'CTD_BAD_FLAGS', 'data with a control bit')
  t.equal(codeOf(() => classify(h(1, 0x01))), 'CTD_BAD_FLAGS', 'data with NET_F_UNUSED')
  for (const type of [6, 7, 8, 9, 11, 15]) t.equal(codeOf(() => classify(h(type, 0x10))), 'CTD_BAD_TYPE', `type ${type}`)
  t.equal(codeOf(() => classify(h(10, 0x10, 0))), 'CTD_BAD_VERSION')
  t.equal(codeOf(() => classify(h(10, 0x10, 2))), 'CTD_BAD_VERSION')
  t.end()
})

t.test('framing errors stop the datagram walk (§1.1)', t => {
  const alive = '1a10000800000001'
  const cases: Array<[string, string, string]> = [
    ['len 0', '1a10000000000001' + alive, 'CTD_BAD_LENGTH'],
    ['len 4', '1a10000400000001' + alive, 'CTD_BAD_LENGTH'],
    ['len > remaining', '1a10002000000001' + alive, 'CTD_TRUNCATED'],
    ['ACK with len 8', '1a08000800000001' + alive + alive, 'CTD_BAD_LENGTH'],
    ['ACK with len 12', '1a08000c00000001' + '00000000' + alive, 'CTD_BAD_LENGTH'],
    ['RESYNC with 12 bytes left', '1a02000c00000001' + '00000000', 'CTD_TRUNCATED'],
    ['7 bytes', '1a100008000000', 'CTD_TRUNCATED']
  ]
  for (const [name, h, code] of cases) {
    t.equal(codeOf(() => decodeMessage(hex(h))), code, name)
    const d = decodeDatagram(hex(h))
    t.same(d.messages, [], `${name}: nothing after it is processed`)
    t.match(d.malformed, [{ code, offset: 0, messageOffset: 0, index: 0, stop: true }], name)
    t.equal(d.malformed[0]?.header, undefined)
  }
  // An error after good messages: the good ones are kept, the walk stops at the bad one.
  const d = decodeDatagram(hex(alive + alive + '1a100000' + '00000000' + alive))
  t.equal(d.messages.length, 2)
  t.match(d.malformed, [{ code: 'CTD_BAD_LENGTH', offset: 16, index: 2, stop: true }])
  t.same(decodeDatagram(Buffer.alloc(0)), { messages: [], malformed: [] })
  t.end()
})

t.test('rejected messages do not stop the walk; the header is kept for FTFW accounting', t => {
  const alive = '1a10000800000009'
  const badVersion = '2a10000800000001'
  const badFlags = '1a20000800000002'
  const badType = '1610000800000003'
  const badAttr = '1000001000000004' + '00050021 06000000' // id 33
  const d = decodeDatagram(hex(badVersion + alive + badFlags + badType + badAttr + alive))
  t.equal(d.messages.length, 2)
  t.same(d.messages.map(m => m.seq), [9, 9])
  t.same(d.malformed.map(m => [m.code, m.messageOffset, m.index, m.stop, m.header?.seq]), [
    ['CTD_BAD_VERSION', 0, 0, false, 1],
    ['CTD_BAD_FLAGS', 16, 1, false, 2],
    ['CTD_BAD_TYPE', 24, 1, false, 3],
    ['CTD_ATTR_OUT_OF_RANGE', 32, 1, false, 4]
  ])
  t.equal(d.malformed[3]?.offset, 40, 'attribute errors point at the attribute')
  t.end()
})

t.test('attribute errors (§1.5, msg2ct order)', t => {
  const msg = (attrs: string, extra = ''): Buffer => {
    const body = hex(attrs + extra)
    const b = Buffer.concat([hex('1000000000000001'), body])
    b.writeUInt16BE(b.length, 2)
    return b
  }
  const cases: Array<[string, string, string]> = [
    ['id 33', '00050021 06000000', 'CTD_ATTR_OUT_OF_RANGE'],
    ['id 0xffff', '0005ffff 06000000', 'CTD_ATTR_OUT_OF_RANGE'],
    ['padded nta_len on a u8', '00080002 06000000', 'CTD_BAD_ATTR_LEN'],
    ['NTA_IPV4 with 4 bytes', '00080000 0a000001', 'CTD_BAD_ATTR_LEN'],
    ['NTA_PORT nta_len 6', '00060003 00500000', 'CTD_BAD_ATTR_LEN'],
    ['nta_len 3', '00030002 06000000', 'CTD_BAD_ATTR_LEN'],
    ['nta_len 0', '00000002 06000000', 'CTD_BAD_ATTR_LEN'],
    ['nta_len past the end', '000c0000 0a000001', 'CTD_ATTR_TRUNCATED'],
    ['helper nta_len 17', '0011001b' + '61'.repeat(12) + '00' + '000000', 'CTD_ATTR_TOO_LONG'],
    ['labels of 257 words', '0408001c' + '00'.repeat(1028), 'CTD_ATTR_TOO_LONG']
  ]
  for (const [name, attrs, code] of cases) t.equal(codeOf(() => decodeMessage(msg(attrs))), code, name)
  // Out-of-range id is checked before the size rule, truncation before both (msg2ct order).
  t.equal(codeOf(() => decodeMessage(msg('00ff0021 06000000'))), 'CTD_ATTR_TRUNCATED')
  t.end()
})

t.test('lenient where conntrackd is lenient', t => {
  // Final attribute without padding, len not a multiple of 4.
  const b = hex('1000000d00000001 00050002 06')
  t.same(decodeMessage(b).message, { kind: 'ct', event: 'new', seq: 1, hello: false, helloBack: false, attrs: { l4proto: 6 } })
  // A lone 4-byte attribute header is never read (the loop needs more than 4 bytes).
  t.same(decodeMessage(hex('1000000c00000001 00000021')).message.kind, 'ct')
  // Up to 4 trailing bytes after the attributes are ignored.
  t.same(decodeMessage(hex('1000001000000001 00050002 06000000 ffffffff')).message.kind, 'ct')
  // Duplicates overwrite; helper stops at the first NUL; labels read whole words only.
  const m = decodeMessage(hex('1100003000000001 00050002 06000000 00050002 11000000 000a001b 667470006162 0000 0009001c 0000000101 000000')).message
  t.same(m.kind === 'ct' && m.attrs, { l4proto: 17, helper: 'ftp', labels: [1] })
  // ALIVE and ACK with len above their size: the rest is ignored.
  t.same(decodeMessage(hex('1a10000c00000001 00000000')), { message: { kind: 'alive', seq: 1, hello: false, helloBack: false }, length: 12 })
  t.end()
})

t.test('truncation at every length of captured messages', t => {
  const cap = loadCapture('udp-unicast')
  const samples = cap.datagrams.flatMap(d => d.messages).filter((m, i, a) => a.findIndex(x => x.len === m.len && x.type === m.type) === i)
  t.ok(samples.length >= 5)
  for (const s of samples) {
    const full = hex(s.hex)
    for (let n = 1; n < full.length; n++) {
      const cut = full.subarray(0, n)
      t.equal(codeOf(() => decodeMessage(cut)), 'CTD_TRUNCATED', `${s.len}-byte type ${s.type} cut at ${n}`)
      t.match(decodeDatagram(cut), { messages: [], malformed: [{ code: 'CTD_TRUNCATED', stop: true }] })
    }
  }
  t.end()
})

t.test('mutated captured datagrams: only CodecError, decodeDatagram never throws', t => {
  const cap = loadCapture('udp-unicast')
  let seed = 12345
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  const codes = new Set<string>(CTD_ERROR_CODES)
  let failures = 0
  for (let i = 0; i < 3000; i++) {
    const d = cap.datagrams[rnd(cap.datagrams.length)]
    if (d === undefined) continue
    const b = hex(d.hex)
    for (let k = 0; k < 1 + rnd(4); k++) b[rnd(b.length)] = rnd(256)
    try {
      const r = decodeDatagram(b)
      for (const m of r.malformed) if (!codes.has(m.code)) failures++
      decodeMessage(b)
    } catch (e) {
      if (!(e instanceof CodecError) || !codes.has(e.code)) failures++
    }
  }
  t.equal(failures, 0)
  t.end()
})

t.test('encode rejects values that cannot go on the wire', t => {
  const base = { kind: 'ct', event: 'upd', seq: 1, hello: false, helloBack: false } as const
  const bad: Array<[string, CtdMessage]> = [
    ['bad address', { ...base, attrs: { src: '10.0.0.300', dst: '10.0.0.1' } }],
    ['src without dst', { ...base, attrs: { src: '10.0.0.1' } }],
    ['mixed families', { ...base, attrs: { src: '10.0.0.1', dst: 'fd00::1' } }],
    ['port 65536', { ...base, attrs: { sport: 65536, dport: 1 } }],
    ['negative mark', { ...base, attrs: { mark: -1 } }],
    ['fractional timeout', { ...base, attrs: { timeout: 1.5 } }],
    ['helper of 12 chars', { ...base, attrs: { helper: 'abcdefghijkl' } }],
    ['non-ASCII helper', { ...base, attrs: { helper: 'é' } }],
    ['257 label words', { ...base, attrs: { labels: new Array<number>(257).fill(0) } }],
    ['seq 2^32', { ...base, seq: 2 ** 32, attrs: {} }],
    ['ack to -1', { kind: 'ack', seq: 1, hello: false, helloBack: false, from: 0, to: -1 }]
  ]
  for (const [name, m] of bad) t.equal(codeOf(() => encodeMessage(m)), 'CTD_ENCODE_INVALID', name)
  t.equal(codeOf(() => encodingLength(bad[0]?.[1] as CtdMessage)), 'CTD_ENCODE_INVALID')
  t.same(CTD_ERROR_CODES.length, new Set(CTD_ERROR_CODES).size)
  t.end()
})

t.test('packDatagram: MTU − 28 budget with a strict < (§1.1)', t => {
  const alive = (seq: number): CtdMessage => ({ kind: 'alive', seq, hello: false, helloBack: false })
  const ack = (seq: number): CtdMessage => ({ kind: 'ack', seq, hello: false, helloBack: false, from: 1, to: 2 })
  // budget 16: 8 fits (8 < 16), 8 + 8 = 16 does not.
  t.same(packDatagram([alive(1), alive(2)], 44).map(b => b.length), [8, 8])
  t.same(packDatagram([alive(1), alive(2)], 45).map(b => b.length), [16])
  // A message that can never fit goes out alone, order kept.
  const out = packDatagram([alive(1), WORKED_MSG, alive(2), ack(3)], 60)
  t.same(out.map(b => b.length), [8, 68, 24])
  t.equal(out[1]?.toString('hex'), WORKED.toString('hex'))
  t.same(decodeDatagram(out[2] as Buffer).messages.map(m => m.seq), [2, 3])
  // Pre-encoded messages are accepted as they are.
  t.same(packDatagram([encodeMessage(alive(1)), alive(2)], 1500).map(b => b.toString('hex')), ['1a100008000000011a10000800000002'])
  t.same(packDatagram([], 1500), [])
  t.end()
})

t.test('DatagramPacker: in-place encoding over a dirty arena, arena growth, same packing as message by message', t => {
  // The arena comes from Buffer.allocUnsafe: every byte of a message (padding included) must be written.
  const p = new DatagramPacker(1500, new PackArena(4096))
  p.buf.fill(0xaa)
  const base = WORKED_MSG as CtdMessage & { kind: 'ct' }
  const msgs: CtdMessage[] = []
  for (let i = 0; i < 200; i++) {
    const attrs = i % 3 === 0 ? { ...base.attrs, helper: 'ftp' } : base.attrs
    const m = { ...base, seq: base.seq + i, attrs }
    msgs.push(m)
    p.reserve(0)
    p.buf.fill(0xaa, p.end)
    p.commit(writeCtMessage(p.buf, p.end, m.event, m.attrs, m.seq, m.hello, m.helloBack))
  }
  const packed = p.finish()
  const expected = packDatagram(msgs.map(m => encodeMessage(m)), 1500)
  t.same(packed.map(b => b.toString('hex')), expected.map(b => b.toString('hex')))
  t.equal(packed.reduce((n, d) => n + decodeDatagram(d).messages.length, 0), 200)
  t.ok(packed.every(d => d.length < 1472), 'each under the MTU − 28 budget')
  // The next round on the same arena writes after it, never over a datagram handed out.
  const before = packed.map(b => b.toString('hex'))
  const arena = new PackArena(4096)
  const rounds = Array.from({ length: 20 }, (_, r) => {
    const q = new DatagramPacker(1500, arena)
    for (const m of msgs.slice(0, r * 3)) q.add(encodeMessage(m))
    return q.finish()
  })
  t.same(rounds.map(ds => ds.map(b => b.toString('hex'))), rounds.map((_, r) => packDatagram(msgs.slice(0, r * 3), 1500).map(b => b.toString('hex'))))
  t.same(packed.map(b => b.toString('hex')), before)
  t.end()
})
