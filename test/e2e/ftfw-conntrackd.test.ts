// hafwd ⇄ conntrackd 1.4.7 over FTFW, both directions, UDP unicast and IPv4 multicast, on the lab
// topology (client → fw1/fw2 → server, the sync link eth2 between the firewalls).
//
// hafwd → conntrackd: hafwd on fw1 (master, VIPs, conntrack on), conntrackd on fw2. Real TCP and
// UDP flows through fw1 must appear in conntrackd's external cache (`conntrackd -e`), their updates
// (ESTABLISHED → TIME_WAIT) and deletes (`conntrack -D` on fw1) must follow, a restarted conntrackd
// must get them back (StartupResync → hafwd answers with a bulk), a restarted hafwd must still be
// heard (HELLO: its new sequence base is below the old one), and with 30 % of hafwd's sync
// datagrams dropped the caches must still converge to fw1's kernel table.
//
// conntrackd → hafwd: the migration case, keepalived 2.2.7 + conntrackd on fw1 (master), hafwd on
// fw2 (backup). The same flows through fw1 must appear in hafwd's external cache
// (`hafwctl state --json` → conntrack.external.active), deletes follow, a restarted hafwd refills
// its external cache by its startup resync, a restarted conntrackd is still heard, and with 30 %
// loss on conntrackd's side the caches converge.
//
// No fixed sleeps for protocol timers: every step waits (bounded) for the state it expects.
import t from 'tap'
import type { Test } from 'tap'
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor } from './helpers.js'
import { ControlClient } from '../../src/control/client.js'
import type { CtEntryView } from '../../src/control/protocol.js'
import { startHafwd, repoRoot } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { holdsVips, waitFor, whoIsMaster } from '../../src/lab/observe.js'
import { nsExec } from '../../src/lab/sh.js'
import type { Topology, FwNode } from '../../src/lab/topology.js'
import { keepalivedConfig, startKeepalived } from '../../src/lab/keepalived.js'
import {
  conntrackdExternal, conntrackdInternal, conntrackdStats, hafwConfigWithSync, hafwdConntrack, labConntrackdConfig, startConntrackd
} from '../../src/lab/conntrackd.js'
import type { ConntrackdProcess, HafwdConntrack, SyncTransportKind } from '../../src/lab/conntrackd.js'
import type { SessionReport } from '../../src/lab/sessions.js'

const skip = skipUnlessRoot()
const SESSIONS = join(repoRoot(), 'dist', 'lab', 'sessions.js')
const PORT = '5001'
/** TCP sessions per batch; each also opens a UDP flow, so a batch is 2·N conntrack entries. */
const N = 20

/** hafwd's external cache as `hafwctl conntrack external` shows it. */
async function externalOf (socket: string): Promise<CtEntryView[]> {
  const c = await ControlClient.connect({ socket })
  try { return await c.dump('external') } finally { c.close() }
}
const WAIT = 20_000

interface FlowCount { readonly tcp: number, readonly udp: number, readonly established: number, readonly timeWait: number }

/** Flows of the lab client in conntrackd -e/-i lines or conntrack -L lines. */
function clientFlows (lines: readonly string[], client: string): FlowCount {
  const mine = lines.filter(l => l.includes(`src=${client} `))
  const tcp = mine.filter(l => /^tcp\s/.test(l))
  return {
    tcp: tcp.length,
    udp: mine.filter(l => /^udp\s/.test(l)).length,
    established: tcp.filter(l => / ESTABLISHED /.test(l)).length,
    timeWait: tcp.filter(l => / TIME_WAIT /.test(l)).length
  }
}

/** The kernel's own table on a firewall: the truth both caches must converge to. */
async function kernelFlows (fw: FwNode, client: string): Promise<FlowCount> {
  const out = await nsExec(fw.ns, 'conntrack', ['-L', '-s', client], { allowFail: true })
  return clientFlows(out.split('\n'), client)
}

async function deleteClientFlows (fw: FwNode, client: string): Promise<void> {
  await nsExec(fw.ns, 'conntrack', ['-D', '-s', client], { allowFail: true })
}

const LOSS_RULE = ['OUTPUT', '-o', 'eth2', '-p', 'udp', '--dport', '3780', '-m', 'statistic', '--mode', 'random', '--probability', '0.3', '-j', 'DROP']

async function withLoss<T> (fw: FwNode, fn: () => Promise<T>): Promise<T> {
  await nsExec(fw.ns, 'iptables', ['-A', ...LOSS_RULE])
  try {
    return await fn()
  } finally {
    await nsExec(fw.ns, 'iptables', ['-D', ...LOSS_RULE], { allowFail: true })
  }
}

/** Packets the loss rule dropped so far (proof that the loss was real). */
async function lossDrops (fw: FwNode): Promise<number> {
  const out = await nsExec(fw.ns, 'iptables', ['-nvxL', 'OUTPUT'])
  const line = out.split('\n').find(l => /statistic mode random/.test(l)) ?? ''
  return Number(line.trim().split(/\s+/)[0] ?? 0)
}

function sessions (lab: Topology, n: number, durationMs: number): ResultPromise {
  return execa('ip', ['netns', 'exec', lab.ns.client, process.execPath, SESSIONS, 'run', lab.server.v4, PORT, String(n), String(durationMs)], { reject: false })
}

async function sessionReport (p: ResultPromise): Promise<SessionReport> {
  const r = await p
  return JSON.parse(String(r.stdout).trim()) as SessionReport
}

function serve (t: Test, lab: Topology): void {
  const server = execa('ip', ['netns', 'exec', lab.ns.server, process.execPath, SESSIONS, 'serve', PORT], { reject: false })
  t.teardown(async () => { server.kill('SIGTERM'); await server })
}

/** Poll until `probe` returns a value `ok` accepts; returns the last value seen (for messages). */
async function until<T> (probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = WAIT, stepMs = 100): Promise<{ ok: boolean, value: T, ms: number | null }> {
  let value = await probe()
  const ms = await waitFor(async () => { value = await probe(); return ok(value) }, timeoutMs, stepMs)
  return { ok: ms !== null, value, ms }
}

const show = (c: FlowCount): string => `tcp ${c.tcp} (established ${c.established}, time_wait ${c.timeWait}), udp ${c.udp}`

function ctd (t: Test, lab: Topology, fw: FwNode, transport: SyncTransportKind, dir: string, name: string): ConntrackdProcess {
  const p = startConntrackd(fw.ns, labConntrackdConfig(lab, fw, { transport, dir, name, startupResync: true }), dir, name)
  t.teardown(async () => { await p.stop('SIGTERM').catch(() => null) })
  return p
}

function hafwd (t: Test, lab: Topology, fw: FwNode, transport: SyncTransportKind, dir: string, name: string): { p: HafwdProcess, sock: string } {
  const sock = join(dir, `${name}.sock`)
  const p = startHafwd(fw.ns, hafwConfigWithSync(lab, fw, { controlSocket: sock, startupResyncTimeout: '5s' }, transport), dir, name)
  t.teardown(async () => { await p.stop('SIGKILL').catch(() => null) })
  return { p, sock }
}

async function ctdUp (p: ConntrackdProcess): Promise<boolean> {
  return await waitFor(async () => (await conntrackdStats(p)) !== null, 10_000, 50) !== null
}

// ------------------------------------------------------------------------------------------------

async function hafwdToConntrackd (t: Test, transport: SyncTransportKind, tag: string): Promise<void> {
  const lab = await labFor(t, tag)
  const dir = mkdtempSync(join(tmpdir(), `hafw-e2e-ftfw-${tag}-`))
  const client = lab.client.v4
  const [fw1, fw2] = lab.fw
  serve(t, lab)
  let h = hafwd(t, lab, fw1, transport, dir, 'fw1-hafwd')
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'hafwd on fw1 is master')
  let c = ctd(t, lab, fw2, transport, dir, 'fw2-conntrackd')
  t.ok(await ctdUp(c), 'conntrackd on fw2 answers on its UNIX socket')
  const ext = async (): Promise<FlowCount> => clientFlows(await conntrackdExternal(c), client)

  // 1. NEW: live sessions through fw1 appear in conntrackd's external cache, ESTABLISHED.
  const run = sessions(lab, N, 4000)
  let r = await until(ext, v => v.established === N && v.udp === N)
  t.ok(r.ok, `new flows reached conntrackd -e: ${show(r.value)} (want ${N} established, ${N} udp; ${String(r.ms?.toFixed(0))} ms)`)
  const rep = await sessionReport(run)
  t.equal(rep.tcp.survived, N, 'the sessions themselves worked')

  // 2. UPDATE: the sessions closed; TIME_WAIT follows to the peer.
  r = await until(ext, v => v.timeWait === N)
  t.ok(r.ok, `closing the sessions moved them to TIME_WAIT in conntrackd -e: ${show(r.value)}`)
  const kernel = await kernelFlows(fw1, client)
  t.same({ tcp: kernel.tcp, udp: kernel.udp }, { tcp: N, udp: N }, `fw1's kernel holds the same flows: ${show(kernel)}`)

  // 3. conntrackd restarts: its external cache starts empty and StartupResync refills it (hafwd
  //    answers the RESYNC with a bulk of its internal cache).
  await c.stop('SIGTERM')
  c = ctd(t, lab, fw2, transport, dir, 'fw2-conntrackd')
  t.ok(await ctdUp(c), 'conntrackd restarted')
  r = await until(ext, v => v.tcp === N && v.udp === N)
  t.ok(r.ok, `restarted conntrackd resynced from hafwd: ${show(r.value)} (${String(r.ms?.toFixed(0))} ms)`)

  // 4. hafwd restarts: its new FTFW sequence base (Unix time) is below its old counter; HELLO
  //    makes conntrackd accept it. Proof: a DEL sent by the new hafwd empties conntrackd's cache.
  await h.p.stop('SIGTERM')
  h = hafwd(t, lab, fw1, transport, dir, 'fw1-hafwd-b')
  t.not(await waitFor(async () => (await hafwdConntrack(h.sock))?.bulk === 'done' && (await whoIsMaster(lab)).join() === 'fw1', WAIT, 50), null, 'restarted hafwd: startup resync done, master again')
  const hs = await hafwdConntrack(h.sock)
  t.ok((hs?.internal.active ?? 0) >= 2 * N, `restarted hafwd read fw1's table into its internal cache (${String(hs?.internal.active)})`)
  await deleteClientFlows(fw1, client)
  r = await until(ext, v => v.tcp === 0 && v.udp === 0)
  t.ok(r.ok, `DEL: conntrack -D on fw1 emptied conntrackd -e (after the hafwd restart): ${show(r.value)}`)

  // 5. 30 % of hafwd's sync datagrams dropped: NEW, UPDATE and DEL still converge to fw1's kernel.
  const before = (await hafwdConntrack(h.sock))?.sync.counters
  await withLoss(fw1, async () => {
    const run2 = sessions(lab, 3 * N, 3000)
    // Under loss a flow may first reach the peer already closing (its updates coalesce into one
    // message): every flow present, established or in TIME_WAIT, is what replication owes here.
    r = await until(ext, v => v.established + v.timeWait === 3 * N && v.udp === 3 * N)
    t.ok(r.ok, `with loss, new flows converged: ${show(r.value)}`)
    await sessionReport(run2)
    r = await until(ext, v => v.timeWait === 3 * N)
    t.ok(r.ok, `with loss, updates converged: ${show(r.value)}`)
    await deleteClientFlows(fw1, client)
    r = await until(ext, v => v.tcp === 0 && v.udp === 0)
    t.ok(r.ok, `with loss, deletes converged: ${show(r.value)}`)
    const drops = await lossDrops(fw1)
    const after = (await hafwdConntrack(h.sock))?.sync.counters
    const d = (k: string): number => Number(after?.[k] ?? 0) - Number(before?.[k] ?? 0)
    t.ok(drops > 0, `the loss rule dropped ${drops} sync datagrams`)
    t.ok(d('rxNack') > 0 && d('txRetransmits') > 0, `conntrackd NACKed (${d('rxNack')}) and hafwd retransmitted (${d('txRetransmits')})`)
  })
  const stats = await conntrackdStats(c)
  t.equal(stats?.malformed, 0, 'conntrackd counted no malformed message')
  const hsEnd = await hafwdConntrack(h.sock)
  t.equal(stats?.external.active, hsEnd?.internal.active, `conntrackd external active ${String(stats?.external.active)} = hafwd internal active ${String(hsEnd?.internal.active)}`)
  t.comment(`${transport} hafwd → conntrackd: conntrackd -s ${JSON.stringify(stats)}; hafwd sync counters ${JSON.stringify(hsEnd?.sync.counters)}`)
}

async function conntrackdToHafwd (t: Test, transport: SyncTransportKind, tag: string): Promise<void> {
  const lab = await labFor(t, tag)
  const dir = mkdtempSync(join(tmpdir(), `hafw-e2e-ftfw-${tag}-`))
  const client = lab.client.v4
  const [fw1, fw2] = lab.fw
  serve(t, lab)
  const k = startKeepalived(fw1.ns, keepalivedConfig(lab, fw1), dir, 'fw1-keepalived')
  t.teardown(async () => { await k.stop('SIGTERM').catch(() => null) })
  let c = ctd(t, lab, fw1, transport, dir, 'fw1-conntrackd')
  t.ok(await ctdUp(c), 'conntrackd on fw1 answers on its UNIX socket')
  t.not(await waitFor(async () => await holdsVips(lab, fw1), 15_000, 20), null, 'keepalived on fw1 is master')
  let h = hafwd(t, lab, fw2, transport, dir, 'fw2-hafwd')
  const hstat = async (): Promise<HafwdConntrack | null> => await hafwdConntrack(h.sock)
  t.not(await waitFor(async () => (await hstat())?.bulk === 'done', WAIT, 50), null, 'hafwd on fw2: startup resync from conntrackd done')
  t.same(await whoIsMaster(lab), ['fw1'], 'hafwd on fw2 stays backup to keepalived')
  const internal = async (): Promise<FlowCount> => clientFlows(await conntrackdInternal(c), client)
  const extActive = async (): Promise<number> => (await hstat())?.external.active ?? -1

  // 1. NEW: flows through fw1 (conntrackd's kernel) reach hafwd's external cache.
  const run = sessions(lab, N, 4000)
  let ci = await until(internal, v => v.established === N && v.udp === N)
  t.ok(ci.ok, `conntrackd -i on fw1: ${show(ci.value)}`)
  let e = await until(extActive, v => v === 2 * N)
  t.ok(e.ok, `new flows reached hafwd's external cache: active ${e.value} (want ${2 * N})`)
  await sessionReport(run)

  // 2. UPDATE: the close (TIME_WAIT) arrives as updates of known entries. Checked on the entries
  //    themselves (their TCP state), not by counting updates against a baseline: on a loaded
  //    machine the sessions may already have closed when the baseline would be read.
  ci = await until(internal, v => v.timeWait === N)
  t.ok(ci.ok, `conntrackd saw the sessions close: ${show(ci.value)}`)
  const timeWait = async (): Promise<number> => (await externalOf(h.sock)).filter(e => e.proto === 6 && e.orig.src === client && e.state === 'TIME_WAIT').length
  const tw = await until(timeWait, v => v === N)
  t.ok(tw.ok, `every closed session is TIME_WAIT in hafwd's external cache (${tw.value} of ${N}), merged into the known entry`)
  t.equal(await extActive(), 2 * N, 'updates did not create entries')

  // 3. hafwd restarts: empty external cache, startup resync (RESYNC → conntrackd bulk) refills it.
  await h.p.stop('SIGTERM')
  h = hafwd(t, lab, fw2, transport, dir, 'fw2-hafwd-b')
  e = await until(extActive, v => v === 2 * N)
  t.ok(e.ok, `restarted hafwd got conntrackd's table back: external active ${e.value} (${String(e.ms?.toFixed(0))} ms)`)

  // 4. conntrackd restarts (its sequence restarts at the current Unix time, with HELLO); its DELs
  //    must still be accepted.
  const s0 = (await hstat())?.sync.counters
  await c.stop('SIGTERM')
  c = ctd(t, lab, fw1, transport, dir, 'fw1-conntrackd')
  t.ok(await ctdUp(c), 'conntrackd restarted')
  ci = await until(internal, v => v.tcp === N && v.udp === N)
  t.ok(ci.ok, `restarted conntrackd read fw1's table: ${show(ci.value)}`)
  await deleteClientFlows(fw1, client)
  e = await until(extActive, v => v === 0)
  t.ok(e.ok, `DEL from the restarted conntrackd emptied hafwd's external cache (active ${e.value})`)
  const s1 = (await hstat())?.sync.counters
  t.ok(Number(s1?.peerRestarts ?? 0) > Number(s0?.peerRestarts ?? 0), `hafwd saw the restarted conntrackd's HELLO as a peer restart (${String(s0?.peerRestarts)} → ${String(s1?.peerRestarts)})`)

  // 5. 30 % of conntrackd's sync datagrams dropped: still converges (hafwd NACKs, conntrackd resends).
  const before = (await hstat())?.sync.counters
  await withLoss(fw1, async () => {
    const run2 = sessions(lab, 3 * N, 3000)
    ci = await until(internal, v => v.established + v.timeWait === 3 * N && v.udp === 3 * N)
    t.ok(ci.ok, `conntrackd -i with loss: ${show(ci.value)}`)
    e = await until(extActive, v => v === 6 * N)
    t.ok(e.ok, `with loss, new flows converged in hafwd's external cache: active ${e.value} (want ${6 * N})`)
    await sessionReport(run2)
    await deleteClientFlows(fw1, client)
    e = await until(extActive, v => v === 0)
    t.ok(e.ok, `with loss, deletes converged: active ${e.value}`)
    const drops = await lossDrops(fw1)
    const after = (await hstat())?.sync.counters
    const d = (k: string): number => Number(after?.[k] ?? 0) - Number(before?.[k] ?? 0)
    t.ok(drops > 0, `the loss rule dropped ${drops} sync datagrams`)
    t.ok(d('gaps') > 0 && d('txNack') > 0, `hafwd saw gaps (${d('gaps')}) and NACKed them (${d('txNack')})`)
  })
  const hs = await hstat()
  const drops = Object.entries(hs?.sync.counters.drops ?? {}).filter(([, v]) => Number(v) > 0)
  t.same(drops.filter(([k]) => k !== 'staleSeq'), [], 'hafwd dropped no conntrackd message as malformed')
  const cs = await conntrackdStats(c)
  t.equal(cs?.external.active, hs?.internal.active, `conntrackd external active ${String(cs?.external.active)} = hafwd internal active ${String(hs?.internal.active)} (fw2 forwards nothing; the sync channel's own flows are not replicated)`)
  t.comment(`${transport} conntrackd → hafwd: hafwd ${JSON.stringify({ external: hs?.external, counters: hs?.sync.counters })}; conntrackd -s ${JSON.stringify(cs)}`)
}

t.test('hafwd → conntrackd 1.4.7, UDP unicast', { skip }, async t => { await hafwdToConntrackd(t, 'udp', 'fhu') })
t.test('hafwd → conntrackd 1.4.7, multicast', { skip }, async t => { await hafwdToConntrackd(t, 'multicast', 'fhm') })
t.test('conntrackd 1.4.7 → hafwd, UDP unicast', { skip }, async t => { await conntrackdToHafwd(t, 'udp', 'fcu') })
t.test('conntrackd 1.4.7 → hafwd, multicast', { skip }, async t => { await conntrackdToHafwd(t, 'multicast', 'fcm') })
