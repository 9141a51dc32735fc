// Control protocol: request validation in its documented order, versions, sizes, ids; server
// messages validated on the client side (forward compatible with extra fields).
import t from 'tap'
import { COMMAND_TYPES, CONNTRACK_COMMANDS, DUMP_CHUNK_ENTRIES, encodeMessage, ERROR_CODES, errorReply, MAX_REQUEST_BYTES, parseRequest, PROTOCOL_VERSION, REQUEST_TYPES } from '../../../src/control/protocol.js'
import { parseServerMessage, statusSchema } from '../../../src/control/server-messages.js'
import type { ControlEvent, ParsedRequest } from '../../../src/control/protocol.js'
import { stepEvents } from '../../../src/control/source.js'
import { stepNode } from '../../../src/core/node.js'
import { allBackup, allMaster, pairNode, statusFrom, step } from './fixtures.js'

const req = (text: string): ParsedRequest => parseRequest(text, Buffer.byteLength(text))
const codeOf = (p: ParsedRequest): string => p.ok ? 'ok' : p.reply.code

t.test('valid requests', async t => {
  const noFields = REQUEST_TYPES.filter(type => type !== 'maintenance' && type !== 'dump')
  for (const type of noFields) {
    t.same(req(JSON.stringify({ v: 1, id: 1, type })), { ok: true, request: { v: 1, id: 1, type } }, type)
  }
  t.same(req('{"v":1,"type":"status"}'), { ok: true, request: { v: 1, type: 'status' } }, 'id is optional')
  t.same(req('{"v":1,"id":"abc","type":"counters"}'), { ok: true, request: { v: 1, id: 'abc', type: 'counters' } }, 'string id')
  t.equal(codeOf(req(`{"v":1,"id":${Number.MAX_SAFE_INTEGER},"type":"status"}`)), 'ok', 'largest safe integer id')
})

t.test('each check, in the documented order', async t => {
  const big = `{"v":2,"type":"nope","x":"${'y'.repeat(MAX_REQUEST_BYTES)}"}`
  t.equal(codeOf(req(big)), 'tooLarge', '1. size first, even when everything else is wrong too')
  t.equal(codeOf(parseRequest('{"v":1,"type":"status"}', MAX_REQUEST_BYTES + 1)), 'tooLarge', 'the wire size is what counts')
  t.equal(codeOf(parseRequest('{"v":1,"type":"status"}', MAX_REQUEST_BYTES)), 'ok', 'exactly the limit is accepted')
  t.equal(codeOf(req('{"v":1,')), 'badJson', '2. truncated JSON')
  t.equal(codeOf(req('')), 'badJson', '2. empty')
  for (const s of ['null', '1', '"status"', '[{"v":1,"type":"status"}]']) t.equal(codeOf(req(s)), 'badMessage', `3. not an object: ${s}`)
  t.equal(codeOf(req('{"type":"nope"}')), 'badVersion', '4. version before type')
  t.equal(codeOf(req('{"v":"1","type":"status"}')), 'badVersion', '4. "1" is not 1')
  t.equal(codeOf(req('{"v":0,"type":"status"}')), 'badVersion')
  t.equal(codeOf(req('{"v":1}')), 'badMessage', '5. missing type')
  t.equal(codeOf(req('{"v":1,"type":3}')), 'badMessage', '5. type not a string')
  t.equal(codeOf(req('{"v":1,"type":"Status"}')), 'unknownType', '6. types are case sensitive')
  t.equal(codeOf(req('{"v":1,"type":"__proto__"}')), 'unknownType')
  t.equal(codeOf(req('{"v":1,"type":"status","extra":true}')), 'badMessage', '7. unknown field')
  t.equal(codeOf(req('{"v":1,"type":"status","id":1.5}')), 'badMessage', '7. fractional id')
  t.equal(codeOf(req(`{"v":1,"type":"status","id":"${'i'.repeat(65)}"}`)), 'badMessage', '7. id too long')
  t.equal(codeOf(req('{"v":1,"type":"status","id":null}')), 'badMessage', '7. null id')
})

t.test('error replies carry a readable id, and a message that says what is wrong', async t => {
  const p = req('{"v":3,"id":"q1","type":"status"}')
  t.same(p, { ok: false, reply: { v: PROTOCOL_VERSION, id: 'q1', type: 'error', code: 'badVersion', message: 'protocol version 3 is not supported; this hafwd speaks v1' } })
  t.match(req('{"v":1,"id":{"x":1},"type":"status"}'), { ok: false, reply: { id: null, code: 'badMessage', message: /^id: / } }, 'unreadable id → null, the issue names the key')
  t.match(req('{"v":1,"id":2,"type":"dump"}'), { ok: false, reply: { id: 2, code: 'badMessage', message: /^cache: / } }, 'a missing field is named')
  t.match(req('{"v":1,"type":"x"}'), { ok: false, reply: { message: 'unknown request type "x"; known: status, counters, subscribe, unsubscribe, reload, maintenance, commit, flush, resync, bulk, requestResync, dump, stats' } })
  t.match(req(`{"v":1,"type":"${'z'.repeat(1000)}"}`), { ok: false, reply: { message: /^unknown request type "z{64}";/ } }, 'an echoed type is cut short')
  t.same([...ERROR_CODES].sort(), ['badJson', 'badMessage', 'badVersion', 'failed', 'internal', 'invalidConfig', 'notAvailable', 'rateLimited', 'tooLarge', 'tooSlow', 'unknownType'])
})

t.test('status snapshots from the real core pass the client schema', async t => {
  for (const [name, { node, now }] of Object.entries({ allMaster: allMaster(), allBackup: allBackup() })) {
    const status = statusFrom(node, now)
    const text = encodeMessage({ v: 1, id: 3, type: 'status', status })
    const parsed = parseServerMessage(text)
    t.ok(parsed.ok, name)
    t.same(parsed.ok && parsed.message, JSON.parse(text), `${name}: round trip`)
  }
  const s = statusFrom(pairNode(), 0)
  t.ok(statusSchema.safeParse(s).success, 'not started: null transitions and masters are valid')
})

t.test('server messages: newer fields are kept, broken ones refused', async t => {
  const { node, now } = allMaster()
  const status = { ...statusFrom(node, now), futureField: { a: 1 } }
  const p = parseServerMessage(JSON.stringify({ v: 1, id: 1, type: 'status', status, alsoNew: true }))
  t.ok(p.ok)
  t.match(p.ok && p.message, { alsoNew: true, status: { futureField: { a: 1 } } }, 'extra fields pass through')
  t.match(parseServerMessage('{"v":2,"type":"event"}'), { ok: false, message: 'hafwd speaks protocol version 2; this client speaks v1' })
  t.match(parseServerMessage('garbage'), { ok: false, message: /not valid JSON/ })
  t.match(parseServerMessage(JSON.stringify({ v: 1, id: 1, type: 'status', status: { ...status, routers: [{ id: 'x' }] } })), { ok: false, message: /^unexpected message from hafwd: status\.routers\.0\./ })
  t.match(parseServerMessage('{"v":1,"id":1,"type":"mystery"}'), { ok: false })
  t.same(parseServerMessage(JSON.stringify(errorReply(4, 'notAvailable', 'later'))), { ok: true, message: { v: 1, id: 4, type: 'error', code: 'notAvailable', message: 'later' } })
  t.match(parseServerMessage(JSON.stringify({ v: 1, id: null, type: 'error', code: 'someNewCode', message: 'm' })), { ok: true }, 'an error code from a newer daemon is still an error')
})

t.test('events from a real step, and their wire form', async t => {
  // The priority-200 master goes away: every router's Master_Down_Timer fires.
  const { node } = allBackup()
  const r = stepNode(node, { kind: 'timeout' }, 10_000)
  const events = stepEvents(r, '2025-01-01T00:00:10.000Z')
  const routerEvents = events.filter(e => e.kind === 'transition')
  const groupEvents = events.filter(e => e.kind === 'groupTransition')
  t.same(routerEvents.map(e => `${e.routerId}:${e.from}>${e.to}`).sort(), ['VI_IN/ipv4:backup>master', 'VI_MGMT/ipv4:backup>master', 'VI_OUT/ipv4:backup>master'])
  t.match(groupEvents, [{ group: 'G_FW', from: 'backup', to: 'master', reason: 'allWantMaster', at: 10_000 }])
  t.ok(events.findIndex(e => e.kind === 'groupTransition') > events.findIndex(e => e.kind === 'transition'), 'router events first, then group events')
  for (const e of events) {
    const p = parseServerMessage(encodeMessage({ v: 1, type: 'event', event: e }))
    t.same(p.ok && p.message, { v: 1, type: 'event', event: e }, `${e.kind} round trip`)
  }
  const bad: unknown = { kind: 'transition', routerId: 'x', from: 'backup', to: 'sideways', reason: 'r', priority: 1, at: 1, time: 't' }
  t.match(parseServerMessage(JSON.stringify({ v: 1, type: 'event', event: bad })), { ok: false }, 'an unknown state is refused')
  const none = stepEvents(stepNode(step(pairNode(), { kind: 'all', input: { kind: 'startup' } }, 0), { kind: 'timeout' }, 1), 't')
  t.same(none, [], 'no transition, no event')
  const typed: ControlEvent[] = events
  t.ok(typed.every(e => e.time === '2025-01-01T00:00:10.000Z'))
})

t.test('commands: fields validated strictly', async t => {
  const ok = (o: object): unknown => { const p = req(JSON.stringify({ v: 1, ...o })); return p.ok ? p.request : p.reply.message }
  t.same(ok({ type: 'maintenance', on: true }), { v: 1, type: 'maintenance', on: true })
  t.same(ok({ type: 'maintenance', on: false, id: 9 }), { v: 1, type: 'maintenance', on: false, id: 9 })
  t.match(ok({ type: 'maintenance' }), /^on: /, 'maintenance needs on')
  t.match(ok({ type: 'maintenance', on: 'yes' }), /^on: /, 'on is a boolean')
  t.same(ok({ type: 'dump', cache: 'external' }), { v: 1, type: 'dump', cache: 'external' })
  t.match(ok({ type: 'dump', cache: 'both' }), /^cache: /, 'dump takes one cache')
  t.same(ok({ type: 'flush' }), { v: 1, type: 'flush' }, 'flush: caches optional')
  t.same(ok({ type: 'flush', caches: 'internal' }), { v: 1, type: 'flush', caches: 'internal' })
  t.match(ok({ type: 'flush', caches: 'all' }), /^caches: /)
  t.same(ok({ type: 'commit', waitMs: 0 }), { v: 1, type: 'commit', waitMs: 0 })
  t.match(ok({ type: 'commit', waitMs: 600_001 }), /^waitMs: /, 'bounded wait')
  t.match(ok({ type: 'commit', waitMs: 1.5 }), /^waitMs: /)
  t.match(ok({ type: 'reload', file: '/etc/shadow' }), /file/, 'reload takes no file: the daemon reads its own')
  t.match(ok({ type: 'requestResync', now: true }), /now/)
  t.equal(ok({ type: 'dump' }), 'cache: missing (a dump request needs it)', 'a missing field says so')
  t.equal(ok({ type: 'flush', caches: 'all' }), 'caches: must be one of "internal", "external", "both"', 'an enum lists its values')
  t.equal(ok({ type: 'status', extra: 1 }), '"extra": a status request has no such field')
  t.equal(codeOf(req('{"v":1,"type":"status","__proto__":{"on":true}}')), 'badMessage', 'an own __proto__ key is an unknown field')
  const parsed = req('{"v":1,"type":"maintenance","on":true,"id":"a"}')
  t.ok(parsed.ok && Object.getPrototypeOf(parsed.request) === Object.prototype && Object.keys(parsed.request).join() === 'v,id,type,on', 'the request is a fresh plain object of the checked fields')
})

t.test('command replies and events round trip; bad ones refused', async t => {
  const entry = { family: 'ipv4', proto: 6, orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 80 }, reply: { src: '10.0.0.2', dst: '192.0.2.1', sport: 80, dport: 1000 }, state: 'ESTABLISHED', timeout: 120, nat: { src: { ip: '192.0.2.1' } }, status: 'alive', activeSinceS: 3, idleS: 1 } as const
  const msgs = [
    { v: 1, id: 1, type: 'reloaded', file: '/etc/hafw/hafw.yaml', changes: [{ id: 'VI_1/ipv4', change: 'inPlace' }], notes: ['x'] },
    { v: 1, id: 2, type: 'maintenance', on: true, changed: true },
    { v: 1, id: 3, type: 'done', command: 'commit', message: 'committed 1 of 1', data: { running: false } },
    { v: 1, id: 4, type: 'stats', conntrack: { any: 'thing' }, counters: { 'ct.commit.done': 1 } },
    { v: 1, id: 5, type: 'dump', cache: 'internal', chunk: 0, total: 1, last: true, entries: [entry] },
    { v: 1, id: 6, type: 'error', code: 'invalidConfig', message: '1 error(s)', issues: [{ path: 'vrrp.instances.VI_1.vrid', line: 7, column: 12, message: 'too big' }] },
    { v: 1, type: 'event', event: { kind: 'role', from: 'backup', to: 'master', at: 5, time: 't' } },
    { v: 1, type: 'event', event: { kind: 'maintenance', on: false, at: 6, time: 't' } }
  ]
  for (const m of msgs) {
    const p = parseServerMessage(JSON.stringify(m))
    t.same(p.ok && p.message, m, `${m.type} round trip`)
  }
  const broken = [
    { v: 1, id: 5, type: 'dump', cache: 'internal', chunk: 0, total: 1, last: true, entries: [{ ...entry, orig: { src: '10.0.0.1', dst: '10.0.0.2', sport: 70000 } }] },
    { v: 1, id: 5, type: 'dump', cache: 'nope', chunk: 0, total: 0, last: true, entries: [] },
    { v: 1, id: 5, type: 'dump', cache: 'internal', chunk: -1, total: 0, last: true, entries: [] },
    { v: 1, id: 1, type: 'maintenance', on: 'yes', changed: true },
    { v: 1, id: 1, type: 'reloaded', file: 'f', changes: 'all', notes: [] },
    { v: 1, id: 6, type: 'error', code: 'invalidConfig', message: 'm', issues: [{ line: 7 }] }
  ]
  for (const m of broken) t.match(parseServerMessage(JSON.stringify(m)), { ok: false }, `refused: ${JSON.stringify(m).slice(0, 60)}`)
  const tooMany = { v: 1, id: 5, type: 'dump', cache: 'internal', chunk: 0, total: DUMP_CHUNK_ENTRIES + 1, last: true, entries: Array.from({ length: DUMP_CHUNK_ENTRIES + 1 }, () => entry) }
  t.match(parseServerMessage(JSON.stringify(tooMany)), { ok: false }, 'a chunk is bounded')
  t.same(errorReply(1, 'invalidConfig', 'm', []), { v: 1, id: 1, type: 'error', code: 'invalidConfig', message: 'm', issues: [] })
  t.same(errorReply(1, 'failed', 'm'), { v: 1, id: 1, type: 'error', code: 'failed', message: 'm' }, 'no issues key when there are none')
  t.same([...COMMAND_TYPES], ['reload', 'maintenance', 'commit', 'flush', 'resync', 'bulk', 'requestResync', 'dump', 'stats'])
  t.ok(CONNTRACK_COMMANDS.every(c => (COMMAND_TYPES as readonly string[]).includes(c)))
})
