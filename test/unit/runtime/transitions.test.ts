// runtime/transitions.ts on a real Runner + Executor (fake clock): every router, group and role
// change is one event, counted once, logged once at its severity, pushed to listeners with its
// wall time; a FAULT is a warning; the bulk's give-up is a warning.
import t from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { createNode, nodeDeadline } from '../../../src/core/node.js'
import { Executor } from '../../../src/runtime/executor.js'
import { Runner } from '../../../src/runtime/runner.js'
import { Counters } from '../../../src/runtime/stats.js'
import { Transitions, severityOf } from '../../../src/runtime/transitions.js'
import type { ControlEvent } from '../../../src/control/protocol.js'
import { routerConfig } from '../../helpers/netsim.js'

function captured (): { log: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb() } })
  return { log: pino({ level: 'info' }, sink), lines }
}

t.test('a takeover and a tracked link down: one event, one counter, one log line each', async t => {
  const { log, lines } = captured()
  const counters = new Counters()
  const transitions = new Transitions(log, counters, () => '2026-12-04T00:00:00.000Z')
  const pushed: ControlEvent[] = []
  transitions.on(e => { pushed.push(e) })
  let now = 0
  const executor = new Executor({ sendAdvert: async () => {} }, counters, pino({ level: 'silent' }), () => now)
  const runner = new Runner(createNode([
    routerConfig({ id: 'A', ifname: 'eth0', vrid: 51, primaryAddress: '192.0.2.2', priority: 200, track: { 'if:eth9': 0 } })
  ], []), () => now, executor, pino({ level: 'silent' }), counters, transitions)
  t.teardown(async () => { await runner.shutdown() })
  await runner.dispatch({ kind: 'all', input: { kind: 'startup' } })
  now = nodeDeadline(runner.state) ?? 0
  await runner.dispatch({ kind: 'timeout' })
  t.same(pushed.map(e => [e.kind, 'from' in e ? e.from : '', 'to' in e ? e.to : '']), [
    ['transition', 'initialize', 'backup'],
    ['role', 'initialize', 'backup'],
    ['transition', 'backup', 'master'],
    ['role', 'backup', 'master']
  ])
  t.match(pushed[2], { kind: 'transition', routerId: 'A', reason: 'masterDown', priority: 200, time: '2026-12-04T00:00:00.000Z' })
  await runner.dispatch({ kind: 'track', name: 'if:eth9', up: false })
  t.match(pushed.slice(4), [{ kind: 'transition', from: 'master', to: 'fault' }, { kind: 'role', from: 'master', to: 'fault' }])
  t.same([counters.get('transition.master'), counters.get('transition.fault'), counters.get('role.master'), counters.get('role.fault')], [1, 1, 1, 1])
  const levels = lines.map(l => [l.event, l.to, l.level])
  t.same(levels, [
    ['transition', 'backup', 30], ['role', 'backup', 30],
    ['transition', 'master', 30], ['role', 'master', 30],
    ['transition', 'fault', 40], ['role', 'fault', 40]
  ], 'info for elections, warn for FAULT, one line per change')
  t.equal(lines[2]?.msg, 'A: backup -> master (masterDown)')
})

t.test('bulk changes: info, give-up is a warning', async t => {
  const { log, lines } = captured()
  const counters = new Counters()
  const tr = new Transitions(log, counters)
  tr.emit({ kind: 'bulk', from: 'none', to: 'requested', reason: 'start', at: 1 })
  tr.emit({ kind: 'bulk', from: 'requested', to: 'done', reason: 'giveUp', at: 2 })
  t.same(lines.map(l => [l.msg, l.level]), [['startup resync none -> requested (start)', 30], ['startup resync requested -> done (giveUp)', 40]])
  t.equal(counters.get('bulk.done'), 1)
  t.equal(severityOf({ kind: 'groupTransition', group: 'G', from: 'master', to: 'fault', reason: 'memberFault', member: 'A', at: 0 } as never), 'warn')
})

t.test('sync peer liveness: lost is a warning, heard again is info, one line and one counter each', async t => {
  const { log, lines } = captured()
  const counters = new Counters()
  const tr = new Transitions(log, counters, () => 'T')
  const pushed: ControlEvent[] = []
  tr.on(e => { pushed.push(e) })
  tr.emit({ kind: 'peer', from: 'unknown', to: 'heard', at: 1 })
  tr.emit({ kind: 'peer', from: 'heard', to: 'lost', at: 3001 })
  tr.emit({ kind: 'peer', from: 'lost', to: 'heard', at: 5000 })
  t.same(lines.map(l => [l.event, l.to, l.level]), [['peer', 'heard', 30], ['peer', 'lost', 40], ['peer', 'heard', 30]])
  t.match(lines[1]?.msg, /^sync peer lost/)
  t.same([counters.get('peer.heard'), counters.get('peer.lost')], [2, 1])
  t.same(pushed[1], { kind: 'peer', from: 'heard', to: 'lost', at: 3001, time: 'T' })
})
