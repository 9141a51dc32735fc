// Virtual routes and rules (keepalived virtual_routes / virtual_rules) in a namespace of this
// file's own: a lone hafwd becomes MASTER, its routes (one using the VIP as src, a blackhole, one
// in another table) and its policy rules appear in `ip route` / `ip rule`; a track file puts it
// in FAULT and they go; back to MASTER they return; a clean stop removes them and only them.
import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, sleep } from './helpers.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { waitFor } from '../../src/lab/observe.js'
import { nsExec, sh } from '../../src/lab/sh.js'
import { startKeepalived } from '../../src/lab/keepalived.js'

const skip = skipUnlessRoot()
const tag = `hrt${process.pid % 10000}`
const fwNs = `${tag}-fw`
const clNs = `${tag}-cl`

async function lab (): Promise<void> {
  await sh('ip', ['netns', 'del', fwNs], { allowFail: true })
  await sh('ip', ['netns', 'del', clNs], { allowFail: true })
  await sh('ip', ['netns', 'add', fwNs])
  await sh('ip', ['netns', 'add', clNs])
  for (const ns of [fwNs, clNs]) await nsExec(ns, 'ip', ['link', 'set', 'lo', 'up'])
  await sh('ip', ['link', 'add', `${tag}a`, 'type', 'veth', 'peer', 'name', `${tag}b`])
  await sh('ip', ['link', 'set', `${tag}a`, 'netns', fwNs])
  await sh('ip', ['link', 'set', `${tag}b`, 'netns', clNs])
  await nsExec(fwNs, 'ip', ['link', 'set', `${tag}a`, 'name', 'eth1'])
  await nsExec(clNs, 'ip', ['link', 'set', `${tag}b`, 'name', 'eth0'])
  await nsExec(fwNs, 'ip', ['addr', 'add', '10.9.0.2/24', 'dev', 'eth1'])
  await nsExec(clNs, 'ip', ['addr', 'add', '10.9.0.100/24', 'dev', 'eth0'])
  await nsExec(fwNs, 'ip', ['link', 'set', 'eth1', 'up'])
  await nsExec(clNs, 'ip', ['link', 'set', 'eth0', 'up'])
  // The operator's own route to the same prefix: ours goes in front of it (keepalived prepends) and
  // leaving MASTER must not remove it.
  await nsExec(fwNs, 'ip', ['route', 'add', '198.51.100.0/24', 'dev', 'eth1', 'proto', 'boot'])
}

function config (trackFile: string, socket: string): string {
  return `node: { name: rt }
control: { socket: ${socket} }
vrrp:
  instances:
    VI_RT:
      interface: eth1
      vrid: 61
      priority: 100
      advertInterval: 100ms
      virtualAddresses: [10.9.0.1/24]
      announce: { delay: 0s, repeat: 1 }
      track:
        files:
          - path: ${trackFile}
            weight: 0
      routes:
        - to: 198.51.100.0/24
          via: 10.9.0.100
          src: 10.9.0.1
        - to: 203.0.113.0/24
          type: blackhole
        - to: 0.0.0.0/0
          via: 10.9.0.100
          table: 100
      rules:
        - from: 10.9.0.0/24
          table: 100
          priority: 1000
        - fwmark: 7
          table: 100
          priority: 1001
`
}

async function routes (): Promise<string> {
  return (await nsExec(fwNs, 'ip', ['route', 'show', 'table', 'all'])) + (await nsExec(fwNs, 'ip', ['rule', 'show']))
}

const ours = [
  /198\.51\.100\.0\/24 via 10\.9\.0\.100 dev eth1 proto keepalived src 10\.9\.0\.1/,
  /blackhole 203\.0\.113\.0\/24 proto keepalived/,
  /default via 10\.9\.0\.100 dev eth1 table 100 proto keepalived/,
  /1000:\s+from 10\.9\.0\.0\/24 lookup 100 proto keepalived/,
  /1001:\s+from all fwmark 0x7 lookup 100 proto keepalived/
]

function has (text: string): boolean[] { return ours.map(re => re.test(text)) }

t.test('virtual routes and rules follow MASTER', { skip }, async t => {
  t.teardown(async () => {
    await sh('ip', ['netns', 'del', fwNs], { allowFail: true })
    await sh('ip', ['netns', 'del', clNs], { allowFail: true })
  })
  await lab()
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-routes-'))
  const trackFile = join(dir, 'fault')
  writeFileSync(trackFile, '0\n')
  let p: HafwdProcess | null = startHafwd(fwNs, config(trackFile, join(dir, 'hafwd.sock')), dir, 'rt')
  t.teardown(async () => { await p?.stop('SIGKILL').catch(() => null) })

  const all = async (): Promise<boolean> => has(await routes()).every(Boolean)
  const none = async (): Promise<boolean> => !has(await routes()).some(Boolean)
  t.not(await waitFor(all, 10_000, 20), null, 'MASTER: every route and rule is in the kernel')
  t.same(has(await routes()), ours.map(() => true), 'ip route / ip rule show them')

  // The VIP removed by hand: the kernel drops the route whose src it is; both come back.
  await nsExec(fwNs, 'ip', ['addr', 'del', '10.9.0.1/24', 'dev', 'eth1'])
  t.not(await waitFor(all, 3000, 10), null, 'VIP removed behind our back: VIP and its routes restored')

  writeFileSync(trackFile, '1\n')
  t.not(await waitFor(none, 5000, 20), null, 'FAULT (track file): routes and rules removed')
  writeFileSync(trackFile, '0\n')
  t.not(await waitFor(all, 5000, 20), null, 'MASTER again: back')

  const code = await p.stop('SIGTERM')
  p = null
  t.equal(code, 0, 'clean stop')
  t.ok(await none(), 'stopped: routes and rules removed')
  t.match(await nsExec(fwNs, 'ip', ['route', 'show', '198.51.100.0/24']), /^198\.51\.100\.0\/24 dev eth1 scope link\s*$/, 'the operator\'s own route to that prefix is still there')
  const log = readFileSync(join(dir, 'rt.log'), 'utf8')
  t.notMatch(log, /cannot (add|delete) (route|rule)/, 'no route or rule failed')
  await sleep(0)
})

// keepalived use_vmac: the VIP lives on a private-mode macvlan with the RFC 5798 §7.3 virtual MAC;
// the client resolves the VIP to that MAC, the adverts leave with it as source, and the macvlan
// is gone after a clean stop.
t.test('vmac: the VIP answers with 00:00:5e:00:01:VRID', { skip }, async t => {
  t.teardown(async () => {
    await sh('ip', ['netns', 'del', fwNs], { allowFail: true })
    await sh('ip', ['netns', 'del', clNs], { allowFail: true })
  })
  await lab()
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-vmac-'))
  const yaml = `node: { name: vm }
control: { socket: ${join(dir, 'hafwd.sock')} }
vrrp:
  instances:
    VI_VM:
      interface: eth1
      vrid: 61
      advertInterval: 100ms
      vmac: true
      virtualAddresses: [10.9.0.1/24]
      announce: { delay: 0s, repeat: 1 }
`
  let p: HafwdProcess | null = startHafwd(fwNs, yaml, dir, 'vm')
  t.teardown(async () => { await p?.stop('SIGKILL').catch(() => null) })
  const vmacHoldsVip = async (): Promise<boolean> => /inet 10\.9\.0\.1\/24/.test(await nsExec(fwNs, 'ip', ['addr', 'show', 'dev', 'vrrp.61'], { allowFail: true }))
  t.not(await waitFor(vmacHoldsVip, 10_000, 20), null, 'MASTER: the VIP is on vrrp.61')
  const link = await nsExec(fwNs, 'ip', ['-d', 'link', 'show', 'vrrp.61'])
  t.match(link, /link\/ether 00:00:5e:00:01:3d/, 'virtual MAC 00:00:5e:00:01:{VRID=61}')
  t.match(link, /macvlan mode private/, 'macvlan in private mode, like keepalived')
  t.notMatch(await nsExec(fwNs, 'ip', ['addr', 'show', 'dev', 'eth1']), /10\.9\.0\.1\//, 'not on the parent')
  t.equal((await nsExec(fwNs, 'cat', ['/proc/sys/net/ipv4/conf/eth1/arp_ignore'])).trim(), '1', 'parent arp_ignore=1')

  await nsExec(clNs, 'ping', ['-c', '1', '-W', '2', '10.9.0.1'])
  t.match(await nsExec(clNs, 'ip', ['neigh', 'show', '10.9.0.1']), /lladdr 00:00:5e:00:01:3d/, 'the client resolves the VIP to the virtual MAC')
  const cap = await nsExec(clNs, 'timeout', ['3', 'tcpdump', '-c', '1', '-e', '-n', '-i', 'eth0', 'ip proto 112'], { allowFail: true })
  t.match(cap, /00:00:5e:00:01:3d > 01:00:5e:00:00:12/, 'adverts leave with the virtual MAC as source (RFC 5798 §7.3)')
  const logText = (): string => readFileSync(join(dir, 'vm.log'), 'utf8')
  t.notMatch(logText(), /"level":(40|50)/, 'no warning or error logged')

  // The macvlans are made at start: a reload that drops the vmac is refused, the VIP stays.
  writeFileSync(p.configFile, yaml.replace('vmac: true', 'vmac: false'))
  p.signal('SIGHUP')
  t.not(await waitFor(async () => /reload refused.*vmac settings changed|vmac settings changed.*reload refused/.test(logText()), 5000, 20), null, 'reload refused, naming the vmac')
  t.ok(await vmacHoldsVip(), 'the VIP stays on the vmac')

  t.equal(await p.stop('SIGTERM'), 0, 'clean stop')
  p = null
  t.notMatch(await nsExec(fwNs, 'ip', ['link', 'show']), /vrrp\.61/, 'the macvlan is removed at stop')
  t.equal((await nsExec(fwNs, 'cat', ['/proc/sys/net/ipv4/conf/eth1/arp_ignore'])).trim(), '0', 'parent arp_ignore restored')
})

// Two nodes with the same virtual MAC on one LAN: the backup must hear the master's adverts,
// which carry the backup's own macvlan MAC as source (VEPA mode would filter them, private mode
// does not); after a clean stop of the master the client keeps its ARP entry and reaches the new
// master through the same MAC.
const fws = [`${tag}-f1`, `${tag}-f2`] as const

/** client + two firewalls on one bridge (10.9.0.100, .2, .3), removed when `t` ends. */
async function pairLab (t: { teardown: (fn: () => unknown) => void }): Promise<void> {
  const sw = `${tag}-sw`
  const all = [sw, clNs, ...fws]
  const cleanup = async (): Promise<void> => { for (const ns of all) await sh('ip', ['netns', 'del', ns], { allowFail: true }) }
  t.teardown(cleanup)
  await cleanup()
  for (const ns of all) {
    await sh('ip', ['netns', 'add', ns])
    await nsExec(ns, 'ip', ['link', 'set', 'lo', 'up'])
  }
  await nsExec(sw, 'ip', ['link', 'add', 'br0', 'type', 'bridge'])
  await nsExec(sw, 'ip', ['link', 'set', 'br0', 'up'])
  const hosts: Array<[string, string]> = [[clNs, '10.9.0.100'], [fws[0] as string, '10.9.0.2'], [fws[1] as string, '10.9.0.3']]
  for (const [i, [ns, addr]] of hosts.entries()) {
    await sh('ip', ['link', 'add', `${tag}p${i}`, 'type', 'veth', 'peer', 'name', `${tag}q${i}`])
    await sh('ip', ['link', 'set', `${tag}p${i}`, 'netns', sw])
    await sh('ip', ['link', 'set', `${tag}q${i}`, 'netns', ns])
    await nsExec(sw, 'ip', ['link', 'set', `${tag}p${i}`, 'master', 'br0', 'up'])
    const ifname = ns === clNs ? 'eth0' : 'eth1'
    await nsExec(ns, 'ip', ['link', 'set', `${tag}q${i}`, 'name', ifname])
    await nsExec(ns, 'ip', ['addr', 'add', `${addr}/24`, 'dev', ifname])
    await nsExec(ns, 'ip', ['link', 'set', ifname, 'up'])
  }
}

const onVmac = async (ns: string): Promise<boolean> => /inet 10\.9\.0\.1\/24/.test(await nsExec(ns, 'ip', ['addr', 'show', 'dev', 'vrrp.61'], { allowFail: true }))

t.test('vmac pair: backup hears the master, failover keeps the MAC', { skip }, async t => {
  await pairLab(t)
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-vmac2-'))
  const yaml = (name: string, priority: number): string => `node: { name: ${name} }
control: { socket: ${join(dir, `${name}.sock`)} }
vrrp:
  instances:
    VI_VM:
      interface: eth1
      vrid: 61
      priority: ${priority}
      advertInterval: 100ms
      vmac: true
      virtualAddresses: [10.9.0.1/24]
      announce: { delay: 0s, repeat: 2 }
`
  const procs: Array<HafwdProcess | null> = [startHafwd(fws[0] as string, yaml('f1', 150), dir, 'f1'), null]
  t.teardown(async () => { for (const p of procs) await p?.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => await onVmac(fws[0] as string), 10_000, 20), null, 'f1 MASTER on its vmac')
  procs[1] = startHafwd(fws[1] as string, yaml('f2', 100), dir, 'f2')
  t.not(await waitFor(async () => /vrrp\.61/.test(await nsExec(fws[1] as string, 'ip', ['link', 'show'])), 5000, 20), null, 'f2 made its vmac')
  await sleep(1000) // > Master_Down_Interval of f2 (3 × 100 ms + skew): it would have taken over if deaf
  t.notOk(await onVmac(fws[1] as string), 'f2 stays BACKUP: it hears f1 through its own macvlan')

  await nsExec(clNs, 'ping', ['-c', '1', '-W', '2', '10.9.0.1'])
  t.match(await nsExec(clNs, 'ip', ['neigh', 'show', '10.9.0.1']), /lladdr 00:00:5e:00:01:3d/)
  t.equal(await procs[0]?.stop('SIGTERM'), 0, 'f1 stops cleanly (priority 0)')
  procs[0] = null
  t.not(await waitFor(async () => await onVmac(fws[1] as string), 5000, 10), null, 'f2 takes over on its vmac')
  await nsExec(clNs, 'ping', ['-c', '1', '-W', '2', '10.9.0.1'])
  t.match(await nsExec(clNs, 'ip', ['neigh', 'show', '10.9.0.1']), /lladdr 00:00:5e:00:01:3d/, 'same MAC for the client after the failover')
})

// IPv6 vmac: 00:00:5e:00:02:VRID, no generated link-local on the macvlan (the same on every node),
// the parent's link-local as advert source; the client resolves the VIP to the virtual MAC. An
// IPv6 route and rule move with it.
t.test('vmac IPv6: the VIP answers with 00:00:5e:00:02:VRID', { skip }, async t => {
  t.teardown(async () => {
    await sh('ip', ['netns', 'del', fwNs], { allowFail: true })
    await sh('ip', ['netns', 'del', clNs], { allowFail: true })
  })
  await lab()
  for (const [ns, ifname, addr] of [[fwNs, 'eth1', 'fd00:9::2'], [clNs, 'eth0', 'fd00:9::100']] as const) {
    await nsExec(ns, 'ip', ['addr', 'add', `${addr}/64`, 'dev', ifname, 'nodad'])
  }
  // The parent's link-local (the advert source) must be usable before hafwd starts.
  t.not(await waitFor(async () => /inet6 fe80::[0-9a-f:]+\/64 scope link\s*\n/.test(await nsExec(fwNs, 'ip', ['-6', 'addr', 'show', 'dev', 'eth1'])), 5000, 50), null, 'parent link-local ready')
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-vmac6-'))
  const yaml = `node: { name: v6 }
control: { socket: ${join(dir, 'hafwd.sock')} }
vrrp:
  instances:
    VI_V6:
      interface: eth1
      vrid: 61
      advertInterval: 100ms
      vmac: true
      virtualAddresses: ["fd00:9::1/64"]
      announce: { delay: 0s, repeat: 1 }
      routes:
        - { to: "2001:db8:77::/48", via: "fd00:9::100", metric: 50 }
      rules:
        - { from: "fd00:9::/64", table: 100, priority: 1100 }
`
  let p: HafwdProcess | null = startHafwd(fwNs, yaml, dir, 'v6')
  t.teardown(async () => { await p?.stop('SIGKILL').catch(() => null) })
  const onVmac = async (): Promise<boolean> => /inet6 fd00:9::1\/64/.test(await nsExec(fwNs, 'ip', ['-6', 'addr', 'show', 'dev', 'vrrp.61'], { allowFail: true }))
  t.not(await waitFor(onVmac, 10_000, 20), null, 'MASTER: the VIP is on vrrp.61')
  const addrs = await nsExec(fwNs, 'ip', ['-6', 'addr', 'show', 'dev', 'vrrp.61'])
  t.notMatch(addrs, /fe80::200:5eff/, 'no link-local generated from the virtual MAC')
  const parentLl = /inet6 (fe80::[0-9a-f:]+)\/64/.exec(await nsExec(fwNs, 'ip', ['-6', 'addr', 'show', 'dev', 'eth1']))?.[1]
  t.match(addrs, new RegExp(`inet6 ${parentLl ?? 'none'}/64`), 'the parent link-local is on the macvlan')
  t.match(await nsExec(fwNs, 'ip', ['link', 'show', 'vrrp.61']), /link\/ether 00:00:5e:00:02:3d/)
  const v6Routes = async (): Promise<string> => (await nsExec(fwNs, 'ip', ['-6', 'route', 'show'])) + (await nsExec(fwNs, 'ip', ['-6', 'rule', 'show']))
  // Routes follow the VIPs by a few milliseconds: wait rather than race them.
  t.not(await waitFor(async () => /2001:db8:77::\/48 via fd00:9::100 dev \S+ proto keepalived metric 50/.test(await v6Routes()), 3000, 10), null, 'IPv6 virtual route added')
  t.not(await waitFor(async () => /1100:\s+from fd00:9::\/64 lookup 100/.test(await v6Routes()), 3000, 10), null, 'IPv6 virtual rule added')
  await nsExec(clNs, 'ping', ['-6', '-c', '1', '-W', '2', 'fd00:9::1'])
  t.match(await nsExec(clNs, 'ip', ['-6', 'neigh', 'show', 'fd00:9::1']), /lladdr 00:00:5e:00:02:3d/, 'the client resolves the VIP to the IPv6 virtual MAC')
  const cap = await nsExec(clNs, 'timeout', ['3', 'tcpdump', '-c', '1', '-e', '-n', '-i', 'eth0', 'ip6 proto 112'], { allowFail: true })
  t.match(cap, /00:00:5e:00:02:3d > 33:33:00:00:00:12/, 'adverts leave with the virtual MAC as source')
  t.equal(await p.stop('SIGTERM'), 0, 'clean stop')
  p = null
  t.notMatch(await nsExec(fwNs, 'ip', ['link', 'show']), /vrrp\.61/, 'the macvlan is removed at stop')
  t.notMatch(await v6Routes(), /2001:db8:77::|1100:/, 'IPv6 route and rule removed')
  t.notMatch(readFileSync(join(dir, 'v6.log'), 'utf8'), /"level":(40|50)/, 'no warning or error logged')
})

// Interop: hafwd and keepalived 2.2 (use_vmac) as the two nodes: keepalived, lower priority, stays
// BACKUP on adverts that carry its own virtual MAC as source; on hafwd's clean stop it takes over
// and the client keeps the same MAC for the VIP.
t.test('vmac pair with keepalived use_vmac', { skip }, async t => {
  await pairLab(t)
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-vmacka-'))
  const hafwYaml = `node: { name: f1 }
control: { socket: ${join(dir, 'f1.sock')} }
vrrp:
  instances:
    VI_VM:
      interface: eth1
      vrid: 61
      priority: 150
      advertInterval: 100ms
      vmac: true
      virtualAddresses: [10.9.0.1/24]
      announce: { delay: 0s, repeat: 2 }
`
  const kaConf = `global_defs {
  router_id f2
}
vrrp_instance VI_VM {
  state BACKUP
  interface eth1
  virtual_router_id 61
  version 3
  priority 100
  advert_int 0.1
  use_vmac
  virtual_ipaddress {
    10.9.0.1/24
  }
}
`
  let hafwd: HafwdProcess | null = startHafwd(fws[0], hafwYaml, dir, 'f1')
  t.teardown(async () => { await hafwd?.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => await onVmac(fws[0]), 10_000, 20), null, 'hafwd MASTER on its vmac')
  const ka = startKeepalived(fws[1], kaConf, dir, 'f2')
  t.teardown(async () => { await ka.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => /vrrp\.61/.test(await nsExec(fws[1], 'ip', ['link', 'show'])), 5000, 20), null, 'keepalived made its vmac')
  await sleep(1000)
  const kaLog = (): string => readFileSync(ka.logFile, 'utf8')
  t.notMatch(kaLog(), /Entering MASTER STATE/, 'keepalived stays BACKUP: it hears hafwd through its macvlan')
  t.notOk(await onVmac(fws[1]), 'no VIP on keepalived\'s vmac')
  await nsExec(clNs, 'ping', ['-c', '1', '-W', '2', '10.9.0.1'])
  t.equal(await hafwd.stop('SIGTERM'), 0, 'hafwd stops cleanly (priority 0)')
  hafwd = null
  t.not(await waitFor(async () => await onVmac(fws[1]), 5000, 10), null, 'keepalived takes over on its vmac')
  t.match(await nsExec(clNs, 'ip', ['neigh', 'show', '10.9.0.1']), /lladdr 00:00:5e:00:01:3d/, 'same MAC for the client after the failover')
  await nsExec(clNs, 'ping', ['-c', '1', '-W', '2', '10.9.0.1'])
  t.pass('the VIP answers from keepalived')
  t.comment(`client after a ping answered by keepalived: ${(await nsExec(clNs, 'ip', ['neigh', 'show', '10.9.0.1'])).trim()}; keepalived eth1: ${/link\/ether (\S+)/.exec(await nsExec(fws[1], 'ip', ['link', 'show', 'eth1']))?.[1] ?? '?'}`)
})
