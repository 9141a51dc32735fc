// hafwd pair on the real kernel in network namespaces: election, killed master, GARP/NA on the
// wire, preemption back, priority-0 on clean stop, link down → FAULT, nopreempt, sync group.
import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor, transitions, sleep } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { holdsVips, waitFor, whoIsMaster, clientReachesServer } from '../../src/lab/observe.js'
import { startCapture } from '../../src/lab/capture.js'
import { addressesOf } from '../../src/lab/topology.js'
import { nsExec } from '../../src/lab/sh.js'
import { ControlClient } from '../../src/control/client.js'

const skip = skipUnlessRoot()
const INTERVAL = '100ms'

t.test('hafwd pair on the real kernel', { skip }, async t => {
  const lab = await labFor(t, 'pair')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-pair-'))
  const procs: HafwdProcess[] = []
  t.teardown(async () => { for (const p of procs) await p.stop('SIGKILL').catch(() => null) })
  const start = (fw: typeof fw1, name: string, preempt = true): HafwdProcess => {
    const p = startHafwd(fw.ns, hafwConfig(lab, fw, { advertInterval: INTERVAL, preempt, controlSocket: join(dir, `${name}.sock`) }), dir, name)
    procs.push(p)
    return p
  }

  // fw1 first: two daemons started at the same instant may both go master for one
  // Master_Down_Interval before the higher priority wins, which is not what this test is about.
  const p1 = start(fw1, 'fw1-a')
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'fw1 elected alone')
  const p2 = start(fw2, 'fw2-a')

  await t.test('election: fw1 (priority 100) is the only master, traffic flows', async t => {
    await sleep(1500)
    t.same(await whoIsMaster(lab), ['fw1'], 'still only fw1 after a few adverts (no dual master)')
    t.ok((await addressesOf(fw1.ns, 'eth0')).includes(lab.vip.outside6), 'IPv6 VIP on fw1')
    t.ok(await clientReachesServer(lab, 1), 'client reaches the server through the VIP and SNAT')
    // fw2's daemon may still be starting on a loaded machine: wait for its startup transitions.
    await waitFor(async () => transitions(p2.logFile).length >= 4, 15_000, 50)
    const fw2States = transitions(p2.logFile).map(x => `${x.routerId}:${x.to}`)
    t.ok(fw2States.length > 0 && fw2States.every(s => s.endsWith(':backup')), `fw2 joined as backup and stayed there (${fw2States.join(' ')})`)
  })

  await t.test('master box dies: fw2 takes over, GARP and NA from fw2 on the wire', async t => {
    const cap4 = await startCapture(lab.ns.client, 'eth0', 'arp or (icmp6 and ip6[40] == 136)', join(dir, 'takeover.pcap'))
    await p1.stop('SIGKILL')
    for (const i of ['eth0', 'eth1', 'eth2']) await nsExec(fw1.ns, 'ip', ['link', 'set', i, 'down'])
    t.not(await waitFor(async () => await holdsVips(lab, fw2), 5000, 10), null, 'fw2 holds the VIPs')
    t.not(await waitFor(async () => await clientReachesServer(lab, 0.2), 5000, 0), null, 'client traffic flows through fw2')
    // arping is a process: give the first announce round time to leave.
    await sleep(1000)
    const wire = await cap4.stop()
    if (!/who-has/.test(wire)) t.comment(wire)
    t.match(wire, new RegExp(`Request who-has ${lab.vip.inside4.replace(/\./g, '\\.')} .*tell ${lab.vip.inside4.replace(/\./g, '\\.')}`), 'gratuitous ARP for the inside VIP')
    t.match(wire, /neighbor advertisement.*tgt is fd00:1::1/s, 'unsolicited NA for the inside IPv6 VIP')
    const reasons = transitions(p2.logFile).filter(x => x.to === 'master').map(x => x.reason)
    t.ok(reasons.length >= 4 && reasons.every(r => r === 'masterDown' || r === 'syncGroup'), `fw2 went master on masterDown (${reasons.join(',')})`)
  })

  await t.test('fw1 comes back and preempts (preempt on)', async t => {
    for (const i of ['eth0', 'eth1', 'eth2']) await nsExec(fw1.ns, 'ip', ['link', 'set', i, 'up'])
    start(fw1, 'fw1-b')
    t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 10_000, 20), null, 'fw1 is master again, fw2 released the VIPs')
    t.ok(await clientReachesServer(lab, 1), 'traffic flows through fw1')
  })

  await t.test('clean stop of the master: priority 0, fw2 takes over fast, fw1 removes its VIPs', async t => {
    const cap = await startCapture(lab.ns.sw, 'p-fw1-in', 'ip proto 112', join(dir, 'prio0.pcap'))
    const fw1b = procs[procs.length - 1] as HafwdProcess
    const code = await fw1b.stop('SIGTERM')
    t.equal(code, 0, 'hafwd exits 0 on SIGTERM')
    t.notOk(await holdsVips(lab, fw1), 'fw1 removed its VIPs')
    t.not(await waitFor(async () => await holdsVips(lab, fw2), 2000, 5), null, 'fw2 holds the VIPs')
    const wire = await cap.stop()
    t.match(wire, /vrid 52, prio 0/, 'a priority-0 advert for VI_IN left fw1')
  })

  await t.test('nopreempt: a returning higher-priority node stays backup', async t => {
    const p = start(fw1, 'fw1-c', false)
    await sleep(1500)
    t.same(await whoIsMaster(lab), ['fw2'], 'fw2 stays master')
    t.ok(transitions(p.logFile).every(x => x.to !== 'master'), 'fw1 never became master')
    await p.stop('SIGTERM')
  })

  await t.test('link down on the master → FAULT, the whole sync group moves to fw1', async t => {
    const p = start(fw1, 'fw1-d')
    await sleep(800) // fw1 backup now (fw2 master, preempt on → fw1 takes over)
    t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 5000, 20), null, 'fw1 master again')
    await nsExec(fw1.ns, 'ip', ['link', 'set', 'eth1', 'down'])
    t.not(await waitFor(async () => await holdsVips(lab, fw2), 5000, 10), null, 'fw2 holds both VIPs (outside and inside together)')
    await sleep(200)
    const fw1Tail = transitions(p.logFile).slice(-4)
    t.ok(fw1Tail.every(x => x.to === 'fault'), `every fw1 router is in FAULT (${fw1Tail.map(x => `${x.routerId}:${x.to}`).join(' ')})`)
    t.notOk((await addressesOf(fw1.ns, 'eth0')).includes(lab.vip.outside4), 'fw1 removed the outside VIP too (sync group)')
    // fw1 could only release on eth0: fw2's inside routers heard nothing, and went MASTER because
    // the outside release cut their Master_Down_Timer (router.ts onGroupRelease), counted per router.
    const ctl = await ControlClient.connect({ socket: join(dir, 'fw2-a.sock') }, { timeoutMs: 2000 })
    const routers = (await ctl.status()).routers
    await ctl.close()
    const inside = routers.filter(r => r.ifname === 'eth1')
    t.equal(inside.length, 2, 'fw2 has two inside routers (IPv4, IPv6)')
    t.ok(inside.every(r => r.counters.groupReleases >= 1 && r.state === 'master'), `fw2's inside routers went master through the group release (${inside.map(r => `${r.id}:${r.state}:${r.counters.groupReleases}`).join(' ')})`)
    await nsExec(fw1.ns, 'ip', ['link', 'set', 'eth1', 'up'])
    t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 5000, 20), null, 'fault cleared: fw1 preempts back')
  })
  void p1
})
