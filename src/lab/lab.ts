/**
 * `npm run lab` — the main job: a firewall pair in network namespaces, a live failover.
 *
 *   npm run lab                 build, start hafwd on fw1 (priority 100) and fw2 (50), show who is
 *                               master, kill the master box, show the takeover with timings, clean up
 *   npm run lab -- --keep       same, but leave the lab running (remove it with `down`)
 *   npm run lab -- down         remove everything the lab created
 *   options: --interval 100ms   VRRP advertisement interval (default 1s)
 *            --version 2|3      VRRP version (default 3)
 *
 * Needs root (network namespaces). Everything it creates is prefixed `hafwlab-`; Ctrl-C cleans up.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { sessionDurationMs } from './sessions.js'
import type { SessionReport } from './sessions.js'
import { takeoverTimeline } from './hafwd-log.js'
import { parseDuration } from '../config/duration.js'
import { topology, create, destroy, applyRuleset } from './topology.js'
import { hafwConfig } from './configs.js'
import { repoRoot, startHafwd } from './hafwd-process.js'
import type { HafwdProcess } from './hafwd-process.js'
import { clientReachesServer, holdsVips, waitFor, whoIsMaster } from './observe.js'
import { nsExec } from './sh.js'

const PREFIX = 'hafwlab'
const DIR = '/tmp/hafwlab'

interface LabArgs { down: boolean, keep: boolean, interval: string, intervalMs: number, version: 2 | 3 }

function parse (argv: readonly string[]): LabArgs {
  const a: LabArgs = { down: false, keep: false, interval: '1s', intervalMs: 1000, version: 3 }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]
    if (x === 'down') a.down = true
    else if (x === '--keep') a.keep = true
    else if (x === '--interval') a.interval = argv[++i] ?? a.interval
    else if (x === '--version') a.version = argv[++i] === '2' ? 2 : 3
    else throw new Error(`unknown argument ${String(x)} (see src/lab/lab.ts)`)
  }
  const d = parseDuration(a.interval)
  if (!d.ok || d.ms < 10) throw new Error(`--interval ${a.interval}: ${d.ok ? 'must be at least 10ms' : d.message}`)
  a.intervalMs = d.ms
  return a
}

const say = (s: string): void => { process.stdout.write(`${s}\n`) }
const indent = (s: string): string => s.trimEnd().split('\n').map(l => `     ${l}`).join('\n')
const readLog = (f: string): string => existsSync(f) ? readFileSync(f, 'utf8') : ''
const SESSIONS = join(repoRoot(), 'dist', 'lab', 'sessions.js')

/** `hafwctl -s SOCKET …` of this build; its output, whatever the exit code (it encodes the state). */
async function hafwctl (socket: string, args: string[]): Promise<string> {
  const r = await execa(process.execPath, [join(repoRoot(), 'dist', 'main', 'hafwctl-bin.js'), '-s', socket, ...args], { reject: false })
  return String(r.stdout) + String(r.stderr)
}
const ms = (v: number | null): string => v === null ? 'timeout' : `${v.toFixed(0)} ms`

async function main (): Promise<number> {
  const args = parse(process.argv.slice(2))
  const t = topology(PREFIX)
  if (args.down) {
    await destroy(t)
    rmSync(DIR, { recursive: true, force: true })
    say('lab removed')
    return 0
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    say('the lab needs root (it creates network namespaces): sudo npm run lab')
    return 1
  }
  const procs: HafwdProcess[] = []
  const servers: ResultPromise[] = []
  let cleaning = false
  const cleanup = async (): Promise<void> => {
    if (cleaning) return
    cleaning = true
    for (const p of procs) await p.stop('SIGKILL').catch(() => null)
    for (const s of servers) { s.kill('SIGKILL'); await s }
    await destroy(t)
  }
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })
  process.on('SIGTERM', () => { void cleanup().then(() => process.exit(143)) })
  try {
    say(`1. building namespaces ${Object.values(t.ns).join(', ')}`)
    await create(t)
    await applyRuleset(t)
    say('   ruleset: INPUT/FORWARD policy DROP, NEW only from inside, ESTABLISHED/RELATED back, SNAT to the outside VIP')
    say(`2. starting hafwd on fw1 (priority 100) and fw2 (priority 50): VRRPv${args.version}, adverts every ${args.interval}, sync group G_FW = VI_OUT (eth0) + VI_IN (eth1), conntrack sync (FTFW) over eth2`)
    rmSync(DIR, { recursive: true, force: true })
    const opts = { version: args.version, advertInterval: args.interval, conntrack: true }
    // fw1 first, then fw2 once fw1 is master: daemons started at the same instant may both be
    // master for one Master_Down_Interval before the higher priority wins.
    const started = performance.now()
    for (const fw of t.fw) {
      procs.push(startHafwd(fw.ns, hafwConfig(t, fw, { ...opts, controlSocket: `${DIR}/${fw.name}.sock` }), DIR, fw.name))
      await waitFor(async () => (await whoIsMaster(t)).length === 1, 15_000, 20)
    }
    await new Promise(resolve => setTimeout(resolve, 500))
    const elected = performance.now() - started
    const masters = await whoIsMaster(t)
    say(`   elected after ${ms(elected)}: master = ${masters.join(', ') || 'none'} (VIPs ${t.vip.outside4}, ${t.vip.inside4}, ${t.vip.outside6}, ${t.vip.inside6})`)
    if (masters.length !== 1) throw new Error('no single master was elected; logs in ' + DIR)
    await waitFor(async () => /startup resync receiving -> done/.test(readLog(`${DIR}/fw2.log`)), 20_000, 50)
    const reach = await clientReachesServer(t, 1)
    say(`   client ${t.client.v4} → server ${t.server.v4} through the pair: ${reach ? 'ok' : 'FAILED'}`)
    for (const fw of t.fw) say(indent(await hafwctl(`${DIR}/${fw.name}.sock`, ['state'])))

    // Long-lived sessions through the pair while the master dies: the point of the product.
    const server = execa('ip', ['netns', 'exec', t.ns.server, process.execPath, SESSIONS, 'serve', '5001'], { reject: false })
    servers.push(server)
    await new Promise(resolve => setTimeout(resolve, 300))
    // Long enough for the takeover at this interval plus TCP's retransmission back-off, so a
    // session counts as surviving when its echoes resume (see sessionDurationMs).
    const killAfterMs = 3000
    const runMs = sessionDurationMs(killAfterMs, args.intervalMs)
    const client = execa('ip', ['netns', 'exec', t.ns.client, process.execPath, SESSIONS, 'run', t.server.v4, '5001', '50', String(runMs)], { reject: false })
    say(`   client opens 50 TCP sessions and 50 UDP flows to ${t.server.v4}:5001 (a message every 50 ms each, for ${(runMs / 1000).toFixed(1)} s)`)
    await new Promise(resolve => setTimeout(resolve, killAfterMs))

    const victim = t.fw.find(f => f.name === masters[0]) ?? t.fw[0]
    const survivor = t.fw.find(f => f !== victim) ?? t.fw[1]
    say(`3. killing the master box ${victim.name}: SIGKILL hafwd and cut its links (no priority-0 advert)`)
    const proc = procs[t.fw.indexOf(victim)] as HafwdProcess
    const killedAt = performance.now()
    const killedAtEpoch = Date.now()
    await proc.stop('SIGKILL')
    for (const ifname of ['eth0', 'eth1', 'eth2']) await nsExec(victim.ns, 'ip', ['link', 'set', ifname, 'down'])
    const vipsMoved = await waitFor(async () => await holdsVips(t, survivor), 15_000, 5)
    const trafficBack = await waitFor(async () => await clientReachesServer(t, 0.1), 15_000, 0)
    const total = performance.now() - killedAt
    say(`   ${survivor.name} holds the VIPs ${ms(vipsMoved)} after the kill; client traffic flows again after ${ms(trafficBack === null ? null : total)}`)
    // Announcements are logged when done (an NA round takes ~80 ms, arping seconds): wait for the
    // first one to be in the log, so the printed order is the whole transition.
    const timeline = (): ReturnType<typeof takeoverTimeline> => takeoverTimeline(`${DIR}/${survivor.name}.log`, killedAtEpoch)
    await waitFor(async () => timeline().some(s => s.what === 'first GARP/NA sent'), 3000, 20)
    const steps = timeline()
    say(`   ${survivor.name}'s transition, in order (ms after the kill, from its log): ${steps.map(s => `${s.what} +${s.atMs}`).join(' → ') || 'not in the log'}`)
    say(`   waiting for the sessions to finish (${(Math.max(0, runMs - killAfterMs - total) / 1000).toFixed(1)} s more: TCP resends after a stall with back-off)`)
    const sessions = JSON.parse(String((await client).stdout).trim() || '{}') as Partial<SessionReport>
    const invalid = await nsExec(survivor.ns, 'iptables', ['-nvxL', 'FORWARD'])
    const invalidDrops = (invalid.split('\n').find(l => /ctstate INVALID/.test(l)) ?? '0').trim().split(/\s+/)[0]
    say(`   sessions after the failover: TCP ${sessions.tcp?.survived ?? '?'}/${sessions.tcp?.total ?? '?'} alive, UDP ${sessions.udp?.survived ?? '?'}/${sessions.udp?.total ?? '?'} alive (alive = no reset or error, echoes resumed); longest stall TCP ${sessions.tcp?.maxGapMs ?? '?'} ms, UDP ${sessions.udp?.maxGapMs ?? '?'} ms; packets dropped as INVALID on ${survivor.name}: ${invalidDrops ?? '?'}`)
    say(indent(await hafwctl(`${DIR}/${survivor.name}.sock`, ['state'])))
    say(`   logs: ${DIR}/fw1.log, ${DIR}/fw2.log`)
    if (args.keep) {
      say(`lab left running (remove with: npm run lab -- down). Try: ip netns exec ${t.ns.client} ping ${t.server.v4}`)
      return 0
    }
    return vipsMoved === null ? 1 : 0
  } finally {
    if (!args.keep) {
      await cleanup()
      say('4. lab removed')
    }
  }
}

main().then(code => { process.exit(code) }, (err: unknown) => {
  process.stderr.write(`lab: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
