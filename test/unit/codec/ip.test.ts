import t from 'tap'
import { parseIPv4, parseIPv6, canonicalIP, compareIP, formatIPv6, isIPv6LinkLocal } from '../../../src/codec/ip.js'

t.test('IPv4 parse and reject', async t => {
  t.same([...parseIPv4('192.168.1.10')!], [192, 168, 1, 10])
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'a.b.c.d', '']) t.equal(parseIPv4(bad), null, bad)
})

t.test('IPv6 parse, canonical form (RFC 5952)', async t => {
  t.equal(canonicalIP('FE80:0:0:0:0:0:0:1'), 'fe80::1')
  t.equal(canonicalIP('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1')
  t.equal(canonicalIP('::'), '::')
  t.equal(canonicalIP('::ffff:192.0.2.1'), '::ffff:c000:201')
  t.equal(canonicalIP('2001:db8::'), '2001:db8::')
  t.equal(formatIPv6(parseIPv6('1:0:1:0:1:0:1:0')!), '1:0:1:0:1:0:1:0')
  for (const bad of [':::', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'g::1', '1:2:3:4:5:6:7::8']) t.equal(parseIPv6(bad), null, bad)
})

t.test('compareIP orders as unsigned integers', async t => {
  t.equal(compareIP('10.0.0.2', '10.0.0.10'), -1)
  t.equal(compareIP('192.168.0.1', '10.0.0.1'), 1)
  t.equal(compareIP('fe80::2', 'fe80::2'), 0)
  t.throws(() => compareIP('10.0.0.1', 'fe80::1'))
  t.ok(isIPv6LinkLocal('fe80::1'))
  t.notOk(isIPv6LinkLocal('2001:db8::1'))
})
