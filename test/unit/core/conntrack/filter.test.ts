import t from 'tap'
import { compileFilter, filterFlow, withLocalAddresses, type FilterConfig } from '../../../../src/core/conntrack/filter.js'
import { invertTuple, type Flow } from '../../../../src/core/conntrack/flow.js'
import { TCP, tcpFlow, udpFlow } from './helpers.js'

const base: FilterConfig = {
  protocols: { mode: 'accept', list: ['tcp', 'sctp', 'dccp'] },
  ignoreAddresses: [
    { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
    { address: '::1', prefix: 128, family: 'ipv6' },
    { address: '192.0.2.100', prefix: 32, family: 'ipv4' }, // a VIP
    { address: '198.51.100.0', prefix: 26, family: 'ipv4' } // a configured prefix
  ],
  tcpStates: null
}

function flow (src: string, dst: string, over: Partial<Flow> = {}): Flow {
  const orig = { src, dst, l4proto: 6, sport: 40000, dport: 80 }
  return { family: 'ipv4', orig, reply: invertTuple(orig), tcp: { state: TCP.ESTABLISHED }, ...over }
}

t.test('filter: protocol accept list (conntrackd example: TCP, SCTP, DCCP)', async t => {
  const f = compileFilter(base)
  t.same(filterFlow(f, tcpFlow(1000)), { accept: true })
  t.same(filterFlow(f, udpFlow(1000)), { accept: false, reason: 'protocol' })
  const ignoreUdp = compileFilter({ ...base, protocols: { mode: 'ignore', list: ['udp', 'icmp'] } })
  t.same(filterFlow(ignoreUdp, udpFlow(1000)), { accept: false, reason: 'protocol' })
  t.same(filterFlow(ignoreUdp, tcpFlow(1000)), { accept: true })
})

t.test('filter: addresses match orig.src and reply.src, VIPs and loopback included', async t => {
  const f = compileFilter(base)
  t.same(filterFlow(f, flow('192.0.2.100', '10.0.0.1')), { accept: false, reason: 'address' }, 'from the VIP')
  t.same(filterFlow(f, flow('10.0.0.1', '192.0.2.100')), { accept: false, reason: 'address' }, 'to the VIP: reply.src is the VIP')
  t.same(filterFlow(f, flow('127.0.0.1', '127.0.0.1')), { accept: false, reason: 'address' })
  t.same(filterFlow(f, flow('198.51.100.63', '10.0.0.1')), { accept: false, reason: 'address' }, 'inside the /26')
  t.same(filterFlow(f, flow('198.51.100.64', '10.0.0.1')), { accept: true }, 'just outside the /26')
  // DNAT to the VIP: orig.dst = VIP, reply.src = the real server → forwarded, replicated.
  const orig = { src: '10.0.0.1', dst: '192.0.2.100', l4proto: 6, sport: 40000, dport: 8080 }
  const dnat: Flow = { family: 'ipv4', orig, reply: { ...invertTuple(orig), src: '10.9.9.9', sport: 80 } }
  t.same(filterFlow(f, dnat), { accept: true }, 'DNAT through the VIP is forwarded traffic')
  // SNAT to the VIP: reply.dst = VIP only → replicated.
  const o2 = { src: '10.0.0.1', dst: '203.0.113.5', l4proto: 6, sport: 40000, dport: 443 }
  const snat: Flow = { family: 'ipv4', orig: o2, reply: { ...invertTuple(o2), dst: '192.0.2.100' } }
  t.same(filterFlow(f, snat), { accept: true }, 'SNAT to the VIP is forwarded traffic')
})

t.test('filter: IPv6 prefixes and local addresses from rtnetlink', async t => {
  let f = compileFilter({ ...base, ignoreAddresses: [...base.ignoreAddresses, { address: '2001:db8:1::', prefix: 48, family: 'ipv6' }] })
  const six = (src: string): Flow => {
    const orig = { src, dst: '2001:db8:99::1', l4proto: 6, sport: 1, dport: 2 }
    return { family: 'ipv6', orig, reply: invertTuple(orig) }
  }
  t.same(filterFlow(f, six('2001:db8:1:ffff::1')), { accept: false, reason: 'address' })
  t.same(filterFlow(f, six('2001:db8:2::1')), { accept: true })
  t.same(filterFlow(f, six('::1')), { accept: false, reason: 'address' })
  t.same(filterFlow(f, flow('10.1.1.1', '10.0.0.9')), { accept: true })
  f = withLocalAddresses(f, [{ address: '10.1.1.1', prefix: 32, family: 'ipv4' }, { address: 'fe80::1', prefix: 128, family: 'ipv6' }])
  t.same(filterFlow(f, flow('10.1.1.1', '10.0.0.9')), { accept: false, reason: 'address' }, 'a new local address is ignored')
  t.same(f.local.length, 2)
  f = withLocalAddresses(f, [])
  t.same(filterFlow(f, flow('10.1.1.1', '10.0.0.9')), { accept: true }, 'and accepted again once removed')
  t.same(filterFlow(f, flow('192.0.2.100', '10.0.0.9')), { accept: false, reason: 'address' }, 'configured ones stay')
  t.same(filterFlow(f, { ...six('2001:db8:2::1'), orig: { ...six('2001:db8:2::1').orig, src: '10.0.0.1' } }), { accept: true }, 'family mismatch never matches')
})

t.test('filter: TCP states, accept and ignore; unknown state passes; other protocols untouched', async t => {
  const accept = compileFilter({ ...base, protocols: { mode: 'accept', list: ['tcp', 'udp'] }, tcpStates: { mode: 'accept', list: ['ESTABLISHED', 'SYN_RECV'] } })
  t.same(filterFlow(accept, tcpFlow(1)), { accept: true })
  t.same(filterFlow(accept, tcpFlow(1, { tcp: { state: TCP.SYN_SENT } })), { accept: false, reason: 'tcpState' })
  t.same(filterFlow(accept, tcpFlow(1, { tcp: undefined })), { accept: true }, 'event without protoinfo passes (conntrackd returns -1)')
  t.same(filterFlow(accept, udpFlow(1)), { accept: true }, 'state filter is TCP only')
  const ignore = compileFilter({ ...base, tcpStates: { mode: 'ignore', list: ['TIME_WAIT', 'CLOSE'] } })
  t.same(filterFlow(ignore, tcpFlow(1, { tcp: { state: TCP.TIME_WAIT } })), { accept: false, reason: 'tcpState' })
  t.same(filterFlow(ignore, tcpFlow(1, { tcp: { state: TCP.SYN_SENT2 } })), { accept: true })
})

t.test('filter: order is protocol, then address, then state', async t => {
  const f = compileFilter({ ...base, tcpStates: { mode: 'accept', list: ['ESTABLISHED'] } })
  const both = flow('192.0.2.100', '10.0.0.1', { tcp: { state: TCP.SYN_SENT } })
  t.same(filterFlow(f, both), { accept: false, reason: 'address' })
  t.same(filterFlow(f, { ...both, orig: { ...both.orig, l4proto: 17 } }), { accept: false, reason: 'protocol' })
})

t.test('filter: bad input is refused at compile time', async t => {
  t.throws(() => compileFilter({ ...base, ignoreAddresses: [{ address: 'nope', prefix: 32, family: 'ipv4' }] }), RangeError)
  t.throws(() => compileFilter({ ...base, ignoreAddresses: [{ address: '10.0.0.0', prefix: 33, family: 'ipv4' }] }), RangeError)
  t.throws(() => compileFilter({ ...base, tcpStates: { mode: 'accept', list: ['BOGUS'] } }), RangeError)
})
