// The configuration thread (src/runtime/config-loader.ts, config-worker.ts): the model and the
// issues come back through the structured clone exactly as the in-process loader makes them, and
// a thread that fails, exits or hangs is one issue, never a rejection.
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfigFile } from '../../../src/config/load.js'
import { loadConfigInWorker } from '../../../src/runtime/config-loader.js'
import { oneInstance } from '../config/helpers.js'

const shim = new URL('../../helpers/config-worker-shim.mjs', import.meta.url)
const fixture = (name: string): URL => new URL(`../../fixtures/config-thread/${name}.mjs`, import.meta.url)
const dir = mkdtempSync(join(tmpdir(), 'hafw-cfgthread-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

function file (name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

t.test('a valid file: the same model as the in-process loader', async t => {
  const p = file('ok.yaml', oneInstance(['priority: 120']) + 'conntrack:\n  sync: { transport: udp, interface: eth2, udp: { address: 10.9.0.1, peer: 10.9.0.2 } }\n')
  const inProcess = await loadConfigFile(p)
  const r = await loadConfigInWorker(p, { entry: shim })
  t.ok(inProcess.ok && r.ok, 'both valid')
  if (!inProcess.ok || !r.ok) return
  t.strictSame(r.model, inProcess.model, 'the model crosses the thread boundary unchanged')
  t.equal(r.model.routers[0]?.priority, 120)
  t.not(r.model.conntrack, null, 'conntrack section kept')
  t.notOk('config' in r, 'the raw config stays in the thread')
})

t.test('an invalid file: every issue with its key path and line, as in-process', async t => {
  const p = file('bad.yaml', oneInstance(['priority: 300', 'advertInterval: fast']))
  const inProcess = await loadConfigFile(p)
  const r = await loadConfigInWorker(p, { entry: shim })
  t.notOk(r.ok)
  if (r.ok || inProcess.ok) return
  t.strictSame(r.issues, inProcess.issues)
  t.match(r.issues, [{ path: 'vrrp.instances.VI_1.priority', line: 7 }])
  t.ok(r.issues.length >= 2, 'not only the first issue')
})

t.test('a missing file is an issue that names the error', async t => {
  const r = await loadConfigInWorker(join(dir, 'nope.yaml'), { entry: shim })
  t.match(r, { ok: false, issues: [{ path: '', message: /^cannot read the file: ENOENT/ }] })
})

t.test('a thread that fails, exits or hangs: one issue, nothing else', async t => {
  t.match(await loadConfigInWorker('/x', { entry: fixture('throws') }), { ok: false, issues: [{ path: '', message: 'the configuration could not be checked: the thread broke' }] })
  t.match(await loadConfigInWorker('/x', { entry: fixture('exits') }), { ok: false, issues: [{ message: /exited \(code 3\) without an answer/ }] })
  t.match(await loadConfigInWorker('/x', { entry: fixture('hangs'), timeoutMs: 50 }), { ok: false, issues: [{ message: /no answer within 50 ms/ }] })
  t.match(await loadConfigInWorker('/x', { entry: fixture('does-not-exist') }), { ok: false, issues: [{ message: /^the configuration could not be checked: / }] })
})
