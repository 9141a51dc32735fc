// Virtual routes and rules (keepalived virtual_routes / virtual_rules): schema errors with key
// paths, the family cross-checks, and the model (per-family split, table names, default dev).
import t from 'tap'
import { invalid, model, oneInstance, valid } from './helpers.js'

t.test('a valid set of routes and rules', async t => {
  const c = valid(oneInstance([
    'routes:',
    '  - { to: 198.51.100.0/24, via: 192.0.2.254, src: 192.0.2.1, metric: 10, table: 100 }',
    '  - { to: 203.0.113.0/24, type: blackhole }',
    '  - { to: 0.0.0.0/0, via: 192.0.2.254, table: main }',
    'rules:',
    '  - { from: 192.0.2.0/24, table: 100, priority: 1000 }',
    '  - { fwmark: 7, fwmask: 255, table: 100 }'
  ]))
  t.equal(c.vrrp.instances.VI_1?.routes.length, 3)
  t.equal(c.vrrp.instances.VI_1?.routes[1]?.table, 'main', 'table defaults to main')
})

t.test('schema errors name the key path', async t => {
  const issues = invalid(oneInstance([
    'routes:',
    '  - { to: 198.51.100.7/24 }', //          line 8: host bits
    '  - { to: 198.51.100.0/24, table: 0 }', // line 9
    '  - { to: 198.51.100.0/24, type: nat }', // line 10
    '  - { via: 192.0.2.254 }', //             line 11: no destination
    'rules:',
    '  - { from: 10.0.0.0/8, tabel: 100 }' //   line 13: typo, no table
  ]))
  const at = issues.map(i => [i.path, i.line])
  t.same(at.slice(0, 4), [
    ['vrrp.instances.VI_1.routes[0].to', 8],
    ['vrrp.instances.VI_1.routes[1].table', 9],
    ['vrrp.instances.VI_1.routes[2].type', 10],
    ['vrrp.instances.VI_1.routes[3].to', 11]
  ])
  t.match(issues[0]?.message, /host bits are set: did you mean 198\.51\.100\.0\/24\?/)
  t.ok(issues.some(i => i.path === 'vrrp.instances.VI_1.rules[0].table'), 'missing table reported')
  t.ok(issues.some(i => i.path.startsWith('vrrp.instances.VI_1.rules[0]') && /tabel/.test(i.message + i.path)), 'the typo is reported')
})

t.test('family: within an entry and against the instance', async t => {
  const issues = invalid(oneInstance([
    'routes:',
    '  - { to: 198.51.100.0/24, via: "2001:db8::1" }', //  line 8: mixed
    '  - { to: "2001:db8:5::/48", dev: eth0 }', //        line 9: instance has no IPv6
    'rules:',
    '  - { from: 10.0.0.0/8, to: "2001:db8::/32", table: 5 }', // line 11: mixed
    '  - { to: "2001:db8::/32", table: 5 }' //            line 12: no IPv6 router
  ]))
  t.same(issues.map(i => [i.path, i.line]), [
    ['vrrp.instances.VI_1.routes[0].via', 8],
    ['vrrp.instances.VI_1.routes[1].to', 9],
    ['vrrp.instances.VI_1.rules[0].to', 11],
    ['vrrp.instances.VI_1.rules[1].to', 12]
  ])
  t.match(issues[0]?.message, /must be IPv4 like to/)
  t.match(issues[1]?.message, /IPv6, but the instance has no IPv6 virtual address/)
})

t.test('type, fwmask and family-less rules', async t => {
  const issues = invalid(oneInstance([
    'routes:',
    '  - { to: 203.0.113.0/24, type: unreachable, via: 192.0.2.254 }', // line 8
    'rules:',
    '  - { fwmask: 255, table: 5 }', //                                 line 10
    '  - { fwmark: 1, table: 5 }' //                                    line 11: dual family → no family
  ], ['192.0.2.1/24', '2001:db8::1/64']))
  t.same(issues.map(i => [i.path, i.line]), [
    ['vrrp.instances.VI_1.routes[0].via', 8],
    ['vrrp.instances.VI_1.rules[0]', 10],
    ['vrrp.instances.VI_1.rules[0].fwmask', 10],
    ['vrrp.instances.VI_1.rules[1]', 11]
  ])
  t.match(issues[0]?.message, /unreachable route has no gateway/)
  t.match(issues[3]?.message, /give from or to/)
})

t.test('model: each entry goes to its family, tables as ids, default dev', async t => {
  const m = model(oneInstance([
    'routes:',
    '  - { to: 198.51.100.0/24 }',
    '  - { to: "2001:db8:5::/48", via: "2001:db8::fe", table: local, metric: 5 }',
    '  - { to: 203.0.113.0/24, type: prohibit }',
    'rules:',
    '  - { from: "2001:db8::/32", table: 4000000000 }',
    '  - { to: 10.0.0.0/8, table: default, fwmark: 3 }'
  ], ['192.0.2.1/24', '2001:db8::1/64']))
  const v4 = m.routers.find(r => r.id === 'VI_1/ipv4')
  const v6 = m.routers.find(r => r.id === 'VI_1/ipv6')
  t.same(v4?.routes, [
    { family: 'ipv4', dst: '198.51.100.0', prefix: 24, type: 'unicast', dev: 'eth0', table: 254 },
    { family: 'ipv4', dst: '203.0.113.0', prefix: 24, type: 'prohibit', table: 254 }
  ], 'a unicast route without via gets the instance interface; a prohibit route no device')
  t.same(v6?.routes, [{ family: 'ipv6', dst: '2001:db8:5::', prefix: 48, type: 'unicast', via: '2001:db8::fe', metric: 5, table: 255 }])
  t.same(v4?.rules, [{ family: 'ipv4', to: { address: '10.0.0.0', prefix: 8 }, table: 253, fwmark: 3 }])
  t.same(v6?.rules, [{ family: 'ipv6', from: { address: '2001:db8::', prefix: 32 }, table: 4000000000 }])
})

t.test('no routes: empty lists', async t => {
  const m = model(oneInstance())
  t.same(m.routers[0]?.routes, [])
  t.same(m.routers[0]?.rules, [])
})

t.test('vmac: model puts the VIPs without dev on the macvlan, RFC 5798 §7.3 MAC', async t => {
  const m = model(oneInstance(['vmac: true'], ['192.0.2.1/24', '198.51.100.1/24']))
  const r = m.routers[0]
  t.same(r?.vmac, { name: 'vrrp.51', mac: '00:00:5e:00:01:33' }, 'default name vrrp.VRID; VRID 51 = 0x33')
  t.same(r?.vips.map(v => v.dev), ['vrrp.51', 'vrrp.51'])
  const named = model(oneInstance(['vmac: { name: vmac-out }']))
  t.equal(named.routers[0]?.vmac?.name, 'vmac-out')
  const off = model(oneInstance())
  t.equal(off.routers[0]?.vmac, null)
  t.equal(off.routers[0]?.vips[0]?.dev, undefined, 'no vmac: VIPs stay on the interface')
})

t.test('vmac: one family, a name of its own, not shared', async t => {
  const v6 = invalid(oneInstance(['vmac: true'], ['192.0.2.1/24', '2001:db8::1/64']))
  t.same(v6.map(i => [i.path, i.line]), [['vrrp.instances.VI_1.vmac', 7]])
  t.match(v6[0]?.message, /single-family instance/)
  const only6 = model(oneInstance(['vmac: true'], ['2001:db8::1/64']))
  t.same(only6.routers[0]?.vmac, { name: 'vrrp.51', mac: '00:00:5e:00:02:33' }, 'IPv6: 00-00-5E-00-02-{VRID}')
  const same = invalid(oneInstance(['vmac: { name: eth0 }']))
  t.match(same[0]?.message, /is the instance interface/)
  const shared = invalid([
    'vrrp:',
    '  instances:',
    '    A: { interface: eth0, vrid: 5, virtualAddresses: [192.0.2.1/24], vmac: { name: vm } }',
    '    B: { interface: eth1, vrid: 6, virtualAddresses: [198.51.100.1/24], vmac: { name: vm } }',
    ''
  ].join('\n'))
  t.same(shared.map(i => i.path), ['vrrp.instances.B.vmac'])
  t.match(shared[0]?.message, /already the virtual MAC interface of instance A/)
  const bad = invalid(oneInstance(['vmac: yes please']))
  t.same(bad.map(i => i.path), ['vrrp.instances.VI_1.vmac'])
})
