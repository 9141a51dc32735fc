/**
 * Benchmark: VRRP advert timing under a connection storm, hafwd pair beside keepalived + conntrackd
 * on the same lab topology (fw1 priority 100 = master, fw2 priority 50 = backup, VRRPv3 at 100 ms
 * adverts, the lab's sync group of four routers: VI_OUT/VI_IN × IPv4/IPv6, conntrack sync FTFW
 * over UDP on the eth2 link).
 *
 *   npm run bench:storm [-- --bursts 20000x5,50000x5] [--fill 50000x2] [--fill-mode before|live]
 *                        [--only hafwd|keepalived] [--no-takeover] [--keep]
 *
 * For each implementation, each case starts a fresh pair on empty conntrack tables:
 *
 * - burst RATE×S: the generator of the sync benchmark (dist/bench/sync.js --worker, run inside
 *   fw1's namespace: pre-encoded ctnetlink creates on its own netfilter socket, one tick every
 *   10 ms, TCP ESTABLISHED entries with unique sources, timeout 3600 s) adds RATE new conntrack
 *   entries per second for S seconds to the master's kernel. The daemons see kernel NEW events.
 * - takeover: fill the master with FILL entries the same way — by default into fw1's kernel before
 *   the daemons start (`--fill-mode before`: fw1's startup dump and the bulk/resync to fw2 carry
 *   them, no event storm), or while the pair runs (`--fill-mode live`, a burst itself) — wait
 *   until they are all in the backup's external cache, then the master box dies (SIGKILL of its
 *   daemon(s) — hafwd; or keepalived and conntrackd — and its links down at once). The new master
 *   commits the entries into its kernel (hafwd: in-process, before the VIPs; keepalived: a
 *   notify_master script running conntrackd -c, -f, -R, -B as conntrackd's primary-backup.sh
 *   does). For hafwd this runs twice: hafwd → hafwd, and keepalived + conntrackd on fw1 → hafwd
 *   on fw2 (the FTFW migration pair), whose fill a storm cannot turn into early takeovers, so that
 *   hafwd's own commit as the new master is measured even where the hafwd pair cannot hold the
 *   fill (a row that measured nothing is flagged "not a valid takeover").
 *
 * From the wire (tcpdump in the switch namespace on both LAN bridges, br-in and br-out, kernel
 * timestamps; VRRP proto 112 parsed by IP source, see lab/vrrp-pcap.ts):
 * - master's largest advert gap: over the four routers of the master, the longest time between
 *   two consecutive adverts of one router whose later advert falls in the window (burst start →
 *   burst end + 1 s), or the silence to the end of the window; `gaps > 1.5×`: those longer than
 *   150 ms, summed over the four routers; `idle gap`: the same in the 1 s before the burst.
 * - adverts from the backup: any VRRP advert with a source address of fw2, burst start → burst
 *   end + 2 s.
 * - takeover: the new master's adverts from its first one until its kernel holds the committed
 *   entries + 1 s, at least until kill + 3 s (largest gap, gaps > 150 ms); kill → first advert of fw2; kill → the inside VIP
 *   answers with fw2's MAC (probe host, echo every 5 ms, see wire.ts / probe.ts).
 * From the daemons: entries in the backup's external cache (hafwd: control API status; conntrackd:
 * `conntrackd -s`) read once 1 s after the generator's last send, and when all had arrived
 * (polled every 200 ms: the polls compete with the daemons for the CPU); the host's load average;
 * the new master's kernel count (/proc/sys/net/netfilter/nf_conntrack_count in its namespace,
 * polled every 50 ms) for the commit.
 *
 * Burst end = the generator's realtime clock just before its last netlink send (its batches file),
 * burst start = before its first; tcpdump stamps and these are CLOCK_REALTIME on the same host.
 *
 * Needs root. Everything lives in namespaces prefixed `hstm<pid>`, removed at the end, also on
 * error and Ctrl-C; only processes started here are signalled, by PID. Prints, asserts nothing.
 */
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ControlClient } from '../control/client.js'
import { conntrackdStats, hafwConfigWithSync, labConntrackdConfig, startConntrackd } from '../lab/conntrackd.js'
import type { ConntrackdProcess } from '../lab/conntrackd.js'
import { startHafwd } from '../lab/hafwd-process.js'
import type { HafwdProcess } from '../lab/hafwd-process.js'
import { keepalivedConfig, startKeepalived } from '../lab/keepalived.js'
import type { KeepalivedProcess } from '../lab/keepalived.js'
import { waitFor, whoIsMaster } from '../lab/observe.js'
import { nsExec, sh } from '../lab/sh.js'
import { addressesOf, applyRuleset, create, destroy, topology } from '../lab/topology.js'
import type { FwNode, Topology } from '../lab/topology.js'
import { advertGaps, canonicalIp, readVrrpPcap } from '../lab/vrrp-pcap.js'
import type { WireAdvert } from '../lab/vrrp-pcap.js'
import { calibrate, realNow, sleep } from './clock.js'
import { createProbe, destroyProbe, ipBatch, macOf, probeNs, startPingers } from './probe.js'
import type { Pingers } from './probe.js'
import { fmt, table } from './stats.js'
import { arg } from './proc.js'
import { startObserver } from './wire.js'
import type { Observer } from './wire.js'

const GENERATOR = join(dirname(fileURLToPath(import.meta.url)), 'sync.js')
const ADVERT_MS = 100
const LIMIT = 1.5 * ADVERT_MS
/** Sync socket buffers of both implementations (conntrackd's example: Snd/RcvSocketBuffer 1249280). */
const SOCKET_BUFFER = 1249280
/**
 * Poll period of the backup's cache count (control API status / `conntrackd -s`, a process each):
 * coarse on purpose, the polls compete with the daemons for the CPU.
 */
const POLL_MS = 200
const VRRP_FILTER = 'ip proto 112 or ip6 proto 112'

type Impl = 'hafwd' | 'keepalived'
const LABEL: Record<Impl, string> = { hafwd: 'hafwd', keepalived: 'keepalived+conntrackd' }
const KIND_LABEL: Record<'hafwd' | 'keepalived' | 'mixed', string> = { hafwd: 'hafwd → hafwd', keepalived: 'ka+ctd → ka+ctd', mixed: 'ka+ctd → hafwd' }

const say = (s: string): void => { process.stdout.write(`${s}\n`) }

// ------------------------------------------------------------------------------------------------
// The pair, both implementations behind one interface

interface Pair {
  /** Entries in fw2's external cache; null when it does not answer. */
  external: () => Promise<number | null>
  /** The master box dies: SIGKILL of every fw1 process that adverts or syncs. Synchronous. */
  killFw1: () => void
  close: () => Promise<void>
  readonly logs: string[]
  /** hafwd: both daemons' counters written to FILE (where entries went, for a reader of the run). */
  saveCounters?: (file: string) => Promise<void>
}

const hafwdOptions = (dir: string, fw: FwNode): Parameters<typeof hafwConfigWithSync>[2] =>
  ({ version: 3, advertInterval: `${ADVERT_MS}ms`, controlSocket: join(dir, `${fw.name}.sock`), purgeTimeout: '3600s', startupResyncTimeout: '5s' })

async function startHafwdPair (t: Topology, dir: string): Promise<Pair> {
  const [fw1, fw2] = t.fw
  const procs: HafwdProcess[] = []
  let client: ControlClient | null = null
  const close = async (): Promise<void> => {
    await client?.close().catch(() => undefined)
    for (const p of procs) await p.stop('SIGKILL').catch(() => null)
  }
  try {
    const p1 = startHafwd(fw1.ns, hafwConfigWithSync(t, fw1, hafwdOptions(dir, fw1), 'udp', { socketBuffer: SOCKET_BUFFER }), dir, 'hafwd-fw1')
    procs.push(p1)
    // with a pre-filled table hafwd reads it before its routers start: give that time
    if (await waitFor(async () => (await whoIsMaster(t)).join() === 'fw1', 120_000, 20) === null) throw new Error(`hafwd on fw1 did not become master within 120 s (${p1.logFile})`)
    const p2 = startHafwd(fw2.ns, hafwConfigWithSync(t, fw2, hafwdOptions(dir, fw2), 'udp', { socketBuffer: SOCKET_BUFFER }), dir, 'hafwd-fw2')
    procs.push(p2)
    await waitFor(async () => {
      try { client = await ControlClient.connect({ socket: join(dir, 'fw2.sock') }, { timeoutMs: 2000 }); return true } catch { return false }
    }, 15_000, 100)
    if (client === null) throw new Error(`hafwd on fw2 has no control socket (${p2.logFile})`)
    const c: ControlClient = client
    const status = async (): Promise<{ conntrack?: { external?: { active?: number }, bulk?: string } } | null> => {
      try { return await c.status() as { conntrack?: { external?: { active?: number }, bulk?: string } } } catch { return null }
    }
    if (await waitFor(async () => (await status())?.conntrack?.bulk === 'done', 60_000, 50) === null) throw new Error(`hafwd on fw2: startup bulk not done (${p2.logFile})`)
    return {
      external: async () => (await status())?.conntrack?.external?.active ?? null,
      killFw1: () => { try { process.kill(p1.pid, 'SIGKILL') } catch { /* gone */ } },
      close,
      logs: [p1.logFile, p2.logFile],
      saveCounters: async (file: string) => {
        const out: Record<string, unknown> = {}
        for (const fw of t.fw) {
          const cl = await ControlClient.connect({ socket: join(dir, `${fw.name}.sock`) }, { timeoutMs: 2000 }).catch(() => null)
          out[fw.name] = cl === null ? null : { counters: await cl.counters().catch(() => null), status: await cl.status().catch(() => null) }
          await cl?.close().catch(() => undefined)
        }
        writeFileSync(file, JSON.stringify(out, null, 1))
      }
    }
  } catch (err) {
    await close()
    throw err
  }
}

/**
 * keepalived with a notify script for the sync group that does what conntrackd's
 * primary-backup.sh does: on MASTER commit the external cache (-c), flush the caches (-f), resync
 * the internal cache with the kernel (-R), send a bulk (-B); on BACKUP request a resync (-n).
 * The script writes the realtime at which `conntrackd -c` returned.
 */
function keepalivedWithNotify (t: Topology, fw: FwNode, ctd: ConntrackdProcess, dir: string, name: string): string {
  const script = join(dir, `${name}-notify.sh`)
  const c = `conntrackd -C ${ctd.conf}`
  writeFileSync(script, `#!/bin/sh
# keepalived notify for G_FW: $1 = master|backup (conntrackd primary-backup.sh, minus -t on backup)
case "$1" in
  master)
    ${c} -c
    date +%s.%N > ${join(dir, `${name}-commit-done`)}
    ${c} -f
    ${c} -R
    ${c} -B
    ;;
  backup)
    ${c} -n
    ;;
esac
`)
  chmodSync(script, 0o700)
  // enable_script_security refuses scripts under /tmp (world-writable parent); the lab dir is 0700 root.
  return keepalivedConfig(t, fw, { version: 3, advertInterval: `${ADVERT_MS}ms` })
    .replace(/^\s*enable_script_security\s*$/m, '')
    .replace(/vrrp_sync_group G_FW \{/, `vrrp_sync_group G_FW {\n  notify_master "${script} master"\n  notify_backup "${script} backup"`)
}

async function startKeepalivedPair (t: Topology, dir: string): Promise<Pair> {
  const [fw1, fw2] = t.fw
  const ctds: ConntrackdProcess[] = []
  const kas: Array<{ k: KeepalivedProcess, name: string }> = []
  const vrrpPid = (name: string): number => { try { return Number(readFileSync(join(dir, `${name}.vrrp.pid`), 'utf8').trim()) || 0 } catch { return 0 } }
  const close = async (): Promise<void> => {
    for (const { k } of kas) await k.stop('SIGTERM').catch(() => undefined)
    for (const c of ctds) await c.stop('SIGTERM').catch(() => undefined)
  }
  try {
    for (const fw of [fw1, fw2]) {
      const c = startConntrackd(fw.ns, labConntrackdConfig(t, fw, { transport: 'udp', dir, name: `ctd-${fw.name}`, startupResync: false }), dir, `ctd-${fw.name}`)
      ctds.push(c)
      if (await waitFor(async () => (await conntrackdStats(c)) !== null, 10_000, 50) === null) throw new Error(`conntrackd in ${c.ns} does not answer (${c.logFile})`)
    }
    const [c1, c2] = ctds as [ConntrackdProcess, ConntrackdProcess]
    kas.push({ k: startKeepalived(fw1.ns, keepalivedWithNotify(t, fw1, c1, dir, 'ka-fw1'), dir, 'ka-fw1'), name: 'ka-fw1' })
    if (await waitFor(async () => (await whoIsMaster(t)).join() === 'fw1', 15_000, 20) === null) throw new Error('keepalived on fw1 did not become master')
    kas.push({ k: startKeepalived(fw2.ns, keepalivedWithNotify(t, fw2, c2, dir, 'ka-fw2'), dir, 'ka-fw2'), name: 'ka-fw2' })
    if (await waitFor(async () => vrrpPid('ka-fw2') !== 0, 10_000, 20) === null) throw new Error('keepalived on fw2 wrote no VRRP pid file')
    // let fw2 hear fw1 and settle as backup (its notify_backup runs conntrackd -n)
    await sleep(1500)
    const ka1 = kas[0] as { k: KeepalivedProcess, name: string }
    return {
      external: async () => (await conntrackdStats(c2))?.external.active ?? null,
      killFw1: () => {
        // stop the parent first so it cannot respawn the VRRP child, then kill both, and conntrackd
        const child = vrrpPid(ka1.name)
        try { process.kill(ka1.k.pid, 'SIGSTOP') } catch { /* gone */ }
        if (child !== 0) { try { process.kill(child, 'SIGKILL') } catch { /* gone */ } }
        try { process.kill(ka1.k.pid, 'SIGKILL') } catch { /* gone */ }
        try { process.kill(c1.pid, 'SIGKILL') } catch { /* gone */ }
      },
      close,
      logs: [...kas.map(x => x.k.logFile), ...ctds.map(c => c.logFile)]
    }
  } catch (err) {
    await close()
    throw err
  }
}

/**
 * The migration pair: keepalived + conntrackd on fw1 (master), hafwd on fw2 (backup; FTFW is wire
 * compatible). Used to fill a hafwd backup's external cache from a master whose adverts a
 * conntrack storm cannot delay, so that the takeover measures hafwd's commit as the new master.
 */
async function startMixedPair (t: Topology, dir: string): Promise<Pair> {
  const [fw1, fw2] = t.fw
  let c1: ConntrackdProcess | null = null
  let k1: KeepalivedProcess | null = null
  let p2: HafwdProcess | null = null
  let client: ControlClient | null = null
  const vrrpPid = (): number => { try { return Number(readFileSync(join(dir, 'ka-fw1.vrrp.pid'), 'utf8').trim()) || 0 } catch { return 0 } }
  const close = async (): Promise<void> => {
    await client?.close().catch(() => undefined)
    await p2?.stop('SIGKILL').catch(() => null)
    await k1?.stop('SIGTERM').catch(() => undefined)
    await c1?.stop('SIGTERM').catch(() => undefined)
  }
  try {
    const c = startConntrackd(fw1.ns, labConntrackdConfig(t, fw1, { transport: 'udp', dir, name: 'ctd-fw1', startupResync: false }), dir, 'ctd-fw1')
    c1 = c
    if (await waitFor(async () => (await conntrackdStats(c)) !== null, 30_000, 50) === null) throw new Error(`conntrackd in ${c.ns} does not answer (${c.logFile})`)
    const k = startKeepalived(fw1.ns, keepalivedWithNotify(t, fw1, c, dir, 'ka-fw1'), dir, 'ka-fw1')
    k1 = k
    if (await waitFor(async () => (await whoIsMaster(t)).join() === 'fw1', 15_000, 20) === null) throw new Error('keepalived on fw1 did not become master')
    const p = startHafwd(fw2.ns, hafwConfigWithSync(t, fw2, hafwdOptions(dir, fw2), 'udp', { socketBuffer: SOCKET_BUFFER }), dir, 'hafwd-fw2')
    p2 = p
    await waitFor(async () => {
      try { client = await ControlClient.connect({ socket: join(dir, 'fw2.sock') }, { timeoutMs: 2000 }); return true } catch { return false }
    }, 15_000, 100)
    if (client === null) throw new Error(`hafwd on fw2 has no control socket (${p.logFile})`)
    const cl: ControlClient = client
    return {
      external: async () => {
        try { return ((await cl.status()) as { conntrack?: { external?: { active?: number } } }).conntrack?.external?.active ?? null } catch { return null }
      },
      killFw1: () => {
        const child = vrrpPid()
        try { process.kill(k.pid, 'SIGSTOP') } catch { /* gone */ }
        if (child !== 0) { try { process.kill(child, 'SIGKILL') } catch { /* gone */ } }
        try { process.kill(k.pid, 'SIGKILL') } catch { /* gone */ }
        try { process.kill(c.pid, 'SIGKILL') } catch { /* gone */ }
      },
      close,
      logs: [k.logFile, c.logFile, p.logFile]
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** hafwd: both boxes hafwd; keepalived: both keepalived + conntrackd; mixed: fw1 keepalived + conntrackd, fw2 hafwd. */
type PairKind = Impl | 'mixed'

const startPair = async (kind: PairKind, t: Topology, dir: string): Promise<Pair> =>
  kind === 'hafwd' ? await startHafwdPair(t, dir) : kind === 'keepalived' ? await startKeepalivedPair(t, dir) : await startMixedPair(t, dir)

// ------------------------------------------------------------------------------------------------
// Lab plumbing

interface Vrrp { stop: () => Promise<WireAdvert[]> }

/** tcpdump on both LAN bridges of the switch: every advert of either box, once. */
async function captureVrrp (t: Topology, dir: string, tag: string): Promise<Vrrp> {
  const procs: Array<{ proc: ResultPromise, file: string }> = []
  for (const br of ['br-in', 'br-out']) {
    const file = join(dir, `${tag}-${br}.pcap`)
    const proc = execa('ip', ['netns', 'exec', t.ns.sw, 'tcpdump', '-Z', 'root', '--immediate-mode', '-B', '16384', '-i', br, '-n', '-U', '-w', file, VRRP_FILTER], { reject: false, stdin: 'ignore' })
    procs.push({ proc, file })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`tcpdump on ${br} did not start`)) }, 5000)
      proc.stderr?.on('data', (d: Buffer) => { if (d.toString().includes('listening on')) { clearTimeout(timer); resolve() } })
    })
  }
  return {
    stop: async () => {
      await sleep(100)
      for (const p of procs) if (p.proc.exitCode === null || p.proc.exitCode === undefined) p.proc.kill('SIGTERM')
      await Promise.all(procs.map(async p => { await p.proc }))
      return procs.flatMap(p => readVrrpPcap(p.file)).sort((a, b) => a.ts - b.ts)
    }
  }
}

async function lanAddresses (fw: FwNode): Promise<Set<string>> {
  return new Set([...await addressesOf(fw.ns, 'eth0'), ...await addressesOf(fw.ns, 'eth1')].map(canonicalIp))
}

async function kernelCount (ns: string): Promise<number> {
  return Number((await nsExec(ns, 'cat', ['/proc/sys/net/netfilter/nf_conntrack_count'], { allowFail: true })).trim()) || 0
}

interface GenResult { readonly created: number, readonly failed: number, readonly sendMs: number, readonly achieved: number }
interface Gen extends GenResult { readonly start: number, readonly end: number }

/** The sync benchmark's generator inside fw1: RATE creates/s for S s; start/end from its batches. */
async function generate (t: Topology, dir: string, tag: string, rate: number, seconds: number): Promise<Gen> {
  const out = join(dir, `${tag}-gen.json`)
  const job = { rate, durationMs: seconds * 1000, offset: 0, out }
  const stdout = await nsExec(t.fw[0].ns, process.execPath, [GENERATOR, '--worker', JSON.stringify(job)], { timeoutMs: 300_000 })
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as GenResult
  const batches = JSON.parse(readFileSync(out, 'utf8')) as Array<[number, number, number]>
  return { ...r, start: batches[0]?.[0] ?? NaN, end: batches[batches.length - 1]?.[0] ?? NaN }
}

/** Fresh namespaces per case: empty conntrack tables, no leftovers from the previous case. */
async function withLab<T> (prefix: string, dir: string, fn: (t: Topology, dir: string) => Promise<T>): Promise<T> {
  const t = topology(prefix)
  // a folder per case: conntrackd's lock file outlives a SIGKILLed conntrackd
  mkdirSync(dir, { recursive: true })
  try {
    await create(t)
    await applyRuleset(t)
    return await fn(t, dir)
  } finally {
    await destroyProbe(t).catch(() => undefined)
    await destroy(t)
  }
}

// ------------------------------------------------------------------------------------------------
// The cases

interface BurstRow {
  readonly impl: Impl
  readonly rate: number
  readonly seconds: number
  readonly gen: Gen | null
  readonly idleGap: number | null
  readonly maxGap: number | null
  readonly maxRouter: string | null
  readonly over: number
  readonly masterAdverts: number
  readonly backupAdverts: number
  readonly backupPrios: string
  readonly at1s: number | null
  readonly allMs: number | null
  readonly final: number | null
  /** 1-minute load average of the host at the end of the case (other work on the machine). */
  readonly load?: number
  readonly error?: string
}

async function burstCase (impl: Impl, prefix: string, dir: string, rate: number, seconds: number): Promise<BurstRow> {
  const tag = `${impl}-${rate}x${seconds}`
  const empty: BurstRow = { impl, rate, seconds, gen: null, idleGap: null, maxGap: null, maxRouter: null, over: 0, masterAdverts: 0, backupAdverts: 0, backupPrios: '', at1s: null, allMs: null, final: null }
  try {
    return await withLab(prefix, join(dir, tag), async (t, dir) => {
      const pair = await startPair(impl, t, dir)
      try {
        const fw1Addrs = await lanAddresses(t.fw[0])
        const fw2Addrs = await lanAddresses(t.fw[1])
        const cap = await captureVrrp(t, dir, tag)
        calibrate()
        const idleFrom = realNow()
        await sleep(1000)
        const base = (await pair.external()) ?? 0
        // the backup's cache, polled from the burst start until every entry is there (after the
        // burst: bounded by 15 s without progress — an overrun resync of 250k entries keeps the worker
        // busy for seconds — and 60 s in all)
        const samples: Array<[number, number]> = []
        let target: number | null = null
        let targetAt = 0
        const poller = (async () => {
          let last = -1
          let lastChange = performance.now()
          for (;;) {
            const n = await pair.external()
            if (n !== null) {
              samples.push([realNow(), n])
              if (n !== last) { last = n; lastChange = performance.now() }
            }
            if (target !== null) {
              if (n !== null && n - base >= target) break
              if (performance.now() - lastChange > 15_000 || performance.now() - targetAt > 60_000) break
            }
            await sleep(POLL_MS)
          }
        })()
        const gen = await generate(t, dir, tag, rate, seconds).catch(async (err: unknown) => { target = 0; await poller; throw err })
        targetAt = performance.now()
        target = gen.created
        // one read of the backup's cache at burst end + 1 s (besides the poller)
        const w = gen.end + 1000 - realNow()
        if (w > 0) await sleep(w)
        const n1 = await pair.external()
        const at1s = n1 === null ? null : n1 - base
        await poller
        const all = samples.find(x => x[1] - base >= gen.created)
        const allMs = all === undefined ? null : Math.max(0, all[0] - gen.end)
        const waitEnd = gen.end + 2000 - realNow()
        if (waitEnd > 0) await sleep(waitEnd)
        const adverts = await cap.stop()
        const m = adverts.filter(a => fw1Addrs.has(a.src))
        const b = adverts.filter(a => fw2Addrs.has(a.src) && a.ts >= gen.start && a.ts <= gen.end + 2000)
        const idle = advertGaps(m.filter(a => a.ts < gen.start), idleFrom + 200, Math.min(idleFrom + 1000, gen.start), LIMIT)
        const g = advertGaps(m, gen.start, gen.end + 1000, LIMIT)
        const final = await pair.external()
        await pair.saveCounters?.(join(dir, 'counters.json'))
        return {
          impl, rate, seconds, gen, idleGap: idle.maxGap, maxGap: g.maxGap, maxRouter: g.maxRouter, over: g.over, masterAdverts: g.adverts,
          backupAdverts: b.length, backupPrios: [...new Set(b.map(a => a.prio))].sort((x, y) => x - y).join('/'),
          at1s, allMs, final: final === null ? null : final - base, load: loadavg()[0]
        }
      } finally {
        await pair.close()
      }
    })
  } catch (err) {
    return { ...empty, error: err instanceof Error ? err.message : String(err) }
  }
}

interface TakeoverRow {
  readonly kind: PairKind
  /** The new master (fw2). */
  readonly impl: Impl
  readonly fill: Gen | null
  /** fw2's external cache when the master died. */
  readonly toCommit: number | null
  readonly fillMs: number | null
  readonly firstAdvert: number | null
  readonly vipAnswers: number | null
  /** kill → fw2's kernel holds the entries (polled every 50 ms). */
  readonly committedMs: number | null
  readonly committed: number | null
  /** Entries in fw2's kernel before the kill (a backup that went master during the fill committed some). */
  readonly fw2Before: number | null
  /** Adverts from fw2 while the master was being filled. */
  readonly fillBackupAdverts: number | null
  readonly maxGap: number | null
  readonly over: number
  readonly adverts: number
  readonly load?: number
  readonly note?: string
  readonly error?: string
}

type FillMode = 'before' | 'live'

async function takeoverCase (kind: PairKind, prefix: string, dir: string, fillRate: number, fillSeconds: number, mode: FillMode): Promise<TakeoverRow> {
  const tag = `${kind}-takeover`
  const impl: Impl = kind === 'keepalived' ? 'keepalived' : 'hafwd'
  const empty: TakeoverRow = { kind, impl, fill: null, toCommit: null, fillMs: null, firstAdvert: null, vipAnswers: null, committedMs: null, committed: null, fw2Before: null, fillBackupAdverts: null, maxGap: null, over: 0, adverts: 0 }
  try {
    return await withLab(prefix, join(dir, tag), async (t, dir) => {
      await createProbe(t)
      const fw2Addrs = await lanAddresses(t.fw[1])
      const fw2in = await macOf(t.fw[1].ns, 'eth1')
      // before: the entries are in fw1's kernel before the daemons start (fw1's startup dump, then
      // a bulk/resync to fw2 — no event storm); live: created while the pair runs (a burst itself)
      const fillCap = await captureVrrp(t, dir, `${tag}-fill`)
      const early = mode === 'before' ? await generate(t, dir, tag, fillRate, fillSeconds) : null
      const pair = await startPair(kind, t, dir)
      let pingers: Pingers | null = null
      let obs: Observer | null = null
      let cap: Vrrp | null = null
      try {
        const fill = early ?? await generate(t, dir, tag, fillRate, fillSeconds)
        // every entry in the backup's external cache (bounded: 60 s, or 10 s without progress)
        let last = -1
        let lastChange = performance.now()
        const t0f = performance.now()
        let n = 0
        for (;;) {
          n = (await pair.external()) ?? 0
          if (n !== last) { last = n; lastChange = performance.now() }
          if (n >= fill.created || performance.now() - t0f > 60_000 || performance.now() - lastChange > 10_000) break
          await sleep(100)
        }
        const fillMs = n >= fill.created ? realNow() - fill.end : null
        const fillBackupAdverts = (await fillCap.stop()).filter(a => fw2Addrs.has(a.src)).length
        // a hafwd backup that went master during the fill committed part of it already: start from
        // what fw2's kernel holds now, the commit has to bring it to the external cache's count
        const fw2Before = await kernelCount(t.fw[1].ns)
        const toCommit = n
        await waitFor(async () => (await whoIsMaster(t)).join() === 'fw1', 10_000, 50)
        pingers = startPingers(t, 5, 100)
        obs = await startObserver({ probeNs: probeNs(t), clientNs: t.ns.client, switchNs: t.ns.sw, backupNs: t.fw[1].ns, server: t.server.v4, insideVip: t.vip.inside4 })
        cap = await captureVrrp(t, dir, tag)
        await sleep(1000 + Math.random() * ADVERT_MS)
        calibrate()
        const kill = realNow()
        pair.killFw1()
        await ipBatch(t.fw[0].ns, ['link set eth0 down', 'link set eth1 down', 'link set eth2 down'])
        // commit done: fw2's kernel holds the external cache (or no progress for 5 s, bounded 60 s)
        let committedAt: number | null = null
        let k = fw2Before
        let kLast = -1
        let kChange = performance.now()
        const tk = performance.now()
        while (performance.now() - tk < 60_000) {
          k = await kernelCount(t.fw[1].ns)
          if (k !== kLast) { kLast = k; kChange = performance.now() }
          if (k >= toCommit) { committedAt = realNow(); break }
          if (performance.now() - kChange > 5000 && realNow() - kill > 10_000) break
          await sleep(50)
        }
        // at least 3 s after the kill: fw2 must have become master even with nothing to commit
        const end = Math.max((committedAt ?? realNow()) + 1000, kill + 3000)
        const rest = end - realNow()
        if (rest > 0) await sleep(rest)
        const adverts = await cap.stop()
        cap = null
        const fw2Adv = adverts.filter(a => fw2Addrs.has(a.src) && a.ts > kill && a.prio > 0)
        const notes: string[] = []
        if (adverts.some(a => fw2Addrs.has(a.src) && a.prio > 0 && a.ts <= kill && a.ts > kill - 500)) notes.push('fw2 was already master at the kill')
        if (toCommit < fill.created) notes.push(`fw2's external cache held ${toCommit}/${fill.created} at the kill`)
        const first = fw2Adv[0]?.ts ?? null
        const g = first === null ? null : advertGaps(fw2Adv, first, end, LIMIT)
        const vip = obs.events.find(e => e.kind === 'vip' && e.ts > kill && e.mac === fw2in)
        return {
          kind, impl, fill, toCommit, fillMs, firstAdvert: first === null ? null : first - kill, vipAnswers: vip === undefined ? null : vip.ts - kill,
          committedMs: committedAt === null ? null : committedAt - kill, committed: k - fw2Before, fw2Before, fillBackupAdverts,
          maxGap: g?.maxGap ?? null, over: g?.over ?? 0, adverts: g?.adverts ?? 0, load: loadavg()[0], note: notes.length > 0 ? `not a valid takeover: ${notes.join('; ')}` : ''
        }
      } finally {
        if (cap !== null) await cap.stop().catch(() => [])
        if (obs !== null) await obs.stop().catch(() => '')
        if (pingers !== null) await pingers.stop().catch(() => undefined)
        await pair.close()
      }
    })
  } catch (err) {
    return { ...empty, error: err instanceof Error ? err.message : String(err) }
  }
}

// ------------------------------------------------------------------------------------------------

interface Rate { readonly rate: number, readonly seconds: number }

function parseRates (s: string): Rate[] {
  if (s === 'none') return []
  return s.split(',').map(x => {
    const m = /^(\d+)x(\d+(?:\.\d+)?)$/.exec(x.trim())
    if (m === null) throw new Error(`bad burst ${x} (want RATExSECONDS, e.g. 20000x5)`)
    return { rate: Number(m[1]), seconds: Number(m[2]) }
  })
}

async function main (): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    say('the storm benchmark needs root (network namespaces)')
    process.exit(1)
  }
  const bursts = parseRates(arg('--bursts') ?? '20000x5,50000x5')
  const fillMode: FillMode = arg('--fill-mode') === 'live' ? 'live' : 'before'
  const fill = parseRates(arg('--fill') ?? (fillMode === 'before' ? '50000x2' : '10000x10'))[0] as Rate
  const only = arg('--only')
  const impls: Impl[] = only === 'hafwd' ? ['hafwd'] : only === 'keepalived' ? ['keepalived'] : ['hafwd', 'keepalived']
  const takeover = !process.argv.includes('--no-takeover')
  const dir = mkdtempSync(join(tmpdir(), 'hafw-bench-storm-'))
  const prefix = `hstm${process.pid % 10000}`
  let interrupted = false
  const onSignal = (): void => {
    if (interrupted) return
    interrupted = true
    say('# interrupted: removing the lab')
    void Promise.all([destroy(topology(prefix)), destroyProbe(topology(prefix))]).finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  say(`# storm bench  kernel ${(await sh('uname', ['-r'])).trim()}  node ${process.version}  cpus ${(await sh('nproc', [])).trim()}  ` +
    `${(await execa('keepalived', ['--version'], { reject: false, all: true })).all?.split('\n')[0] ?? ''}  ${(await sh('conntrackd', ['-v'], { allowFail: true })).split('\n')[0]?.trim() ?? ''}`)
  say(`# VRRPv3 ${ADVERT_MS} ms adverts, 4 routers per box (VI_OUT/VI_IN × IPv4/IPv6), sync FTFW/UDP on eth2; fw1 = master (prio 100), fw2 = backup (prio 50)`)
  say(`# bursts (new conntrack entries/s × s on fw1): ${bursts.map(b => `${b.rate}×${b.seconds}`).join(', ')}; takeover fill ${fill.rate}×${fill.seconds} ${fillMode === 'before' ? 'into fw1\'s kernel before the pair starts' : 'while the pair runs'}`)
  const rows: BurstRow[] = []
  const takes: TakeoverRow[] = []
  try {
    for (const impl of impls) {
      for (const b of bursts) {
        const r = await burstCase(impl, prefix, dir, b.rate, b.seconds)
        say(`  ${LABEL[impl]} ${b.rate}×${b.seconds}s: ${r.error ?? `gen ${String(r.gen?.achieved)}/s (${String(r.gen?.created)} created), master max gap ${fmt(r.maxGap, 1)} ms (${String(r.maxRouter)}), ${r.over} gaps > ${LIMIT} ms, backup adverts ${r.backupAdverts}, on backup +1 s ${String(r.at1s)}, all after ${fmt(r.allMs)} ms`}`)
        rows.push(r)
      }
      // hafwd also as the new master of a migration pair (fw1 keepalived + conntrackd): its external
      // cache fills from a master a storm cannot stall, so its own commit is what is measured
      for (const kind of takeover ? (impl === 'hafwd' ? ['hafwd', 'mixed'] as const : ['keepalived'] as const) : []) {
        const r = await takeoverCase(kind, prefix, dir, fill.rate, fill.seconds, fillMode)
        say(`  ${KIND_LABEL[kind]} takeover: ${r.error ?? `${String(r.toCommit)} to commit, kill→fw2 advert ${fmt(r.firstAdvert, 1)} ms, →VIP ${fmt(r.vipAnswers, 1)} ms, →committed ${fmt(r.committedMs)} ms (${String(r.committed)}), new master max gap ${fmt(r.maxGap, 1)} ms, ${r.over} gaps > ${LIMIT} ms`}`)
        takes.push(r)
      }
    }
  } finally {
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true })
    else say(`# kept: ${dir}`)
  }

  say('\n## connection burst on the master (wire: tcpdump on br-in + br-out; gaps over the master\'s 4 routers)')
  say(table(['impl', 'burst', 'achieved/s', 'created', 'idle gap ms', 'max gap ms', `gaps > ${LIMIT} ms`, 'backup adverts', 'on backup +1 s', 'all on backup after ms', 'on backup at end', 'load 1m'],
    rows.map(r => r.error !== undefined
      ? [LABEL[r.impl], `${r.rate}×${r.seconds}s`, `ERROR: ${r.error}`]
      : [LABEL[r.impl], `${r.rate}×${r.seconds}s`, String(r.gen?.achieved), String(r.gen?.created), fmt(r.idleGap, 1), fmt(r.maxGap, 1), String(r.over),
          `${r.backupAdverts}${r.backupAdverts > 0 ? ` (prio ${r.backupPrios})` : ''}`,
          `${String(r.at1s)}/${String(r.gen?.created)}`, r.allMs === null ? 'not all' : fmt(r.allMs), String(r.final), fmt(r.load, 1)]), 2))
  if (takes.length > 0) {
    say('\n## takeover with a full external cache (master box dies: SIGKILL + links down; times from the kill)')
    say(table(['pair (fw1 → fw2 = new master)', 'fill/s', 'backup adverts before kill', 'to commit', 'in fw2 kernel before', 'first fw2 advert ms', 'VIP answers ms', 'committed ms', 'committed', 'adverts', 'max gap ms', `gaps > ${LIMIT} ms`, 'load 1m', 'note'],
      takes.map(r => r.error !== undefined
        ? [KIND_LABEL[r.kind], `ERROR: ${r.error}`]
        : [KIND_LABEL[r.kind], String(r.fill?.achieved), String(r.fillBackupAdverts), String(r.toCommit), String(r.fw2Before), fmt(r.firstAdvert, 1), fmt(r.vipAnswers, 1), fmt(r.committedMs), String(r.committed),
            String(r.adverts), fmt(r.maxGap, 1), String(r.over), fmt(r.load, 1), r.note ?? '']), 1))
    say('  to commit: fw2\'s external cache when fw1 died; committed: entries fw2\'s kernel gained after the kill (it holds "to commit" at "committed ms",')
    say('  polled every 50 ms); adverts / max gap / gaps: fw2\'s adverts from its first as master until then + 1 s (at least until kill + 3 s).')
    say('  ka+ctd → hafwd: fw1 runs keepalived + conntrackd (FTFW to hafwd), so the fill cannot make fw2 take over early.')
  }
  say(`\nbackup cache polled every ${POLL_MS} ms ("on backup +1 s" is one extra read at burst end + 1 s); load 1m: host load average at the end of the case (${(await sh('nproc', [])).trim()} CPUs).`)
  say(`target: max gap ≤ ${LIMIT} ms (1.5 intervals), 0 backup adverts, every entry on the backup within 1 s after the burst;`)
  say('        takeover: the new master\'s adverts keep their interval while it commits.')
}

main().then(() => { process.exit(0) }, (err: unknown) => { console.error(err); process.exit(1) })
