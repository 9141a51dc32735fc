// lab/vrrp-pcap: reading VRRP adverts back from a pcap file, and the per-router gap statistics the
// storm benchmark and e2e test print and assert on.
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { advertGaps, canonicalIp, readVrrpPcap } from '../../../src/lab/vrrp-pcap.js'
import type { WireAdvert } from '../../../src/lab/vrrp-pcap.js'

function pcap (packets: Array<{ ts: number, frame: Buffer }>): Buffer {
  const head = Buffer.alloc(24)
  head.writeUInt32LE(0xa1b2c3d4, 0)
  head.writeUInt16LE(2, 4)
  head.writeUInt16LE(4, 6)
  head.writeUInt32LE(65535, 16)
  head.writeUInt32LE(1, 20)
  const recs = packets.map(p => {
    const h = Buffer.alloc(16)
    h.writeUInt32LE(Math.floor(p.ts / 1000), 0)
    h.writeUInt32LE(Math.round((p.ts % 1000) * 1000), 4)
    h.writeUInt32LE(p.frame.length, 8)
    h.writeUInt32LE(p.frame.length, 12)
    return Buffer.concat([h, p.frame])
  })
  return Buffer.concat([head, ...recs])
}

const eth = (type: number): Buffer => { const b = Buffer.alloc(14); b.writeUInt16BE(type, 12); return b }
const vrrp = (vrid: number, prio: number): Buffer => Buffer.from([0x31, vrid, prio, 1, 0, 10, 0, 0, 10, 1, 0, 1])

function v4 (src: string, vrid: number, prio: number): Buffer {
  const ip = Buffer.alloc(20)
  ip[0] = 0x45
  ip[9] = 112
  src.split('.').forEach((x, k) => { ip[12 + k] = Number(x) })
  return Buffer.concat([eth(0x0800), ip, vrrp(vrid, prio)])
}

function v6 (srcGroups: number[], vrid: number, prio: number): Buffer {
  const ip = Buffer.alloc(40)
  ip[0] = 0x60
  ip[6] = 112
  srcGroups.forEach((g, k) => { ip.writeUInt16BE(g, 8 + 2 * k) })
  return Buffer.concat([eth(0x86dd), ip, vrrp(vrid, prio)])
}

t.test('canonicalIp', async t => {
  t.equal(canonicalIp('10.1.0.2/24'), '10.1.0.2')
  t.equal(canonicalIp('fe80::1%eth0'), 'fe80:0000:0000:0000:0000:0000:0000:0001')
  t.equal(canonicalIp('2001:db8:0:1::3'), '2001:0db8:0000:0001:0000:0000:0000:0003')
  t.equal(canonicalIp('::1'), '0000:0000:0000:0000:0000:0000:0000:0001')
})

t.test('readVrrpPcap: IPv4 and IPv6 adverts with source, router, priority, time; other packets skipped', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'hafw-vrrp-pcap-'))
  const file = join(dir, 'x.pcap')
  const udp = Buffer.concat([eth(0x0800), Buffer.from([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 2, 0, 1, 10, 2, 0, 2]), Buffer.alloc(8)])
  writeFileSync(file, pcap([
    { ts: 1_000_000.5, frame: v4('10.1.0.2', 52, 100) },
    { ts: 1_000_001, frame: udp },
    { ts: 1_000_100.25, frame: v6([0xfe80, 0, 0, 0, 0, 0, 0, 3], 51, 50) }
  ]))
  const a = readVrrpPcap(file)
  t.equal(a.length, 2)
  t.match(a[0], { src: '10.1.0.2', family: 4, vrid: 52, prio: 100, router: 'v4/52' })
  t.ok(Math.abs((a[0]?.ts ?? 0) - 1_000_000.5) < 0.01)
  t.equal(a[1]?.src, canonicalIp('fe80::3'))
  t.match(a[1], { family: 6, vrid: 51, prio: 50, router: 'v6/51' })
  t.same(readVrrpPcap(join(dir, 'missing.pcap')), [])
})

t.test('advertGaps: per router, inside the window, trailing silence', async t => {
  const ad = (router: string, ts: number): WireAdvert => ({ ts, src: 'x', family: 4, vrid: 1, prio: 100, router })
  const steady = [0, 100, 200, 300, 400, 500].map(ts => ad('v4/51', ts))
  t.match(advertGaps(steady, 150, 500, 150), { maxGap: 100, over: 0, adverts: 4, routers: 1 })
  // one stall of 600 ms on one router, the other steady
  const stalled = [0, 100, 700, 800].map(ts => ad('v4/52', ts))
  const steadyOn = [0, 100, 200, 300, 400, 500, 600, 700, 800].map(ts => ad('v4/51', ts))
  const g = advertGaps([...steadyOn, ...stalled], 50, 800, 150)
  t.equal(g.maxGap, 600)
  t.equal(g.maxRouter, 'v4/52')
  t.equal(g.over, 1)
  // a sender that stopped: the silence up to the end of the window counts
  t.match(advertGaps([0, 100].map(ts => ad('v4/51', ts)), 50, 1000, 150), { maxGap: 900, over: 1 })
  // the gap whose later advert is before the window does not count
  t.match(advertGaps([0, 500, 600, 700].map(ts => ad('v4/51', ts)), 550, 700, 150), { maxGap: 100, over: 0 })
  t.match(advertGaps([], 0, 100, 150), { maxGap: null, over: 0, adverts: 0 })
})
