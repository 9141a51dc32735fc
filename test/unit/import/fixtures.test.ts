// The five field configurations of test/fixtures/import, imported, validated and normalized.
import t from 'tap'
import { fixture, importFixture, importText, modelOf, router } from './helpers.js'

t.test('(1) classic firewall pair: sync group + primary-backup.sh + FTFW over UDP', async t => {
  const r = importFixture('classic-fw1', true)
  t.ok(r.validation.ok, 'the YAML body validates')
  const m = modelOf(r)
  t.equal(m.node.name, 'fw1')
  t.same(m.routers.map(x => x.id), ['VI_INSIDE/ipv4', 'VI_OUTSIDE/ipv4'])
  const out = router(m, 'VI_OUTSIDE/ipv4')
  t.match(out, { interface: 'eth0', vrid: 51, priority: 150, version: 2, advertIntervalCs: 100, preempt: true, acceptMode: true, syncGroup: 'G1' })
  t.same(out.vips, [{ address: '203.0.113.10', prefix: 24, family: 'ipv4' }], 'dev eth0 = the instance interface: plain address')
  t.same(out.authentication, { type: 'pass', password: 'fwpair01' })
  t.equal(out.announce.delayMs, 1000)
  t.match(router(m, 'VI_INSIDE/ipv4'), { interface: 'eth1', vrid: 52, priority: 150 })
  t.same(m.syncGroups.find(g => g.name === 'G1')?.instances, ['VI_OUTSIDE', 'VI_INSIDE'])

  const ct = m.conntrack
  t.ok(ct !== null)
  if (ct === null) return
  t.match(ct.sync, { transport: 'udp', address: '10.99.99.1', peer: '10.99.99.2', port: 3780, interface: 'eth2', sndBuffer: 1249280, rcvBuffer: 1249280, checksum: true })
  t.same(ct.sync.ftfw, { resendQueueSize: 131072, ackWindowSize: 300, aliveIntervalMs: 1000 })
  t.equal(ct.purgeTimeoutMs, 60_000)
  t.equal(ct.startupResyncTimeoutMs, 0, 'conntrackd default: no start-up resync')
  t.equal(ct.disableExternalCache, false)
  t.same(ct.filter.protocols, { mode: 'accept', list: ['tcp', 'sctp', 'dccp', 'udp'] })
  t.same(ct.filter.tcpStates, { mode: 'accept', list: ['ESTABLISHED', 'CLOSE', 'TIME_WAIT', 'CLOSE_WAIT'] })
  // Written: only the entries hafw does not derive itself.
  const written = (r.config.conntrack as { filter: { addresses: { ignore: string[] } } }).filter.addresses.ignore
  t.same(written, ['203.0.113.11', '192.168.10.2', '10.99.99.0/24'])
  const redundant = r.items.filter(i => i.file === 'classic-fw1.conntrackd.conf' && /redundant/.test(i.message)).map(i => i.line)
  t.same(redundant, [43, 44, 45, 48], 'loopback, both VIPs and the sync link address are reported redundant')

  // primary-backup.sh notify scripts: dropped with a note, not attention.
  const notifies = r.items.filter(i => /primary-backup/.test(i.setting))
  t.same(notifies.map(i => [i.kind, i.line]), [['note', 21], ['note', 22], ['note', 23]])
  t.match(notifies[0]?.message, /in-process, in the right order/)
  // What does need attention: only the e-mail settings.
  t.same(r.items.filter(i => i.kind === 'attention').map(i => i.line), [5, 8, 9])
  t.equal(r.exitCode, 1)
  t.match(r.yaml, /^# hafw configuration written by `hafwctl import`/)
  t.match(r.yaml, /#   classic-fw1\.keepalived\.conf:21: notify_master/)
})

t.test('(2) FTFW over multicast, VRRPv3 at 500 ms, nopreempt, label', async t => {
  const r = importFixture('mcast-fw2', true)
  const m = modelOf(r)
  const vi1 = router(m, 'VI_1/ipv4')
  t.match(vi1, { version: 3, advertIntervalCs: 50, priority: 80, preempt: false, interface: 'eth1', vrid: 61 })
  t.same(vi1.vips, [{ address: '192.168.0.100', prefix: 32, family: 'ipv4' }])
  t.same(vi1.announce, { delayMs: 2000, repeat: 3, refreshMs: 60_000, refreshRepeat: 1 })
  const ct = m.conntrack
  if (ct === null) { t.fail('no conntrack'); return }
  t.match(ct.sync, { transport: 'multicast', group: '225.0.0.50', port: 3780, interfaceAddress: '192.168.100.101', interface: 'eth2' })
  t.same(ct.sync.ftfw, { resendQueueSize: 262144, ackWindowSize: 500, aliveIntervalMs: 1000 })
  t.equal(ct.startupResyncTimeoutMs, 5000, 'StartupResync on')
  t.same(ct.filter.protocols, { mode: 'accept', list: ['tcp', 'sctp', 'dccp'] })
  t.equal(ct.filter.tcpStates, null)
  const attention = r.items.filter(i => i.kind === 'attention')
  t.same(attention.map(i => `${i.file}:${i.line}`), ['mcast-fw2.keepalived.conf:40', 'mcast-fw2.conntrackd.conf:5'])
  t.match(attention[0]?.message, /label eth0:vip/)
  t.match(attention[1]?.setting, /CommitTimeout/)
  t.ok(r.items.some(i => i.line === 45 && /loopback/.test(i.message)), 'IPv6 ::1 is redundant too')
})

t.test('(3) IPv6 in separate _V6 instances: merged when they can be, kept apart otherwise', async t => {
  const r = importFixture('ipv6-split', false)
  const m = modelOf(r)
  t.same(m.routers.map(x => x.id), ['VI_LAN/ipv4', 'VI_LAN_V6/ipv6', 'VI_WAN/ipv4', 'VI_WAN/ipv6'])
  const wan6 = router(m, 'VI_WAN/ipv6')
  t.match(wan6, { interface: 'ens18', vrid: 10, priority: 110, version: 3 })
  t.same(wan6.vips.map(v => `${v.address}/${v.prefix}`), ['fe80::1/64', '2001:db8:10::1/64'])
  t.same(m.syncGroups.find(g => g.name === 'EDGE')?.instances, ['VI_WAN', 'VI_LAN', 'VI_LAN_V6'])
  t.ok(r.items.some(i => i.line === 28 && /merged into VI_WAN/.test(i.message)))
  t.ok(r.items.some(i => i.line === 52 && /kept as a separate instance: their settings/.test(i.message)))
  t.equal(r.exitCode, 0, 'nothing needs attention')

  // keepalived's default VRRPv2 for IPv4 vs v3 for IPv6: one hafw instance has one version.
  const v2 = importText(fixture('ipv6-split.keepalived.conf').replace('    vrrp_version 3\n', ''))
  if (!v2.ok) { t.fail('parse'); return }
  const m2 = modelOf(v2)
  t.same(m2.routers.map(x => [x.id, x.version]), [['VI_LAN/ipv4', 2], ['VI_LAN_V6/ipv6', 3], ['VI_WAN/ipv4', 2], ['VI_WAN_V6/ipv6', 3]])
  t.ok(v2.items.some(i => i.line === 27 && /VRRPv2 and VI_WAN_V6 VRRPv3/.test(i.message)))
})

t.test('(4) VRRPv2 PASS auth, unicast, track_script with weight, track_interface', async t => {
  const r = importFixture('v2-auth-track', false)
  const m = modelOf(r)
  const lb = router(m, 'VI_LB/ipv4')
  t.match(lb, { version: 2, priority: 101, advertIntervalCs: 100, unicastPeers: ['172.16.0.12'], sourceAddress: '172.16.0.11' })
  t.same(lb.authentication, { type: 'pass', password: 'sup3rs3c' }, 'keepalived keeps the first 8 characters')
  t.same(lb.vips.map(v => v.address), ['172.16.0.10', '172.16.0.20'], 'virtual_ipaddress_excluded becomes a VIP')
  t.same(lb.track.interfaces, [{ name: 'enp1s0', weight: 0 }, { name: 'enp2s0', weight: -30 }])
  t.same(lb.track.scripts, [
    { name: 'chk_haproxy', command: ['/usr/bin/killall', '-0', 'haproxy'], intervalMs: 2000, timeoutMs: 1000, weight: -20, rise: 2, fall: 2 },
    { name: 'chk_upstream', command: ['/bin/sh', '-c', 'curl -sf http://127.0.0.1:8404/health || exit 1'], intervalMs: 5000, timeoutMs: 5000, weight: -10, rise: 1, fall: 3 }
  ])
  const attention = r.items.filter(i => i.kind === 'attention')
  t.same(attention.map(i => i.line), [5], 'script_user (scripts and hooks now run as root)')
  t.same(lb.notify?.any, ['/etc/keepalived/notify.sh'], 'the custom notify script becomes the `any` hook')
  t.ok(r.items.some(i => i.line === 51 && i.kind === 'note' && /"INSTANCE" NAME STATE PRIORITY/.test(i.message)))
  t.ok(r.items.some(i => i.line === 18 && /\/bin\/sh", "-c"/.test(i.message)))
  t.ok(r.items.some(i => i.line === 35 && /first 8 characters/.test(i.message)))
  t.equal(r.exitCode, 1)
})

t.test('(5) broken config: exit 2 with the line of the unclosed block', async t => {
  const r = importText(fixture('broken.keepalived.conf'))
  t.same(r, { ok: false, exitCode: 2, error: { file: 'k.conf', line: 5, message: 'block "vrrp_instance VI_1" opened here is never closed (missing "}")' } })
  const c = importText('vrrp_instance V { interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n}\n', 'Sync {\n Mode FTFW {\n}\n')
  t.same(c.ok ? null : [c.error.file, c.error.line], ['c.conf', 1])
})

t.test('(6) issue 11 field config: VRRPv2 + PASS with IPv6 VIPs in the same blocks — keepalived\'s family rule', async t => {
  const r = importFixture('dualstack-v2', false)
  const m = modelOf(r)
  // The first VIP fixes the family; the others were never run by keepalived, so none are written.
  t.same(m.routers.map(x => x.id), ['VI_DMZ/ipv6', 'VI_IN/ipv4', 'VI_OUT/ipv4'])
  for (const id of ['VI_OUT/ipv4', 'VI_IN/ipv4']) {
    const x = router(m, id)
    t.equal(x.version, 2, `${id}: VRRPv2 as keepalived ran it (a v3 router would not see the v2 peer: two masters)`)
    t.same(x.authentication, { type: 'pass', password: 'fwpair01' }, `${id}: PASS kept`)
    t.equal(x.syncGroup, 'G_FW')
  }
  t.same(router(m, 'VI_OUT/ipv4').vips.map(v => v.address), ['203.0.113.10'])
  t.same(router(m, 'VI_IN/ipv4').vips.map(v => v.address), ['192.168.10.1'])
  // IPv6 first: keepalived runs the instance IPv6, hence VRRPv3, and ignores its authentication.
  const dmz = router(m, 'VI_DMZ/ipv6')
  t.equal(dmz.version, 3)
  t.equal(dmz.authentication, null)
  t.same(dmz.vips.map(v => v.address), ['2001:db8:20::1'])
  // Each ignored address is reported where it is, as attention.
  const dropped = r.items.filter(i => i.kind === 'attention' && /address family must match/.test(i.message))
  t.same(dropped.map(i => `${i.file}:${i.line}`), [26, 42, 43, 59].map(l => `dualstack-v2.keepalived.conf:${l}`))
  t.match(dropped[0]?.message, /IPv6 address \(the instance is IPv4/)
  t.match(dropped[3]?.message, /IPv4 address \(the instance is IPv6/)
  t.match(r.items.find(i => i.line === 53), { kind: 'note', message: /VRRP version 3 does not support authentication/ })
  t.equal(r.exitCode, 1)
})

t.test('(7) conntrackd: every Mode FTFW option translated, also after StartupResync on', async t => {
  const r = importFixture('resync-first', true)
  const ct = modelOf(r).conntrack
  if (ct === null) { t.fail('no conntrack'); return }
  t.equal(ct.startupResyncTimeoutMs, 5000, 'StartupResync on (line 4)')
  t.same(ct.sync.ftfw, { resendQueueSize: 65536, ackWindowSize: 200, aliveIntervalMs: 1000 }, 'ResendQueueSize, ACKWindowSize after it')
  t.equal(ct.purgeTimeoutMs, 30_000, 'PurgeTimeout after it')
  t.equal(ct.disableExternalCache, true, 'DisableExternalCache after it')
  const file = 'resync-first.conntrackd.conf'
  const ftfw = r.outcomes.filter(o => o.file === file && o.line >= 4 && o.line <= 9)
  t.equal(ftfw.length, 6)
  for (const o of ftfw) {
    t.notOk(o.marks.some(k => /no equivalent for this keyword/.test(k.message)), `${o.setting}: handled by the FTFW translator`)
  }
  const commit = r.items.find(i => i.file === file && i.line === 6)
  t.match(commit, { kind: 'attention', message: /no commit timeout key.*replicated.*180/ })
})
