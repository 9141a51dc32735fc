import t from 'tap'
import { model, oneInstance, readRepoFile } from './helpers.js'

t.test('the example: one router per instance and family, sync group resolved', async t => {
  const m = model(readRepoFile('config/hafw.example.yaml'))
  t.same(m.routers.map(r => r.id), ['VI_IN/ipv4', 'VI_IN/ipv6', 'VI_OUT/ipv4', 'VI_OUT/ipv6'])
  t.same(m.syncGroups, [{ name: 'G_FW', implicit: false, instances: ['VI_OUT', 'VI_IN'], routers: ['VI_IN/ipv4', 'VI_IN/ipv6', 'VI_OUT/ipv4', 'VI_OUT/ipv6'], notify: null }])

  const out4 = m.routers.find(r => r.id === 'VI_OUT/ipv4')!
  t.equal(out4.instance, 'VI_OUT')
  t.equal(out4.family, 'ipv4')
  t.equal(out4.interface, 'eth0')
  t.equal(out4.vrid, 51)
  t.equal(out4.priority, 100)
  t.equal(out4.addressOwner, false)
  t.equal(out4.version, 3)
  t.equal(out4.advertIntervalCs, 100)
  t.same(out4.vips, [{ address: '192.0.2.1', prefix: 24, family: 'ipv4' }])
  t.equal(out4.unicastPeers, null)
  t.equal(out4.sourceAddress, null)
  t.equal(out4.authentication, null)
  t.same(out4.announce, { delayMs: 5000, repeat: 5, refreshMs: 0, refreshRepeat: 1 })
  t.same(out4.track.interfaces, [{ name: 'eth2', weight: -60 }])
  t.equal(out4.syncGroup, 'G_FW')

  const in6 = m.routers.find(r => r.id === 'VI_IN/ipv6')!
  t.same(in6.vips, [{ address: 'fd00:1::1', prefix: 64, family: 'ipv6' }])
  t.equal(in6.vrid, 52)

  t.same(m.node, { name: 'fw1' })
  t.same(m.control, { socket: '/run/hafw/hafwd.sock', tcp: null, maxClients: 64, idleTimeoutMs: 60_000, requestBudget: { ratePerSecond: 50, burst: 200 } })
  t.equal(m.metrics, null)

  const ct = m.conntrack!
  t.same(ct.sync, {
    transport: 'udp',
    address: '192.168.100.1',
    peer: '192.168.100.2',
    family: 'ipv4',
    port: 3780,
    interface: 'eth2',
    sndBuffer: 1249280,
    rcvBuffer: 1249280,
    checksum: true,
    ftfw: { resendQueueSize: 131072, ackWindowSize: 300, aliveIntervalMs: 1000 },
    auth: null
  })
  t.same(ct.ownAddresses.map(c => `${c.address}/${c.prefix}`).sort(),
    ['10.1.0.1/32', '127.0.0.1/32', '192.0.2.1/32', '2001:db8:0:1::1/128', '::1/128', 'fd00:1::1/128'], 'loopback and every VIP, not the configured ignore list')
  t.equal(ct.commitRanges, null)
  t.equal(ct.commitBudgetMs, 2000)
  t.equal(ct.purgeTimeoutMs, 60_000)
  t.equal(ct.startupResyncTimeoutMs, 5000)
  t.same(ct.filter.protocols, { mode: 'accept', list: ['tcp', 'sctp', 'dccp'] })
  t.equal(ct.filter.tcpStates, null)
  t.same(ct.filter.ignoreAddresses.map(c => `${c.address}/${c.prefix}`).sort(),
    ['10.1.0.1/32', '127.0.0.1/32', '192.0.2.1/32', '2001:db8:0:1::1/128', '::1/128', 'fd00:1::1/128'])
})

t.test('intervals in centiseconds, durations in milliseconds', async t => {
  const r = (extra: string[]): ReturnType<typeof model>['routers'][number] => model(oneInstance(extra)).routers[0]!
  t.equal(r(['advertInterval: 30ms']).advertIntervalCs, 3)
  t.equal(r(['advertInterval: 40.95s']).advertIntervalCs, 4095)
  t.equal(r(['version: 2', 'advertInterval: 3']).advertIntervalCs, 300)
  t.equal(r(['preemptDelay: 4.12']).preemptDelayMs, 4120)
  t.same(r(['announce: { delay: 0, repeat: 2, refresh: 1m, refreshRepeat: 3 }']).announce, { delayMs: 0, repeat: 2, refreshMs: 60_000, refreshRepeat: 3 })
  const s = r(['track: { scripts: [{ name: chk, command: [/bin/true, -q], interval: 2s }, { name: c2, command: [x], interval: 5s, timeout: 500ms, weight: -20, rise: 2, fall: 3 }] }']).track.scripts
  t.same(s, [
    { name: 'chk', command: ['/bin/true', '-q'], intervalMs: 2000, timeoutMs: 2000, weight: 0, rise: 1, fall: 1 },
    { name: 'c2', command: ['x'], intervalMs: 5000, timeoutMs: 500, weight: -20, rise: 2, fall: 3 }
  ])
})

t.test('family split: canonical text, per-family peers and source, dev kept, implicit group', async t => {
  const m = model([
    'vrrp:',
    '  instances:',
    '    VI_1:',
    '      interface: eth0',
    '      vrid: 51',
    '      virtualAddresses: [192.0.2.1/24, "2001:DB8:0:0::1/64", { address: 198.51.100.1, dev: eth9 }]',
    '      unicast: { peers: [192.0.2.3, "FE80:0:0:0:0:0:0:3"] }',
    '      sourceAddresses: ["fe80::2", 192.0.2.2]',
    '      v3Ipv4ChecksumCompat: true',
    ''
  ].join('\n'))
  const [v4, v6] = m.routers
  t.equal(v4?.id, 'VI_1/ipv4')
  t.equal(v6?.id, 'VI_1/ipv6')
  t.same(v4?.vips, [{ address: '192.0.2.1', prefix: 24, family: 'ipv4' }, { address: '198.51.100.1', prefix: 32, family: 'ipv4', dev: 'eth9' }])
  t.same(v6?.vips, [{ address: '2001:db8::1', prefix: 64, family: 'ipv6' }])
  t.same(v4?.unicastPeers, ['192.0.2.3'])
  t.same(v6?.unicastPeers, ['fe80::3'])
  t.equal(v4?.unicastCheckSource, true, 'unicast.checkSource defaults to on')
  t.equal(v4?.sourceAddress, '192.0.2.2')
  t.equal(v6?.sourceAddress, 'fe80::2')
  t.equal(v4?.v3Ipv4ChecksumCompat, true)
  t.equal(v6?.v3Ipv4ChecksumCompat, false, 'only meaningful for IPv4')
  // An ungrouped dual-family instance keeps its two routers together.
  t.same(m.syncGroups, [{ name: 'instance:VI_1', implicit: true, instances: ['VI_1'], routers: ['VI_1/ipv4', 'VI_1/ipv6'], notify: null }])
  t.equal(v4?.syncGroup, 'instance:VI_1')
  t.equal(v6?.syncGroup, 'instance:VI_1')
})

t.test('single-family ungrouped instance: no group; owner; v2 authentication', async t => {
  const m = model(oneInstance(['priority: 255', 'version: 2', 'authentication: { type: pass, password: s3cret }']))
  t.same(m.syncGroups, [])
  const r = m.routers[0]!
  t.equal(r.syncGroup, null)
  t.equal(r.addressOwner, true)
  t.same(r.authentication, { type: 'pass', password: 's3cret' })
})

t.test('control, metrics, conntrack off', async t => {
  const m = model('node: { name: fw2 }\nlog: { level: debug }\nmetrics: { listen: "[::1]:9100" }\ncontrol: { socket: /run/x.sock, tcp: { token: "0123456789abcdef" }, maxClients: 8, idleTimeout: 2m, requestBudget: { rate: 5 } }\n' +
    oneInstance() + 'conntrack:\n  enabled: false\n  sync: { transport: udp, interface: eth2, udp: { address: 10.0.0.1, peer: 10.0.0.2 } }\n')
  t.same(m.node, { name: 'fw2' })
  t.same(m.log, { level: 'debug' })
  t.same(m.metrics, { listen: { host: '::1', port: 9100, family: 'ipv6' } })
  t.same(m.control, { socket: '/run/x.sock', tcp: { listen: { host: '127.0.0.1', port: 9780, family: 'ipv4' }, token: '0123456789abcdef' }, maxClients: 8, idleTimeoutMs: 120_000, requestBudget: { ratePerSecond: 5, burst: 200 } })
  t.equal(m.conntrack, null)
  t.equal(model(oneInstance()).node.name, null, 'no name: the runtime uses the host name')
})

t.test('conntrack multicast, ignore-mode filter, tcp states, extra ignored prefixes', async t => {
  const m = model(oneInstance() + [
    'conntrack:',
    '  sync: { transport: multicast, interface: eth2, multicast: { group: 225.0.0.51, port: 3781, interfaceAddress: 192.168.100.1 } }',
    '  filter:',
    '    protocols: { ignore: [udp, icmp] }',
    '    tcpStates: { accept: [ESTABLISHED, TIME_WAIT] }',
    '    addresses: { ignore: [198.51.100.0/24, "2001:DB8:FFFF::/48", 127.0.0.1] }',
    ''
  ].join('\n'))
  const ct = m.conntrack!
  t.same(ct.sync, {
    transport: 'multicast', group: '225.0.0.51', port: 3781, interfaceAddress: '192.168.100.1', members: null, interface: 'eth2',
    sndBuffer: null, rcvBuffer: null, checksum: true, ftfw: { resendQueueSize: 131072, ackWindowSize: 300, aliveIntervalMs: 1000 }, auth: null
  })
  t.same(ct.filter.protocols, { mode: 'ignore', list: ['udp', 'icmp'] })
  t.same(ct.filter.tcpStates, { mode: 'accept', list: ['ESTABLISHED', 'TIME_WAIT'] })
  t.same(ct.filter.ignoreAddresses.map(c => `${c.address}/${c.prefix}`), ['198.51.100.0/24', '2001:db8:ffff::/48', '127.0.0.1/32', '::1/128', '192.0.2.1/32'])
})

t.test('issue 12 keys: multicast members, commitRanges, sync auth key files', async t => {
  const m = model(oneInstance() + [
    'conntrack:',
    '  sync:',
    '    transport: multicast',
    '    interface: eth2',
    '    multicast: { interfaceAddress: 192.168.100.1, members: [192.168.100.2, 192.168.100.3] }',
    '    auth: { keyFiles: [/etc/hafw/sync.key, /etc/hafw/sync-old.key] }',
    '  commitRanges: [10.1.0.0/16, "2001:DB8::/32"]',
    ''
  ].join('\n'))
  const ct = m.conntrack!
  t.same(ct.sync.transport === 'multicast' ? ct.sync.members : 'unicast', ['192.168.100.2', '192.168.100.3'])
  t.same(ct.sync.auth, { keyFiles: ['/etc/hafw/sync.key', '/etc/hafw/sync-old.key'] })
  t.same(ct.commitRanges?.map(c => `${c.address}/${c.prefix}`), ['10.1.0.0/16', '2001:db8::/32'])
})
