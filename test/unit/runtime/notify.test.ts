// Notify hooks (runtime/notify.ts): which programs a transition runs and with what argv/env
// (keepalived's notify convention), the per-owner queue (one at a time, transition order, after
// the step's effects), outcome counting and logging, and the real execa spawner (no shell,
// timeout kill). The queue tests use a fake spawner and a fake clock: nothing sleeps.
import t from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processSpawner, hookJobs, HookQueue, Notifier, notifyState, resultOf } from '../../../src/runtime/notify.js'
import type { HookJob, HookOutcome, NotifyEvent, Spawner } from '../../../src/runtime/notify.js'
import type { NotifyModel } from '../../../src/config/normalize.js'
import { Counters } from '../../../src/runtime/stats.js'
import { Executor } from '../../../src/runtime/executor.js'
import { FakeClock } from '../../helpers/fake-clock.js'

const silent = pino({ level: 'silent' })

function hooks (over: Partial<NotifyModel> = {}): NotifyModel {
  return { master: null, backup: null, fault: null, stop: null, any: null, timeoutMs: 10_000, ...over }
}

function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let resolve = (_: T): void => {}
  const promise = new Promise<T>(r => { resolve = r })
  return { promise, resolve }
}

/** Lets every pending promise callback run. */
async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise(resolve => setImmediate(resolve))
}

/** A spawner whose runs finish when the test says so; records starts and the peak concurrency per owner. */
function fakeSpawner () {
  const started: HookJob[] = []
  const finish: Array<(o: HookOutcome) => void> = []
  const active = new Map<string, number>()
  let peak = 0
  const spawn: Spawner = async (job) => {
    started.push(job)
    const n = (active.get(job.owner) ?? 0) + 1
    active.set(job.owner, n)
    peak = Math.max(peak, n)
    const d = deferred<HookOutcome>()
    finish.push(d.resolve)
    const o = await d.promise
    active.set(job.owner, (active.get(job.owner) ?? 1) - 1)
    return o
  }
  return { spawn, started, finish, peak: () => peak }
}

const OK: HookOutcome = { exitCode: 0, signal: null, timedOut: false }

const instanceEvent = (to: string, from = 'backup'): NotifyEvent => ({ kind: 'INSTANCE', name: 'VI_OUT', router: 'VI_OUT/ipv4', family: 'ipv4', from, to, reason: 'masterDown', priority: 150 })

t.test('hookJobs: the state\'s own hook, then `any` with keepalived\'s arguments appended', async t => {
  const h = hooks({ master: ['/usr/local/sbin/up', '--table', '100'], backup: ['/usr/local/sbin/down'], any: ['/usr/local/sbin/notify.sh', 'extra'] })
  const jobs = hookJobs(instanceEvent('master'), h)
  t.same(jobs.map(j => [j.owner, j.hook, j.argv]), [
    ['INSTANCE VI_OUT', 'master', ['/usr/local/sbin/up', '--table', '100']],
    ['INSTANCE VI_OUT', 'any', ['/usr/local/sbin/notify.sh', 'extra', 'INSTANCE', 'VI_OUT', 'MASTER', '150']]
  ])
  t.same(jobs[0]?.env, { HAFW_TYPE: 'INSTANCE', HAFW_NAME: 'VI_OUT', HAFW_STATE: 'MASTER', HAFW_FROM: 'BACKUP', HAFW_REASON: 'masterDown', HAFW_ROUTER: 'VI_OUT/ipv4', HAFW_FAMILY: 'ipv4', HAFW_PRIORITY: '150' })
  t.same(hookJobs(instanceEvent('fault'), h).map(j => j.hook), ['any'], 'no fault hook: only `any`')
  t.same(hookJobs(instanceEvent('backup'), hooks()), [], 'no hook configured: nothing')
  t.same(hookJobs(instanceEvent('backup'), null), [])
})

t.test('hookJobs: groups get GROUP NAME STATE 0 (keepalived passes priority 0); leaving to initialize is STOP', async t => {
  const h = hooks({ stop: ['/bin/stop'], any: ['/bin/any'] })
  const jobs = hookJobs({ kind: 'GROUP', name: 'G1', from: 'master', to: 'initialize', reason: 'allStopped' }, h)
  t.same(jobs.map(j => j.argv), [['/bin/stop'], ['/bin/any', 'GROUP', 'G1', 'STOP', '0']])
  t.equal(jobs[0]?.env.HAFW_PRIORITY, undefined)
  t.equal(jobs[0]?.env.HAFW_FROM, 'MASTER')
  t.same(hookJobs({ kind: 'GROUP', name: 'G1', from: 'initialize', to: 'initialize', reason: 'allStopped' }, h), [], 'initialize → initialize is no transition')
  t.same(['master', 'backup', 'fault', 'initialize'].map(notifyState), ['MASTER', 'BACKUP', 'FAULT', 'STOP'])
})

t.test('resultOf: exit 0 ok; non-zero, signal or no start failed; timeout wins', async t => {
  t.equal(resultOf(OK), 'ok')
  t.equal(resultOf({ exitCode: 2, signal: null, timedOut: false }), 'failed')
  t.equal(resultOf({ exitCode: null, signal: 'SIGKILL', timedOut: false }), 'failed')
  t.equal(resultOf({ exitCode: null, signal: null, timedOut: false, error: 'ENOENT' }), 'failed')
  t.equal(resultOf({ exitCode: null, signal: 'SIGTERM', timedOut: true }), 'timeout')
})

const job = (owner: string, hook: HookJob['hook'], tag: string): HookJob => ({ owner, hook, argv: ['/bin/x', tag], env: {}, timeoutMs: 1000 })

t.test('queue: one owner runs one hook at a time, in queue order, even when later steps finish first', async t => {
  const f = fakeSpawner()
  const q = new HookQueue(f.spawn, () => 0, silent, new Counters())
  const step1 = deferred()
  const step2 = deferred()
  void q.enqueue(job('INSTANCE A', 'master', '1'), step1.promise)
  void q.enqueue(job('INSTANCE A', 'any', '2'), step1.promise)
  void q.enqueue(job('INSTANCE A', 'backup', '3'), step2.promise)
  step2.resolve() // the later step's effects are done first: its hook must still wait its turn
  await settle()
  t.same(f.started, [], 'nothing starts before its own step\'s effects have run')
  step1.resolve()
  await settle()
  t.same(f.started.map(j => j.argv[1]), ['1'], 'the first hook runs alone')
  f.finish[0]?.(OK)
  await settle()
  t.same(f.started.map(j => j.argv[1]), ['1', '2'])
  f.finish[1]?.(OK)
  await settle()
  t.same(f.started.map(j => j.argv[1]), ['1', '2', '3'])
  f.finish[2]?.(OK)
  await q.drain()
  t.equal(f.peak(), 1, 'never two hooks of one owner at once')
  t.same(q.busyOwners, [])
})

t.test('queue: different owners do not wait for each other', async t => {
  const f = fakeSpawner()
  const q = new HookQueue(f.spawn, () => 0, silent, new Counters())
  void q.enqueue(job('INSTANCE A', 'master', 'a'))
  void q.enqueue(job('GROUP G', 'master', 'g'))
  await settle()
  t.same(f.started.map(j => j.owner).sort(), ['GROUP G', 'INSTANCE A'], 'both started while neither has finished')
  t.same(q.busyOwners.sort(), ['GROUP G', 'INSTANCE A'])
  f.finish.forEach(fin => { fin(OK) })
  await q.drain()
})

t.test('queue: a failed step still runs its hooks (the transition happened)', async t => {
  const f = fakeSpawner()
  const q = new HookQueue(f.spawn, () => 0, silent, new Counters())
  void q.enqueue(job('INSTANCE A', 'master', 'a'), Promise.reject(new Error('vipAdd failed')))
  await settle()
  t.equal(f.started.length, 1)
  f.finish[0]?.(OK)
  await q.drain()
})

t.test('queue: outcomes counted and logged with owner, hook, exit code, duration (fake clock)', async t => {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'info' }, new Writable({ write (chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb() } }))
  const clock = new FakeClock(1000)
  const counters = new Counters()
  const outcomes: Record<string, HookOutcome> = {
    master: OK,
    any: { exitCode: 3, signal: null, timedOut: false, stderr: 'no route' },
    backup: { exitCode: null, signal: 'SIGTERM', timedOut: true },
    stop: { exitCode: null, signal: null, timedOut: false, error: 'spawn /nonexistent ENOENT' }
  }
  // The group's hook runs beside the instance's (another owner) and takes no time here.
  const spawn: Spawner = async (j) => { if (j.owner !== 'GROUP G') clock.advance(250); return outcomes[j.hook] as HookOutcome }
  const q = new HookQueue(spawn, () => clock.now(), log, counters)
  void q.enqueue({ ...job('INSTANCE A', 'master', '1'), env: { HAFW_STATE: 'MASTER' } })
  void q.enqueue(job('INSTANCE A', 'any', '2'))
  void q.enqueue(job('INSTANCE A', 'backup', '3'))
  await q.enqueue({ owner: 'GROUP G', hook: 'stop', argv: ['/nonexistent'], env: {}, timeoutMs: 1 }).then(async () => { await q.drain() })
  t.same({ ok: counters.get('notify.ok'), failed: counters.get('notify.failed'), timeout: counters.get('notify.timeout') }, { ok: 1, failed: 2, timeout: 1 })
  const byHook = new Map(lines.map(l => [`${String(l.owner)}/${String(l.hook)}`, l]))
  t.match(byHook.get('INSTANCE A/master'), { level: 30, owner: 'INSTANCE A', hook: 'master', exitCode: 0, ms: 250, state: 'MASTER' })
  t.match(byHook.get('INSTANCE A/any'), { level: 40, exitCode: 3, ms: 250, stderr: 'no route' })
  t.match(byHook.get('INSTANCE A/backup'), { level: 40, exitCode: null, signal: 'SIGTERM', msg: /killed after its 1000 ms timeout/ })
  t.match(byHook.get('GROUP G/stop'), { level: 40, hook: 'stop', err: /ENOENT/ })
})

t.test('queue: a spawner that throws is a failed hook, and the queue goes on', async t => {
  const counters = new Counters()
  let calls = 0
  const q = new HookQueue(async () => { calls++; if (calls === 1) throw new Error('spawn EACCES'); return OK }, () => 0, silent, counters)
  void q.enqueue(job('INSTANCE A', 'master', '1'))
  void q.enqueue(job('INSTANCE A', 'any', '2'))
  await q.drain()
  t.equal(calls, 2)
  t.equal(counters.get('notify.failed'), 1)
  t.equal(counters.get('notify.ok'), 1)
})

t.test('Notifier: router transitions → the instance\'s hooks, group transitions → the group\'s; configure swaps the table', async t => {
  const f = fakeSpawner()
  const q = new HookQueue(f.spawn, () => 0, silent, new Counters())
  const model = {
    routers: [
      { id: 'VI_A/ipv4', instance: 'VI_A', family: 'ipv4' as const, notify: hooks({ master: ['/bin/a-master'] }) },
      { id: 'VI_B/ipv4', instance: 'VI_B', family: 'ipv4' as const, notify: null }
    ],
    syncGroups: [{ name: 'G', notify: hooks({ any: ['/bin/g-any'] }) }]
  }
  const n = new Notifier(model as never, q)
  const tr = (routerId: string, to: 'master' | 'backup') => ({ routerId, from: 'backup' as const, to, reason: 'masterDown' as const, priority: 100, at: 0 })
  n.step({ transitions: [tr('VI_A/ipv4', 'master'), tr('VI_B/ipv4', 'master')], groupTransitions: [{ group: 'G', from: 'backup', to: 'master', reason: 'allWantMaster', member: null, at: 0 }] } as never, Promise.resolve())
  await settle()
  t.same(f.started.map(j => j.argv).sort(), [['/bin/a-master'], ['/bin/g-any', 'GROUP', 'G', 'MASTER', '0']])
  f.finish.forEach(fin => { fin(OK) })
  await n.drain()
  n.configure({ routers: [{ ...model.routers[0], notify: hooks({ master: ['/bin/new-master'] }) }], syncGroups: [] } as never)
  n.step({ transitions: [tr('VI_A/ipv4', 'master')], groupTransitions: [{ group: 'G', from: 'backup', to: 'master', reason: 'allWantMaster', member: null, at: 0 }] } as never, Promise.resolve())
  await settle()
  t.same(f.started.slice(2).map(j => j.argv), [['/bin/new-master']], 'the new hooks; the removed group has none')
  f.finish.forEach(fin => { fin(OK) })
  await n.drain()
})

t.test('hooks start only after the step\'s effects ran in the executor (commit, VIPs)', async t => {
  const order: string[] = []
  const gate = deferred()
  const ex = new Executor({
    ctCommit: async () => { await gate.promise; order.push('commit') },
    vipAdd: async () => { order.push('vipAdd') }
  }, new Counters(), silent, () => 0)
  const q = new HookQueue(async (j) => { order.push(`hook:${j.hook}`); return OK }, () => 0, silent, new Counters())
  const n = new Notifier({ routers: [{ id: 'VI_A/ipv4', instance: 'VI_A', family: 'ipv4', notify: hooks({ master: ['/bin/m'] }) }], syncGroups: [] } as never, q)
  const done = ex.run([{ kind: 'ctCommit', budgetMs: 10 }, { kind: 'vipAdd', routerId: 'VI_A/ipv4', vips: [{ address: '10.0.0.1', prefix: 24, family: 'ipv4' }] }])
  n.step({ transitions: [{ routerId: 'VI_A/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 0 }], groupTransitions: [] } as never, done)
  await settle()
  t.same(order, [], 'the hook waits for the commit')
  gate.resolve()
  await n.drain()
  t.same(order, ['commit', 'vipAdd', 'hook:master'])
})

t.test('processSpawner: argv without a shell, env, exit codes, timeout kill, missing program', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'hafw-notify-unit-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const out = join(dir, 'out')
  const script = join(dir, 'hook.sh')
  writeFileSync(script, `#!/bin/sh\nprintf '%s|' "$@" > ${out}\necho "$HAFW_STATE" >> ${out}\necho oops >&2\nexit "\${EXIT:-0}"\n`)
  chmodSync(script, 0o755)
  const base = { owner: 'INSTANCE A', hook: 'master' as const, timeoutMs: 5000 }
  const ok = await processSpawner({ ...base, argv: [script, '$HOME', 'a b', '*'], env: { HAFW_STATE: 'MASTER' } })
  t.same(ok, { exitCode: 0, signal: null, timedOut: false, stderr: 'oops' })
  t.equal(readFileSync(out, 'utf8'), '$HOME|a b|*|MASTER\n', 'arguments reach the program as they are: no shell expansion')
  const failed = await processSpawner({ ...base, argv: [script], env: { EXIT: '3' } })
  t.equal(failed.exitCode, 3)
  t.equal(resultOf(failed), 'failed')
  const t0 = Date.now()
  const slow = await processSpawner({ ...base, argv: ['/bin/sleep', '30'], env: {}, timeoutMs: 200 })
  t.equal(resultOf(slow), 'timeout')
  t.ok(Date.now() - t0 < 5000, 'killed at its timeout, not after the sleep')
  const chatty = await processSpawner({ ...base, argv: ['/bin/sh', '-c', 'head -c 2000000 /dev/zero | tr "\\0" x >&2; echo last-words >&2'], env: {} })
  t.equal(resultOf(chatty), 'ok', 'a hook writing megabytes on stderr is not killed for it')
  t.ok(chatty.stderr?.endsWith('last-words') === true && (chatty.stderr?.length ?? 0) <= 512, 'only the tail of stderr is kept')
  const missing = await processSpawner({ ...base, argv: [join(dir, 'nope')], env: {} })
  t.equal(resultOf(missing), 'failed')
  t.match(missing.error, /ENOENT|nope/)
})

t.test('on a real Runner: startup BACKUP, takeover MASTER after vipAdd, shutdown STOP after vipDel', async t => {
  const { createNode, nodeDeadline } = await import('../../../src/core/node.js')
  const { Runner } = await import('../../../src/runtime/runner.js')
  const { Transitions } = await import('../../../src/runtime/transitions.js')
  const { routerConfig } = await import('../../helpers/netsim.js')
  const order: string[] = []
  const counters = new Counters()
  const clock = new FakeClock()
  const executor = new Executor({
    sendAdvert: async () => {},
    vipAdd: async () => { order.push('vipAdd') },
    vipDel: async () => { order.push('vipDel') }
  }, counters, silent, () => clock.now())
  const runner = new Runner(createNode([
    routerConfig({ id: 'VI_A/ipv4', ifname: 'eth0', vrid: 51, primaryAddress: '192.0.2.2', priority: 200 })
  ], []), () => clock.now(), executor, silent, counters, new Transitions(silent, counters))
  const q = new HookQueue(async (j) => { order.push(j.argv.join(' ')); return OK }, () => clock.now(), silent, counters)
  const n = new Notifier({ routers: [{ id: 'VI_A/ipv4', instance: 'VI_A', family: 'ipv4', notify: hooks({ master: ['/bin/m'], stop: ['/bin/s'], any: ['/bin/any'] }) }], syncGroups: [] } as never, q)
  runner.onEffectsQueued((r, done) => { n.step(r, done) })
  await runner.dispatch({ kind: 'all', input: { kind: 'startup' } })
  clock.set(nodeDeadline(runner.state) ?? 0)
  await runner.dispatch({ kind: 'timeout' })
  await runner.shutdown()
  await n.drain()
  t.same(order.filter(o => o.startsWith('/bin/')), [
    '/bin/any INSTANCE VI_A BACKUP 200',
    '/bin/m', '/bin/any INSTANCE VI_A MASTER 200',
    '/bin/s', '/bin/any INSTANCE VI_A STOP 200'
  ], 'hooks in transition order, own hook before any')
  const at = (x: string): number => order.indexOf(x)
  t.ok(at('vipAdd') < at('/bin/m'), 'the master hook starts after the VIPs were added')
  t.ok(at('vipDel') < at('/bin/s'), 'the stop hook starts after the VIPs were removed')
  // The shutdown did not wait for the MASTER hooks: VRRP never waits for a hook.
  t.equal(counters.get('notify.ok'), 5)
})
