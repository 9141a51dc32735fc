// Control commands over a real unix socket with a fake CommandHandler: each command reaches the
// handler with its arguments and its reply comes back; bad fields are refused before the handler;
// CommandErrors become their error codes (invalidConfig with the issues), other throws `internal`;
// dump is streamed in bounded chunks, reassembled in order by the client; a client that goes away
// mid-dump does not hurt the server; events for role and maintenance reach subscribers.
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { ControlClient, ControlClientError } from '../../../src/control/client.js'
import { CommandError } from '../../../src/control/commands.js'
import { DUMP_CHUNK_ENTRIES } from '../../../src/control/protocol.js'
import { parseServerMessage } from '../../../src/control/server-messages.js'
import type { ControlEvent, ServerMessage } from '../../../src/control/protocol.js'
import { startControlServer } from '../../../src/control/server.js'
import { FakeCommands, FakeSource, allMaster, ctEntry, statusFrom } from './fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'hafw-cmds-'))
let n = 0
const { node, now } = allMaster()
const status = statusFrom(node, now)

async function serve (t: { teardown: (f: () => unknown) => void }, commands?: FakeCommands, source = new FakeSource(status)): Promise<ControlClient> {
  const path = join(dir, `s${n++}.sock`)
  const server = await startControlServer({ socket: path, source, ...(commands !== undefined ? { commands } : {}) })
  t.teardown(server.close)
  const c = await ControlClient.connect({ socket: path })
  t.teardown(c.close.bind(c))
  return c
}

t.test('each command reaches the handler and its reply comes back', async t => {
  const h = new FakeCommands()
  const c = await serve(t, h)
  t.match(await c.request('reload'), { type: 'reloaded', file: '/etc/hafw/hafw.yaml', changes: [{ id: 'VI_OUT/ipv4', change: 'inPlace' }, { id: 'VI_IN/ipv4', change: 'same' }], notes: [/control/] })
  t.match(await c.request({ type: 'maintenance', on: true }), { type: 'maintenance', on: true, changed: true })
  t.match(await c.request({ type: 'maintenance', on: true }), { type: 'maintenance', on: true, changed: false })
  t.match(await c.request({ type: 'commit' }), { type: 'done', command: 'commit', message: /committed 48/, data: { running: false } })
  t.match(await c.request({ type: 'commit', waitMs: 100 }), { type: 'done', command: 'commit' })
  t.match(await c.request({ type: 'flush' }), { type: 'done', command: 'flush', message: 'flushed both' }, 'flush: both by default')
  t.match(await c.request({ type: 'flush', caches: 'external' }), { type: 'done', message: 'flushed external' })
  t.match(await c.request('resync'), { type: 'done', command: 'resync' })
  t.match(await c.request('bulk'), { type: 'done', command: 'bulk' })
  t.match(await c.request('requestResync'), { type: 'done', command: 'requestResync', message: 'resync requested from the peer' })
  t.match(await c.request('stats'), { type: 'stats', conntrack: { bulk: 'done' }, counters: { 'ct.commit.done': 1 } })
  t.same(h.calls, ['reload', 'maintenance on', 'maintenance on', 'commit 30000', 'commit 100', 'flush both', 'flush external', 'resync', 'bulk', 'requestResync', 'stats'])
})

t.test('bad fields are refused before the handler; no handler: notAvailable', async t => {
  const h = new FakeCommands()
  const c = await serve(t, h)
  const bad = async (body: object): Promise<unknown> => await c.request(body as never).catch((e: unknown) => e)
  t.match(await bad({ type: 'maintenance' }), { code: 'server', serverCode: 'badMessage', message: /on: / })
  t.match(await bad({ type: 'dump', cache: 'everything' }), { serverCode: 'badMessage' })
  t.match(await bad({ type: 'flush', caches: 'all' }), { serverCode: 'badMessage' })
  t.match(await bad({ type: 'commit', waitMs: -1 }), { serverCode: 'badMessage' })
  t.same(h.calls, [], 'nothing reached the handler')
  const bare = await serve(t)
  for (const type of ['reload', 'commit', 'stats'] as const) {
    t.match(await bare.request(type).catch((e: unknown) => e), { serverCode: 'notAvailable', message: new RegExp(`"${type}" is not available`) })
  }
  t.equal((await bare.status()).node, 'fw1', 'still serving')
})

t.test('handler errors: CommandError codes and issues; anything else is internal', async t => {
  const h = new FakeCommands()
  const c = await serve(t, h)
  h.fail = new CommandError('invalidConfig', '2 error(s) in /etc/hafw/hafw.yaml; nothing applied', [
    { path: 'vrrp.instances.VI_OUT.vrid', line: 7, column: 13, message: 'must be 1..255' },
    { path: 'vrrp.instances.VI_IN', line: 9, message: 'interface is required' }
  ])
  const e = await c.request('reload').catch((err: unknown) => err)
  t.type(e, ControlClientError)
  t.match(e, { code: 'server', serverCode: 'invalidConfig', issues: [{ path: 'vrrp.instances.VI_OUT.vrid', line: 7, column: 13 }, { path: 'vrrp.instances.VI_IN', line: 9 }] })
  h.fail = new CommandError('notAvailable', 'conntrack sync is off')
  t.match(await c.request('bulk').catch((err: unknown) => err), { serverCode: 'notAvailable', message: /conntrack sync is off/, issues: [] })
  h.fail = new CommandError('failed', 'a commit is already running')
  t.match(await c.request({ type: 'commit' }).catch((err: unknown) => err), { serverCode: 'failed' })
  h.fail = new Error('boom')
  t.match(await c.request('resync').catch((err: unknown) => err), { serverCode: 'internal', message: /could not carry out "resync": boom/ })
  t.match(await c.request('resync'), { type: 'done' }, 'the next request is served')
})

t.test('dump: streamed in bounded chunks, reassembled in order; empty cache is one chunk', async t => {
  const h = new FakeCommands()
  const c = await serve(t, h)
  t.same(await c.dump('internal'), [], 'empty')
  const total = DUMP_CHUNK_ENTRIES * 2 + 17
  h.entries = Array.from({ length: total }, (_, i) => ctEntry(i % 20000))
  const got = await c.dump('external')
  t.equal(got.length, total)
  t.same(got.map(e => e.orig.sport), h.entries.map(e => e.orig.sport), 'in order')
  t.same(h.calls, ['dump internal', 'dump external'])
  // The raw stream: chunk numbers, sizes, `last` on the final one only, same id throughout.
  const path = join(dir, `s${n++}.sock`)
  const server = await startControlServer({ socket: path, source: new FakeSource(status), commands: h })
  t.teardown(server.close)
  const ws = new WebSocket(`ws+unix:${path}:/`)
  const msgs: ServerMessage[] = []
  const done = new Promise<void>(resolve => {
    ws.on('message', d => {
      const p = parseServerMessage(d.toString())
      if (!p.ok) throw new Error(p.message)
      msgs.push(p.message)
      if (p.message.type === 'dump' && p.message.last) resolve()
    })
  })
  await new Promise(resolve => ws.once('open', resolve))
  ws.send(JSON.stringify({ v: 1, id: 'd1', type: 'dump', cache: 'internal' }))
  await done
  ws.terminate()
  t.same(msgs.map(m => m.type === 'dump' ? [m.id, m.chunk, m.entries.length, m.total, m.last] : m.type), [
    ['d1', 0, DUMP_CHUNK_ENTRIES, total, false],
    ['d1', 1, DUMP_CHUNK_ENTRIES, total, false],
    ['d1', 2, 17, total, true]
  ])
})

t.test('a client that leaves mid-dump; other requests interleave with a dump', async t => {
  const h = new FakeCommands()
  h.entries = Array.from({ length: DUMP_CHUNK_ENTRIES * 20 }, (_, i) => ctEntry(i % 20000))
  const path = join(dir, `s${n++}.sock`)
  const server = await startControlServer({ socket: path, source: new FakeSource(status), commands: h })
  t.teardown(server.close)
  const ws = new WebSocket(`ws+unix:${path}:/`)
  await new Promise(resolve => ws.once('open', resolve))
  const first = new Promise(resolve => ws.once('message', resolve))
  ws.send(JSON.stringify({ v: 1, id: 1, type: 'dump', cache: 'internal' }))
  await first
  ws.terminate()
  const c = await ControlClient.connect({ socket: path })
  t.teardown(c.close.bind(c))
  const [entries, s] = await Promise.all([c.dump('internal'), c.status()])
  t.equal(entries.length, DUMP_CHUNK_ENTRIES * 20, 'the whole dump')
  t.equal(s.node, 'fw1', 'a status asked during the dump is answered')
})

t.test('role and maintenance events reach subscribers', async t => {
  const source = new FakeSource(status)
  const c = await serve(t, new FakeCommands(), source)
  const events: ControlEvent[] = []
  await c.subscribe(e => { events.push(e) })
  source.emit({ kind: 'role', from: 'backup', to: 'master', at: 1, time: 't1' })
  source.emit({ kind: 'maintenance', on: true, at: 2, time: 't2' })
  await c.status()
  t.same(events, [{ kind: 'role', from: 'backup', to: 'master', at: 1, time: 't1' }, { kind: 'maintenance', on: true, at: 2, time: 't2' }])
})
