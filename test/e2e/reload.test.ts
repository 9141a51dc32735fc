// SIGHUP reload on a running master: an in-place change (priority, a new VIP) applies without a
// transition; `hafwctl reload --dry-run` prints the plan (a VRID change restarts, a track script
// changes in place) and applies nothing; a reload that adds a track script and a VIP keeps the
// master MASTER, never removes an old VIP, and the script's weight shows as a logged priority
// change; a broken file is refused and the daemon keeps running with its old config; a VIP
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
import { execa } from 'execa'
import { repoRoot } from '../../src/lab/hafwd-process.js'

const hafwctl = async (...args: string[]): Promise<{ code: number, out: string, err: string }> => {
  const r = await execa(process.execPath, [join(repoRoot(), 'dist', 'main', 'hafwctl-bin.js'), ...args], { reject: false, timeout: 10_000, stripFinalNewline: false })
  return { code: r.exitCode ?? -1, out: String(r.stdout), err: String(r.stderr) }
}

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

  // Dry run: a VRID change (restart) and a track script (in place), nothing applied.
  const sock = `/run/hafw/${lab.prefix}-fw1.sock`
  const script = '      track:\n        scripts:\n          - name: chk_up\n            command: [/bin/sh, -c, "exit 1"]\n            interval: 200ms\n            weight: -30\n'
  const tracked = text.replace('      vrid: 51\n', `      vrid: 51\n${script}`)
  t.not(tracked, text, 'track script inserted')
  writeFileSync(p.configFile, tracked.replace('vrid: 52', 'vrid: 53'))
  const reloadsBefore = (readFileSync(p.logFile, 'utf8').match(/"configuration reloaded"/g) ?? []).length
  const dry = await hafwctl('-s', sock, 'reload', '--dry-run')
  t.equal(dry.code, 0, `dry run exit 0 (${dry.err})`)
  t.match(dry.out, /dry run of .*: valid; nothing applied/)
  t.match(dry.out, /VI_IN\/ipv4: restarts \(vrrp\.instances\.VI_IN\.vrid changed\)/, 'the restart and the key why')
  t.match(dry.out, /VI_OUT\/ipv4: in place, no restart: track \+script:chk_up \(weight -30\)/, 'the track script in place')
  await sleep(300)
  t.equal((readFileSync(p.logFile, 'utf8').match(/"configuration reloaded"/g) ?? []).length, reloadsBefore, 'nothing applied')
  t.equal(transitions(p.logFile).length, before, 'no transition')
  t.notMatch(readFileSync(p.logFile, 'utf8'), /tracked script chk_up/, 'no checker started')

  // For real: a track script and a third VIP; the old VIPs must never leave the interfaces.
  writeFileSync(p.configFile, tracked.replace(`- 10.1.0.50/24`, '- 10.1.0.50/24\n        - 10.1.0.51/24'))
  const missing: string[] = []
  let watching = true
  const watcher = (async () => {
    while (watching) {
      const inside = await addressesOf(fw1.ns, 'eth1')
      const outside = await addressesOf(fw1.ns, 'eth0')
      for (const a of [lab.vip.inside4, '10.1.0.50']) if (!inside.includes(a)) missing.push(a)
      if (!outside.includes(lab.vip.outside4)) missing.push(lab.vip.outside4)
    }
  })()
  const real = await hafwctl('-s', sock, 'reload')
  t.equal(real.code, 0, `reload exit 0 (${real.err})`)
  t.match(real.out, /VI_OUT\/ipv4: in place, no restart: track \+script:chk_up/)
  t.not(await waitFor(async () => (await addressesOf(fw1.ns, 'eth1')).includes('10.1.0.51'), 5000, 20), null, 'the new VIP is added')
  t.not(await waitFor(async () => /priority 120 -> 90 \(script:chk_up down, weight -30\)/.test(readFileSync(p.logFile, 'utf8')), 5000, 20), null,
    'the failing script lowers the priority, logged with its cause')
  watching = false
  await watcher
  t.same(missing, [], 'no old VIP was ever missing')
  t.equal(transitions(p.logFile).length, before, 'no state transition: still MASTER')
  const st = await hafwctl('-s', sock, 'show', 'vrrp')
  t.match(st.out, /script:chk_up +script +DOWN +weight -30 +-30/, 'show vrrp lists the tracked script')
  const state = await hafwctl('-s', sock, 'state')
  t.match(state.out, /tracking: .*VI_OUT\/ipv4 120->90 \(script:chk_up DOWN -30\)/, 'state says why the priority moved')
  const text2 = readFileSync(p.configFile, 'utf8')

  // A broken file: refused, old config stays, daemon alive.
  writeFileSync(p.configFile, text2.replace('vrid: 52', 'vrid: 999'))
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
