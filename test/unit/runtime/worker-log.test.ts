// The conntrack worker's log (src/runtime/worker-log.ts): records cross a real MessageChannel and
// the main side's ConntrackClient writes them with its pino logger, so the JSON lines read as if
// the worker had its own pino: level, bindings and fields, Errors in pino's err shape. Records
// below the level never cross.
import t from 'tap'
import type { Test } from 'tap'
import pino from 'pino'
import { MessageChannel } from 'node:worker_threads'
import { Writable } from 'node:stream'
import { levelRank, portLogger } from '../../../src/runtime/worker-log.js'
import type { WorkerLogRecord } from '../../../src/runtime/worker-log.js'
import { ConntrackClient } from '../../../src/runtime/conntrack-client.js'
import type { FromWorker, Port, ToWorker } from '../../../src/runtime/conntrack-protocol.js'
import { Counters } from '../../../src/runtime/stats.js'

/** The main side: a client whose `component: conntrack` logger writes JSON lines into `lines`. */
function mainSide (t: Test): { worker: Port<ToWorker, FromWorker>, lines: Array<Record<string, unknown>> } {
  const { port1, port2 } = new MessageChannel()
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb() } })
  const log = pino({ level: 'debug' }, sink).child({ component: 'conntrack' })
  const client = new ConntrackClient(port1 as unknown as Port<FromWorker, ToWorker>, { counters: new Counters(), log, onDemotion: () => {} })
  t.teardown(() => { void client; port1.close(); port2.close() })
  return { worker: port2 as unknown as Port<ToWorker, FromWorker>, lines }
}

/** A clock that stands still unless a test moves it. */
const still = { clock: () => 0 }

async function until (cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise(resolve => setImmediate(resolve))
}

t.test('records at or above the level are written by the main thread\'s logger', async t => {
  const { worker, lines } = mainSide(t)
  const log = portLogger(worker, 'info', still)
  log.debug('below the level')
  log.info({ entries: 4096, ms: 180 }, 'warmed up')
  log.warn('sync send failed')
  log.child({ peer: '192.168.100.2' }).error({ err: new Error('EHOSTUNREACH') }, 'send')
  await until(() => lines.length >= 3)
  t.equal(lines.length, 3, 'the debug record was dropped')
  t.match(lines[0], { level: 30, component: 'conntrack', entries: 4096, ms: 180, msg: 'warmed up' })
  t.match(lines[1], { level: 40, component: 'conntrack', msg: 'sync send failed' })
  t.match(lines[2], { level: 50, component: 'conntrack', peer: '192.168.100.2', msg: 'send', err: { type: 'Error', message: 'EHOSTUNREACH' } })
  t.match((lines[2]?.err as { stack?: string }).stack, /EHOSTUNREACH/, 'the stack crosses too')
})

t.test('the level filters before the clone; silent posts nothing', async t => {
  const posted: WorkerLogRecord[] = []
  const port = { postMessage: (m: WorkerLogRecord) => { posted.push(m) } }
  const warn = portLogger(port, 'warn', still)
  warn.info({ x: 1 }, 'no')
  warn.warn('yes')
  portLogger(port, 'silent', still).error('never')
  t.same(posted, [{ type: 'log', level: 'warn', msg: 'yes' }], 'a record without fields carries none')
  t.equal(levelRank('debug'), 20)
  t.equal(levelRank('nonsense'), 30, 'an unknown level name logs at info')
})

t.test('a field the clone cannot carry does not lose the record', async t => {
  const { worker, lines } = mainSide(t)
  const log = portLogger(worker, 'info', still)
  log.warn({ callback: () => 1, sym: Symbol('s') }, 'functions and symbols become text')
  // a MessagePort inside a record: postMessage refuses it unless transferred
  const { port1 } = new MessageChannel()
  log.error({ port: port1 }, 'the text still goes')
  port1.close()
  await until(() => lines.length >= 2)
  t.match(lines[0], { msg: 'functions and symbols become text', callback: /=>/, sym: 'Symbol(s)' })
  t.match(lines[1], { level: 50, msg: 'the text still goes', unloggableFields: ['port'] })
})

t.test('child bindings accumulate and a record\'s own fields win', async t => {
  const posted: WorkerLogRecord[] = []
  const log = portLogger({ postMessage: (m: WorkerLogRecord) => { posted.push(m) } }, 'debug', still, { a: 1 }).child({ b: 2 }).child({ a: 3 })
  log.debug({ b: 4, c: 5 }, 'm')
  t.same(posted, [{ type: 'log', level: 'debug', msg: 'm', fields: { a: 3, b: 4, c: 5 } }])
})

t.test('a message that repeats is limited per window, and the next window says how many were dropped', async t => {
  const posted: WorkerLogRecord[] = []
  let now = 0
  const log = portLogger({ postMessage: (m: WorkerLogRecord) => { posted.push(m) } }, 'info', { clock: () => now, burst: 3, windowMs: 1000 })
  for (let i = 0; i < 50; i++) log.warn({ i }, 'sync send failed')
  log.child({ c: 1 }).warn('sync send failed') // a child shares the limit
  log.info('another message')
  t.same(posted.map(p => p.msg), ['sync send failed', 'sync send failed', 'sync send failed', 'another message'], 'three of 51, the other message passes')
  now = 999
  log.warn({ i: 51 }, 'sync send failed')
  t.equal(posted.length, 4, 'still the same window')
  now = 1000
  log.warn({ i: 52 }, 'sync send failed')
  t.same(posted[4], { type: 'log', level: 'warn', msg: 'sync send failed', fields: { i: 52, suppressed: 49 } })
  log.warn({ i: 53 }, 'sync send failed')
  t.same(posted[5]?.fields, { i: 53 }, 'the count is reported once')
})
