// Ingress and egress of the runtime over real keepalived adverts (test/fixtures/vectors/vrrp):
// demultiplexing by (interface, family, VRID), version and VRRPv2 auth checks with named drop
// reasons, the IPv6 hop limit from recvmsg, and adverts we send decode back the same.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { ingress, indexRouters, egress, advertDestinations } from '../../../src/runtime/vrrp-wire.js'
import type { RouterWire } from '../../../src/runtime/vrrp-wire.js'
import { decodeAdvert } from '../../../src/codec/vrrp.js'

interface Vector { src: string, dst: string, ipHex?: string, payloadHex: string, hopLimit?: number, expected: { vrid: number, priority: number, addresses: string[] } }
const vector = (file: string): Vector => (JSON.parse(readFileSync(new URL(`../../fixtures/vectors/vrrp/${file}.json`, import.meta.url), 'utf8')) as { vectors: Vector[] }).vectors[0] as Vector

function wire (over: Partial<RouterWire>): RouterWire {
  return { id: 'r', ifname: 'eth0', family: 'ipv4', vrid: 61, version: 3, advertIntervalCs: 100, vips: [], password: null, v3Ipv4ChecksumCompat: false, unicastPeers: null, checkSource: true, ...over }
}

t.test('a keepalived VRRPv3/IPv4 advert becomes an advert input for the router with that VRID', async t => {
  const v = vector('v3-ipv4')
  const routers = indexRouters([wire({ id: 'VI/ipv4', vrid: v.expected.vrid })])
  const r = ingress({ ifname: 'eth0', family: 'ipv4', data: Buffer.from(v.ipHex as string, 'hex'), src: v.src }, routers)
  t.ok(r.ok)
  if (r.ok) {
    t.equal(r.routerId, 'VI/ipv4')
    t.same(r.input, { kind: 'advert', src: v.src, priority: v.expected.priority, adverIntervalCs: 100, addresses: v.expected.addresses })
  }
})

t.test('named drops: unknown VRID, other interface, version mismatch, TTL, checksum', async t => {
  const v = vector('v3-ipv4')
  const data = Buffer.from(v.ipHex as string, 'hex')
  const frame = { ifname: 'eth0', family: 'ipv4' as const, data, src: v.src }
  const reason = (routers: RouterWire[], f = frame): string => { const r = ingress(f, indexRouters(routers)); return r.ok ? 'accepted' : r.reason }
  t.equal(reason([wire({ vrid: 99 })]), 'unknownVrid')
  t.equal(reason([wire({ ifname: 'eth1' })]), 'unknownVrid', 'same VRID on another interface is another router')
  t.equal(reason([wire({ version: 2, advertIntervalCs: 100 })]), 'versionMismatch')
  const ttl64 = Buffer.from(data); ttl64[8] = 64
  t.equal(reason([wire({})], { ...frame, data: ttl64 }), 'VRRP_BAD_TTL')
  const badSum = Buffer.from(data); badSum.writeUInt8(badSum.readUInt8(badSum.length - 1) ^ 0xff, badSum.length - 1)
  t.equal(reason([wire({})], { ...frame, data: badSum }), 'VRRP_BAD_CHECKSUM')
  t.equal(reason([wire({})], { ...frame, data: data.subarray(0, 25) }), 'IPV4_BAD_LENGTH', 'truncated datagram: the IP total length says more')
})

t.test('VRRPv2 PASS authentication must match (RFC 3768 §7.1)', async t => {
  const v = vector('v2-ipv4-pass')
  const frame = { ifname: 'eth0', family: 'ipv4' as const, data: Buffer.from(v.ipHex as string, 'hex'), src: v.src }
  const base = { vrid: v.expected.vrid, version: 2 as const }
  t.ok(ingress(frame, indexRouters([wire({ ...base, password: 'secret1' })])).ok, 'right password accepted')
  const wrong = ingress(frame, indexRouters([wire({ ...base, password: 'other' })]))
  t.equal(wrong.ok ? 'accepted' : wrong.reason, 'authMismatch')
  const none = ingress(frame, indexRouters([wire({ ...base, password: null })]))
  t.equal(none.ok ? 'accepted' : none.reason, 'authMismatch', 'auth present where none is configured')
})

t.test('IPv6: the hop limit from recvmsg is checked like the IPv4 TTL (RFC 5798 §7.1)', async t => {
  const v = vector('v3-ipv6')
  const routers = indexRouters([wire({ family: 'ipv6', vrid: v.expected.vrid })])
  const frame = { ifname: 'eth0', family: 'ipv6' as const, data: Buffer.from(v.payloadHex, 'hex'), src: v.src, dst: 'ff02::12' }
  t.ok(ingress({ ...frame, hopLimit: 255 }, routers).ok, 'hop limit 255 accepted')
  const low = ingress({ ...frame, hopLimit: 64 }, routers)
  t.equal(low.ok ? 'accepted' : low.reason, 'VRRP_BAD_TTL')
})

t.test('egress: one payload per destination; each decodes back with its own pseudo-header', async t => {
  const r = wire({ vrid: 51, vips: [{ address: '192.0.2.1', prefix: 24, family: 'ipv4' }], unicastPeers: ['192.0.2.3', '192.0.2.4'] })
  t.same(advertDestinations(r), ['192.0.2.3', '192.0.2.4'])
  const out = egress(r, 0, '192.0.2.2')
  t.equal(out.length, 2)
  for (const p of out) {
    const a = decodeAdvert(p.payload, { family: 'ipv4', src: '192.0.2.2', dst: p.dst })
    t.equal(a.priority, 0)
    t.same(a.addresses, ['192.0.2.1'])
  }
  t.same(advertDestinations(wire({ family: 'ipv6', unicastPeers: null })), ['ff02::12'])
})

t.test('unicast source check: a unicast router takes adverts from its peers only (issue 12)', async t => {
  const v = vector('v3-ipv4')
  const frame = { ifname: 'eth0', family: 'ipv4' as const, data: Buffer.from(v.ipHex as string, 'hex'), src: v.src }
  const reason = (over: Partial<RouterWire>): string => { const r = ingress(frame, indexRouters([wire({ vrid: v.expected.vrid, ...over })])); return r.ok ? 'accepted' : r.reason }
  t.equal(reason({ unicastPeers: [v.src] }), 'accepted', 'the peer')
  t.equal(reason({ unicastPeers: ['192.0.2.250'] }), 'notUnicastPeer', 'a non-peer is dropped before the router')
  t.equal(reason({ unicastPeers: ['192.0.2.250'], checkSource: false }), 'accepted', 'checkSource false: keepalived default')
  t.equal(reason({ unicastPeers: null }), 'accepted', 'multicast routers are not affected')
  t.equal(reason({ unicastPeers: ['192.0.2.250'], version: 2 }), 'notUnicastPeer', 'the source check comes before the version check')
})
