// Track checkers across a reload (runtime/trackers.ts update): an unchanged script checker keeps
// running with its verdict and sends it again at once (a router that tracks it from now on gets
// the real state, not "up" until `fall` more failures); a changed one restarts; a weighted file no
// longer tracked has its offset cleared. Real processes and files, short intervals.
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { NodeInput } from '../../../src/core/node.js'
import { startTrackers } from '../../../src/runtime/trackers.js'
import { Counters } from '../../../src/runtime/stats.js'
import { model, oneInstance } from '../config/helpers.js'

const log = pino({ level: 'silent' })
const dir = mkdtempSync(join(tmpdir(), 'hafw-trk-'))

const until = async (f: () => boolean, ms = 5000): Promise<boolean> => {
  const end = Date.now() + ms
  while (Date.now() < end) { if (f()) return true; await new Promise(resolve => setTimeout(resolve, 20)) }
  return f()
}

const withScript = (command: string, extra: string[] = []): string => oneInstance(['track:', '  scripts:', `    - { name: chk, command: [/bin/sh, -c, "${command}"], interval: 100ms, weight: -30 }`, ...extra])

t.test('an unchanged script checker survives a reload with its verdict; a changed one restarts', async t => {
  const got: NodeInput[] = []
  const counters = new Counters()
  const trackers = startTrackers(model(withScript('exit 1')), i => { got.push(i) }, log, counters)
  t.teardown(trackers.stop)
  t.ok(await until(() => got.length > 0), 'first verdict')
  t.same(got[0], { kind: 'track', name: 'script:chk', up: false }, 'KO after fall = 1 failure')
  const runs = (): number => counters.toJSON()['track.script.chk.failed'] ?? 0
  t.ok(await until(() => runs() >= 2), 'it runs every interval')

  got.length = 0
  const file = join(dir, 'prio')
  writeFileSync(file, '2\n')
  trackers.update(model(withScript('exit 1', [`  files: [{ path: ${file}, weight: -5 }]`])))
  t.same(got[0], { kind: 'track', name: 'script:chk', up: false }, 'the known verdict is sent again at once, not "up"')
  t.ok(await until(() => got.some(i => i.kind === 'router' && i.input.kind === 'priorityOffset')), 'the new file checker starts')
  t.same(got.find(i => i.kind === 'router'), { kind: 'router', routerId: 'VI_1/ipv4', input: { kind: 'priorityOffset', source: `file:${file}`, offset: -10 } })

  got.length = 0
  trackers.update(model(withScript('exit 0')))
  t.same(got, [{ kind: 'router', routerId: 'VI_1/ipv4', input: { kind: 'priorityOffset', source: `file:${file}`, offset: 0 } }], 'the removed file offset is cleared; the changed script sends nothing before it ran')
  t.ok(await until(() => got.some(i => i.kind === 'track' && i.up)), 'the new command runs and reports OK')
})
