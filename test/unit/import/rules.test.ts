// keepalived and conntrackd behaviours the importer reproduces (or reports), one at a time.
import t from 'tap'
import { importText, modelOf, router, type Imported } from './helpers.js'

function ok (r: ReturnType<typeof importText>): Imported {
  if (!r.ok) throw new Error(`${r.error.line}: ${r.error.message}`)
  return r
}

const inst = (body: string, name = 'VI_1'): string =>
  `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id 7\n  virtual_ipaddress {\n    192.0.2.1/24\n  }\n${body}}\n`

t.test('advert_int: v2 whole seconds, v3 10 ms steps, each change reported', async t => {
  const v2 = ok(importText(inst('  advert_int 1.5\n')))
  t.equal(router(modelOf(v2), 'VI_1/ipv4').advertIntervalCs, 200)
  t.match(v2.items.find(i => i.line === 7), { kind: 'attention', message: /whole seconds.*2s/ })
  const v3 = ok(importText(inst('  version 3\n  advert_int 0.125\n')))
  t.equal(router(modelOf(v3), 'VI_1/ipv4').advertIntervalCs, 13)
  const exact = ok(importText(inst('  version 3\n  advert_int 0.1\n')))
  t.equal(router(modelOf(exact), 'VI_1/ipv4').advertIntervalCs, 10)
  t.equal(exact.exitCode, 0)
})

t.test('state MASTER clears nopreempt and preempt_delay in keepalived: reported, preempt kept', async t => {
  const r = ok(importText(inst('  state MASTER\n  nopreempt\n  preempt_delay 30\n')))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.equal(m.preempt, true)
  t.equal(m.preemptDelayMs, 0)
  t.same(r.items.filter(i => i.kind === 'attention').map(i => i.line), [8, 9])
  const b = ok(importText(inst('  state BACKUP\n  preempt_delay 30\n')))
  t.equal(router(modelOf(b), 'VI_1/ipv4').preemptDelayMs, 30_000)
})

t.test('accept mode: keepalived default on, off under vrrp_strict, explicit no_accept kept', async t => {
  t.equal(router(modelOf(ok(importText(inst('')))), 'VI_1/ipv4').acceptMode, true)
  t.equal(router(modelOf(ok(importText('global_defs {\n  vrrp_strict\n}\n' + inst('')))), 'VI_1/ipv4').acceptMode, false)
  t.equal(router(modelOf(ok(importText(inst('  no_accept\n')))), 'VI_1/ipv4').acceptMode, false)
  const strictV2 = ok(importText('global_defs {\n  vrrp_strict\n}\n' + inst('  accept\n')))
  t.equal(router(modelOf(strictV2), 'VI_1/ipv4').acceptMode, false)
  t.ok(strictV2.items.some(i => i.kind === 'attention' && /accept mode off for VRRPv2/.test(i.message)))
})

t.test('sync group without sync_group_tracking_weight: keepalived zeroes/ignores member weights', async t => {
  const text = 'vrrp_script chk { \n  script "/usr/local/bin/chk"\n  weight -20\n}\n' +
    'vrrp_sync_group G {\n  group {\n    VI_1\n  }\n}\n' +
    inst('  track_interface {\n    eth3 weight -50\n  }\n  track_script {\n    chk\n  }\n')
  const r = ok(importText(text))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.track.interfaces, [{ name: 'eth3', weight: 0 }], 'weight ignored: FAULT while down')
  t.same(m.track.scripts, [], 'weighted script ignored by keepalived')
  t.equal(r.items.filter(i => i.kind === 'attention').length, 2)

  const kept = ok(importText(text.replace('group {\n    VI_1\n  }\n', 'group {\n    VI_1\n  }\n  sync_group_tracking_weight\n')))
  const mk = router(modelOf(kept), 'VI_1/ipv4')
  t.same(mk.track.interfaces, [{ name: 'eth3', weight: -50 }])
  t.equal(mk.track.scripts[0]?.weight, -20)
})

t.test('group-level track_interface is copied onto every member', async t => {
  const r = ok(importText('vrrp_sync_group G {\n  group { A B }\n  track_interface {\n    eth9 weight -60\n  }\n}\n' +
    inst('', 'A') + inst('', 'B').replace('virtual_router_id 7', 'virtual_router_id 8').replace('192.0.2.1', '192.0.2.2')))
  const m = modelOf(r)
  t.same(router(m, 'A/ipv4').track.interfaces, [{ name: 'eth9', weight: -60 }])
  t.same(router(m, 'B/ipv4').track.interfaces, [{ name: 'eth9', weight: -60 }])
  t.same(m.syncGroups.find(g => g.name === 'G')?.instances, ['A', 'B'])
})

t.test('address owner: priority 255 with state MASTER is noted; weighted interface not tracked', async t => {
  const r = ok(importText(inst('  state MASTER\n  priority 255\n  track_interface {\n    eth1 weight -10\n  }\n')))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.equal(m.addressOwner, true)
  t.same(m.track.interfaces, [])
  t.ok(r.items.some(i => i.line === 7 && /address owner/.test(i.message)))
})

t.test('notify scripts: conntrackd calls dropped with a note; others become hooks; no conntrackd.conf → attention', async t => {
  const body = '  notify_master "/usr/sbin/conntrackd -C /etc/conntrackd/conntrackd.conf -c"\n  notify_backup "/etc/keepalived/to-backup.sh"\n'
  const r = ok(importText(inst(body), 'Sync {\n Mode FTFW {\n }\n UDP {\n  IPv4_address 10.0.0.1\n  IPv4_Destination_Address 10.0.0.2\n  Interface eth2\n }\n}\n'))
  t.same(r.items.filter(i => i.line === 7 || i.line === 8).map(i => [i.line, i.kind]), [[7, 'note']], 'the glue is dropped with a note; the other script is translated')
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.notify, { master: null, backup: ['/etc/keepalived/to-backup.sh'], fault: null, stop: null, any: null, timeoutMs: 10_000 }, 'the conntrackd glue is never a hook')
  const noCt = ok(importText(inst(body)))
  t.match(noCt.items.find(i => i.line === 7), { kind: 'attention', message: /conntrack sync is OFF/ })
  t.equal(noCt.config.conntrack, undefined)
})

t.test('notify scripts → hooks: words split like keepalived, quotes kept, generic notify → any, last one wins', async t => {
  const body = [
    '  notify_master "/usr/local/sbin/routes up \'table 100\'"',
    '  notify_fault /usr/local/sbin/fault.sh',
    '  notify_stop "/usr/local/sbin/stop.sh now"',
    '  notify "/etc/keepalived/notify.sh"',
    '  notify_fault /usr/local/sbin/fault2.sh',
    ''
  ].join('\n')
  const r = ok(importText(inst(body)))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.notify, {
    master: ['/usr/local/sbin/routes', 'up', 'table 100'],
    backup: null,
    fault: ['/usr/local/sbin/fault2.sh'],
    stop: ['/usr/local/sbin/stop.sh', 'now'],
    any: ['/etc/keepalived/notify.sh'],
    timeoutMs: 10_000
  })
  t.same(r.items.filter(i => i.kind === 'attention'), [], 'nothing to look at')
  t.ok(r.items.some(i => i.line === 11 && /keepalived keeps the last one/.test(i.message)))
  t.match(r.yaml, /notify:\n\s+master:/)
})

t.test('notify scripts: relative program and shell syntax go through /bin/sh; a script user other than root is attention', async t => {
  const body = '  notify_master "notify.sh master"\n  notify_backup "/usr/bin/logger backup > /dev/null"\n  notify_fault "/usr/local/sbin/fault.sh" keepalived_script\n'
  const r = ok(importText(inst(body)))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.notify?.master, ['/bin/sh', '-c', 'notify.sh master'])
  t.same(m.notify?.backup, ['/bin/sh', '-c', '/usr/bin/logger backup > /dev/null'])
  t.same(m.notify?.fault, ['/usr/local/sbin/fault.sh'])
  t.match(r.items.find(i => i.line === 7 && i.kind === 'attention'), { message: /not an absolute path/ })
  t.match(r.items.find(i => i.line === 8), { kind: 'note', message: /shell syntax/ })
  t.match(r.items.find(i => i.line === 9 && i.kind === 'attention'), { message: /as root, not as keepalived_script/ })
})

t.test('sync group notify scripts → group hooks; the glue dropped there too; notify_fifo stays attention', async t => {
  const text = 'global_defs {\n  notify_fifo /run/keepalived.fifo\n}\n' +
    'vrrp_sync_group G1 {\n  group {\n    VI_1\n  }\n  notify_master "/usr/local/sbin/bgp up"\n  notify "/etc/keepalived/notify.sh"\n  notify_backup "/etc/conntrackd/primary-backup.sh backup"\n}\n' + inst('')
  const r = ok(importText(text))
  const g = modelOf(r).syncGroups.find(x => x.name === 'G1')
  t.same(g?.notify, { master: ['/usr/local/sbin/bgp', 'up'], backup: null, fault: null, stop: null, any: ['/etc/keepalived/notify.sh'], timeoutMs: 10_000 })
  t.ok(r.items.some(i => i.line === 9 && /"GROUP" NAME STATE 0 appended/.test(i.message)))
  t.match(r.items.find(i => i.line === 2), { kind: 'attention', message: /notify FIFO/ })
  t.match(r.items.find(i => i.line === 10), { kind: 'attention', message: /drives conntrackd/ })
  t.equal(router(modelOf(r), 'VI_1/ipv4').notify, null, 'the member keeps its own (none)')
})

t.test('VIP options: dev elsewhere kept, label/scope reported, bad address reported', async t => {
  const r = ok(importText(inst('').replace('    192.0.2.1/24\n', '    192.0.2.1/24\n    198.51.100.9/32 dev eth5 scope link\n    not-an-ip\n')))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.vips.map(v => [v.address, v.dev ?? null]), [['192.0.2.1', null], ['198.51.100.9', 'eth5']])
  t.same(r.items.filter(i => i.kind === 'attention').map(i => i.line), [6, 7])
})

t.test('include that cannot be resolved, conditional lines and unsupported blocks are attention', async t => {
  const r = ok(importText('include /etc/keepalived/missing.conf\n@fw1 global_defs {\n}\nvirtual_server 10.0.0.1 80 {\n  lb_algo rr\n}\n' + inst('')))
  t.same(r.items.filter(i => i.kind === 'attention').map(i => i.line), [1, 2, 4])
})

t.test('conntrackd: ALARM mode, second link, Address Accept, no Protocol filter, LISTEN', async t => {
  const ct = 'Sync {\n Mode ALARM {\n  RefreshTime 15\n  CacheTimeout 180\n }\n' +
    ' Multicast {\n  IPv4_address 225.0.0.50\n  Group 3780\n  IPv4_interface 192.168.100.100\n  Interface eth2\n }\n' +
    ' Multicast {\n  IPv4_address 225.0.0.51\n  Group 3781\n  IPv4_interface 192.168.101.100\n  Interface eth3\n }\n}\n' +
    'General {\n Filter {\n  Address Accept {\n   IPv4_address 10.0.0.0/8\n  }\n  State Ignore {\n   LISTEN SYN_SENT for TCP\n  }\n }\n}\n'
  const r = ok(importText(inst(''), ct))
  const c = modelOf(r).conntrack
  if (c === null) { t.fail('no conntrack'); return }
  t.match(c.sync, { transport: 'multicast', interface: 'eth2', port: 3780 })
  t.same(c.filter.protocols.list, ['tcp', 'udp', 'udplite', 'sctp', 'dccp', 'icmp', 'icmpv6', 'gre'], 'conntrackd without a Protocol filter replicates everything')
  t.same(c.filter.tcpStates, { mode: 'ignore', list: ['SYN_SENT2', 'SYN_SENT'] })
  t.same(r.items.filter(i => i.kind === 'attention').map(i => `${i.file}:${i.line}`), ['c.conf:2', 'c.conf:3', 'c.conf:4', 'c.conf:12', 'c.conf:21'])
})

t.test('an instance the importer cannot complete is written, and the validator issue is in the report', async t => {
  const r = ok(importText('vrrp_instance X {\n  interface eth0\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n'))
  t.equal(r.validation.ok, false)
  t.match(r.items.find(i => i.file === '(output)'), { kind: 'attention', setting: 'vrrp.instances.X.vrid', message: /does not validate/ })
  t.equal(r.exitCode, 1)
})

t.test('check_unicast_src becomes unicast.checkSource (translated, not unsupported)', async t => {
  const r = ok(importText(inst('  unicast_peer {\n    192.0.2.3\n  }\n  check_unicast_src\n')))
  const m = router(modelOf(r), 'VI_1/ipv4')
  t.same(m.unicastPeers, ['192.0.2.3'])
  t.equal(m.unicastCheckSource, true)
  t.same(r.items.filter(i => i.line === 10), [], 'translated: no note or attention on its line')
  t.notOk(r.items.some(i => i.kind === 'attention'), 'nothing needs attention')
  const noPeers = ok(importText(inst('  check_unicast_src\n')))
  t.match(noPeers.items.find(i => i.line === 7), { kind: 'note', message: /no unicast_peer/ })
})

t.test('address family and version in file order, as keepalived 2.2.7 (--config-test) decides them', async t => {
  const six = (head: string, tail = ''): string => `vrrp_instance V6 {\n  interface eth0\n  virtual_router_id 9\n${head}  authentication {\n    auth_type PASS\n    auth_pass pw\n  }\n  virtual_ipaddress {\n    2001:db8::1/64\n  }\n${tail}}\n`
  // `version 2` before the IPv6 address: keepalived runs its non-standard VRRPv2 over IPv6 (no message, exit 0).
  const v2first = ok(importText(six('  version 2\n')))
  const r1 = router(modelOf(v2first), 'V6/ipv6')
  t.match(r1, { version: 3, authentication: null })
  t.match(v2first.items.find(i => i.line === 4), { kind: 'attention', message: /non-standard VRRPv2 over IPv6.*both sides become master/ })
  // After it, keepalived ignores `version 2` ("conflicts with configured or deduced version"): v3, auth ignored.
  const v2after = ok(importText(six('', '  version 2\n')))
  t.equal(router(modelOf(v2after), 'V6/ipv6').version, 3)
  t.match(v2after.items.find(i => i.line === 11), { kind: 'note', message: /ignores version 2/ })
  t.match(v2after.items.find(i => i.line === 4), { kind: 'note', message: /VRRP version 3 does not support authentication/ })
  // vrrp_strict drops authentication ("Strict mode does not support authentication").
  const strict = ok(importText('global_defs {\n  vrrp_strict\n}\n' + inst('  authentication {\n    auth_type PASS\n    auth_pass pw\n  }\n')))
  t.equal(router(modelOf(strict), 'VI_1/ipv4').authentication, null)
  t.match(strict.items.find(i => /Strict mode does not support authentication/.test(i.message)), { kind: 'note' })
  // Peers and sources of the other family are skipped ("MUST be of the same family").
  const peers = ok(importText(inst('  unicast_peer {\n    192.0.2.7\n    2001:db8::7\n  }\n')))
  t.same(router(modelOf(peers), 'VI_1/ipv4').unicastPeers, ['192.0.2.7'])
  t.match(peers.items.find(i => i.line === 9), { kind: 'attention', message: /other family/ })
  // native_ipv6 after an IPv4 address is refused by keepalived; the instance stays IPv4.
  const native = ok(importText(inst('  native_ipv6\n')))
  t.same(modelOf(native).routers.map(x => x.id), ['VI_1/ipv4'])
  t.match(native.items.find(i => i.line === 7), { kind: 'attention', message: /Cannot specify native_ipv6/ })
})
