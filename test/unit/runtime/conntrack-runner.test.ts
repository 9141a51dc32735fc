// The runner over the conntrack engine (src/runtime/conntrack.ts): its one timer answers a ctCommit at
// the budget while the commit goes on in the background, and close() fails what still waits.
import t from 'tap'
import pino from 'pino'
import { FakeConntrack } from '../../helpers/fake-conntrack.js'
import { model, oneInstance } from '../config/helpers.js'
import { ConntrackRuntime } from '../../../src/runtime/conntrack.js'
import type { ApplyResult, CtMutation } from '../../../src/io/conntrack-port.js'
import type { SyncTransport } from '../../../src/io/ports.js'
import type { ConntrackModel } from '../../../src/config/normalize.js'
import { Counters } from '../../../src/runtime/stats.js'
import { createEngine, engineDeadline, stepEngine } from '../../../src/core/conntrack/engine.js'
import { engineConfig } from '../../../src/runtime/conntrack.js'
import { benchFlow } from '../../../src/bench/synthetic.js'

const silent = pino({ level: 'silent' })

function ctModel (): ConntrackModel {
  const m = model(oneInstance() + 'conntrack:\n  sync: { transport: udp, interface: eth2, udp: { address: 192.168.100.2, peer: 192.168.100.1 } }\n  startupResyncTimeout: 0s\n').conntrack
  if (m === null) throw new Error('no conntrack section')
  return m
}

/** A kernel port whose applies wait until released. */
class SlowKernel extends FakeConntrack {
  readonly held: Array<() => void> = []
  override async apply (requests: readonly CtMutation[]): Promise<ApplyResult[]> {
    await new Promise<void>(resolve => { this.held.push(resolve) })
    return await super.apply(requests)
  }
}

/** A runtime whose peer is a pure engine that replicated `n` flows to it. */
async function node (n: number): Promise<{ rt: ConntrackRuntime, kernel: SlowKernel, counters: Counters }> {
  let deliver: ((d: Buffer, from: string) => void) | null = null
  const sync: SyncTransport = { send: async () => {}, onDatagram: (h) => { deliver = h }, close: async () => {} }
  const kernel = new SlowKernel()
  const counters = new Counters()
  const m = ctModel()
  const rt = new ConntrackRuntime({ model: m, ct: kernel, sync, clock: () => performance.now(), log: silent, counters, unixSeconds: 1_700_000_000, localAddresses: [], setDemotion: () => {}, onBulkTransition: () => {} })
  await rt.start()
  const peer = createEngine(engineConfig(m, 1_600_000_000), [], 0)
  for (let i = 0; i < n; i++) stepEngine(peer, { kind: 'kernelEvent', event: 'new', flow: benchFlow(i) }, 0)
  const r = stepEngine(peer, { kind: 'timeout' }, engineDeadline(peer) ?? 0)
  for (const e of r.effects) if (e.kind === 'send') deliver!(e.datagram, '192.168.100.1')
  return { rt, kernel, counters }
}

t.test('ctCommit answers at its budget; the commit continues and finishes', async t => {
  const { rt, kernel, counters } = await node(4500)
  t.equal(rt.status().external.active, 4500)
  await rt.handlers().ctCommit?.({ kind: 'ctCommit', budgetMs: 5 })
  t.equal(counters.get('ct.commit.overBudget'), 1, 'answered by the budget deadline')
  t.equal(rt.status().commit?.running, true, 'still running')
  while (rt.status().commit?.running === true) {
    kernel.held.shift()?.()
    await new Promise(resolve => setImmediate(resolve))
  }
  t.equal(counters.get('ct.commit.done'), 1)
  t.equal(kernel.table.size, 4500, 'every entry committed, in three batches')
  t.equal(kernel.applied.length, 3)
  t.match(rt.status().lastCommit, { entries: 4500, ok: 4500, withinBudget: false })
  await rt.close()
})

t.test('a takeover commit leaves the NEW event group and joins it again before it answers', async t => {
  const { rt, kernel, counters } = await node(10)
  const done = rt.handlers().ctCommit?.({ kind: 'ctCommit', budgetMs: 60_000, takeover: true }) as Promise<void>
  await new Promise(resolve => setImmediate(resolve))
  t.same(kernel.listenNewCalls, [false], 'out of the group while the batch is in flight')
  kernel.held.shift()?.()
  await done
  t.same(kernel.listenNewCalls, [false, true], 'back in the group when the commit is answered')
  t.equal(kernel.table.size, 10)
  t.equal(counters.get('ct.events.rejoinFailed'), 0)
  await rt.close()
})

t.test('a refused leave: the commit goes on in the group, nothing to join again', async t => {
  const { rt, kernel, counters } = await node(3)
  kernel.failListenNew.push('EPERM')
  const done = rt.handlers().ctCommit?.({ kind: 'ctCommit', budgetMs: 60_000, takeover: true }) as Promise<void>
  await new Promise(resolve => setImmediate(resolve))
  t.equal(counters.get('ct.events.leaveFailed'), 1)
  kernel.held.shift()?.()
  await done
  t.equal(kernel.table.size, 3, 'the commit itself is not affected')
  t.same(kernel.listenNewCalls, [false], 'still in the group: the rejoin changes nothing')
  t.equal(counters.get('ct.events.rejoinFailed'), 0)
  t.equal(kernel.newEvents, true)
  await rt.close()
})

t.test('a refused rejoin is retried at every later step; once back in, a resync from the kernel', async t => {
  const { rt, kernel, counters } = await node(3)
  const done = rt.handlers().ctCommit?.({ kind: 'ctCommit', budgetMs: 60_000, takeover: true }) as Promise<void>
  await new Promise(resolve => setImmediate(resolve))
  kernel.failListenNew.push('ENOMEM', 'ENOMEM')
  kernel.held.shift()?.()
  await done
  t.equal(counters.get('ct.events.rejoinFailed'), 1)
  t.equal(kernel.newEvents, false, 'still out of the group')
  // a connection created now raises no NEW event: the internal cache misses it for the moment
  kernel.kernel.create(benchFlow(999))
  t.equal(rt.status().internal.active, 0)
  // any later step retries: here the next command (the plan's flush), refused once more, then one that works
  await rt.handlers().ctFlush?.({ kind: 'ctFlush', caches: 'internal' })
  t.equal(counters.get('ct.events.rejoinFailed'), 2)
  await rt.handlers().ctShortenTimers?.({ kind: 'ctShortenTimers', purgeTimeoutS: 3600 })
  t.equal(kernel.newEvents, true, 'in the group again')
  t.same(kernel.listenNewCalls, [false, true, true, true])
  // the resync the rejoin asked for: the kernel's 4 entries (3 committed, 1 missed) reach the cache
  for (let i = 0; i < 50 && rt.status().internal.active < 4; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(rt.status().internal.active, 4, 'resynced from the kernel, the missed connection included')
  await rt.close()
})

t.test('close fails a command that still waits and stops after the batch in flight', async t => {
  const { rt, kernel } = await node(10)
  const waiting = rt.handlers().ctCommit?.({ kind: 'ctCommit', budgetMs: 60_000 }) as Promise<void>
  await rt.handlers().ctShortenTimers?.({ kind: 'ctShortenTimers', purgeTimeoutS: 60 })
  const closing = rt.close()
  await t.rejects(waiting, { message: /closed/ })
  kernel.held.shift()?.()
  await closing
  t.equal(kernel.applied.length, 1, 'no batch after close')
  await t.rejects(rt.handlers().ctFlush?.({ kind: 'ctFlush', caches: 'both' }) as Promise<void>, { message: /closed/ })
})

t.test('the runtime passes the datagram source to the engine: only udp.peer is heard', async t => {
  let deliver: ((d: Buffer, from: string) => void) | null = null
  const sync: SyncTransport = { send: async () => {}, onDatagram: (h) => { deliver = h }, close: async () => {} }
  const counters = new Counters()
  const m = ctModel()
  const peers: string[] = []
  const rt = new ConntrackRuntime({ model: m, ct: new FakeConntrack(), sync, clock: () => performance.now(), log: silent, counters, unixSeconds: 1_700_000_000, localAddresses: [], setDemotion: () => {}, onBulkTransition: () => {}, onPeerTransition: (p) => { peers.push(`${p.from}->${p.to}`) } })
  t.teardown(async () => { await rt.close() })
  await rt.start()
  const peer = createEngine(engineConfig(m, 1_600_000_000), [], 0)
  stepEngine(peer, { kind: 'kernelEvent', event: 'new', flow: benchFlow(1) }, 0)
  const datagrams = stepEngine(peer, { kind: 'timeout' }, 0).effects.flatMap(e => e.kind === 'send' ? [e.datagram] : [])
  for (const d of datagrams) deliver!(d, '192.168.100.9')
  t.equal(counters.get('sync.rx.drop.syncSourceNotPeer'), datagrams.length)
  t.equal(rt.status().external.active, 0)
  t.same(peers, [])
  for (const d of datagrams) deliver!(d, '192.168.100.1')
  t.equal(rt.status().external.active, 1)
  t.same(peers, ['unknown->heard'])
  t.equal(rt.status().liveness.state, 'heard')
})
