// Control server + client over a real unix socket in a temp dir, with a fake status source:
// round trips, pushed events, bad input answered with errors while the server keeps serving,
// socket mode, stale socket handling, TCP with a token, clean close.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, statSync, writeFileSync, existsSync, chmodSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import WebSocket from 'ws'
import { ControlClient, ControlClientError } from '../../../src/control/client.js'
import { MAX_REQUEST_BYTES } from '../../../src/control/protocol.js'
import { parseServerMessage } from '../../../src/control/server-messages.js'
import type { ControlEvent, ServerMessage } from '../../../src/control/protocol.js'
import { ControlServerError, HARD_MAX_PAYLOAD, startControlServer } from '../../../src/control/server.js'
import type { ControlTimers } from '../../../src/control/server.js'
import { FakeSource, allMaster, statusFrom } from './fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'hafw-ctl-'))
let n = 0
const sockPath = (): string => join(dir, `s${n++}`, 'hafwd.sock')

const { node, now } = allMaster()
const status = statusFrom(node, now)

/** A socket file nobody listens on: its listener was SIGKILLed (node removes the file on a clean close). */
function staleSocket (path: string): void {
  mkdirSync(dirname(path), { recursive: true })
  spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`])
}

/** A raw ws connection to send arbitrary frames; replies collected in order. */
async function raw (path: string): Promise<{ ws: WebSocket, next: () => Promise<ServerMessage>, closed: Promise<number> }> {
  const ws = new WebSocket(`ws+unix:${path}:/`)
  const queue: ServerMessage[] = []
  const waiters: Array<(m: ServerMessage) => void> = []
  ws.on('message', d => {
    const p = parseServerMessage(d.toString())
    if (!p.ok) throw new Error(p.message)
    const w = waiters.shift()
    if (w !== undefined) w(p.message); else queue.push(p.message)
  })
  const closed = new Promise<number>(resolve => ws.on('close', code => { resolve(code) }))
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return { ws, closed, next: async () => queue.shift() ?? await new Promise(resolve => waiters.push(resolve)) }
}

t.test('status and counters round trip over the unix socket', async t => {
  const source = new FakeSource(status)
  const path = sockPath()
  const server = await startControlServer({ socket: path, source })
  t.teardown(server.close)
  const c = await ControlClient.connect({ socket: path })
  t.teardown(c.close.bind(c))
  const s = await c.status()
  t.same(s, JSON.parse(JSON.stringify(status)), 'the snapshot arrives intact')
  t.same(s.routers.map(r => r.state), ['master', 'master', 'master'])
  t.same(await c.counters(), { 'rx.frames': 10 })
  // Concurrent requests are matched by id.
  const [a, b] = await Promise.all([c.status(), c.counters()])
  t.equal(a.node, 'fw1')
  t.same(b, { 'rx.frames': 10 })
})

t.test('the socket is mode 0600, its new parent directory 0755', async t => {
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status) })
  t.teardown(server.close)
  const st = statSync(path)
  t.ok(st.isSocket())
  t.equal(st.mode & 0o777, 0o600)
  t.equal(statSync(join(path, '..')).mode & 0o777, 0o755)
  if (process.getuid?.() === 0) t.equal(st.uid, 0, 'owned by root when run as root')
  await server.close()
  t.notOk(existsSync(path), 'close() removes the socket file')
})

t.test('subscribe: pushed events, until unsubscribe; not sent to others', async t => {
  const source = new FakeSource(status)
  const path = sockPath()
  const server = await startControlServer({ socket: path, source })
  t.teardown(server.close)
  const c = await ControlClient.connect({ socket: path })
  const other = await ControlClient.connect({ socket: path })
  t.teardown(async () => { await c.close(); await other.close() })
  const seen: ControlEvent[] = []
  const notSeen: ControlEvent[] = []
  await c.subscribe(e => { seen.push(e) })
  other.onClose(() => {})
  const ev: ControlEvent = { kind: 'transition', routerId: 'VI_IN/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 3609, time: '2025-01-01T00:00:01.000Z' }
  const gev: ControlEvent = { kind: 'groupTransition', group: 'G_FW', from: 'backup', to: 'master', reason: 'allWantMaster', member: null, at: 3609, time: '2025-01-01T00:00:01.000Z' }
  source.emit(ev)
  source.emit(gev)
  await c.counters() // a round trip after the events: they were sent before the reply
  t.same(seen, [ev, gev])
  t.same(notSeen, [])
  const r = await c.request('unsubscribe')
  t.equal(r.type, 'unsubscribed')
  source.emit(ev)
  await c.counters()
  t.equal(seen.length, 2, 'no event after unsubscribe')
})

t.test('bad input gets error replies and the connection keeps serving', async t => {
  const source = new FakeSource(status)
  const path = sockPath()
  const server = await startControlServer({ socket: path, source })
  t.teardown(server.close)
  const { ws, next } = await raw(path)
  t.teardown(() => { ws.terminate() })
  const cases: Array<[string | Buffer, string, string | number | null]> = [
    ['not json', 'badJson', null],
    ['[1,2]', 'badMessage', null],
    ['{"type":"status","id":7}', 'badVersion', 7],
    ['{"v":2,"type":"status","id":"x"}', 'badVersion', 'x'],
    ['{"v":1,"id":3}', 'badMessage', 3],
    ['{"v":1,"id":4,"type":"frobnicate"}', 'unknownType', 4],
    ['{"v":1,"id":5,"type":"reload"}', 'notAvailable', 5],
    ['{"v":1,"id":6,"type":"status","extra":1}', 'badMessage', 6],
    ['{"v":1,"id":-1,"type":"status"}', 'badMessage', null],
    [Buffer.from([1, 2, 3]), 'badJson', null],
    [`{"v":1,"type":"status","pad":"${'x'.repeat(MAX_REQUEST_BYTES)}"}`, 'tooLarge', null]
  ]
  for (const [input, code, id] of cases) {
    ws.send(input, { binary: Buffer.isBuffer(input) })
    const m = await next()
    t.match(m, { type: 'error', code, id }, `${String(input).slice(0, 40)} → ${code}`)
  }
  t.equal(source.calls, 0, 'no bad request reached the status source')
  ws.send('{"v":1,"id":99,"type":"status"}')
  t.match(await next(), { type: 'status', id: 99, status: { node: 'fw1' } }, 'still serving after the bad input')
})

t.test('a frame above the hard limit closes that connection only (1009)', async t => {
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status) })
  t.teardown(server.close)
  const { ws, closed } = await raw(path)
  ws.send('x'.repeat(HARD_MAX_PAYLOAD + 1))
  t.equal(await closed, 1009)
  const c = await ControlClient.connect({ socket: path })
  t.equal((await c.status()).node, 'fw1', 'the server still serves new clients')
  await c.close()
})

t.test('a throwing status source gives an internal error, not a crash', async t => {
  const source = new FakeSource(status, true)
  const path = sockPath()
  const server = await startControlServer({ socket: path, source })
  t.teardown(server.close)
  const c = await ControlClient.connect({ socket: path })
  t.teardown(c.close.bind(c))
  const err = await c.status().catch((e: unknown) => e)
  t.ok(err instanceof ControlClientError)
  t.match(err, { code: 'server', serverCode: 'internal', message: /snapshot exploded/ })
  source.fail = false
  t.equal((await c.status()).node, 'fw1')
})

t.test('stale socket is replaced; a served one or a non-socket is refused', async t => {
  const path = sockPath()
  const first = await startControlServer({ socket: path, source: new FakeSource(status) })
  await t.rejects(startControlServer({ socket: path, source: new FakeSource(status) }), { name: 'ControlServerError', message: /already running/ })
  t.ok(existsSync(path), 'the running server keeps its socket')
  await first.close()

  // A stale socket: a listener that went away without removing its file.
  staleSocket(path)
  t.ok(existsSync(path), 'stale socket file present')
  const again = await startControlServer({ socket: path, source: new FakeSource(status) })
  const c = await ControlClient.connect({ socket: path })
  t.equal((await c.status()).node, 'fw1', 'serving on the replaced socket')
  await c.close()
  await again.close()

  const file = join(dir, 'plain-file')
  writeFileSync(file, 'x')
  await t.rejects(startControlServer({ socket: file, source: new FakeSource(status) }), ControlServerError)
  t.ok(existsSync(file), 'a regular file is never removed')
})

t.test('client errors: missing socket, nobody listening, permission', async t => {
  const missing = join(dir, 'nope', 'hafwd.sock')
  await t.rejects(ControlClient.connect({ socket: missing }), { code: 'notRunning', message: `hafwd is not running (no control socket at ${missing})` })
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status) })
  await server.close()
  staleSocket(path)
  await t.rejects(ControlClient.connect({ socket: path }), { code: 'refused', message: /hafwd is not running/ })
  const p2 = sockPath()
  const s2 = await startControlServer({ socket: p2, source: new FakeSource(status) })
  t.teardown(s2.close)
  chmodSync(p2, 0o000)
  if (process.getuid?.() !== 0) {
    await t.rejects(ControlClient.connect({ socket: p2 }), { code: 'permission', message: `permission denied on ${p2} (run as root)` })
    return
  }
  // Root bypasses the socket's mode: connect from a child that dropped to nobody, with the built
  // client (npm test builds dist/ first). The directories must let nobody reach the socket file.
  chmodSync(dir, 0o755)
  chmodSync(dirname(p2), 0o755)
  const client = new URL('../../../dist/control/client.js', import.meta.url).href
  const code = `import(${JSON.stringify(client)}).then(m => m.ControlClient.connect({ socket: ${JSON.stringify(p2)} })).then(() => console.log(JSON.stringify({ code: 'connected' })), e => console.log(JSON.stringify({ code: e.code, message: e.message })))`
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 20_000 })
  const out = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { code?: string, message?: string }
  if (out.code === 'ERR_MODULE_NOT_FOUND' || out.code === 'EACCES') {
    t.ok(true, 'permission refusal', { skip: `as root: the unprivileged child cannot load dist/control/client.js (${out.code}); run npm run build, or as non-root` })
    return
  }
  t.same(out, { code: 'permission', message: `permission denied on ${p2} (run as root)` }, 'a non-root client (uid 65534) is refused with the permission code')
})

t.test('loopback TCP with a bearer token', async t => {
  const token = 'a-token-of-some-length'
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status), tcp: { listen: { host: '127.0.0.1', port: 0, family: 'ipv4' }, token } })
  t.teardown(server.close)
  const port = server.tcpAddress?.port as number
  t.ok(port > 0)
  const url = `ws://127.0.0.1:${port}/`
  const c = await ControlClient.connect({ url, token })
  t.equal((await c.status()).node, 'fw1', 'Authorization: Bearer accepted')
  await c.close()
  const q = await ControlClient.connect({ url: `${url}?token=${token}` })
  t.equal((await q.status()).node, 'fw1', '?token= accepted')
  await q.close()
  await t.rejects(ControlClient.connect({ url, token: 'wrong-token-wrong-token' }), { code: 'server', message: /401/ })
  await t.rejects(ControlClient.connect({ url }), { code: 'server', message: /401/ })
  await t.rejects(startControlServer({ socket: sockPath(), source: new FakeSource(status), tcp: { listen: { host: '192.0.2.1', port: 9780, family: 'ipv4' }, token } }), { message: /not a loopback address/ })
})

t.test('close(): clients see 1001, pending requests fail, listeners removed', async t => {
  const source = new FakeSource(status)
  const path = sockPath()
  const server = await startControlServer({ socket: path, source })
  const c = await ControlClient.connect({ socket: path })
  await c.subscribe(() => {})
  t.equal(server.clientCount(), 1)
  const closed = new Promise<ControlClientError>(resolve => { c.onClose(resolve) })
  await server.close()
  t.match(await closed, { code: 'closed', message: /1001/ })
  t.equal(source.listenerCount(), 0, 'the server stopped listening to events')
  await t.rejects(c.status(), { code: 'closed' })
})

t.test('a subscriber over its send-buffer budget is disconnected (1008 tooSlow), others keep theirs', async t => {
  const source = new FakeSource(status)
  const path = sockPath()
  // A budget below zero makes every subscriber "too slow" at the first event: the path a stuck
  // `--watch` takes once its unread events pass the real budget.
  const server = await startControlServer({ socket: path, source, maxBufferedBytes: -1 })
  t.teardown(server.close)
  const c = await ControlClient.connect({ socket: path })
  const other = await ControlClient.connect({ socket: path })
  await c.subscribe(() => {})
  const closed = new Promise<ControlClientError>(resolve => { c.onClose(resolve) })
  source.emit({ kind: 'transition', routerId: 'VI_IN/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 1, time: 't' })
  t.match(await closed, { message: 'hafwd closed the connection (1008 tooSlow)' })
  t.equal((await other.status()).node, 'fw1', 'a client that did not subscribe is untouched')
  await other.close()
})

t.test('a server full of watchers refuses at the upgrade: HTTP 503, client code busy', async t => {
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status), maxClients: 1 })
  t.teardown(server.close)
  const a = await ControlClient.connect({ socket: path })
  await a.subscribe(() => {})
  await t.rejects(ControlClient.connect({ socket: path }), { code: 'busy', message: /503/ })
  t.equal(server.clientCount(), 1, 'the watcher keeps its place')
  await a.close()
})

t.test('timeout: a socket that accepts but never answers', async t => {
  const path = sockPath()
  mkdirSync(join(path, '..'), { recursive: true })
  const silent = createServer(() => {})
  await new Promise<void>(resolve => silent.listen(path, resolve))
  t.teardown(() => { silent.close() })
  await t.rejects(ControlClient.connect({ socket: path }, { timeoutMs: 200 }), { code: 'timeout', message: /within 200 ms/ })
})

/** The server's clock and timers, moved by hand: no test waits for a real idle timeout. */
class FakeTimers implements ControlTimers {
  private t = 0
  private queue: Array<{ at: number, f: () => void }> = []
  readonly now = (): number => this.t
  readonly setTimeout = (f: () => void, ms: number): unknown => { const h = { at: this.t + ms, f }; this.queue.push(h); return h }
  readonly clearTimeout = (h: unknown): void => { this.queue = this.queue.filter(x => x !== h) }
  /** Run every timer due up to now + ms, in time order, at its own instant. */
  advance (ms: number): void {
    const end = this.t + ms
    for (;;) {
      const due = this.queue.filter(x => x.at <= end).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) break
      this.queue = this.queue.filter(x => x !== due)
      this.t = due.at
      due.f()
    }
    this.t = end
  }
}

const closeOf = (c: ControlClient): Promise<ControlClientError> => new Promise(resolve => { c.onClose(resolve) })

t.test('idle timeout: a client that sends nothing and is not subscribed is closed (1000 idle)', async t => {
  const timers = new FakeTimers()
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status), idleTimeoutMs: 60_000, timers })
  t.teardown(server.close)
  const idle = await ControlClient.connect({ socket: path })
  const watcher = await ControlClient.connect({ socket: path })
  await watcher.subscribe(() => {})
  const active = await ControlClient.connect({ socket: path })
  t.teardown(async () => { await Promise.all([idle, watcher, active].map(async c => { await c.close() })) })
  const idleClosed = closeOf(idle)
  const activeClosed = closeOf(active)
  let activeGone = false
  void activeClosed.then(() => { activeGone = true })
  timers.advance(50_000)
  await active.status() // its last activity is now at 50 s
  timers.advance(10_000) // 60 s: the idle one's time is up
  t.match(await idleClosed, { code: 'closed', message: 'hafwd closed the connection (1000 idle)' })
  t.equal(server.clientCount(), 2)
  t.notOk(activeGone, 'a client that asked at 50 s is not idle at 60 s')
  timers.advance(49_999)
  t.equal(server.clientCount(), 2, 'nor at 109.999 s')
  timers.advance(1) // 110 s = its last request + 60 s
  t.match(await activeClosed, { message: 'hafwd closed the connection (1000 idle)' })
  timers.advance(600_000)
  t.equal(server.clientCount(), 1, 'the subscriber stays however long it is quiet')
  t.equal((await watcher.status()).node, 'fw1')
})

t.test('idleTimeoutMs 0: never closed for idleness', async t => {
  const timers = new FakeTimers()
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status), idleTimeoutMs: 0, timers })
  t.teardown(server.close)
  const c = await ControlClient.connect({ socket: path })
  timers.advance(86_400_000)
  t.equal((await c.status()).node, 'fw1')
  await c.close()
})

t.test('request budget: over the token bucket, a rateLimited error then close 1008; refills with time', async t => {
  const timers = new FakeTimers()
  const path = sockPath()
  const server = await startControlServer({ socket: path, source: new FakeSource(status), requestBudget: { ratePerSecond: 2, burst: 3 }, timers })
  t.teardown(server.close)
  const r = await raw(path)
  for (let i = 0; i < 3; i++) {
    r.ws.send(JSON.stringify({ v: 1, id: i, type: 'counters' }))
    t.match(await r.next(), { type: 'counters', id: i }, `burst request ${i + 1} answered`)
  }
  timers.advance(500) // one token back at 2/s
  r.ws.send(JSON.stringify({ v: 1, id: 3, type: 'counters' }))
  t.match(await r.next(), { type: 'counters', id: 3 }, 'a refilled token is spent')
  r.ws.send('garbage counts too')
  t.match(await r.next(), { type: 'error', id: null, code: 'rateLimited', message: /over the request budget \(2\/s, burst 3\)/ })
  t.equal(await r.closed, 1008)
  // The ControlClient reports it as busy, not as a dead daemon.
  const c = await ControlClient.connect({ socket: path })
  for (let i = 0; i < 3; i++) await c.counters()
  await t.rejects(c.counters(), { code: 'busy', message: /1008 rateLimited/ })
  const fresh = await ControlClient.connect({ socket: path })
  t.equal((await fresh.status()).node, 'fw1', 'the budget is per client')
  await fresh.close()
})

t.test('connection limit: the longest-idle client without subscription or command makes room (1013)', async t => {
  const timers = new FakeTimers()
  const path = sockPath()
  let release: () => void = () => {}
  const commands = { reload: async () => { await new Promise<void>(resolve => { release = resolve }); return { file: 'f', changes: [], notes: [] } } }
  const server = await startControlServer({ socket: path, source: new FakeSource(status), maxClients: 3, timers, commands: commands as never })
  t.teardown(server.close)
  const watcher = await ControlClient.connect({ socket: path })
  await watcher.subscribe(() => {})
  timers.advance(10)
  const oldest = await ControlClient.connect({ socket: path }) // idle since 10
  timers.advance(10)
  const busy = await ControlClient.connect({ socket: path })
  const reloading = busy.request('reload') // in flight until released
  timers.advance(10)
  await oldest.status() // now the most recently active of the idle ones
  timers.advance(10)
  const busyClosed = closeOf(busy)
  let busyGone = false
  void busyClosed.then(() => { busyGone = true })
  const oldestClosed = closeOf(oldest)
  // Full: watcher (subscribed), busy (command in flight), oldest (idle). oldest goes.
  const fresh = await ControlClient.connect({ socket: path })
  t.match(await oldestClosed, { code: 'busy', message: 'hafwd closed the connection (1013 evicted)' })
  t.equal((await fresh.status()).node, 'fw1', 'the newcomer is served')
  t.notOk(busyGone, 'a client waiting for a reply is not evicted')
  release()
  t.match(await reloading, { type: 'reloaded' }, 'and gets its reply')
  // Now `busy` holds nothing and was active before `fresh`: it is the next to make room.
  timers.advance(10)
  await fresh.status()
  const third = await ControlClient.connect({ socket: path })
  t.match(await busyClosed, { message: 'hafwd closed the connection (1013 evicted)' })
  t.equal(server.clientCount(), 3)
  await Promise.all([watcher, fresh, third].map(async c => { await c.close() }))
})
