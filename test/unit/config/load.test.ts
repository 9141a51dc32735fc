import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkConfig, formatIssues, loadConfigFile } from '../../../src/config/load.js'
import { repoFile } from './helpers.js'

t.test('loadConfigFile: the example loads into a model', async t => {
  const r = await loadConfigFile(repoFile('config/hafw.example.yaml'))
  t.equal(r.ok, true)
  if (r.ok) {
    t.equal(r.model.routers.length, 4)
    t.equal(r.config.vrrp.instances.VI_OUT?.vrid, 51)
  }
})

t.test('loadConfigFile: missing file is an issue, not an exception', async t => {
  const r = await loadConfigFile('/nonexistent/hafw.yaml')
  t.equal(r.ok, false)
  if (!r.ok) t.match(r.issues[0]?.message, /cannot read the file: ENOENT/)
})

t.test('checkConfig: issues and exit 1', async t => {
  const file = repoFile('test/fixtures/config/three-mistakes.yaml')
  const r = await checkConfig(file)
  t.equal(r.exitCode, 1)
  t.equal(r.output, [
    `${file}:13:7: vrrp.instances.VI_OUT.priority: must be an integer 1..255 (got 300)`,
    `${file}:21:7: vrrp.instances.VI_IN.priorty: unknown key (did you mean priority?)`,
    `${file}:28:11: vrrp.syncGroups.G_FW.members[0]: unknown instance VI_DMZ`,
    ''
  ].join('\n'))
})

t.test('checkConfig: normalized model as JSON, secrets redacted, exit 0', async t => {
  const dir = t.testdir({})
  const file = join(dir, 'hafw.yaml')
  writeFileSync(file, 'control: { tcp: { token: "0123456789abcdef" } }\nvrrp:\n  instances:\n    V: { interface: eth0, vrid: 1, version: 2, virtualAddresses: [192.0.2.1], authentication: { type: pass, password: pw } }\n')
  const r = await checkConfig(file)
  t.equal(r.exitCode, 0)
  t.ok(r.output.endsWith('\n'))
  const m = JSON.parse(r.output)
  t.equal(m.routers[0].id, 'V/ipv4')
  t.equal(m.routers[0].authentication.password, '<redacted>')
  t.equal(m.control.tcp.token, '<redacted>')
  t.notMatch(r.output, /0123456789abcdef/)
})

t.test('formatIssues: file-level issues without a line', async t => {
  t.equal(formatIssues('f.yaml', [{ path: '', message: 'cannot read the file' }, { path: 'a.b', line: 3, message: 'x' }]), 'f.yaml: cannot read the file\nf.yaml:3: a.b: x\n')
})
