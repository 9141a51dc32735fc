// The conntrack worker protocol (src/runtime/conntrack-{protocol,service,client}.ts) over a real
// MessageChannel — every message crosses the structured-clone boundary it crosses between the
// threads — with the fake kernel table and an in-memory sync link between two nodes:
// open/start, kernel events replicated to the peer's external cache, commit into the peer's
// kernel, dumps, counters shown on the main side, the startup demotion, refusals and a dead worker.
import t from 'tap'
import type { Test } from 'tap'
import pino from 'pino'
import { MessageChannel } from 'node:worker_threads'
import type { MessagePort } from 'node:worker_threads'
import { FakeConntrack } from '../../helpers/fake-conntrack.js'
import { model, oneInstance } from '../config/helpers.js'
import { serveConntrack } from '../../../src/runtime/conntrack-service.js'
import { ConntrackClient, WorkerError } from '../../../src/runtime/conntrack-client.js'
import type { FromWorker, Port, ToWorker } from '../../../src/runtime/conntrack-protocol.js'
import type { SyncTransport } from '../../../src/io/ports.js'
import type { ConntrackModel } from '../../../src/config/normalize.js'
import { Counters } from '../../../src/runtime/stats.js'
import { benchFlow } from '../../../src/bench/synthetic.js'
import type { EngineConfig } from '../../../src/core/conntrack/engine.js'

const silent = pino({ level: 'silent' })

function ctModel (address: string, peer: string, startupResync = '0s'): ConntrackModel {
  const text = oneInstance() + 'conntrack:\n' +
    `  sync: { transport: udp, interface: eth2, udp: { address: ${address}, peer: ${peer} } }\n` +
    `  startupResyncTimeout: ${startupResync}\n`
  const m = model(text).conntrack
  if (m === null) throw new Error('no conntrack section')
  return m
}

/** Two sync transports joined back to back (what one node sends, the other receives). */
function syncPair (): [SyncTransport, SyncTransport] {
  const handlers: Array<Array<(d: Buffer, from: string) => void>> = [[], []]
  const end = (me: number, other: number, from: string): SyncTransport => ({
    send: async (d) => { const copy = Buffer.from(d); setImmediate(() => { for (const h of handlers[other] ?? []) h(copy, from) }) },
    onDatagram: (h) => { handlers[me]?.push(h) },
    close: async () => {}
  })
  return [end(0, 1, '192.168.100.1'), end(1, 0, '192.168.100.2')]
}

interface Node {
  readonly client: ConntrackClient
  readonly kernel: FakeConntrack
  readonly counters: Counters
  readonly demotions: number[]
  readonly ports: [MessagePort, MessagePort]
}

function node (t: Test, sync: SyncTransport, opts: { failOpen?: string, warmUp?: (cfg: EngineConfig) => Record<string, number>, opened?: () => void, settleHeap?: () => boolean, settleAfterMs?: number } = {}): Node {
  const kernel = new FakeConntrack()
  const { port1, port2 } = new MessageChannel()
  serveConntrack(port2 as unknown as Port<ToWorker, FromWorker>, {
    open: async () => {
      opts.opened?.()
      if (opts.failOpen !== undefined) throw new Error(opts.failOpen)
      return { ct: kernel, sync }
    },
    clock: () => performance.now(),
    unixSeconds: () => 1_700_000_000,
    logger: () => silent,
    ...(opts.warmUp === undefined ? {} : { warmUp: opts.warmUp }),
    ...(opts.settleHeap === undefined ? {} : { settleHeap: opts.settleHeap }),
    ...(opts.settleAfterMs === undefined ? {} : { settleAfterMs: opts.settleAfterMs })
  })
  const counters = new Counters()
  const demotions: number[] = []
  const client = new ConntrackClient(port1 as unknown as Port<FromWorker, ToWorker>, { counters, log: silent, onDemotion: (o) => { demotions.push(o) } })
  // Close the runtime (its FTFW timers) even when an assertion failed half-way.
  t.teardown(async () => { await client.close().catch(() => undefined); port1.close(); port2.close() })
  return { client, kernel, counters, demotions, ports: [port1, port2] }
}

/** Wait for a condition the other side reaches by messages (no protocol timer involved). */
async function until (what: string, cond: () => Promise<boolean> | boolean, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return
    await new Promise(resolve => setImmediate(resolve))
  }
  throw new Error(`never happened: ${what}`)
}

t.test('kernel events on A reach B through the worker protocol; commit puts them in B\'s kernel', async t => {
  const [sa, sb] = syncPair()
  const a = node(t, sa)
  const b = node(t, sb)
  a.kernel.kernel.create(benchFlow(0))
  await a.client.open(ctModel('192.168.100.1', '192.168.100.2'), [], 'silent')
  await b.client.open(ctModel('192.168.100.2', '192.168.100.1'), [], 'silent')
  t.equal(a.client.status().internal.active, 0, 'a snapshot is there as soon as open answered')
  await a.client.start()
  await b.client.start()
  t.equal(a.client.status().internal.active, 1, 'start read the kernel table into the internal cache')
  for (let i = 1; i <= 50; i++) a.kernel.kernel.create(benchFlow(i))
  // 50 by events, and the one A held at start by the bulk that answers B's resync request
  // (B asks when it hears A's HELLO: its peer (re)started).
  await until('51 entries in B\'s external cache', async () => (await b.client.dump('external')).length === 51)
  const rows = await b.client.dump('external')
  t.match(rows[0], { key: String, flow: { family: 'ipv4', orig: { dport: 443 } } }, 'dump rows cross the channel as plain data')
  t.equal(b.client.status().external.active, 51, 'the snapshot pushed before the reply is fresh')
  t.equal(a.counters.toJSON()['ct.resync.kernel'], 1, 'the worker\'s counters show on the main side')

  const h = b.client.handlers()
  await h.ctCommit?.({ kind: 'ctCommit', budgetMs: 5000 })
  t.equal(b.kernel.table.size, 51, 'commit created every entry in B\'s kernel')
  t.match(b.client.status().lastCommit, { entries: 51, ok: 51, failed: 0 })
  t.equal(b.counters.get('ct.commit.done'), 1, 'Counters.get sees the worker\'s counter')

  a.kernel.kernel.delete({ family: 'ipv4', orig: benchFlow(3).orig })
  await until('the delete left A\'s internal cache', async () => (await a.client.dump('internal')).length === 50)
  await until('the delete reached B', async () => (await b.client.dump('external')).length === 50)
  await h.ctFlush?.({ kind: 'ctFlush', caches: 'external' })
  t.equal(b.client.status().external.active, 0, 'flushed')
  await a.client.close()
  await b.client.close()
})

t.test('the warm-up runs before the ports open, with the engine config; a failing one does not stop the start', async t => {
  const [sa, sb] = syncPair()
  const order: string[] = []
  let seen: EngineConfig | null = null
  const a = node(t, sa, { warmUp: (cfg) => { order.push('warmUp'); seen = cfg; return { events: 1 } }, opened: () => { order.push('open') } })
  await a.client.open(ctModel('192.168.100.1', '192.168.100.2'), [], 'silent')
  t.same(order, ['warmUp', 'open'])
  t.match(seen, { initialSeq: 1_700_000_000, syncSource: { kind: 'unicast', peer: '192.168.100.2' } }, 'the node\'s engine config')
  await a.client.close()
  const b = node(t, sb, { warmUp: () => { throw new Error('boom') } })
  await b.client.open(ctModel('192.168.100.2', '192.168.100.1'), [], 'silent')
  await b.client.start()
  t.equal(b.client.status().internal.active, 0, 'opened and started anyway')
  await b.client.close()
})

t.test('the startup resync demotes VRRP through a message before start answers', async t => {
  const [sa] = syncPair()
  const a = node(t, sa)
  await a.client.open(ctModel('192.168.100.1', '192.168.100.2', '5s'), [], 'silent')
  await a.client.start()
  t.ok(a.demotions.length >= 1 && (a.demotions[0] ?? 0) < 0, `demoted before start answered (${a.demotions.join(',')})`)
  t.equal(a.client.status().bulk, 'requested')
  await a.client.close()
})

t.test('refusals and a dead worker are errors with the reason, never hangs', async t => {
  const [sa] = syncPair()
  const bad = node(t, sa, { failOpen: 'conntrack.sync: cannot open the sync channel: EADDRNOTAVAIL' })
  await t.rejects(bad.client.open(ctModel('192.168.100.1', '192.168.100.2'), [], 'silent'), { name: 'WorkerError', message: /conntrack.sync: cannot open the sync channel: EADDRNOTAVAIL/ })
  const early = node(t, sa)
  await t.rejects(early.client.handlers().ctFlush?.({ kind: 'ctFlush', caches: 'both' }) as Promise<void>, { message: /not open/ })
  t.throws(() => new ConntrackClient(early.ports[0] as unknown as Port<FromWorker, ToWorker>, { counters: new Counters(), log: silent, onDemotion: () => {} }).status(), WorkerError)
  const dead = node(t, sa)
  await dead.client.open(ctModel('192.168.100.1', '192.168.100.2'), [], 'silent')
  dead.ports[1].close() // the worker side goes away: nothing will answer
  const waiting = dead.client.dump('internal')
  dead.client.fail('the conntrack worker exited (code 1)')
  await t.rejects(waiting, { message: /exited \(code 1\)/ })
  await t.rejects(dead.client.start(), { message: /exited \(code 1\)/ })
})

t.test('the main side bounds a commit by its budget even when the worker does not answer', async t => {
  const { port1 } = new MessageChannel() // nobody serves the other end
  t.teardown(() => { port1.close() })
  const counters = new Counters()
  const client = new ConntrackClient(port1 as unknown as Port<FromWorker, ToWorker>, { counters, log: silent, onDemotion: () => {} })
  await client.handlers().ctCommit?.({ kind: 'ctCommit', budgetMs: 1 })
  t.equal(counters.get('ct.commit.budgetOnMain'), 1, 'the VIPs were released by the budget')
})

t.test('a client re-attached to a new worker after a failure serves again, with the addresses it was told', async t => {
  const [sa] = syncPair()
  const a = node(t, sa)
  await a.client.open(ctModel('192.168.100.1', '192.168.100.2'), [], 'silent')
  a.client.setLocalAddresses([{ address: '192.0.2.9', prefix: 32, family: 'ipv4' }])
  await a.client.close() // the dead worker's runtime stops (a real one is terminated with its thread)
  a.client.fail('the conntrack worker exited (code 1)')
  await t.rejects(a.client.start(), /exited/)
  // A second service on a fresh channel stands for the restarted worker.
  const kernel = new FakeConntrack()
  kernel.kernel.create(benchFlow(7))
  const { port1, port2 } = new MessageChannel()
  serveConntrack(port2 as unknown as Port<ToWorker, FromWorker>, { open: async () => ({ ct: kernel, sync: sa }), clock: () => performance.now(), unixSeconds: () => 1_700_000_000, logger: () => silent })
  a.client.attach(port1 as unknown as Port<FromWorker, ToWorker>)
  t.same(a.client.addresses, [{ address: '192.0.2.9', prefix: 32, family: 'ipv4' }], 'the addresses survive for the new worker')
  await a.client.open(ctModel('192.168.100.1', '192.168.100.2'), a.client.addresses, 'silent')
  await a.client.start()
  t.equal(a.client.status().internal.active, 1, 'the new worker resynced from the kernel table')
  await a.client.close()
  a.client.fail('test over') // the node's teardown must not wait on this channel
  port1.close()
  port2.close()
})

t.test('the worker collects its heap once after the start, not before it', async t => {
  const [sa] = syncPair()
  let settled = 0
  const a = node(t, sa, { settleHeap: () => { settled++; return true }, settleAfterMs: 0 })
  await a.client.open(ctModel('192.168.100.1', '192.168.100.2'), [], 'silent')
  t.equal(settled, 0, 'not at open')
  await a.client.start()
  await until('the collection after the start', () => settled === 1)
  for (let i = 0; i < 50; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal(settled, 1, 'once')
})
