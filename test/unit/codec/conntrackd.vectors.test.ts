// Every datagram captured from real conntrackd 1.4.7 (unicast UDP and multicast) decodes, re-encodes byte for
// byte and re-packs identically. Capture method: test/fixtures/captures/conntrackd/README.md.
import t, { type Test } from 'tap'
import {
  decodeDatagram, encodeMessage, encodingLength, packDatagram, type CtAttrs, type CtdMessage
} from '../../../src/codec/conntrackd.js'
import { loadCapture, loadEventLog, type CapturedAttr, type CapturedMessage, type CaptureFile } from './conntrackd-vectors.js'

const KIND_BY_FLAG: Array<[number, CtdMessage['kind']]> = [[0x08, 'ack'], [0x04, 'nack'], [0x02, 'resync'], [0x10, 'alive']]

/** CtAttrs as the extraction script (an independent reading of the bytes) sees them. */
function expectedAttrs (attrs: CapturedAttr[]): CtAttrs {
  const a: Record<string, unknown> = {}
  for (const { name, value } of attrs) {
    const v = value as Record<string, unknown>
    switch (name) {
      case 'IPV4': case 'IPV6': a.src = v.src; a.dst = v.dst; break
      case 'PORT': a.sport = v.sport; a.dport = v.dport; break
      case 'L4PROTO': a.l4proto = value; break
      case 'TCP_STATE': a.tcpState = value; break
      case 'STATUS': a.status = value; break
      case 'TIMEOUT': a.timeout = value; break
      case 'MARK': a.mark = value; break
      case 'SNAT_IPV4': case 'SNAT_IPV6': a.snatAddr = value; break
      case 'DNAT_IPV4': case 'DNAT_IPV6': a.dnatAddr = value; break
      case 'SPAT_PORT': a.spatPort = v.le; break
      case 'DPAT_PORT': a.dpatPort = v.le; break
      case 'ICMP_TYPE': a.icmpType = value; break
      case 'ICMP_CODE': a.icmpCode = value; break
      case 'ICMP_ID': a.icmpId = v.le; break
      case 'TCP_WSCALE_ORIG': a.tcpWscaleOrig = value; break
      case 'TCP_WSCALE_REPL': a.tcpWscaleRepl = value; break
      case 'HELPER_NAME': a.helper = value; break
      case 'LABELS': a.labels = value; break
      case 'ZONE': a.zone = value; break
      default: throw new Error(`capture has an attribute this test does not map: ${name}`)
    }
  }
  return a as CtAttrs
}

function checkMessage (t: Test, m: CtdMessage, c: CapturedMessage): void {
  t.equal(m.seq, c.seq, 'seq')
  t.equal(m.hello, (c.flags & 0x20) !== 0, 'hello')
  t.equal(m.helloBack, (c.flags & 0x40) !== 0, 'helloBack')
  if (c.type === 10) {
    const kind = KIND_BY_FLAG.find(([f]) => (c.flags & f) !== 0)?.[1]
    t.equal(m.kind, kind, 'control kind')
    if (m.kind === 'ack' || m.kind === 'nack' || m.kind === 'resync') {
      t.equal(m.from, c.from, 'from')
      t.equal(m.to, c.to, 'to')
    }
  } else {
    t.equal(m.kind, 'ct')
    if (m.kind === 'ct') {
      t.equal(m.event, ['new', 'upd', 'del'][c.type])
      t.same(m.attrs, expectedAttrs(c.attrs ?? []), 'attrs match the independent reading')
      t.strictSame(Object.keys(m.attrs).sort(), Object.keys(expectedAttrs(c.attrs ?? [])).sort(), 'no extra fields')
    }
  }
  t.equal(encodingLength(m), c.len, 'encodingLength = len')
  t.equal(encodeMessage(m).toString('hex'), c.hex, 're-encodes byte for byte')
}

function checkFile (t: Test, f: CaptureFile): void {
  let total = 0
  for (const d of f.datagrams) {
    const dec = decodeDatagram(Buffer.from(d.hex, 'hex'))
    t.same(dec.malformed, [], `datagram ${d.index}: nothing malformed`)
    t.equal(dec.messages.length, d.messages.length, `datagram ${d.index}: message count`)
    dec.messages.forEach((m, i) => { checkMessage(t, m, d.messages[i] as CapturedMessage); total++ })
    // Each datagram was one flush of conntrackd's buffer (MTU 1500 veth): re-packing gives the same datagram.
    t.same(packDatagram(dec.messages, 1500).map(b => b.toString('hex')), [d.hex], `datagram ${d.index}: re-packs identically`)
  }
  t.ok(total > 0)
}

const uni = loadCapture('udp-unicast')
const mc = loadCapture('mcast')

t.test('unicast capture: every message decodes and round-trips', t => { checkFile(t, uni); t.end() })
t.test('multicast capture: every message decodes and round-trips', t => { checkFile(t, mc); t.end() })

const all = (f: CaptureFile): Array<{ d: number, m: CtdMessage, src: string }> =>
  f.datagrams.flatMap(d => decodeDatagram(Buffer.from(d.hex, 'hex')).messages.map(m => ({ d: d.index, m, src: d.src.split(':')[0] as string })))
const uniMsgs = all(uni)
const ctMsgs = uniMsgs.flatMap(x => x.m.kind === 'ct' ? [x.m] : [])
const find = (pred: (a: CtAttrs) => boolean): CtAttrs => {
  const m = ctMsgs.find(m => pred(m.attrs))
  if (m === undefined) throw new Error('flow not found in capture')
  return m.attrs
}

t.test('HOST-LE quirk confirmed: SPAT/DPAT/ICMP_ID are little-endian on the wire', t => {
  const events = loadEventLog()
  // SNAT --to-source 10.98.2.1:1025 for 10.98.1.2:33333 -> 10.98.2.2:80
  const snat = find(a => a.sport === 33333)
  t.equal(snat.snatAddr, '10.98.2.1')
  t.equal(snat.spatPort, 1025)
  t.match(events, /sport=33333 dport=80 .*src=10\.98\.2\.2 dst=10\.98\.2\.1 sport=80 dport=1025/)
  const raw = uni.datagrams.flatMap(d => d.messages).flatMap(m => m.attrs ?? []).find(a => a.name === 'SPAT_PORT' && a.hex !== '0000')
  t.equal(raw?.hex, '0104', '1025 = 0x0401 travels as 01 04')
  // DNAT 10.98.1.1:8080 -> 10.98.2.2:80
  const dnat = find(a => a.sport === 33334)
  t.equal(dnat.dnatAddr, '10.98.2.2')
  t.equal(dnat.dpatPort, 80)
  t.equal(dnat.dport, 8080)
  // IPv6 SNAT to [fd98:2::1]:2000
  const snat6 = find(a => a.sport === 33340)
  t.equal(snat6.snatAddr, 'fd98:2::1')
  t.equal(snat6.spatPort, 2000)
  // ICMP echo id, as the kernel reported it
  for (const [fam, type] of [['ipv4', 8], ['ipv6', 128]] as const) {
    const icmp = find(a => a.icmpType === type)
    const re = new RegExp(`${fam} .* type=${type} code=0 id=(\\d+)`)
    t.equal(icmp.icmpId, Number(re.exec(events)?.[1]), `${fam} ICMP id`)
  }
  t.end()
})

t.test('other attributes seen in the capture', t => {
  t.equal(find(a => a.sport === 33336).mark, 42, 'CONNMARK 0x2a')
  t.equal(find(a => a.sport === 33337).zone, 7, 'CT --zone 7')
  t.equal(find(a => a.sport === 33339).helper, 'ftp', 'CT --helper ftp')
  t.same(find(a => a.sport === 33335).labels, [8, 0, 0, 0], 'connlabel 3 = bit 3 of word 0, four words sent')
  const tcp = find(a => a.sport === 34000)
  t.equal(tcp.tcpState, 3, 'ESTABLISHED')
  t.equal(tcp.tcpWscaleOrig, 10, 'TCPWindowTracking on: wscale sent')
  t.equal(tcp.timeout, 432000)
  // ICMP entries with the NAT_DONE bits carry SPAT/DPAT = 0 (conntrackd compares the ICMP id with a zero reply port).
  const icmp = find(a => a.icmpType === 8)
  t.equal(icmp.spatPort, 0)
  t.equal(icmp.dpatPort, 0)
  t.ok(ctMsgs.some(m => m.event === 'new') && ctMsgs.some(m => m.event === 'upd') && ctMsgs.some(m => m.event === 'del'), 'NEW, UPD and DEL seen')
  t.end()
})

t.test('FTFW behaviour seen on the wire', t => {
  const first = uniMsgs[0]?.m
  t.ok(first !== undefined && Math.abs(first.seq - uni.t0) <= 5, 'the first seq is the Unix time at startup')
  // b starts first: ALIVE + HELLO every second until a answers.
  t.same(uniMsgs.slice(0, 2).map(x => [x.src, x.m.kind, x.m.hello, x.m.helloBack]), [['10.98.0.2', 'alive', true, false], ['10.98.0.2', 'alive', true, false]])
  // a's first message: its own HELLO plus HELLO_BACK, on an ACK of b's last message.
  const a1 = uniMsgs[2]?.m
  t.match(a1, { kind: 'ack', hello: true, helloBack: true })
  t.equal(a1?.kind === 'ack' && a1.from, uniMsgs[1]?.m.seq)
  // b answers HELLO_BACK once, no HELLO (it already got a's HELLO_BACK).
  t.match(uniMsgs[3]?.m, { kind: 'ack', hello: false, helloBack: true })
  // A gap makes b send ACK[pending] and NACK[gap] together in one datagram.
  const nackDg = uni.datagrams.find(d => d.messages.length === 2 && d.messages[1]?.type === 10 && (d.messages[1].flags & 0x04) !== 0)
  t.ok(nackDg, 'ACK+NACK datagram present')
  // After a restart, a starts over at the current Unix time (below its old counter) and says HELLO again.
  const restart = uniMsgs.filter(x => x.src === '10.98.0.1' && x.m.hello)
  t.equal(restart.length, 2, 'a said HELLO at startup and after its restart')
  t.ok(uniMsgs.some(x => x.m.kind === 'alive' && !x.m.hello), 'plain ALIVE while the peer is down')
  t.end()
})

t.test('multicast bulk: 21 × 68 bytes fill the 1472-byte budget, the 22nd opens a new datagram', t => {
  const big = mc.datagrams.filter(d => d.messages.length > 1)
  t.same(big.map(d => d.messages.length), [21, 10])
  const msgs = big.flatMap(d => decodeDatagram(Buffer.from(d.hex, 'hex')).messages)
  t.same(packDatagram(msgs, 1500).map(b => b.toString('hex')), big.map(d => d.hex))
  t.end()
})
