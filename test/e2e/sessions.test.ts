// The field's acceptance test: client → firewall pair → server, FORWARD policy DROP with only
// ESTABLISHED/RELATED accepted back, SNAT to the outside VIP, no mid-stream pickup. 50 TCP
// sessions (bytes every 50 ms) and 50 UDP flows must keep working across failovers when hafwd
// replicates the conntrack table — and the TCP sessions must die when it does not (the control
// case that proves this test can fail).
import t from 'tap'
import type { Test } from 'tap'
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor, sleep } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { startHafwd, repoRoot } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { holdsVips, waitFor, whoIsMaster } from '../../src/lab/observe.js'
import { nsExec } from '../../src/lab/sh.js'
import type { Topology, FwNode } from '../../src/lab/topology.js'
import type { SessionReport } from '../../src/lab/sessions.js'

const skip = skipUnlessRoot()
const SESSIONS = join(repoRoot(), 'dist', 'lab', 'sessions.js')
const PORT = '5001'
const N = 50

function logOf (p: HafwdProcess): string { return existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : '' }

async function invalidDrops (fw: FwNode): Promise<number> {
  const out = await nsExec(fw.ns, 'iptables', ['-nvxL', 'FORWARD'])
  const line = out.split('\n').find(l => /ctstate INVALID/.test(l)) ?? ''
  return Number(line.trim().split(/\s+/)[0] ?? 0)
}

async function killBox (fw: FwNode, p: HafwdProcess): Promise<void> {
  await p.stop('SIGKILL')
  for (const i of ['eth0', 'eth1', 'eth2']) await nsExec(fw.ns, 'ip', ['link', 'set', i, 'down'])
}

async function reviveBox (fw: FwNode): Promise<void> {
  for (const i of ['eth0', 'eth1', 'eth2']) await nsExec(fw.ns, 'ip', ['link', 'set', i, 'up'])
}

function startSessions (lab: Topology, durationMs: number): ResultPromise {
  return execa('ip', ['netns', 'exec', lab.ns.client, process.execPath, SESSIONS, 'run', lab.server.v4, PORT, String(N), String(durationMs)], { reject: false })
}

async function report (p: ResultPromise): Promise<SessionReport> {
  const r = await p
  return JSON.parse(String(r.stdout).trim()) as SessionReport
}

async function pair (t: Tap, lab: Topology, dir: string, conntrack: boolean, tag: string): Promise<[HafwdProcess, HafwdProcess]> {
  const o = { advertInterval: '100ms', conntrack, startupResyncTimeout: '10s' }
  const p1 = startHafwd(lab.fw[0].ns, hafwConfig(lab, lab.fw[0], o), dir, `fw1-${tag}`)
  t.teardown(async () => { await p1.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'fw1 master')
  const p2 = startHafwd(lab.fw[1].ns, hafwConfig(lab, lab.fw[1], o), dir, `fw2-${tag}`)
  t.teardown(async () => { await p2.stop('SIGKILL').catch(() => null) })
  if (conntrack) t.not(await waitFor(async () => /startup resync receiving -> done/.test(logOf(p2)), 20_000, 50), null, 'fw2 finished its startup resync from fw1')
  else await sleep(1500)
  return [p1, p2]
}

/** The part of a tap test `pair` uses. */
type Tap = Pick<Test, 'teardown' | 'not'>

t.test('sessions survive failovers with conntrack sync', { skip }, async t => {
  const lab = await labFor(t, 'ses')
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-sessions-'))
  const server = execa('ip', ['netns', 'exec', lab.ns.server, process.execPath, SESSIONS, 'serve', PORT], { reject: false })
  t.teardown(async () => { server.kill('SIGTERM'); await server })
  const [fw1, fw2] = lab.fw
  const [p1, p2] = await pair(t, lab, dir, true, 'a')

  const client = startSessions(lab, 26_000)
  await sleep(4000)
  const before = await invalidDrops(fw2)

  // 1. The master box dies.
  await killBox(fw1, p1)
  t.not(await waitFor(async () => await holdsVips(lab, fw2), 5000, 5), null, 'fw2 took over')
  t.match(logOf(p2), /"external cache committed"/, 'fw2 committed the external cache')
  const order = effectOrder(logOf(p2))
  t.ok(order.commit >= 0 && order.commit < order.vipAdd, `commit (${order.commit}) logged before the VIPs were added (${order.vipAdd})`)
  await sleep(4000)

  // 2. fw1 comes back: startup resync from fw2 (demoted meanwhile), then preempts: planned failover back.
  await reviveBox(fw1)
  const p1b = startHafwd(fw1.ns, hafwConfig(lab, fw1, { advertInterval: '100ms', conntrack: true, startupResyncTimeout: '10s' }), dir, 'fw1-b')
  t.teardown(async () => { await p1b.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 20_000, 20), null, 'fw1 preempted back')
  t.match(logOf(p1b), /startup resync receiving -> done/, 'fw1 got fw2\'s table before preempting')

  const r = await report(client)
  const invalid = (await invalidDrops(fw2)) - before
  t.comment(`sessions: ${JSON.stringify(r)}; INVALID drops on fw2 during takeover: ${invalid}; on fw1 after preemption: ${await invalidDrops(fw1)}`)
  t.equal(r.tcp.survived, N, `all ${N} TCP sessions survived the kill and the preemption back (longest stall ${r.tcp.maxGapMs} ms)`)
  t.equal(r.udp.survived, N, `all ${N} UDP flows survived (longest gap ${r.udp.maxGapMs} ms)`)
})

t.test('sessions survive the master\'s inside link going down', { skip }, async t => {
  const lab = await labFor(t, 'sel')
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-sessions-link-'))
  const server = execa('ip', ['netns', 'exec', lab.ns.server, process.execPath, SESSIONS, 'serve', PORT], { reject: false })
  t.teardown(async () => { server.kill('SIGTERM'); await server })
  await pair(t, lab, dir, true, 'l')
  const client = startSessions(lab, 12_000)
  await sleep(4000)
  await nsExec(lab.fw[0].ns, 'ip', ['link', 'set', 'eth1', 'down'])
  t.not(await waitFor(async () => await holdsVips(lab, lab.fw[1]), 5000, 5), null, 'fw2 took over the whole sync group')
  const r = await report(client)
  t.comment(`sessions: ${JSON.stringify(r)}`)
  t.equal(r.tcp.survived, N, `all ${N} TCP sessions survived (longest stall ${r.tcp.maxGapMs} ms)`)
})

t.test('control case: without conntrack sync the TCP sessions die', { skip }, async t => {
  const lab = await labFor(t, 'seo')
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-sessions-off-'))
  const server = execa('ip', ['netns', 'exec', lab.ns.server, process.execPath, SESSIONS, 'serve', PORT], { reject: false })
  t.teardown(async () => { server.kill('SIGTERM'); await server })
  const [p1] = await pair(t, lab, dir, false, 'o')
  const client = startSessions(lab, 10_000)
  await sleep(3000)
  await killBox(lab.fw[0], p1)
  t.not(await waitFor(async () => await holdsVips(lab, lab.fw[1]), 5000, 5), null, 'fw2 took over')
  const r = await report(client)
  const invalid = await invalidDrops(lab.fw[1])
  t.comment(`sessions without sync: ${JSON.stringify(r)}; INVALID drops on fw2: ${invalid}`)
  t.equal(r.tcp.survived, 0, 'no TCP session survives: fw2 drops their packets as INVALID')
  t.ok(invalid > 0, 'the INVALID drop rule counted them')
})

/** Line numbers of the first commit log line and the first VIP add after the takeover. */
function effectOrder (log: string): { commit: number, vipAdd: number } {
  const lines = log.split('\n')
  const master = lines.findIndex(l => /node role backup -> master/.test(l))
  const after = lines.slice(master)
  return {
    commit: after.findIndex(l => /"external cache committed"/.test(l)),
    vipAdd: after.findIndex(l => /"kind":"vipAdd"/.test(l))
  }
}
