import t from 'tap'
import { allStatements, parseConf, stmtText } from '../../../src/import/conf-parse.js'

const K = { commentChars: '#!' }

t.test('words, quotes, both comment styles, blocks', async t => {
  const r = parseConf([
    '! keepalived style comment',
    'global_defs {   # trailing comment',
    '  router_id fw1 ! also a comment',
    '}',
    'vrrp_sync_group G1 {',
    '  group { VI_1 VI_2 }',
    '  notify_master "/etc/conntrackd/primary-backup.sh primary" root',
    '}'
  ].join('\n'), 'k.conf', K)
  t.ok(r.ok)
  if (!r.ok) return
  t.same(r.stmts.map(s => [s.words, s.line]), [[['global_defs'], 2], [['vrrp_sync_group', 'G1'], 5]])
  const g = r.stmts[1]?.children ?? []
  t.same(g[0]?.words, ['group'])
  t.same(g[0]?.children?.[0]?.words, ['VI_1', 'VI_2'], 'one-line block: one statement with both names')
  t.same(g[1]?.words, ['notify_master', '/etc/conntrackd/primary-backup.sh primary', 'root'])
  t.same(g[1]?.quoted, [false, true, false])
  t.equal(stmtText(g[1]!), 'notify_master "/etc/conntrackd/primary-backup.sh primary" root')
  t.equal(allStatements(r.stmts).length, 6)
})

t.test('a "!" inside quotes is not a comment; "#" only comments in conntrackd', async t => {
  const r = parseConf('auth_pass "a!b#c"\n', 'k.conf', K)
  t.ok(r.ok && r.stmts[0]?.words[1] === 'a!b#c')
  const c = parseConf('Nice -20 ! not a comment here\n', 'c.conf', { commentChars: '#' })
  t.ok(c.ok && c.stmts[0]?.words.length === 7)
})

t.test('brace on the next line opens the block of the statement before', async t => {
  const r = parseConf('vrrp_instance VI_1\n{\n  priority 100\n}\n', 'k.conf', K)
  t.ok(r.ok)
  if (r.ok) t.same(r.stmts[0]?.children?.map(s => s.words), [['priority', '100']])
})

t.test('errors carry file and line', async t => {
  const unclosed = parseConf('global_defs {\n}\nvrrp_instance VI_1 {\n  virtual_ipaddress {\n    192.0.2.1\n  }\n', 'k.conf', K)
  t.same(unclosed, { ok: false, error: { file: 'k.conf', line: 3, message: 'block "vrrp_instance VI_1" opened here is never closed (missing "}")' } })
  const extra = parseConf('a {\n}\n}\n', 'k.conf', K)
  t.same(extra.ok ? null : [extra.error.line, extra.error.message], [3, 'unexpected "}" (no block is open)'])
  const quote = parseConf('x 1\nscript "/bin/true\n', 'k.conf', K)
  t.same(quote.ok ? null : [quote.error.line, quote.error.message], [2, 'unterminated quoted string'])
  const orphan = parseConf('{\n}\n', 'k.conf', K)
  t.same(orphan.ok ? null : orphan.error.line, 1)
})

t.test('include: spliced in place through the callback, with their own file names; loops stop', async t => {
  const files: Record<string, string> = {
    '/etc/keepalived/conf.d/vi.conf': 'vrrp_instance VI_1 {\n  priority 90\n}\n'
  }
  const r = parseConf('global_defs {\n}\ninclude conf.d/vi.conf\n', '/etc/keepalived/keepalived.conf', {
    ...K,
    readInclude: (pattern, from) => {
      const path = new URL(pattern, `file://${from}`).pathname
      const text = files[path]
      return text === undefined ? null : [{ file: path, text }]
    }
  })
  t.ok(r.ok)
  if (!r.ok) return
  t.same(r.stmts.map(s => [s.file, s.line, s.words[0]]), [
    ['/etc/keepalived/keepalived.conf', 1, 'global_defs'],
    ['/etc/keepalived/keepalived.conf', 3, 'include'],
    ['/etc/keepalived/conf.d/vi.conf', 1, 'vrrp_instance']
  ])
  t.equal(r.stmts[1]?.includeResolved, true)

  const missing = parseConf('include nothere.conf\n', '/k.conf', { ...K, readInclude: () => null })
  t.ok(missing.ok && missing.stmts[0]?.includeResolved === undefined)

  const loop = parseConf('include self.conf\n', '/self.conf', { ...K, readInclude: () => [{ file: '/self.conf', text: 'include self.conf\n' }] })
  t.match(loop.ok ? '' : loop.error.message, /nested deeper/)
})
