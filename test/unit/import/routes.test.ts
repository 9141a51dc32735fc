// keepalived virtual_routes / virtual_rules → hafw routes / rules: the common subset translated
// and validated end to end; what changes routing and cannot be written is reported, never guessed.
import t from 'tap'
import { importText, modelOf, router, type Imported } from './helpers.js'

function ok (r: ReturnType<typeof importText>): Imported {
  if (!r.ok) throw new Error(`${r.error.line}: ${r.error.message}`)
  return r
}

const inst = (body: string, name = 'VI_1', vip = '192.0.2.1/24', vrid = 7): string =>
  `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n  virtual_ipaddress {\n    ${vip}\n  }\n${body}}\n`

t.test('the keepalived man page examples that hafw can carry', async t => {
  const r = ok(importText(inst([
    '  virtual_routes {', //                                                           7
    '    src 192.0.2.1 to 192.168.109.0/24 via 192.0.2.254 dev eth1', //               8
    '    192.168.110.0/24 via 192.0.2.254 dev eth1 metric 5', //                        9
    '    192.168.111.0/24 dev eth2 no_track', //                                        10
    '    blackhole 192.168.114.0/24', //                                                11
    '    0.0.0.0/0 gw 192.0.2.254 table 100', //                                        12
    '    default via 192.0.2.253 table main', //                                        13
    '  }',
    '  virtual_rules {', //                                                            15
    '    from 192.168.2.0/24 table 1', //                                               16
    '    to 192.168.2.0/24 lookup 1 priority 100 no_track', //                          17
    '    from all fwmark 0x7/0xff table 100', //                                        18
    '  }'
  ].join('\n') + '\n')))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.routes.map(x => [x.type, `${x.dst}/${x.prefix}`, x.via ?? null, x.dev ?? null, x.src ?? null, x.metric ?? null, x.table]), [
    ['unicast', '192.168.109.0/24', '192.0.2.254', 'eth1', '192.0.2.1', null, 254],
    ['unicast', '192.168.110.0/24', '192.0.2.254', 'eth1', null, 5, 254],
    ['unicast', '192.168.111.0/24', null, 'eth2', null, null, 254],
    ['blackhole', '192.168.114.0/24', null, null, null, null, 254],
    ['unicast', '0.0.0.0/0', '192.0.2.254', null, null, null, 100],
    ['unicast', '0.0.0.0/0', '192.0.2.253', null, null, null, 254]
  ])
  t.same(m.rules, [
    { family: 'ipv4', from: { address: '192.168.2.0', prefix: 24 }, table: 1 },
    { family: 'ipv4', to: { address: '192.168.2.0', prefix: 24 }, table: 1, priority: 100 },
    { family: 'ipv4', table: 100, fwmark: 7, fwmask: 255 }
  ])
  t.same(r.items.filter(i => i.kind === 'attention').map(i => i.line), [], 'nothing needs attention')
  t.same(r.items.filter(i => i.kind === 'note').map(i => i.line).filter(l => l >= 7), [10, 17], 'no_track noted')
  const outcome = r.outcomes.find(o => o.line === 8)
  t.match(outcome?.marks[0]?.message, /vrrp\.instances\.VI_1\.routes/)
})

t.test('what would route differently is not written, with the reason', async t => {
  const r = ok(importText(inst([
    '  virtual_routes {',
    '    192.168.113.0/24 via 192.0.2.254 or 192.0.2.253 dev eth1', //   8: or
    '    192.168.100.0/24 table 6909 nexthop via 192.0.2.1 dev eth0', // 9: nexthop
    '    throw 10.0.0.0/8', //                                           10: type
    '    10.1.0.0/16 via 192.0.2.9 table isp2', //                       11: table name
    '    10.2.0.0/16 via 192.0.2.9 mtu 1400', //                         12: translated without mtu
    '    10.3.0.7/16 dev eth0', //                                       13: host bits cleared (note)
    '  }',
    '  virtual_rules {',
    '    from 10.0.0.0/8 iif eth1 table 5', //                           16: iif
    '    from 10.0.0.0/8 goto 40', //                                    17: no table
    '  }'
  ].join('\n') + '\n')))
  const att = r.items.filter(i => i.kind === 'attention')
  t.same(att.map(i => i.line), [8, 9, 10, 11, 12, 16, 17])
  t.match(att[0]?.message, /not translated: or/)
  t.match(att[3]?.message, /rt_tables/)
  t.match(att[4]?.message, /translated without mtu 1400/)
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.routes.map(x => `${x.dst}/${x.prefix}`), ['10.2.0.0/16', '10.3.0.0/16'])
  t.same(m.rules, [])
  t.ok(r.items.some(i => i.kind === 'note' && i.line === 13 && /host bits cleared/.test(i.message)))
})

t.test('families: placed with the merged IPv6 instance; a family the instance lacks is reported', async t => {
  const v4 = inst([
    '  version 3',
    '  virtual_routes {',
    '    2001:db8:9::/48 via 2001:db8::fe', //   9: IPv6 route in the IPv4 instance → goes to the merged instance
    '  }',
    '  virtual_rules {',
    '    fwmark 3 table 7', //                    12: family-less: IPv4 (keepalived default)
    '    inet6 fwmark 4 table 8', //              13: IPv6
    '  }'
  ].join('\n') + '\n')
  const v6 = inst('  version 3\n  virtual_routes {\n    2001:db8:8::/48 dev eth0\n  }\n', 'VI_1_V6', '2001:db8::1/64')
  const merged = ok(importText(v4 + v6))
  const m = modelOf(merged)
  t.same(router(m, 'VI_1/ipv6').routes.map(x => `${x.dst}/${x.prefix}`), ['2001:db8:9::/48', '2001:db8:8::/48'])
  t.same(router(m, 'VI_1/ipv4').rules.map(x => [x.fwmark, x.from ?? null]), [[3, { address: '0.0.0.0', prefix: 0 }]], 'explicit from keeps a family-less rule IPv4 in a dual instance')
  t.same(router(m, 'VI_1/ipv6').rules.map(x => [x.fwmark, x.from ?? null]), [[4, { address: '::', prefix: 0 }]])
  t.same(merged.items.filter(i => i.kind === 'attention').map(i => i.line), [])

  const alone = ok(importText(v4))
  t.same(alone.items.filter(i => i.kind === 'attention').map(i => i.line), [9, 13], 'IPv4-only instance: the IPv6 route and rule are reported')
  t.match(alone.items.find(i => i.line === 9)?.message, /has no IPv6 virtual address/)
  t.same(router(modelOf(alone), 'VI_1/ipv4').rules.map(x => x.fwmark), [3])
})

t.test('use_vmac → vmac: default name, a name of its own, the RFC MAC only, IPv6 beside IPv4; unicast reported', async t => {
  const plain = ok(importText(inst('  use_vmac\n')))
  t.same(router(modelOf(plain), 'VI_1/ipv4').vmac, { name: 'vrrp.7', mac: '00:00:5e:00:01:07' })
  t.same(plain.items.filter(i => i.kind === 'attention').map(i => i.line), [])

  const named = ok(importText(inst('  use_vmac vmac-in 00:00:5e:00:01 group 5\n  vmac_xmit_base\n')))
  t.same(router(modelOf(named), 'VI_1/ipv4').vmac?.name, 'vmac-in')
  t.same(named.items.filter(i => i.kind === 'attention').map(i => i.line), [8], 'vmac_xmit_base: adverts go on the macvlan in hafw')
  t.ok(named.items.some(i => i.kind === 'note' && i.line === 7 && /group 5/.test(i.message)))

  const otherMac = ok(importText(inst('  use_vmac name vm1 02:00:00:00:00:01\n')))
  t.match(otherMac.items.find(i => i.line === 7 && i.kind === 'attention')?.message, /00:00:5e:00:01:07/)

  const v6 = ok(importText(inst('  use_vmac\n', 'VI_6', '2001:db8::1/64')))
  t.same(router(modelOf(v6), 'VI_6/ipv6').vmac, { name: 'vrrp.7', mac: '00:00:5e:00:02:07' })

  // keepalived: IPv4 + IPv6 instances of one VRID with use_vmac stay two instances, vrrp.7 and vrrp6.7.
  const both = ok(importText(inst('  version 3\n  use_vmac\n') + inst('  version 3\n  use_vmac\n', 'VI_6', '2001:db8::1/64')))
  const m = modelOf(both)
  t.same(m.routers.map(r => [r.id, r.vmac?.name]), [['VI_1/ipv4', 'vrrp.7'], ['VI_6/ipv6', 'vrrp6.7']])
  t.same(both.items.filter(i => i.kind === 'attention').map(i => i.line), [])

  const uni = ok(importText(inst('  use_vmac\n  unicast_peer {\n    192.0.2.2\n  }\n')))
  t.equal(router(modelOf(uni), 'VI_1/ipv4').vmac, null)
  t.match(uni.items.find(i => i.line === 7)?.message, /multicast adverts only/)
})
