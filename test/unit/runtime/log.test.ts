// Log lines under systemd: sd-daemon `<N>` priority prefix per pino level, only on the journal stream.
import t from 'tap'
import { fstatSync, openSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createLogger, stderrIsJournal, syslogPriority, withPriorityPrefix } from '../../../src/runtime/log.js'

function capture (): { lines: string[], stream: Writable } {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(...chunk.toString().split('\n').filter(l => l !== '')); cb() } })
  return { lines, stream }
}

t.test('pino level → syslog priority: fatal 2, error 3, warn 4, info 6, debug/trace 7', async t => {
  const levels = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10 }
  t.same(Object.fromEntries(Object.entries(levels).map(([k, v]) => [k, syslogPriority(v)])), { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 })
  t.equal(withPriorityPrefix('{"level":40,"msg":"x"}\n'), '<4>{"level":40,"msg":"x"}\n')
  t.equal(withPriorityPrefix('not json\n'), 'not json\n', 'anything else is left alone')
})

t.test('journal on: every line carries its prefix and stays JSON after it; off: plain JSON', async t => {
  const on = capture()
  const log = createLogger('trace', on.stream, { journal: true })
  log.fatal('f'); log.error('e'); log.warn('w'); log.info('i'); log.debug('d'); log.trace('t')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(on.lines.length, 6)
  const parsed = on.lines.map(l => {
    const m = /^<([0-7])>(\{.*\})$/.exec(l)
    if (m === null) throw new Error(`no prefix: ${l}`)
    return { prio: Number(m[1]), json: JSON.parse(m[2] as string) as { level: number, msg: string } }
  })
  t.same(parsed.map(p => [p.json.msg, p.prio]), [['f', 2], ['e', 3], ['w', 4], ['i', 6], ['d', 7], ['t', 7]])

  const off = capture()
  createLogger('info', off.stream).warn('w')
  await new Promise(resolve => setImmediate(resolve))
  t.match(JSON.parse(off.lines[0] as string), { level: 40, msg: 'w' }, 'tests that parse the log keep working')
})

t.test('stderrIsJournal: JOURNAL_STREAM must name fd 2 itself', async t => {
  const st = fstatSync(2, { bigint: true })
  t.equal(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }), true)
  t.equal(stderrIsJournal({}), false)
  t.equal(stderrIsJournal({ JOURNAL_STREAM: 'garbage' }), false)
  const other = join(t.testdir({ f: '' }), 'f')
  const fd = openSync(other, 'r')
  const o = fstatSync(fd, { bigint: true })
  closeSync(fd)
  t.equal(stderrIsJournal({ JOURNAL_STREAM: `${o.dev}:${o.ino}` }), false, 'inherited from a parent whose stderr was another file')
})
