/**
 * Failover benchmark (issue 3): hafwd pair vs keepalived pair on the same lab topology.
 *
 *   npm run build && node dist/bench/failover.js [--rounds N] [--probe-ms MS] [--only v2|v3] [--keep-logs]
 *                                                [--hafwd-log LEVEL] [--cases unplanned,planned,linkdown]
 *
 * For VRRPv2 at 1 s adverts and VRRPv3 at 100 ms adverts, for each implementation (fw1 priority
 * 100 master, fw2 priority 50 backup, preempt on, the lab's sync group of two instances), N rounds
 * of:
 *   unplanned  SIGKILL the master daemon and set its links down at once (the box died);
 *   planned    SIGTERM the master daemon (priority-0 adverts on the way out);
 *   linkdown   set the master's inside link down (the daemon runs on: its group goes FAULT, priority
 *              0 goes out on the outside link only; the backup's inside instance hears nothing).
 * The clock starts at the signal; "answering" is the first echo reply from the inside VIP whose
 * source MAC is fw2's (see wire.ts). Between rounds the master is brought back and the bench
 * waits until it is master again. The kill lands at a random point of the advert cycle, so the
 * unplanned time is Master_Down_Interval minus up to one advert interval; the phase-independent
 * number is "after last advert − MDI": how late the backup answered compared with the RFC timer
 * started by the last advert it heard.
 *
 * Needs root. Everything lives in namespaces prefixed `hbfo-`, removed at the end, on error and on
 * Ctrl-C. Only processes started here are signalled, by PID. Prints numbers; asserts nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LabVrrpOptions } from '../lab/configs.js'
import { applyRuleset, create, destroy, topology } from '../lab/topology.js'
import type { Topology } from '../lab/topology.js'
import { waitFor, whoIsMaster } from '../lab/observe.js'
import { calibrate, realNow, sleep } from './clock.js'
import { startDaemon } from './daemons.js'
import type { Daemon, Implementation } from './daemons.js'
import { createProbe, destroyProbe, ipBatch, macOf, probeNs, startPingers } from './probe.js'
import type { Pingers } from './probe.js'
import { fmt, signed, summarize, table } from './stats.js'
import { linkDownTarget, masterDownInterval, plannedTarget, skewTime, unplannedTarget } from './targets.js'
import type { VrrpTiming } from './targets.js'
import { startObserver } from './wire.js'
import type { Observer, WireEvent } from './wire.js'

const PREFIX = 'hbfo'
const IMPLS: readonly Implementation[] = ['hafwd', 'keepalived']
const CASES = ['unplanned', 'planned', 'linkdown'] as const
type Case = typeof CASES[number]

interface Config { readonly label: string, readonly timing: VrrpTiming, readonly opts: LabVrrpOptions }

const CONFIGS: readonly Config[] = [
  { label: 'v2 1s', timing: { version: 2, advertMs: 1000, backupPriority: 50 }, opts: { version: 2, advertInterval: '1s' } },
  { label: 'v3 100ms', timing: { version: 3, advertMs: 100, backupPriority: 50 }, opts: { version: 3, advertInterval: '100ms' } }
]

interface Args { rounds: number, probeMs: number, keepLogs: boolean, configs: readonly Config[], hafwdLog: string, cases: readonly Case[] }

function parse (argv: readonly string[]): Args {
  const a: Args = { rounds: 5, probeMs: 2, keepLogs: false, configs: CONFIGS, hafwdLog: 'info', cases: CASES }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]
    if (x === '--rounds') a.rounds = Number(argv[++i])
    else if (x === '--probe-ms') a.probeMs = Number(argv[++i])
    else if (x === '--keep-logs') a.keepLogs = true
    else if (x === '--hafwd-log') a.hafwdLog = argv[++i] ?? a.hafwdLog
    else if (x === '--cases') {
      const v = String(argv[++i]).split(',')
      const bad = v.filter(c => !(CASES as readonly string[]).includes(c))
      if (bad.length > 0 || v.length === 0) throw new Error(`--cases wants a comma list of ${CASES.join(', ')} (got ${bad.join(', ')})`)
      a.cases = v as Case[]
    } else if (x === '--only') {
      const v = argv[++i]
      a.configs = CONFIGS.filter(c => c.label.startsWith(`${String(v)} `))
      if (a.configs.length === 0) throw new Error('--only wants v2 or v3')
    }
    else throw new Error(`unknown argument ${String(x)} (usage: node dist/bench/failover.js [--rounds N] [--probe-ms MS] [--only v2|v3] [--keep-logs] [--hafwd-log LEVEL] [--cases ${CASES.join(',')}])`)
  }
  if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error('--rounds wants a positive integer')
  if (!(a.probeMs >= 1)) throw new Error('--probe-ms wants a number ≥ 1')
  return a
}

const say = (s: string): void => { process.stdout.write(`${s}\n`) }

/** One measured failover, every time relative to the signal (ms). */
interface Round {
  readonly cfg: string
  readonly impl: Implementation
  readonly kind: Case
  /** Kill instant − last advert heard from the master (unplanned) — where in the cycle it fell. */
  readonly phase: number | null
  /** Signal → first priority-0 advert of the last router to send one (planned, linkdown). */
  readonly prio0: number | null
  readonly answer: number | null
  readonly addr: number | null
  readonly advert: number | null
  readonly traffic: number | null
  /** Answer − (last advert + MDI) for unplanned, answer − (priority-0 advert + Skew_Time) for planned, answer − (priority-0 advert + advert interval + Skew_Time) for linkdown. */
  readonly late: number | null
  /** Answered request − the probe request before it: how precise `answer` is this round. */
  readonly resolution: number | null
  /** Answered request → its reply (fw2 resolving the probe's MAC, the kernel's reply path). */
  readonly replyLag: number | null
}

interface Lab {
  readonly t: Topology
  readonly dir: string
  readonly mac: { fw1: Set<string>, fw2: Set<string>, fw1in: string, fw2in: string }
  readonly obs: Observer
  readonly live: Set<Daemon>
}

const first = <E extends WireEvent>(evs: readonly WireEvent[], pred: (e: WireEvent) => e is E): E | undefined => evs.find(pred)

function measure (lab: Lab, kind: Case, timing: VrrpTiming, t0: number): Omit<Round, 'cfg' | 'impl' | 'kind'> {
  const evs = lab.obs.events
  const after = (e: WireEvent): boolean => e.ts > t0
  const vip = first(evs, (e): e is Extract<WireEvent, { kind: 'vip' }> => e.kind === 'vip' && after(e) && e.mac === lab.mac.fw2in)
  const traffic = first(evs, (e): e is Extract<WireEvent, { kind: 'traffic' }> => e.kind === 'traffic' && after(e) && e.mac === lab.mac.fw2in)
  const addr = first(evs, (e): e is Extract<WireEvent, { kind: 'addr' }> => e.kind === 'addr' && after(e))
  const adverts = evs.filter((e): e is Extract<WireEvent, { kind: 'advert' }> => e.kind === 'advert')
  const fw2Advert = adverts.find(e => after(e) && lab.mac.fw2.has(e.mac) && e.prio > 0)
  const rel = (e: { ts: number } | undefined): number | null => e === undefined ? null : e.ts - t0
  let phase: number | null = null
  let prio0: number | null = null
  let late: number | null = null
  if (kind === 'unplanned') {
    // The backup's timers restart on every advert it hears; the sync group goes master when the
    // last of them expires, so the reference is the latest advert of any router of the master.
    const heard = adverts.filter(e => lab.mac.fw1.has(e.mac) && e.ts <= t0 + 1).map(e => e.ts)
    if (heard.length > 0) {
      const last = Math.max(...heard)
      phase = t0 - last
      if (vip !== undefined) late = vip.ts - (last + masterDownInterval(timing))
    }
  } else {
    const firstZero = new Map<string, number>()
    for (const e of adverts) if (lab.mac.fw1.has(e.mac) && e.prio === 0 && after(e) && !firstZero.has(e.router)) firstZero.set(e.router, e.ts)
    if (firstZero.size > 0) {
      const lastRouter = Math.max(...firstZero.values())
      prio0 = lastRouter - t0
      const wait = kind === 'planned' ? skewTime(timing) : timing.advertMs + skewTime(timing)
      if (vip !== undefined) late = vip.ts - (lastRouter + wait)
    }
  }
  let resolution: number | null = null
  let replyLag: number | null = null
  if (vip !== undefined) {
    const reqs = evs.filter((e): e is Extract<WireEvent, { kind: 'req' }> => e.kind === 'req')
    const i = reqs.findIndex(e => e.seq === vip.seq && e.ts <= vip.ts)
    const req = reqs[i]
    const before = reqs[i - 1]
    if (req !== undefined) replyLag = vip.ts - req.ts
    if (req !== undefined && before !== undefined) resolution = req.ts - before.ts
  }
  return { phase, prio0, answer: rel(vip), addr: rel(addr), advert: rel(fw2Advert), traffic: rel(traffic), late, resolution, replyLag }
}

const vipBatch = (t: Topology): string[] => [
  `addr del ${t.vip.inside4}/24 dev eth1`, `addr del ${t.vip.outside4}/24 dev eth0`,
  `addr del ${t.vip.inside6}/64 dev eth1`, `addr del ${t.vip.outside6}/64 dev eth0`
]

async function start (lab: Lab, impl: Implementation, cfg: Config, fw: 0 | 1, name: string): Promise<Daemon> {
  const d = await startDaemon(impl, lab.t, lab.t.fw[fw], cfg.opts, lab.dir, name)
  lab.live.add(d)
  return d
}

async function stopDaemon (lab: Lab, d: Daemon): Promise<void> {
  d.term()
  await d.exited()
  lab.live.delete(d)
}

/** fw1 is the only master, and both the probe and the client reach things through fw1. */
async function waitFw1Serving (lab: Lab): Promise<void> {
  const since = realNow()
  const ok = await waitFor(async () => (await whoIsMaster(lab.t)).join() === 'fw1', 20_000, 20)
  if (ok === null) throw new Error(`fw1 did not become the only master again (logs in ${lab.dir})`)
  const served = await waitFor(async () => {
    const evs = lab.obs.events.filter(e => e.ts > since)
    return evs.some(e => e.kind === 'vip' && e.mac === lab.mac.fw1in) && evs.some(e => e.kind === 'traffic' && e.mac === lab.mac.fw1in)
  }, 10_000, 20)
  if (served === null) throw new Error('after fw1 came back, the VIP or the client traffic did not go through fw1')
}

async function session (lab: Lab, impl: Implementation, cfg: Config, rounds: number, cases: readonly Case[], out: Round[], keepEvents: boolean): Promise<void> {
  const { t, obs } = lab
  const timing = cfg.timing
  let starts = 0
  const name = (fw: string): string => `${impl}-${cfg.label.replace(/\s+/g, '')}-${fw}-${++starts}`
  let fw1 = await start(lab, impl, cfg, 0, name('fw1'))
  if (await waitFor(async () => (await whoIsMaster(t)).join() === 'fw1', 20_000, 20) === null) throw new Error(`${impl}: fw1 never became master`)
  const fw2 = await start(lab, impl, cfg, 1, name('fw2'))
  await sleep(Math.max(2000, 5 * timing.advertMs))
  await waitFw1Serving(lab)

  for (let r = 1; r <= rounds; r++) {
    for (const kind of cases) {
      obs.clear()
      // Land the signal at a random point of the advert cycle (and after at least one advert).
      await sleep(1500 + Math.random() * timing.advertMs)
      calibrate()
      const t0 = realNow()
      if (kind === 'unplanned') {
        fw1.kill()
        await ipBatch(t.fw[0].ns, ['link set eth0 down', 'link set eth1 down', 'link set eth2 down'])
      } else if (kind === 'planned') {
        fw1.term()
      } else {
        await ipBatch(t.fw[0].ns, ['link set eth1 down'])
      }
      const budget = (kind === 'planned' ? timing.advertMs : masterDownInterval(timing)) + 3000
      await waitFor(async () => {
        const m = measure(lab, kind, timing, t0)
        return m.answer !== null && m.addr !== null && m.traffic !== null
      }, budget, 20)
      // The last adverts and replies may still be in the pipes.
      await sleep(50)
      const m = measure(lab, kind, timing, t0)
      const round: Round = { cfg: cfg.label, impl, kind, ...m }
      out.push(round)
      say(`  ${cfg.label.padEnd(8)} ${impl.padEnd(10)} ${kind.padEnd(9)} round ${r}/${rounds}: answer ${fmt(m.answer)} ms` +
        `  addr ${fmt(m.addr)}  fw2 advert ${fmt(m.advert)}  client traffic ${fmt(m.traffic)}` +
        (kind === 'unplanned' ? `  (killed ${fmt(m.phase)} ms after the last advert; answer − (last advert + MDI) ${signed(m.late)} ms)`
          : `  (priority 0 on the wire after ${fmt(m.prio0, 1)} ms; answer − (prio 0 + ${kind === 'planned' ? 'skew' : 'advert + skew'}) ${signed(m.late)} ms)`) +
        `  [probe gap ${fmt(m.resolution, 1)}, reply lag ${fmt(m.replyLag, 1)}]`)
      if (keepEvents) {
        const from = t0 - 2 * timing.advertMs - 200
        writeFileSync(join(lab.dir, `events-${cfg.label.replace(/\s+/g, '')}-${impl}-${kind}-${r}.json`),
          JSON.stringify({ t0, events: obs.events.filter(e => e.ts >= from).map(e => ({ ...e, rel: e.ts - t0 })) }))
      }

      if (kind === 'linkdown') {
        // The daemon ran on: plug the link back and let it preempt (priority 100 > 50).
        await ipBatch(t.fw[0].ns, ['link set eth1 up'])
        await waitFw1Serving(lab)
        continue
      }
      // Bring the master back: a box that rebooted has no VIPs left on it.
      await fw1.exited()
      lab.live.delete(fw1)
      await ipBatch(t.fw[0].ns, [...vipBatch(t), 'link set eth0 up', 'link set eth1 up', 'link set eth2 up'])
      fw1 = await start(lab, impl, cfg, 0, name('fw1'))
      await waitFw1Serving(lab)
    }
  }
  await stopDaemon(lab, fw2)
  await stopDaemon(lab, fw1)
  for (const fw of t.fw) await ipBatch(fw.ns, vipBatch(t))
}

const targetOf = (kind: Case, t: VrrpTiming): number =>
  kind === 'unplanned' ? unplannedTarget(t) : kind === 'planned' ? plannedTarget(t) : linkDownTarget(t)

const timerOf = (kind: Case, t: VrrpTiming): string =>
  kind === 'unplanned' ? `MDI ${fmt(masterDownInterval(t), 1)}` : kind === 'planned' ? `skew ${fmt(skewTime(t), 1)}` : `adv+skew ${fmt(t.advertMs + skewTime(t), 1)}`

function report (rounds: readonly Round[], n: number, configs: readonly Config[], cases: readonly Case[]): void {
  const header = ['case', 'impl', 'n', 'median', 'min', 'max', 'target', 'RFC timer', 'late med', 'late min', 'late max', 'addr med', 'traffic med', 'hafwd/ka']
  const rows: string[][] = []
  for (const cfg of configs) {
    for (const kind of cases) {
      const pick = (impl: Implementation): Round[] => rounds.filter(r => r.cfg === cfg.label && r.kind === kind && r.impl === impl)
      const ans = (impl: Implementation): number[] => pick(impl).map(r => r.answer).filter((x): x is number => x !== null)
      const med = (impl: Implementation): number | undefined => summarize(ans(impl))?.median
      const hk = med('hafwd')
      const kk = med('keepalived')
      for (const impl of IMPLS) {
        const s = summarize(ans(impl))
        const late = summarize(pick(impl).map(r => r.late).filter((x): x is number => x !== null))
        const addr = summarize(pick(impl).map(r => r.addr).filter((x): x is number => x !== null))
        const traffic = summarize(pick(impl).map(r => r.traffic).filter((x): x is number => x !== null))
        const missing = pick(impl).length - (s?.n ?? 0)
        rows.push([
          `${kind} ${cfg.label}`, impl, `${s?.n ?? 0}${missing > 0 ? ` (+${missing} no answer)` : ''}`,
          fmt(s?.median), fmt(s?.min), fmt(s?.max),
          `≤ ${fmt(targetOf(kind, cfg.timing))}`,
          timerOf(kind, cfg.timing),
          signed(late?.median), signed(late?.min), signed(late?.max),
          fmt(addr?.median), fmt(traffic?.median),
          impl === 'hafwd' && hk !== undefined && kk !== undefined ? (hk / kk).toFixed(3) : ''
        ])
      }
    }
  }
  say('')
  say(`failover times in ms from the signal to the first echo reply from the inside VIP with fw2's MAC (${n} rounds each)`)
  say(table(header, rows))
  say('')
  say('target: unplanned ≤ MDI + 20 ms (MDI = 3 × advert + Skew_Time, Skew_Time = (256 − 50)/256 s for v2,')
  say('        (256 − 50) × advert / 256 for v3); planned ≤ advert + 50 ms; linkdown ≤ advert + Skew_Time + 100 ms.')
  say('late:   unplanned: answer − (last advert heard from fw1 + MDI), independent of where in the advert')
  say('        cycle the kill fell (kill→answer is MDI minus that phase, so it spreads over one advert interval);')
  say('        planned: answer − (priority-0 advert of the last fw1 router + Skew_Time);')
  say('        linkdown: answer − (priority-0 advert on the outside + advert interval + Skew_Time).')
  say('addr:   the VIP in fw2\'s `ip addr` (rtnetlink event, stamped in userspace); traffic: the first')
  say('        client→server echo reply through fw2 (needs the GARPs on both LANs).')
  say('hafwd/ka: ratio of the medians of kill→answer.')
}

async function main (): Promise<number> {
  const args = parse(process.argv.slice(2))
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    say('the failover benchmark needs root (network namespaces, raw sockets)')
    return 1
  }
  const t = topology(PREFIX)
  const dir = mkdtempSync(join(tmpdir(), 'hbfo-'))
  const live = new Set<Daemon>()
  let obs: Observer | null = null
  let pingers: Pingers | null = null
  let cleaning: Promise<void> | null = null
  let failed = true
  const cleanup = async (): Promise<void> => {
    cleaning ??= (async () => {
      for (const d of live) d.kill()
      for (const d of live) await d.exited().catch(() => undefined)
      await pingers?.stop().catch(() => undefined)
      const stats = await obs?.stop().catch(() => '')
      if (stats !== undefined && stats !== '') writeFileSync(join(dir, 'tcpdump-stats.txt'), stats + '\n')
      await destroyProbe(t)
      await destroy(t)
      if (failed) process.stderr.write(`logs kept in ${dir}\n`)
      else if (!args.keepLogs) rmSync(dir, { recursive: true, force: true })
    })()
    await cleaning
  }
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })
  process.on('SIGTERM', () => { void cleanup().then(() => process.exit(143)) })
  try {
    say(`hafw failover benchmark: ${args.rounds} rounds per case, probe every ${args.probeMs} ms, namespaces ${PREFIX}-*`)
    say(`keepalived: ${await keepalivedVersion()}, node ${process.version}, logs in ${dir}${args.keepLogs ? '' : ' (removed at the end; --keep-logs keeps them)'}`)
    await create(t)
    await applyRuleset(t)
    await createProbe(t)
    const macs = await Promise.all(t.fw.map(async fw => await Promise.all([macOf(fw.ns, 'eth0'), macOf(fw.ns, 'eth1')])))
    const [m1, m2] = macs as [[string, string], [string, string]]
    obs = await startObserver({
      probeNs: probeNs(t), clientNs: t.ns.client, switchNs: t.ns.sw, backupNs: t.fw[1].ns, server: t.server.v4, insideVip: t.vip.inside4
    })
    pingers = startPingers(t, args.probeMs, 5)
    const lab: Lab = { t, dir, mac: { fw1: new Set(m1), fw2: new Set(m2), fw1in: m1[1], fw2in: m2[1] }, obs, live }
    const rounds: Round[] = []
    for (const cfg of args.configs) {
      for (const impl of IMPLS) {
        say(`${cfg.label}: ${impl} pair (fw1 priority 100, fw2 priority 50, preempt, sync group of 2 instances${cfg.timing.version === 3 ? ' × IPv4+IPv6' : ''})`)
        const run = impl === 'hafwd' ? { ...cfg, opts: { ...cfg.opts, logLevel: args.hafwdLog } } : cfg
        await session(lab, impl, run, args.rounds, args.cases, rounds, args.keepLogs)
      }
    }
    report(rounds, args.rounds, args.configs, args.cases)
    failed = false
    return 0
  } finally {
    await cleanup()
  }
}

async function keepalivedVersion (): Promise<string> {
  const { execa } = await import('execa')
  const r = await execa('keepalived', ['--version'], { reject: false })
  return (`${String(r.stderr)}\n${String(r.stdout)}`.split('\n').find(l => /^Keepalived v/.test(l)) ?? 'unknown').trim()
}

main().then(code => { process.exit(code) }, (err: unknown) => {
  process.stderr.write(`failover bench: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
