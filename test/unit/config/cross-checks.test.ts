// One test per cross-key rule (src/config/cross-checks.ts): each reported with path and line.
import t from 'tap'
import { invalid, oneInstance, valid } from './helpers.js'

const two = (a: string[], b: string[], groups = ''): string => [
  'vrrp:', //                      1
  '  instances:', //               2
  '    A:', //                     3
  ...a.map(l => '      ' + l), //  4..
  '    B:',
  ...b.map(l => '      ' + l),
  groups,
  ''
].join('\n')

t.test('duplicate (interface, VRID, family) across instances', async t => {
  const issues = invalid(two(['interface: eth0', 'vrid: 7', 'virtualAddresses: [192.0.2.1/24]'], ['interface: eth0', 'vrid: 7', 'virtualAddresses: [192.0.2.2/24]']))
  t.same(issues.map(i => [i.path, i.line]), [['vrrp.instances.B.vrid', 9]])
  t.match(issues[0]?.message, /VRID 7 on eth0 for IPv4 is already used by instance A/)
  // Same VRID, other family or other interface: distinct virtual routers (RFC 5798 §5.2.3).
  valid(two(['interface: eth0', 'vrid: 7', 'virtualAddresses: [192.0.2.1/24]'], ['interface: eth0', 'vrid: 7', 'virtualAddresses: ["2001:db8::1/64"]']))
  valid(two(['interface: eth0', 'vrid: 7', 'virtualAddresses: [192.0.2.1/24]'], ['interface: eth1', 'vrid: 7', 'virtualAddresses: [192.0.2.2/24]']))
})

t.test('the same virtual address in two instances', async t => {
  const issues = invalid(two(['interface: eth0', 'vrid: 1', 'virtualAddresses: [192.0.2.1/24]'], ['interface: eth1', 'vrid: 2', 'virtualAddresses: [192.0.2.1/32]']))
  t.same(issues.map(i => [i.path, i.line]), [['vrrp.instances.B.virtualAddresses[0]', 10]])
  t.match(issues[0]?.message, /already a virtual address of instance A/)
})

t.test('sync groups: unknown member, member of two groups, listed twice', async t => {
  const a = ['interface: eth0', 'vrid: 1', 'virtualAddresses: [192.0.2.1/24]']
  const b = ['interface: eth1', 'vrid: 2', 'virtualAddresses: [10.0.0.1/24]']
  const issues = invalid(two(a, b, [
    '  syncGroups:', //          11
    '    G1:', //                12
    '      members: [A, B, C]', // 13
    '    G2:', //                14
    '      members: [A, B, B]' // 15
  ].join('\n')))
  t.same(issues.map(i => [i.path, i.line, i.message]), [
    ['vrrp.syncGroups.G1.members[2]', 13, 'unknown instance C'],
    ['vrrp.syncGroups.G2.members[0]', 15, 'A is already a member of sync group G1 (an instance belongs to at most one group)'],
    ['vrrp.syncGroups.G2.members[1]', 15, 'B is already a member of sync group G1 (an instance belongs to at most one group)'],
    ['vrrp.syncGroups.G2.members[2]', 15, 'B is listed twice']
  ])
})

t.test('VRRPv2 carries IPv4 only', async t => {
  const issues = invalid(oneInstance(['version: 2'], ['192.0.2.1/24', '2001:db8::1/64']))
  t.same(issues.map(i => [i.path, i.line]), [['vrrp.instances.VI_1.virtualAddresses[1]', 6]])
  t.match(issues[0]?.message, /VRRPv2 carries IPv4 addresses only/)
})

t.test('advertisement interval per version', async t => {
  valid(oneInstance(['version: 2', 'advertInterval: 255']))
  valid(oneInstance(['version: 3', 'advertInterval: 40.95s']))
  valid(oneInstance(['version: 3', 'advertInterval: 10ms']))
  const v2 = invalid(oneInstance(['version: 2', 'advertInterval: 500ms']))
  t.same(v2.map(i => [i.path, i.line]), [['vrrp.instances.VI_1.advertInterval', 8]])
  t.match(v2[0]?.message, /whole seconds 1\.\.255/)
  const v3 = invalid(oneInstance(['advertInterval: 15ms']))
  t.match(v3[0]?.message, /multiple of 10ms/)
  const big = invalid(oneInstance(['advertInterval: 41s']))
  t.match(big[0]?.message, /10ms\.\.40\.95s/)
  t.equal(big.length, 1)
})

t.test('authentication only with VRRPv2', async t => {
  valid(oneInstance(['version: 2', 'authentication: { type: pass, password: s3cret }']))
  const issues = invalid(oneInstance(['authentication: { type: pass, password: s3cret }']))
  t.same(issues.map(i => [i.path, i.line]), [['vrrp.instances.VI_1.authentication', 7]])
  t.match(issues[0]?.message, /only in VRRPv2/)
  t.match(invalid(oneInstance(['version: 2', 'authentication: { type: ah, password: x }']))[0]?.message, /"pass"/)
})

t.test('unicast peers must match the families of the virtual addresses', async t => {
  valid(oneInstance(['unicast: { peers: [192.0.2.3, "fe80::3"] }'], ['192.0.2.1/24', '2001:db8::1/64']))
  const wrong = invalid(oneInstance(['unicast: { peers: [192.0.2.3, "fe80::3"] }']))
  t.same(wrong.map(i => [i.path, i.line]), [['vrrp.instances.VI_1.unicast.peers[1]', 7]])
  t.match(wrong[0]?.message, /IPv6 peer, but the instance has no IPv6 virtual address/)
  const missing = invalid(oneInstance(['unicast: { peers: [192.0.2.3] }'], ['192.0.2.1/24', '2001:db8::1/64']))
  t.same(missing.map(i => [i.path, i.message]), [['vrrp.instances.VI_1.unicast.peers', 'no IPv6 peer for the IPv6 virtual addresses']])
  t.match(invalid(oneInstance(['unicast: { peers: [] }']))[0]?.message, /at least one peer/)
})

t.test('source addresses: one per family, matching family, IPv6 link-local', async t => {
  valid(oneInstance(['sourceAddresses: [192.0.2.2, "fe80::2"]'], ['192.0.2.1/24', '2001:db8::1/64']))
  const issues = invalid(oneInstance(['sourceAddresses: ["2001:db8::2", 192.0.2.2]'], ['2001:db8::1/64']))
  t.same(issues.map(i => i.message), [
    'an IPv6 source address must be link-local (RFC 5798 §5.1.2.1)',
    'IPv4 source address, but the instance has no IPv4 virtual address'
  ])
  t.match(invalid(oneInstance(['sourceAddresses: [192.0.2.2, 192.0.2.3]']))[0]?.message, /second IPv4/)
})

t.test('the address owner cannot use tracking weights', async t => {
  valid(oneInstance(['priority: 255', 'track: { interfaces: [eth2], scripts: [{ name: s, command: [/bin/true] }] }']))
  const issues = invalid(oneInstance(['priority: 255', 'track:', '  interfaces: [{ name: eth2, weight: -10 }]', '  files: [{ path: /run/f }]']))
  t.same(issues.map(i => [i.path, i.line]), [
    ['vrrp.instances.VI_1.track.interfaces[0].weight', 9],
    ['vrrp.instances.VI_1.track.files[0]', 10]
  ])
  t.match(issues[0]?.message, /address owner/)
})

t.test('tracking weight range', async t => {
  valid(oneInstance(['track: { interfaces: [{ name: eth2, weight: -254 }, { name: eth3, weight: 254 }] }']))
  t.match(invalid(oneInstance(['track: { files: [{ path: /f, weight: -255 }] }']))[0]?.message, /-254\.\.254/)
})

t.test('script timeout must not exceed its interval; script names unique', async t => {
  valid(oneInstance(['track: { scripts: [{ name: s, command: [x], interval: 2s, timeout: 2s }] }']))
  const issues = invalid(oneInstance(['track: { scripts: [{ name: s, command: [x], interval: 2s, timeout: 3s }, { name: s, command: [y] }] }']))
  t.same(issues.map(i => i.path), ['vrrp.instances.VI_1.track.scripts[0].timeout', 'vrrp.instances.VI_1.track.scripts[1].name'])
  t.match(invalid(oneInstance(['track: { scripts: [{ name: s, command: [x], timeout: 1.5s }] }']))[0]?.message, /longer than the interval/)
})

t.test('at least one instance', async t => {
  t.same(invalid('vrrp: { instances: {} }\n').map(i => [i.path, i.message]), [['vrrp.instances', 'must define at least one instance']])
})

t.test('conntrack: transport section, no mixing, address families, filter either/or', async t => {
  const base = oneInstance()
  const ct = (lines: string[]): string => base + 'conntrack:\n' + lines.map(l => '  ' + l).join('\n') + '\n'
  valid(ct(['sync: { transport: udp, interface: eth2, udp: { address: 192.168.100.1, peer: 192.168.100.2 } }']))
  valid(ct(['sync: { transport: udp, interface: eth2, udp: { address: "fd00::1", peer: "fd00::2" } }']))
  const missing = invalid(ct(['sync: { transport: multicast, interface: eth2 }']))
  t.same(missing.map(i => [i.path, i.line, i.message]), [['conntrack.sync', 8, 'transport is multicast but sync.multicast is missing']])
  const mixed = invalid(ct(['sync:', '  transport: udp', '  interface: eth2', '  udp: { address: 192.168.100.1, peer: "fd00::2" }', '  multicast: { interfaceAddress: 192.168.100.1 }']))
  t.same(mixed.map(i => [i.path, i.line]), [['conntrack.sync.udp.peer', 11], ['conntrack.sync.multicast', 12]])
  const mc = invalid(ct(['sync: { transport: multicast, interface: eth2, multicast: { group: 192.0.2.1, interfaceAddress: "fd00::1" } }']))
  t.same(mc.map(i => i.path), ['conntrack.sync.multicast.group', 'conntrack.sync.multicast.interfaceAddress'])
  const filter = invalid(ct(['sync: { transport: udp, interface: eth2, udp: { address: 192.168.100.1, peer: 192.168.100.2 } }',
    'filter: { protocols: { accept: [tcp], ignore: [udp] }, tcpStates: { accept: [ESTABLISHED], ignore: [CLOSE] } }']))
  t.same(filter.map(i => i.path), ['conntrack.filter.protocols', 'conntrack.filter.tcpStates'])
  t.match(invalid(ct(['sync: { transport: tcp, interface: eth2 }']))[0]?.message, /one of "udp", "multicast"/)
})
