// runImport: arguments, files, exit codes 0/1/2/64, output file, includes resolved on disk.
import t from 'tap'
import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runImport } from '../../../src/main/hafwctl-import.js'
import { validateConfigText } from '../../../src/config/validate.js'
import { fixturePath } from './helpers.js'

function io (): { out: string[], err: string[], io: { out: (s: string) => void, err: (s: string) => void } } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: s => { out.push(s) }, err: s => { err.push(s) } } }
}

const dir = mkdtempSync(join(tmpdir(), 'hafw-import-'))

t.test('writes -o (mode 0600), report on stderr, exit 1 when something needs attention', async t => {
  const o = io()
  const outFile = join(dir, 'fw1.yaml')
  const code = await runImport(['import', '--keepalived', fixturePath('classic-fw1.keepalived.conf'), '--conntrackd', fixturePath('classic-fw1.conntrackd.conf'), '-o', outFile], o.io)
  t.equal(code, 1)
  t.same(o.out, [])
  const yaml = readFileSync(outFile, 'utf8')
  t.ok(validateConfigText(yaml).ok, 'the written file validates')
  t.equal(statSync(outFile).mode & 0o777, 0o600, 'may hold the VRRP password')
  t.match(o.err.join(''), /classic-fw1\.keepalived\.conf:5: ATTENTION: notification_email/)
  t.match(o.err.join(''), /3 setting\(s\) need attention/)
})

t.test('exit 0 and YAML on stdout when everything translated', async t => {
  const o = io()
  const code = await runImport(['-k', fixturePath('ipv6-split.keepalived.conf')], o.io)
  t.equal(code, 0)
  t.ok(validateConfigText(o.out.join('')).ok)
  t.match(o.err.join(''), /every setting translated/)
})

t.test('exit 2 with file:line on a parse error, nothing written', async t => {
  const o = io()
  const outFile = join(dir, 'broken.yaml')
  const code = await runImport(['--keepalived', fixturePath('broken.keepalived.conf'), '--output', outFile], o.io)
  t.equal(code, 2)
  t.match(o.err.join(''), /broken\.keepalived\.conf:5: block "vrrp_instance VI_1" opened here is never closed/)
  t.throws(() => statSync(outFile))
})

t.test('usage errors exit 64', async t => {
  for (const argv of [[], ['--keepalived'], ['--bogus'], ['-k', join(dir, 'nope.conf')]]) {
    const o = io()
    t.equal(await runImport(argv, o.io), 64, argv.join(' '))
  }
  const h = io()
  t.equal(await runImport(['--help'], h.io), 0)
  t.match(h.out.join(''), /usage: hafwctl import/)
})

t.test('include files are read relative to the including file (with a * pattern)', async t => {
  const etc = join(dir, 'keepalived')
  mkdirSync(join(etc, 'conf.d'), { recursive: true })
  writeFileSync(join(etc, 'keepalived.conf'), 'global_defs {\n  router_id inc\n}\ninclude conf.d/*.conf\n')
  writeFileSync(join(etc, 'conf.d', '10-vi.conf'), 'vrrp_instance VI_INC {\n  interface eth0\n  virtual_router_id 9\n  virtual_ipaddress {\n    192.0.2.9/24\n  }\n}\n')
  const o = io()
  const code = await runImport(['-k', join(etc, 'keepalived.conf')], o.io)
  t.equal(code, 0, o.err.join(''))
  t.match(o.out.join(''), /VI_INC:\n {6}interface: eth0/)
})
