// hafwctl commands against a hafwd pair with conntrack sync on (VRRPv3 at 100 ms):
//   traffic through the master shows up in `conntrack internal` on fw1 and `conntrack external`
//   on fw2, `show sync` names the peer, `state` has the sync line;
//   `maintenance on` on the master → fw2 takes over promptly (priority 0 → Skew_Time) and fw1
//   stays out; `maintenance off` → fw1 (higher priority, preempt) takes the master role back;
//   `reload` after an edit → applied in place, no transition; a broken file → exit 1 with the key
//   path and line, nothing applied; the conntrack commands answer.
import t from 'tap'
import { execa } from 'execa'
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { skipUnlessRoot, labFor, sleep, transitions } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { repoRoot, startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { clientReachesServer, waitFor, whoIsMaster } from '../../src/lab/observe.js'
import type { Status } from '../../src/control/protocol.js'

const skip = skipUnlessRoot()
const hafwctl = (): string => join(repoRoot(), 'dist', 'main', 'hafwctl-bin.js')

async function ctl (...args: string[]): Promise<{ code: number, out: string, err: string }> {
  const r = await execa(process.execPath, [hafwctl(), ...args], { reject: false, timeout: 40_000, stripFinalNewline: false })
  return { code: r.exitCode ?? -1, out: String(r.stdout), err: String(r.stderr) }
}

function logOf (p: HafwdProcess): string { return existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : '' }

t.test('hafwctl commands on a hafwd pair with conntrack sync', { skip }, async t => {
  const lab = await labFor(t, 'cmd')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-cmd-'))
  const sock1 = join(dir, 'run', 'fw1.sock')
  const sock2 = join(dir, 'run', 'fw2.sock')
  const o = { conntrack: true, advertInterval: '100ms', startupResyncTimeout: '10s' }
  const p1 = startHafwd(fw1.ns, hafwConfig(lab, fw1, { ...o, controlSocket: sock1 }), dir, 'fw1')
  t.teardown(async () => { await p1.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'fw1 elected alone')
  const p2 = startHafwd(fw2.ns, hafwConfig(lab, fw2, { ...o, controlSocket: sock2 }), dir, 'fw2')
  t.teardown(async () => { await p2.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => /startup resync receiving -> done/.test(logOf(p2)), 20_000, 50), null, 'fw2 finished its startup resync')
  t.not(await waitFor(async () => (await ctl('-s', sock2, 'state')).code === 1, 10_000, 100), null, 'fw2 BACKUP')

  await t.test('conntrack internal/external, show sync, the state sync line', async t => {
    for (let i = 0; i < 3; i++) t.ok(await clientReachesServer(lab, 1), `ping ${i + 1} through the pair`)
    const icmpLine = /\nicmp +- +10\.1\.0\.100 -> 192\.0\.2\.100 type 8 code 0 id \d+ +\d+s +snat 192\.0\.2\.1 /
    t.not(await waitFor(async () => icmpLine.test((await ctl('-s', sock1, 'conntrack', 'internal')).out), 5000, 100), null, 'fw1 internal cache: the ping, SNATed to the VIP')
    t.not(await waitFor(async () => icmpLine.test((await ctl('-s', sock2, 'conntrack', 'external')).out), 5000, 100), null, 'fw2 external cache: the ping, from fw1')
    const ext = await ctl('-s', sock2, 'conntrack', 'external')
    t.equal(ext.code, 0)
    t.match(ext.out, /^PROTO +STATE +ORIGINAL +TIMEOUT +NAT +MARK +ACTIVE\n/)
    t.match(ext.out, /\n\d+ entr(y|ies) in the external cache\n$/)
    const json = JSON.parse((await ctl('-s', sock2, 'conntrack', 'external', '--json')).out) as Array<{ proto: number, orig: { src: string } }>
    t.ok(json.some(e => e.proto === 1 && e.orig.src === lab.client.v4), '--json: the entries')
    const sync = await ctl('-s', sock2, 'show', 'sync')
    t.equal(sync.code, 0)
    t.match(sync.out, new RegExp(`\\n {2}peer +udp ${fw1.sync.replace(/\./g, '\\.')} port 3780 from ${fw2.sync.replace(/\./g, '\\.')} on eth2, heard`), 'the FTFW peer, heard')
    t.match(sync.out, /\n {2}bulk \(startup\) +done\n/)
    t.match(sync.out, /\n {2}data +\d+ +[1-9]\d*\n/, 'data received from the peer')
    const st = await ctl('-s', sock1, 'state')
    t.match(st.out, /\nsync: peer heard · internal \d+ · external \d+ · bulk (done|none) · last commit /)
  })

  await t.test('conntrack commands answer', async t => {
    t.match(await ctl('-s', sock2, 'commit'), { code: 0, out: /^committed \d+ of \d+ entries of the external cache in \d+ ms/ })
    t.match(await ctl('-s', sock1, 'resync'), { code: 0, out: /^internal cache resynced from the kernel table: \d+ entries\n/ })
    t.match(await ctl('-s', sock1, 'bulk'), { code: 0, out: /^bulk update of \d+ entries queued to the peer\n/ })
    t.match(await ctl('-s', sock2, 'request-resync'), { code: 0, out: 'resync requested from the peer\n' })
    t.match(await ctl('-s', sock2, 'flush', 'internal'), { code: 0, out: /^flushed the internal cache \(\d+ entries\)\n/ })
  })

  await t.test('maintenance on the master: fw2 takes over promptly and fw1 stays out', async t => {
    const r = await ctl('-s', sock1, 'maintenance', 'on')
    t.equal(r.code, 0, r.err)
    t.match(r.out, /^maintenance on: /)
    const took = await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw2', 3000, 10)
    t.not(took, null, 'fw2 holds the VIPs')
    t.comment(`fw2 took over ${Math.round(took ?? -1)} ms after hafwctl returned`)
    await sleep(1000)
    t.same(await whoIsMaster(lab), ['fw2'], 'fw1 does not come back by itself')
    const s1 = await ctl('-s', sock1, 'state')
    t.equal(s1.code, 2, 'fw1 reports FAULT')
    t.match(s1.out, /\nmaintenance: ON /)
    t.match(s1.out, /\nfaults: .*\bmaintenance\b/, 'maintenance is its own fault cause')
    t.notMatch(s1.out, /trackDown|track:maintenance/, 'not blamed on a track')
    t.equal((await ctl('-s', sock2, 'state')).code, 0, 'fw2 reports MASTER')
    const j = JSON.parse((await ctl('-s', sock1, 'state', '--json')).out) as Status
    t.equal(j.maintenance, true)
    t.ok(j.routers.every(x => x.state === 'fault' && x.effectivePriority === 1), 'every fw1 router FAULT at priority 1')
    t.ok(j.routers.every(x => x.lastTransition?.reason === 'maintenance'), 'transitions carry the reason maintenance')
    t.ok(await clientReachesServer(lab, 1), 'traffic flows through fw2')
  })

  await t.test('maintenance off: fw1 (higher priority, preempt) takes the master role back', async t => {
    const r = await ctl('-s', sock1, 'maintenance', 'off')
    t.equal(r.code, 0, r.err)
    t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 5000, 20), null, 'fw1 is master again')
    const j = JSON.parse((await ctl('-s', sock1, 'state', '--json')).out) as Status
    t.equal(j.maintenance, false)
    t.ok(j.routers.every(x => x.state === 'master' && x.effectivePriority === fw1.priority), 'priority restored')
  })

  await t.test('reload after an edit: applied in place, nothing flaps; a broken file is refused', async t => {
    await sleep(500)
    const before = transitions(p1.logFile).length
    const text = readFileSync(p1.configFile, 'utf8')
    writeFileSync(p1.configFile, text.replaceAll(`priority: ${fw1.priority}`, `priority: ${fw1.priority + 10}`))
    const r = await ctl('-s', sock1, 'reload')
    t.equal(r.code, 0, r.err)
    t.match(r.out, /^reloaded .*fw1\.yaml: /)
    t.match(r.out, /VI_OUT\/ipv4: in place, no restart: priority \d+ -> \d+/)
    await sleep(500)
    t.equal(transitions(p1.logFile).length, before, 'no transition')
    const j = JSON.parse((await ctl('-s', sock1, 'state', '--json')).out) as Status
    t.ok(j.routers.every(x => x.configuredPriority === fw1.priority + 10 && x.state === 'master'), 'the new priority is in force, still master')

    writeFileSync(p1.configFile, text.replace('vrid: 52', 'vrid: 999'))
    const bad = await ctl('-s', sock1, 'reload')
    t.equal(bad.code, 1, 'refused: exit 1')
    t.match(bad.err, /invalidConfig/)
    t.match(bad.err, /\n {2}vrrp\.instances\.VI_IN\.vrid \(line \d+, column \d+\): /, 'the key path and the line')
    t.equal(transitions(p1.logFile).length, before, 'still no transition')
    const k = JSON.parse((await ctl('-s', sock1, 'state', '--json')).out) as Status
    t.ok(k.routers.every(x => x.configuredPriority === fw1.priority + 10 && x.state === 'master'), 'nothing applied from the broken file')
    t.match(await ctl('-s', sock1, 'check-config', p1.configFile), { code: 1, err: /vrrp\.instances\.VI_IN\.vrid/ })
    writeFileSync(p1.configFile, text)
  })
})
