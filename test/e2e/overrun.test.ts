// Lost kernel events on a running daemon: the overrun is counted, the internal cache is resynced
// from a dump (in chunks) and the differences reach the peer, all in the same process.
//
// hafwd on fw1 (master) runs with conntrack.eventBuffer 4096 (the kernel doubles it: a handful of
// queued events), hafwd on fw2 is its backup. The sync benchmark's generator (dist/bench/sync.js
// --worker, ctnetlink creates on its own netfilter socket in fw1's namespace) adds 10,000 entries
// to fw1's kernel in half a second: far more than the buffer holds, so the kernel drops events.
// Asserted: fw1 counts the overrun and a kernel resync beyond its start-up one; its internal cache
// ends with every created entry and fw2's external cache too (the resync's differences were sent);
// fw1's daemon is the same process throughout and its conntrack worker never restarted.
import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor } from './helpers.js'
import { repoRoot, startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { hafwConfigWithSync } from '../../src/lab/conntrackd.js'
import { ControlClient } from '../../src/control/client.js'
import { waitFor, whoIsMaster } from '../../src/lab/observe.js'
import type { FwNode } from '../../src/lab/topology.js'
import { nsExec } from '../../src/lab/sh.js'

const skip = skipUnlessRoot()
const GENERATOR = join(repoRoot(), 'dist', 'bench', 'sync.js')

interface CtStatus { bulk?: string, internal?: { active?: number }, external?: { active?: number } }

t.test('an event overrun on a running daemon ends in a resync, counted, without a restart', { skip }, async t => {
  const lab = await labFor(t, 'ovr')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-overrun-'))
  const procs: HafwdProcess[] = []
  const clients: ControlClient[] = []
  t.teardown(async () => {
    for (const c of clients) await c.close().catch(() => undefined)
    for (const p of procs) await p.stop('SIGKILL').catch(() => null)
  })
  const start = (fw: FwNode, eventBuffer?: number): HafwdProcess => {
    // 100 ms adverts and a 1 s startup resync: fw1, alone at first, is master and done quickly
    const cfg = hafwConfigWithSync(lab, fw, { version: 3, advertInterval: '100ms', controlSocket: join(dir, `${fw.name}.sock`), purgeTimeout: '3600s', startupResyncTimeout: '1s' }, 'udp',
      { socketBuffer: 1249280, ...(eventBuffer === undefined ? {} : { eventBuffer }) })
    const p = startHafwd(fw.ns, cfg, dir, fw.name)
    procs.push(p)
    return p
  }
  const connect = async (fw: FwNode): Promise<ControlClient> => {
    let client: ControlClient | null = null
    await waitFor(async () => {
      try { client = await ControlClient.connect({ socket: join(dir, `${fw.name}.sock`) }, { timeoutMs: 2000 }); return true } catch { return false }
    }, 15_000, 100)
    if (client === null) throw new Error(`hafwd on ${fw.name} has no control socket`)
    clients.push(client)
    return client
  }
  const ct = async (c: ControlClient): Promise<CtStatus | null> => {
    try { return ((await c.status()) as { conntrack?: CtStatus }).conntrack ?? null } catch { return null }
  }

  const p1 = start(fw1, 4096)
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'fw1 elected alone')
  const c1 = await connect(fw1)
  start(fw2)
  const c2 = await connect(fw2)
  t.not(await waitFor(async () => (await ct(c2))?.bulk === 'done', 20_000, 100), null, 'fw2 finished its startup bulk')
  const before = await c1.counters()
  t.equal(before['ct.overrun'] ?? 0, 0, 'no overrun before the burst')

  const job = { rate: 20_000, durationMs: 500, offset: 0, out: join(dir, 'gen.json') }
  const genOut = await nsExec(fw1.ns, process.execPath, [GENERATOR, '--worker', JSON.stringify(job)], { timeoutMs: 60_000 })
  const gen = JSON.parse(genOut.trim().split('\n').pop() ?? '{}') as { created: number }
  t.ok(gen.created >= 9000, `the generator created ${gen.created} entries in fw1's kernel`)

  t.not(await waitFor(async () => ((await c1.counters())['ct.overrun'] ?? 0) > 0, 20_000, 100), null, 'fw1 counted an overrun (ct.overrun)')
  t.not(await waitFor(async () => ((await ct(c1))?.internal?.active ?? 0) >= gen.created, 30_000, 100), null, 'fw1\'s internal cache holds every created entry')
  t.not(await waitFor(async () => ((await ct(c2))?.external?.active ?? 0) >= gen.created, 30_000, 100), null, 'fw2\'s external cache holds every created entry')
  const after = await c1.counters()
  t.ok((after['ct.resync.kernel'] ?? 0) >= 2, `a kernel resync after the one at start-up (ct.resync.kernel ${String(after['ct.resync.kernel'])})`)
  t.equal(after['ct.worker.restarted'] ?? 0, 0, 'the conntrack worker never restarted')
  t.doesNotThrow(() => { process.kill(p1.pid, 0) }, 'the same hafwd process is running')
  t.equal(p1.proc.exitCode, null, 'it never exited')
  t.comment(`fw1 counters: overrun ${String(after['ct.overrun'])}, resync ${String(after['ct.resync.kernel'])}`)
})
