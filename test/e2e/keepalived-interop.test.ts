// hafwd and keepalived 2.2.x as the two nodes of one pair, on the real kernel: both roles, VRRPv3
// (IPv4 + IPv6, 100 ms adverts) and VRRPv2 (IPv4, PASS authentication, 1 s adverts). For each:
// a single master over a few seconds, a backup that never went master, no advert of the peer
// dropped, the killed master box taken over, the higher priority preempting back on return, and a
// clean stop (priority 0) taken over fast. Then mismatched passwords: the documented split brain.
//
// One lab, scenarios one after the other, daemons restarted in between.
import t from 'tap'
import type { Test } from 'tap'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor, transitions, sleep } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import type { LabVrrpOptions } from '../../src/lab/configs.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import { keepalivedConfig, startKeepalived } from '../../src/lab/keepalived.js'
import { clientReachesServer, waitFor } from '../../src/lab/observe.js'
import { startCapture } from '../../src/lab/capture.js'
import { addressesOf } from '../../src/lab/topology.js'
import type { FwNode, Topology } from '../../src/lab/topology.js'
import { nsExec } from '../../src/lab/sh.js'
import { advertDrops, dropCounts } from '../../src/lab/hafwd-log.js'

const skip = skipUnlessRoot()
type Kind = 'hafwd' | 'keepalived'

/** One daemon of the pair, whichever implementation. */
interface Peer {
  readonly kind: Kind
  readonly fw: FwNode
  readonly logFile: string
  stop: (signal?: NodeJS.Signals) => Promise<unknown>
}

const logText = (p: Peer): string => existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : ''

/** How many times this daemon entered a state (hafwd: per router, keepalived: per instance). */
function entered (p: Peer, state: 'master' | 'backup'): number {
  if (p.kind === 'hafwd') return transitions(p.logFile).filter(x => x.to === state).length
  return logText(p).split('\n').filter(l => l.includes(`Entering ${state.toUpperCase()} STATE`)).length
}

/** Lines where keepalived complained about a packet it received. */
function keepalivedComplaints (p: Peer): string[] {
  return logText(p).split('\n').filter(l => /bogus|invalid|mismatch|wrong|bad |checksum|ignor|authentication|password/i.test(l))
}

interface Variant {
  readonly name: string
  readonly opts: LabVrrpOptions
  readonly ipv6: boolean
  /** Routers per node: hafwd's per-family routers = keepalived's instances. */
  readonly routers: number
  /** How long to watch the steady state. */
  readonly watchMs: number
}

const VARIANTS: readonly Variant[] = [
  { name: 'VRRPv3 IPv4+IPv6 at 100 ms', opts: { version: 3, advertInterval: '100ms', ipv6: true }, ipv6: true, routers: 4, watchMs: 1500 },
  { name: 'VRRPv2 IPv4 with PASS auth at 1 s', opts: { version: 2, advertInterval: '1s', ipv6: false, password: 'hafw-pw' }, ipv6: false, routers: 2, watchMs: 2500 }
]

t.test('hafwd and keepalived as one pair', { skip }, async t => {
  const lab = await labFor(t, 'ka')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-ka-'))
  const running = new Set<Peer>()
  t.teardown(async () => { for (const p of running) await p.stop('SIGKILL').catch(() => null) })
  let serial = 0

  const start = (kind: Kind, fw: FwNode, opts: LabVrrpOptions): Peer => {
    const name = `${fw.name}-${kind}-${++serial}`
    const inner = kind === 'hafwd'
      ? startHafwd(fw.ns, hafwConfig(lab, fw, { ...opts, logLevel: 'debug', controlSocket: join(dir, `${name}.sock`) }), dir, name)
      : startKeepalived(fw.ns, keepalivedConfig(lab, fw, opts), dir, name)
    const peer: Peer = {
      kind,
      fw,
      logFile: inner.logFile,
      stop: async (signal = 'SIGTERM') => { running.delete(peer); return await inner.stop(signal) }
    }
    running.add(peer)
    return peer
  }

  /** The VIPs of the lab this node holds (only what is on an interface that is up). */
  const vipsOn = async (fw: FwNode): Promise<string[]> => {
    const all = [...await addressesOf(fw.ns, 'eth0'), ...await addressesOf(fw.ns, 'eth1')]
    return all.filter(a => [lab.vip.outside4, lab.vip.inside4, lab.vip.outside6, lab.vip.inside6].includes(a))
  }
  const holdsAll = async (fw: FwNode, ipv6: boolean): Promise<boolean> => (await vipsOn(fw)).length === (ipv6 ? 4 : 2)
  /** Sample the VIPs for `ms`: every sample must show `master` holding all of them and the other node none. */
  const onlyMasterThroughout = async (master: FwNode, ipv6: boolean, ms: number): Promise<string[]> => {
    const other = master === fw1 ? fw2 : fw1
    const bad: string[] = []
    const until = performance.now() + ms
    while (performance.now() < until) {
      const [m, o] = await Promise.all([vipsOn(master), vipsOn(other)])
      if (m.length !== (ipv6 ? 4 : 2) || o.length !== 0) bad.push(`${master.name}=[${m.join(' ')}] ${other.name}=[${o.join(' ')}]`)
      await sleep(100)
    }
    return bad
  }
  const linksOf = async (fw: FwNode, state: 'up' | 'down'): Promise<void> => {
    for (const i of ['eth0', 'eth1', 'eth2']) await nsExec(fw.ns, 'ip', ['link', 'set', i, state])
  }
  /** Started and running as backup or master: every router has settled once. */
  const settled = async (p: Peer, routers: number): Promise<boolean> =>
    await waitFor(async () => entered(p, 'backup') + entered(p, 'master') >= routers, 10_000, 50) !== null

  /** fw1 (priority 100) first, fw2 (50) once fw1 runs; at 100 ms adverts once fw1 holds the VIPs. */
  const startPair = async (t: Test, v: Variant, masterKind: Kind): Promise<{ master: Peer, backup: Peer }> => {
    const backupKind: Kind = masterKind === 'hafwd' ? 'keepalived' : 'hafwd'
    const master = start(masterKind, fw1, v.opts)
    t.ok(await settled(master, v.routers), `${masterKind} on fw1 started`)
    // At 1 s adverts the backup may start as soon as the master runs: its Master_Down_Interval
    // is longer and starts later, so the master's first advert reaches it first.
    if (v.opts.version === 3) t.not(await waitFor(async () => await holdsAll(fw1, v.ipv6), 10_000, 20), null, `${masterKind} on fw1 is master alone`)
    const backup = start(backupKind, fw2, v.opts)
    t.ok(await settled(backup, v.routers), `${backupKind} on fw2 started`)
    t.not(await waitFor(async () => await holdsAll(fw1, v.ipv6), 15_000, 20), null, `${masterKind} on fw1 holds the VIPs`)
    return { master, backup }
  }

  const hafwdOf = (a: Peer, b: Peer): Peer => a.kind === 'hafwd' ? a : b
  const keepalivedOf = (a: Peer, b: Peer): Peer => a.kind === 'keepalived' ? a : b

  for (const v of VARIANTS) {
    for (const masterKind of ['hafwd', 'keepalived'] as const) {
      const backupKind: Kind = masterKind === 'hafwd' ? 'keepalived' : 'hafwd'
      await t.test(`${v.name}: ${masterKind} fw1 master, ${backupKind} fw2 backup`, async t => {
        const { master, backup } = await startPair(t, v, masterKind)
        const hafwd = hafwdOf(master, backup)
        const ka = keepalivedOf(master, backup)

        // Election.
        const bad = await onlyMasterThroughout(fw1, v.ipv6, v.watchMs)
        t.same(bad, [], `only fw1 holds the VIPs over ${v.watchMs} ms (no dual master)`)
        t.equal(entered(backup, 'master'), 0, `${backupKind} on fw2 never went master`)
        t.same([...dropCounts(advertDrops(hafwd.logFile)).entries()], [], 'hafwd dropped no advert of keepalived')
        t.same(keepalivedComplaints(ka), [], 'keepalived complained about no advert of hafwd')
        t.ok(await clientReachesServer(lab, 1), 'the client reaches the server through fw1')

        // The master box dies: no priority 0, the backup waits Master_Down_Interval.
        await master.stop('SIGKILL')
        await linksOf(fw1, 'down')
        t.not(await waitFor(async () => await holdsAll(fw2, v.ipv6), 10_000, 20), null, `${backupKind} on fw2 takes over from the dead box`)

        // It comes back with its higher priority and preempts.
        // The IPv4 VIPs the killed daemon left on fw1 show again once its links are up; both
        // daemons clear them at start (keepalived logs "removing VIPs." before "Entering BACKUP
        // STATE (init)"), so watch the daemon's own state, not the addresses, for the preemption.
        await linksOf(fw1, 'up')
        const back = start(masterKind, fw1, v.opts)
        t.not(await waitFor(async () => entered(back, 'master') >= v.routers, 15_000, 50), null, `${masterKind} on fw1 preempts back`)
        t.not(await waitFor(async () => (await vipsOn(fw2)).length === 0, 10_000, 20), null, `${backupKind} on fw2 released the VIPs`)
        t.not(await waitFor(async () => await holdsAll(fw1, v.ipv6), 5000, 20), null, `${masterKind} on fw1 holds the VIPs`)
        t.same(await onlyMasterThroughout(fw1, v.ipv6, 500), [], 'fw1 alone holds the VIPs after preemption')

        // Clean stop: priority 0 on the wire, the backup takes over after Skew_Time.
        const cap = await startCapture(lab.ns.sw, 'p-fw1-in', 'ip proto 112 or ip6 proto 112', join(dir, `prio0-${serial}.pcap`))
        const stopping = back.stop('SIGTERM')
        const took = await waitFor(async () => await holdsAll(fw2, v.ipv6), 5000, 10)
        await stopping
        const wire = await cap.stop()
        t.not(took, null, `${backupKind} on fw2 takes over after the clean stop (${took === null ? '-' : took.toFixed(0)} ms after SIGTERM)`)
        t.same(await vipsOn(fw1), [], `${masterKind} on fw1 removed its VIPs`)
        t.match(wire, /tos 0xc0, ttl 255, [^\n]*proto VRRP[^\n]*\n\s*\S+ > 224\.0\.0\.18: VRRPv\d, Advertisement, vrid 52, prio 0/, `${masterKind} sent an IPv4 priority-0 advert (TOS CS6, TTL 255)`)
        if (v.ipv6) {
          // Both mark IPv6 adverts with traffic class CS6, as IPv4 adverts with TOS 0xc0.
          t.match(wire, /class 0xc0, [^\n]*hlim 255[^\n]*ff02::12: VRRPv3, Advertisement, vrid 52, prio 0/, `${masterKind} sent an IPv6 priority-0 advert (class CS6, hop limit 255)`)
        }
        // At 1 s adverts Skew_Time (0.8 s at priority 50) and Master_Down_Interval (3.8 s) are far
        // enough apart to tell a priority-0 takeover from a timeout on a loaded machine.
        if (v.opts.version === 2) t.ok(took !== null && took < 3000, 'the takeover came before Master_Down_Interval would have expired')
        const all = [master, backup, back]
        t.same(all.filter(p => p.kind === 'hafwd').flatMap(p => [...dropCounts(advertDrops(p.logFile)).entries()]), [], 'no hafwd dropped an advert of keepalived (whole scenario)')
        t.same(all.filter(p => p.kind === 'keepalived').flatMap(keepalivedComplaints), [], 'no keepalived complained about an advert of hafwd (whole scenario)')
        await backup.stop('SIGTERM')
      })
    }
  }

  await t.test('VRRPv2 with different passwords: both become master (split brain, by design)', async t => {
    const opts = (password: string): LabVrrpOptions => ({ version: 2, advertInterval: '1s', ipv6: false, password })
    // Started together: whatever the order, neither accepts the other's adverts (RFC 3768 §7.1),
    // so each one's Master_Down_Interval expires.
    const hafwd = start('hafwd', fw1, opts('pw-one'))
    const ka = start('keepalived', fw2, opts('pw-two'))
    t.not(await waitFor(async () => await holdsAll(fw1, false), 15_000, 20), null, 'hafwd on fw1 goes master')
    t.not(await waitFor(async () => await holdsAll(fw2, false), 15_000, 20), null, 'keepalived on fw2 goes master too')
    const fromPeer = (): Map<string, number> => dropCounts(advertDrops(hafwd.logFile), [fw2.inside, fw2.outside])
    // returns as soon as the 4th is logged; the bound is for a loaded CI host (one run of 12-06,
    // with the other e2e files in parallel, saw only 3 in 8 s after keepalived went master)
    t.not(await waitFor(async () => (fromPeer().get('authMismatch') ?? 0) >= 4, 20_000, 100), null, 'hafwd keeps dropping keepalived\'s adverts')
    t.ok(await holdsAll(fw1, false) && await holdsAll(fw2, false), 'both hold the VIPs')
    t.ok(transitions(hafwd.logFile).every(x => x.to === 'master' || x.from === 'initialize'), 'hafwd never left master')
    const counted = fromPeer()
    t.ok((counted.get('authMismatch') ?? 0) >= 4, `hafwd counted keepalived's adverts as rx.drop.authMismatch (${[...counted.entries()].map(([k, n]) => `${k}=${n}`).join(' ')})`)
    t.same([...counted.keys()], ['authMismatch'], 'under no other reason')
    t.ok(logText(ka).includes('received an invalid passwd!'), 'keepalived logged "received an invalid passwd!" for hafwd\'s adverts')
    await Promise.all([hafwd.stop('SIGTERM'), ka.stop('SIGTERM')])
  })
})
