// The nfct addon (native/nfct) against the real kernel, in a network namespace this test creates:
// the own-port BPF filter drops exactly our own events, and the adapter works inside
// worker_threads Workers (several at once, beside the main thread, and a Worker that exits without
// closing its sockets does not take the process down).
//
// Netlink sockets belong to the network namespace of their process, so the outer run creates the
// namespace and runs this file again inside it (`ip netns exec`); the inner run does the checks.
// No packet is sent: entries are created through ctnetlink.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { skipUnlessRoot } from './helpers.js'
import { sh, nsExec } from '../../src/lab/sh.js'
import { openNetfilterSocket, type NetfilterSocket } from '../../src/io/ctnetlink-socket.js'
import { CONNTRACK_GROUPS, openEventSocket } from '../../src/io/ctnetlink-events.js'
import { openCtnetlink } from '../../src/io/ctnetlink.js'
import { encodeRequest } from '../../src/codec/ctnetlink.js'
import { splitMessages, NlMsgType } from '../../src/codec/netlink.js'
import { tcpFlow } from '../contract/conntrack.contract.js'

const INNER = process.env.HNF_E2E_INNER === '1'
const NS = process.env.HNF_NS ?? `hnf-e2e-${process.pid % 100000}`

async function until (cond: () => boolean, ms = 8000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return true
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function outer (): Promise<void> {
  t.teardown(async () => { await sh('ip', ['netns', 'del', NS], { allowFail: true }) })
  await sh('ip', ['netns', 'add', NS])
  await nsExec(NS, 'ip', ['link', 'set', 'lo', 'up'])
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  Object.assign(env, { HNF_E2E_INNER: '1', HNF_NS: NS })
  await t.spawn('ip', ['netns', 'exec', NS, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url)], { env, timeout: 120_000 }, 'nfct in a namespace')
}

/** Creates `n` from `sock` (ACK on each), resolves when all are acknowledged. */
async function createFrom (sock: NetfilterSocket, first: number, n: number): Promise<void> {
  let acked = 0
  const seq0 = 1000 + first
  const done = until(() => acked >= n)
  sock.onMessage((buf) => {
    for (const m of splitMessages(buf)) if (m.header.type === NlMsgType.ERROR && m.header.seq >= seq0 && m.header.seq < seq0 + n) acked++
  })
  await sock.send(Array.from({ length: n }, (_, i) => encodeRequest({ op: 'create', flow: tcpFlow(first + i, { timeout: 120 }) }, seq0 + i, 0)))
  if (!(await done)) throw new Error(`creates ${first}..${first + n - 1} not acknowledged`)
}

interface Seen { pid: number, type: number }

async function inner (): Promise<void> {
  t.test('own-port BPF filter: drops the events our port caused, keeps the others', async t => {
    // the first netlink socket of a process gets the pid as its port id (small), later ones a
    // random one with the top bit set: the filter is checked with both shapes
    const a = openNetfilterSocket({})
    const b = openNetfilterSocket({})
    const x = openNetfilterSocket({ groups: CONNTRACK_GROUPS })
    t.teardown(() => { a.close(); b.close(); x.close() })
    t.comment(`ports: a ${a.portId}, b ${b.portId}, listener ${x.portId}`)
    const seen: Seen[] = []
    x.onMessage((buf) => { for (const m of splitMessages(buf)) seen.push({ pid: m.header.pid, type: m.header.type }) })
    const from = (s: NetfilterSocket): number => seen.filter(e => e.pid === s.portId).length

    x.dropOwnPort(a.portId)
    await createFrom(a, 1, 20)
    await createFrom(b, 101, 5)
    t.ok(await until(() => from(b) >= 5), 'the other socket\'s 5 NEW events arrive')
    await sleep(200)
    t.equal(from(a), 0, 'none of our 20 (filtered in the kernel)')
    t.equal(x.stats().datagrams, 5, 'only 5 datagrams were queued at all')

    x.dropOwnPort(b.portId)
    await createFrom(a, 21, 3)
    await createFrom(b, 106, 3)
    t.ok(await until(() => from(a) >= 3), 'filter moved to b: a\'s events arrive')
    await sleep(200)
    t.equal(from(b), 5, 'and b\'s new ones do not')

    x.dropOwnPort(0)
    await createFrom(a, 24, 2)
    await createFrom(b, 109, 2)
    t.ok(await until(() => from(a) >= 5 && from(b) >= 7), 'filter removed: both arrive')
    t.ok(seen.every(e => e.pid === a.portId || e.pid === b.portId), 'nothing else in the namespace')
    const flush = openNetfilterSocket({})
    await flush.send([encodeRequest({ op: 'flush' }, 1, 0)])
    await sleep(100)
    flush.close()
  })

  t.test('the NEW group left for a while: no NEW events built for us, the entries still report their end', async t => {
    const a = openNetfilterSocket({})
    const x = openEventSocket({ ownPortId: 0 }, (buf) => {
      for (const m of splitMessages(buf)) seen.push({ pid: m.header.pid, type: m.header.type })
    }, () => { overruns++ })
    const seen: Seen[] = []
    let overruns = 0
    t.teardown(() => { a.close(); x.close() })
    // IPCTNL_MSG_CT_NEW (0x100) carries NEW and UPDATE events, CT_DELETE (0x102) DESTROY
    const news = (): number => seen.filter(e => e.type === 0x100).length
    const destroys = (): number => seen.filter(e => e.type === 0x102).length

    x.listenNew(false)
    t.equal(x.stats().newEvents, false)
    await createFrom(a, 201, 30)
    x.listenNew(true)
    // a marker created after rejoining: netlink delivers in order, so once its NEW event is here,
    // any NEW event of the 30 would have come before it
    await createFrom(a, 301, 1)
    t.ok(await until(() => news() >= 1), 'the marker\'s NEW event arrives once the group is joined again')
    t.equal(news(), 1, 'none for the 30 created while out of the group')

    const flush = openNetfilterSocket({})
    await flush.send([encodeRequest({ op: 'flush' }, 1, 0)])
    t.ok(await until(() => destroys() >= 31), `all 31 report their end (DESTROY events: ${destroys()})`)
    flush.close()
    t.equal(overruns, 0)
  })

  t.test('close is idempotent; a closed socket refuses to send', async t => {
    const s = openNetfilterSocket({})
    s.close()
    s.close()
    await t.rejects(s.send([encodeRequest({ op: 'flush' }, 1, 0)]), { code: 'CTNL_CLOSED' })
    t.same(s.stats(), { datagrams: 0, batches: 0, bytes: 0, enobufs: 0, errors: 0, truncated: 0, foreign: 0 })
  })

  t.test('the adapter in worker_threads Workers: open, dump, events, close', async t => {
    const main = await openCtnetlink({ events: false })
    t.teardown(async () => { await main.flush(); await main.close() })
    await main.flush()
    const preset = [tcpFlow(1), tcpFlow(2), tcpFlow(3)]
    t.same(await main.apply(preset.map(flow => ({ op: 'create' as const, flow }))), [{ ok: true }, { ok: true }, { ok: true }], 'main thread creates 3')

    const workerUrl = new URL('../helpers/nfct-worker.mjs', import.meta.url)
    interface Msg { kind: string, [k: string]: unknown }
    const start = (leaveOpen: boolean): { w: Worker, msgs: Msg[], exited: Promise<number> } => {
      const w = new Worker(workerUrl, { workerData: { leaveOpen } })
      const msgs: Msg[] = []
      w.on('message', (m: Msg) => { msgs.push(m) })
      w.on('error', (err) => { msgs.push({ kind: 'error', message: String(err) }) })
      const exited = new Promise<number>(resolve => { w.on('exit', resolve) })
      return { w, msgs, exited }
    }
    // two Workers at once, each with its own instance of the addon and its own loop
    const w1 = start(false)
    const w2 = start(true)
    for (const [name, w] of [['worker 1', w1], ['worker 2', w2]] as const) {
      t.ok(await until(() => w.msgs.some(m => m.kind === 'open' || m.kind === 'error'), 20_000), `${name} opened the adapter`)
      const open = w.msgs.find(m => m.kind === 'open')
      t.ok(open !== undefined, `${name}: ${JSON.stringify(w.msgs[0])}`)
      t.ok(Number(open?.rcvbuf) > 0, `${name} event socket rcvbuf ${String(open?.rcvbuf)}`)
      w.w.postMessage({ kind: 'dump' })
      t.ok(await until(() => w.msgs.some(m => m.kind === 'dump')), `${name} dumped`)
      t.equal(w.msgs.find(m => m.kind === 'dump')?.count, 3, `${name} dump holds the 3 entries`)
    }
    // an entry from the main thread reaches both workers' event sockets
    const ext = tcpFlow(4242)
    t.same(await main.apply([{ op: 'create', flow: ext }]), [{ ok: true }])
    for (const [name, w] of [['worker 1', w1], ['worker 2', w2]] as const) {
      t.ok(await until(() => w.msgs.some(m => m.kind === 'event' && m.event === 'new' && m.src === ext.orig.src)), `${name} got the NEW event`)
    }
    w1.w.postMessage({ kind: 'stop' })
    w2.w.postMessage({ kind: 'stop' })
    t.equal(await w1.exited, 0, 'worker 1 (closed its sockets) exits cleanly')
    t.equal(await w2.exited, 0, 'worker 2 (left its sockets open) exits cleanly: teardown closed them')
    t.notOk([...w1.msgs, ...w2.msgs].some(m => m.kind === 'error'), 'no worker error')
    // the main thread's adapter still works after the workers are gone
    t.equal((await main.dump()).length, 4, 'main thread dump after the workers exited')
  })
}

const skip = skipUnlessRoot()
if (skip !== false) {
  t.plan(0, skip)
} else if (INNER) {
  await inner()
} else {
  await outer()
}
