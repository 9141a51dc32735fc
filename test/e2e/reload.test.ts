// SIGHUP reload on a running master: an in-place change (priority, a new VIP) applies without a
// transition; a broken file is refused and the daemon keeps running with its old config; a VIP
// removed by hand while master is put back.
import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor, transitions, sleep } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import { waitFor, whoIsMaster } from '../../src/lab/observe.js'
import { addressesOf } from '../../src/lab/topology.js'
import { nsExec } from '../../src/lab/sh.js'

const skip = skipUnlessRoot()

t.test('SIGHUP reload', { skip }, async t => {
  const lab = await labFor(t, 'rld')
  const [fw1] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-reload-'))
  const p = startHafwd(fw1.ns, hafwConfig(lab, fw1, { advertInterval: '100ms', ipv6: false }), dir, 'fw1')
  t.teardown(async () => { await p.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 10_000, 20), null, 'fw1 master')
  const before = transitions(p.logFile).length

  // In place: a higher priority and a second inside VIP.
  const text = readFileSync(p.configFile, 'utf8')
    .replace(/priority: 100/g, 'priority: 120')
    .replace(`- ${lab.vip.inside4}/24`, `- ${lab.vip.inside4}/24\n        - 10.1.0.50/24`)
  writeFileSync(p.configFile, text)
  p.signal('SIGHUP')
  t.not(await waitFor(async () => (await addressesOf(fw1.ns, 'eth1')).includes('10.1.0.50'), 5000, 20), null, 'the new VIP is added on the running master')
  await sleep(300)
  t.equal(transitions(p.logFile).length, before, 'no state transition: nothing flapped')
  t.match(readFileSync(p.logFile, 'utf8'), /"configuration reloaded"/, 'reload logged')

  // A broken file: refused, old config stays, daemon alive.
  writeFileSync(p.configFile, text.replace('vrid: 52', 'vrid: 999'))
  p.signal('SIGHUP')
  t.not(await waitFor(async () => /reload refused/.test(readFileSync(p.logFile, 'utf8')), 5000, 20), null, 'reload refused')
  t.match(readFileSync(p.logFile, 'utf8'), /vrrp\.instances\.VI_IN\.vrid/, 'the refusal names the key path')
  await sleep(300)
  t.equal(p.proc.exitCode, null, 'hafwd still running')
  t.ok((await addressesOf(fw1.ns, 'eth1')).includes('10.1.0.50'), 'VIPs of the running config kept')
  t.equal(transitions(p.logFile).length, before, 'still no transition')

  // Someone removes a VIP behind our back while we are master: it is put back and logged.
  await nsExec(fw1.ns, 'ip', ['addr', 'del', `${lab.vip.inside4}/24`, 'dev', 'eth1'])
  t.not(await waitFor(async () => (await addressesOf(fw1.ns, 'eth1')).includes(lab.vip.inside4), 3000, 10), null, 'the VIP is restored')
  t.match(readFileSync(p.logFile, 'utf8'), /removed behind our back/, 'restoration logged')
})
