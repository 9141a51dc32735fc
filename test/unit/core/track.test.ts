import t from 'tap'
import { INITIAL_CHECK, recordCheck } from '../../../src/core/track/check.js'
import type { CheckState } from '../../../src/core/track/check.js'
import { fileVerdict, parseTrackFile } from '../../../src/core/track/file.js'

function run (results: boolean[], rise: number, fall: number): Array<{ ok: boolean, changed: boolean }> {
  let s: CheckState = INITIAL_CHECK
  return results.map(r => {
    const x = recordCheck(s, { rise, fall }, r)
    s = x.state
    return { ok: s.ok, changed: x.changed }
  })
}

t.test('fall: KO only after `fall` consecutive failures; a success in between resets', async t => {
  const r = run([false, true, false, false, false], 1, 3)
  t.same(r.map(x => x.ok), [true, true, true, true, false])
  t.same(r.map(x => x.changed), [false, false, false, false, true])
})

t.test('rise: OK again only after `rise` consecutive successes', async t => {
  const r = run([false, true, true, false, true, true], 2, 1)
  t.same(r.map(x => x.ok), [false, false, true, false, false, true])
})

t.test('counters', async t => {
  let s: CheckState = INITIAL_CHECK
  for (const r of [true, false, false]) s = recordCheck(s, { rise: 1, fall: 5 }, r).state
  t.equal(s.runs, 3)
  t.equal(s.failures, 2)
  t.equal(s.streak, 2)
})

t.test('track files (keepalived track_file)', async t => {
  t.equal(parseTrackFile(' 42\n'), 42)
  t.equal(parseTrackFile('-3'), -3)
  t.equal(parseTrackFile('x'), null)
  t.equal(parseTrackFile(null), null)
  t.same(fileVerdict('0\n', 0), { kind: 'fault', down: false })
  t.same(fileVerdict('1', 0), { kind: 'fault', down: true })
  t.same(fileVerdict(null, 0), { kind: 'fault', down: true }, 'missing file with weight 0 = FAULT')
  t.same(fileVerdict('3', -10), { kind: 'offset', offset: -30 })
  t.same(fileVerdict('junk', -10), { kind: 'offset', offset: -10 }, 'unreadable counts as 1')
})
