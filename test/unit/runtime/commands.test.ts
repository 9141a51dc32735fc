// runtime/commands.ts on a real Runner + Executor (recording handlers, fake clock): maintenance
// takes a MASTER to FAULT with a priority-0 advert and holds it there, off restores and the
// offset goes away; a reload that restarts a router keeps it in maintenance; reload from a file:
// invalid → invalidConfig with key paths and lines, nothing applied; valid → the change list and
// notes; conntrack commands → notAvailable when conntrack is off, else the runtime's handlers.
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { CommandError } from '../../../src/control/commands.js'
import { createNode, nodeDeadline } from '../../../src/core/node.js'
import type { Effect } from '../../../src/core/effects.js'
import type { RouterConfig } from '../../../src/core/vrrp/types.js'
import type { Model } from '../../../src/config/normalize.js'
import { createDaemonCommands, MAINTENANCE_OFFSET } from '../../../src/runtime/commands.js'
import { loadConfigInWorker } from '../../../src/runtime/config-loader.js'
import type { DaemonReload } from '../../../src/runtime/commands.js'
import { Transitions } from '../../../src/runtime/transitions.js'
import type { ConntrackHandle } from '../../../src/runtime/conntrack-client.js'
import { Executor } from '../../../src/runtime/executor.js'
import { Runner } from '../../../src/runtime/runner.js'
import { Counters } from '../../../src/runtime/stats.js'
import { routerConfig } from '../../helpers/netsim.js'
import { model as modelOf, oneInstance } from '../config/helpers.js'

const log = pino({ level: 'silent' })
const dir = mkdtempSync(join(tmpdir(), 'hafw-cmd-'))
let files = 0

const configs = (vrid = 52): RouterConfig[] => [
  routerConfig({ id: 'A', ifname: 'eth0', vrid: 51, primaryAddress: '192.0.2.2', priority: 200, track: { 'if:eth9': 0 } }),
  routerConfig({ id: 'B', ifname: 'eth1', vrid, primaryAddress: '198.51.100.2', priority: 150, vips: [{ address: '198.51.100.1', prefix: 24, family: 'ipv4' }] })
]

interface Rig { runner: Runner, effects: Effect[], setNow: (ms: number) => void, counters: Counters }

function rig (t: { teardown: (f: () => unknown) => void }): Rig {
  let now = 0
  const clock = (): number => now
  const effects: Effect[] = []
  const record = async (e: Effect): Promise<void> => { effects.push(e) }
  const counters = new Counters()
  const executor = new Executor({ sendAdvert: record, vipAdd: record, vipDel: record, garp: record, unsolicitedNa: record }, counters, log, clock)
  const runner = new Runner(createNode(configs(), []), clock, executor, log, counters, new Transitions(log, counters))
  t.teardown(async () => { await runner.shutdown() })
  return { runner, effects, setNow: (ms) => { now = ms }, counters }
}

/** Start every router and let Master_Down_Timer fire with nobody else on the LAN. */
async function toMaster (r: Rig): Promise<void> {
  await r.runner.dispatch({ kind: 'all', input: { kind: 'startup' } })
  for (let i = 0; i < 10 && Object.values(r.runner.state.routers).some(x => x.state !== 'master'); i++) {
    r.setNow(nodeDeadline(r.runner.state) ?? 0)
    await r.runner.dispatch({ kind: 'timeout' })
  }
}

const noReload: DaemonReload = async () => { throw new Error('reload must not be called') }
const baseModel = (): Model => modelOf(oneInstance())

/** Reload reads the file in the configuration thread, as the daemon does (its sources, through the tests' shim). */
const loadInThread = async (path: string): ReturnType<typeof loadConfigInWorker> => await loadConfigInWorker(path, { entry: new URL('../../helpers/config-worker-shim.mjs', import.meta.url) })

function commands (r: Rig, over: Partial<Parameters<typeof createDaemonCommands>[0]> = {}): ReturnType<typeof createDaemonCommands> {
  return createDaemonCommands({ runner: r.runner, conntrack: null, counters: r.counters, log, model: baseModel(), configPath: null, reload: noReload, loadConfig: loadInThread, ...over })
}

const flush = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

t.test('maintenance on: MASTER → FAULT with a priority-0 advert, held; off: back, offset removed', async t => {
  const r = rig(t)
  await toMaster(r)
  t.same(Object.values(r.runner.state.routers).map(x => x.state), ['master', 'master'])
  const c = commands(r)
  const seen: boolean[] = []
  c.maintenanceView.onChange(on => { seen.push(on) })
  r.effects.length = 0
  t.same(await c.maintenance(true), { on: true, changed: true })
  const snap = r.runner.snapshot().routers
  t.same(snap.map(x => x.state), ['fault', 'fault'], 'every router in FAULT')
  t.same(snap.map(x => x.faults), [['maintenance'], ['maintenance']], 'maintenance is its own cause, not a track')
  t.same(snap.map(x => x.lastTransition?.reason), ['maintenance', 'maintenance'], 'and its own transition reason')
  t.same(snap.map(x => x.track.length), [1, 0], 'no hidden maintenance track in the track list')
  t.same(snap.map(x => x.effectivePriority), [1, 1], `the offset ${MAINTENANCE_OFFSET} shows`)
  const adverts = r.effects.filter(e => e.kind === 'sendAdvert')
  t.same(adverts, [{ kind: 'sendAdvert', routerId: 'A', priority: 0 }, { kind: 'sendAdvert', routerId: 'B', priority: 0 }], 'priority 0 so the peer takes over after Skew_Time')
  t.ok(r.effects.some(e => e.kind === 'vipDel'), 'VIPs removed')
  t.equal(c.maintenanceView.on(), true)
  // Held: time passes, nothing comes back.
  r.setNow(60_000)
  await r.runner.dispatch({ kind: 'timeout' })
  t.same(r.runner.snapshot().routers.map(x => x.state), ['fault', 'fault'], 'still FAULT')
  t.same(await c.maintenance(true), { on: true, changed: false }, 'on twice: unchanged')
  r.effects.length = 0
  t.same(await c.maintenance(false), { on: false, changed: true })
  const after = r.runner.snapshot().routers
  t.same(after.map(x => x.state), ['backup', 'backup'], 'back in service as BACKUP')
  t.same(after.map(x => x.effectivePriority), [200, 150], 'offset removed')
  t.same(after.map(x => x.faults), [[], []])
  t.same(seen, [true, false], 'one change event each way')
  t.equal(r.counters.toJSON()['maintenance.on'], 1)
})

t.test('a reload that restarts a router keeps it in maintenance', async t => {
  const r = rig(t)
  await toMaster(r)
  const c = commands(r)
  await c.maintenance(true)
  const out = r.runner.reconfigure(configs(62), [])
  t.equal(out.result.changes.B, 'restart', 'B restarts (VRID changed)')
  t.equal(out.result.changes.A, 'same')
  await out.done
  await flush()
  t.same(r.runner.snapshot().routers.map(x => [x.id, x.state, x.effectivePriority]), [['A', 'fault', 1], ['B', 'fault', 1]], 'the fresh router is in maintenance too')
})

t.test('reload from the file: invalid → issues with key paths and lines, nothing applied', async t => {
  const r = rig(t)
  const file = join(dir, `c${files++}.yaml`)
  writeFileSync(file, oneInstance(['priority: 300']))
  let calls = 0
  const c = commands(r, { configPath: file, reload: async () => { calls++; return { ok: true, changes: {} } } })
  const err = await c.reload().catch((e: unknown) => e)
  t.type(err, CommandError)
  t.equal((err as CommandError).code, 'invalidConfig')
  t.match((err as CommandError).message, /^1 error\(s\) in .*; nothing applied$/)
  t.match((err as CommandError).issues, [{ path: 'vrrp.instances.VI_1.priority', line: 7 }])
  t.equal(calls, 0, 'the daemon was not asked to apply anything')
  t.equal(r.counters.toJSON()['reload.invalid'], 1)
})

t.test('reload from the file: applied, the change list and notes; a refusal is `failed`', async t => {
  const r = rig(t)
  const file = join(dir, `c${files++}.yaml`)
  writeFileSync(file, oneInstance(['priority: 120']))
  const applied: Model[] = []
  const c = commands(r, { configPath: file, reload: async (m) => { applied.push(m); return { ok: true, changes: { 'VI_1/ipv4': 'inPlace' } } } })
  const res = await c.reload()
  t.same(res, { file, changes: [{ id: 'VI_1/ipv4', change: 'inPlace' }], notes: [], routers: [{ id: 'VI_1/ipv4', change: 'inPlace', restart: [], inPlace: ['priority 100 -> 120'] }] })
  t.equal(applied.length, 1)
  t.equal(applied[0]?.routers[0]?.priority, 120)
  t.equal(c.model().routers[0]?.priority, 120, 'the running model follows')
  const again = await c.reload()
  t.same(again.notes, ['the file is the running configuration: nothing to do'])
  const refusing = commands(r, { configPath: file, reload: async () => ({ ok: false, error: 'vrrp.instances.VI_1.interface: interface eth0 does not exist' }) })
  await t.rejects(refusing.reload(), { code: 'failed', message: /interface eth0 does not exist/ })
  const noFile = commands(r)
  await t.rejects(noFile.reload(), { code: 'notAvailable' })
})

t.test('reload --dry-run: the daemon is asked for its verdict only; the plan names the keys; nothing changes', async t => {
  const r = rig(t)
  const file = join(dir, `c${files++}.yaml`)
  writeFileSync(file, oneInstance(['priority: 120']))
  const asked: boolean[] = []
  const c = commands(r, {
    configPath: file,
    reload: async (_m, dryRun) => { asked.push(dryRun === true); return { ok: true, changes: { 'VI_1/ipv4': 'restart' }, restartReasons: { 'VI_1/ipv4': ['vrid'] } } }
  })
  const before = c.model()
  const res = await c.reload({ dryRun: true })
  t.same(asked, [true])
  t.equal(res.dryRun, true)
  t.same(res.routers, [{ id: 'VI_1/ipv4', change: 'restart', restart: ['vrrp.instances.VI_1.vrid'], inPlace: ['priority 100 -> 120'] }])
  t.equal(c.model(), before, 'the running model is not replaced')
  t.equal(r.counters.toJSON()['reload.dryRun'], 1)
  t.equal(r.counters.toJSON()['reload.applied'], undefined)
  writeFileSync(file, oneInstance(['priority: 300']))
  await t.rejects(c.reload({ dryRun: true }), { code: 'invalidConfig' }, 'an invalid file is refused the same way')
  t.same(asked, [true], 'and the daemon is not asked')
})

t.test('conntrack commands: notAvailable when off; handed to the runtime when on', async t => {
  const r = rig(t)
  const off = commands(r)
  const attempts: Array<() => Promise<unknown>> = [async () => await off.commit(10), async () => await off.flush('both'), off.resync, off.bulk, off.requestResync, async () => await off.dump('internal'), async () => off.stats()]
  for (const f of attempts) {
    await t.rejects(f(), { code: 'notAvailable', message: /conntrack sync is off/ })
  }
  const calls: string[] = []
  let committed = false
  const status = () => ({
    internal: { active: 3 },
    external: { active: 2 },
    commit: null,
    lastCommit: committed ? { entries: 2, ok: 2, failed: 0, ms: 1.5, withinBudget: true } : null
  })
  const fake = {
    status,
    handlers: () => ({
      ctCommit: async (e: { budgetMs: number }) => { calls.push(`commit ${e.budgetMs}`); committed = true },
      ctFlush: async (e: { caches: string }) => { calls.push(`flush ${e.caches}`) },
      ctResyncFromKernel: async () => { calls.push('resync') },
      syncBulkSend: async () => { calls.push('bulk') },
      syncRequestResync: async () => { calls.push('requestResync') }
    }),
    dump: async (which: string) => which === 'internal'
      ? [{ key: 'k', flow: { family: 'ipv4', orig: { src: '10.0.0.1', dst: '10.0.0.2', l4proto: 17, sport: 5000, dport: 53 }, reply: { src: '10.0.0.2', dst: '10.0.0.1', l4proto: 17, sport: 53, dport: 5000 }, timeout: 30 }, status: 'new', activeSinceS: 1, idleS: 0 }]
      : []
  } as unknown as ConntrackHandle
  const on = commands(r, { conntrack: fake })
  t.match(await on.commit(5000), { message: 'committed 2 of 2 entries of the external cache in 2 ms', data: { running: false, lastCommit: { ok: 2 } } })
  t.match(await on.flush('internal'), { message: 'flushed the internal cache (3 entries)' })
  t.match(await on.flush('both'), { message: 'flushed the internal and external caches (5 entries)' })
  t.match(await on.resync(), { message: 'internal cache resynced from the kernel table: 3 entries' })
  t.match(await on.bulk(), { message: 'bulk update of 3 entries queued to the peer' })
  t.match(await on.requestResync(), { message: 'resync requested from the peer' })
  t.same(calls, ['commit 5000', 'flush internal', 'flush both', 'resync', 'bulk', 'requestResync'])
  t.same(await on.dump('internal'), [{ family: 'ipv4', proto: 17, orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 5000, dport: 53 }, reply: { src: '10.0.0.2', dst: '10.0.0.1', sport: 53, dport: 5000 }, status: 'new', activeSinceS: 1, idleS: 0, timeout: 30 }])
  t.same(await on.dump('external'), [])
  r.counters.inc('ct.commit.done')
  r.counters.inc('rx.frames')
  const st = on.stats()
  t.same(st.counters, { 'ct.commit.done': 1 }, 'only ct.* and sync.* counters')
  t.match(st.conntrack, { internal: { active: 3 }, peer: null })
  const busy = commands(r, { conntrack: { ...fake, status: () => ({ ...status(), commit: { running: true } }), handlers: fake.handlers } as unknown as ConntrackHandle })
  await t.rejects(busy.commit(10), { code: 'failed', message: /already running/ })
})
