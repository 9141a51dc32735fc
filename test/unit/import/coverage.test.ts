// "Never silently drop a setting": every statement of every fixture is either translated or in the
// report, and every non-blank, non-comment source line is accounted for — counted here without
// the importer's help.
import t from 'tap'
import { fixture, importFixture, sourceStatements, type Imported } from './helpers.js'

const PAIRS: ReadonlyArray<[string, boolean]> = [
  ['classic-fw1', true],
  ['mcast-fw2', true],
  ['ipv6-split', false],
  ['v2-auth-track', false]
]

/** Lines holding a setting: anything left after removing comments, quotes' content and braces. */
function settingLines (text: string, comments: string): number[] {
  const lines: number[] = []
  text.split('\n').forEach((raw, i) => {
    let line = raw.replace(/"[^"]*"/g, 'Q')
    const cut = [...comments].map(c => line.indexOf(c)).filter(n => n >= 0)
    if (cut.length > 0) line = line.slice(0, Math.min(...cut))
    if (line.replace(/[{}\s]/g, '') !== '') lines.push(i + 1)
  })
  return lines
}

function reported (r: Imported, file: string, line: number): boolean {
  return r.items.some(i => i.file === file && i.line === line)
}

for (const [base, ct] of PAIRS) {
  t.test(`${base}: every setting translated or reported`, async t => {
    const r = importFixture(base, ct)
    const files = [{ path: `${base}.keepalived.conf`, text: fixture(`${base}.keepalived.conf`), comments: '#!' }]
    if (ct) files.push({ path: `${base}.conntrackd.conf`, text: fixture(`${base}.conntrackd.conf`), comments: '#' })

    const stmts = sourceStatements(files)
    t.equal(r.outcomes.length, stmts.length, `${stmts.length} statements, each with an outcome`)
    t.same(r.outcomes.map(o => `${o.file}:${o.line} `).sort(), stmts.map(s => s.slice(0, s.indexOf(' ') + 1)).sort())

    let translated = 0
    let reportedOnly = 0
    for (const o of r.outcomes) {
      t.ok(o.marks.length > 0, `${o.file}:${o.line} has a mark`)
      if (o.marks.some(m => m.kind === 'translated')) { translated++; continue }
      reportedOnly++
      // Not translated: in the report, on its own line or on the line of the block that covers it.
      const own = reported(r, o.file, o.line)
      const block = o.marks.some(m => m.viaBlock === true)
      t.ok(own || block, `${o.file}:${o.line} ${o.setting} is in the report`)
      if (block && !own) {
        const at = Number(/at line (\d+)/.exec(o.marks[0]?.message ?? '')?.[1])
        t.ok(reported(r, o.file, at), `its block at line ${at} is in the report`)
      }
    }
    t.equal(translated + reportedOnly, stmts.length)

    // Independent of the parser: each source line with a setting is some statement's line.
    for (const f of files) {
      const lines = new Set(r.outcomes.filter(o => o.file === f.path).map(o => o.line))
      const missing = settingLines(f.text, f.comments).filter(n => !lines.has(n))
      t.same(missing, [], `${f.path}: no setting line without an outcome`)
    }
    // Every report item names a real source line (or a whole file / the output).
    for (const i of r.items) t.ok(i.line === 0 || r.outcomes.some(o => o.file === i.file && o.line === i.line), `${i.file}:${i.line} exists`)
    // And every reported item is in the written header.
    for (const i of r.items) if (i.line > 0) t.ok(r.yaml.includes(`#   ${i.file}:${i.line}: `), `${i.file}:${i.line} is in the header`)
  })
}

t.test('an unknown keyword is reported, not dropped', async t => {
  const r = importFixture('classic-fw1', true)
  t.notOk(r.items.some(i => /frobnicate/.test(i.setting)))
  const { importText } = await import('./helpers.js')
  const x = importText(fixture('classic-fw1.keepalived.conf').replace('    garp_master_delay 1\n}', '    garp_master_delay 1\n    frobnicate 7\n}'))
  if (!x.ok) { t.fail('parse'); return }
  const item = x.items.find(i => i.setting === 'frobnicate 7')
  t.match(item, { kind: 'attention', message: /no equivalent/ })
  t.equal(x.exitCode, 1)
})
