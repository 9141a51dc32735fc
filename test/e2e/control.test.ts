// hafwctl against a running hafwd pair over the real control sockets: the snapshot says fw1
// master / fw2 backup, the health exit codes, --watch on fw2 sees the takeover when fw1 dies,
// the socket is 0600 and goes away on a clean stop.
import t from 'tap'
import { execa } from 'execa'
import WebSocket from 'ws'
import type { ResultPromise } from 'execa'
import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { skipUnlessRoot, labFor, sleep } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { repoRoot, startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { waitFor, whoIsMaster } from '../../src/lab/observe.js'
import type { Status } from '../../src/control/protocol.js'

const skip = skipUnlessRoot()
const INTERVAL = '100ms'
const hafwctl = (): string => join(repoRoot(), 'dist', 'main', 'hafwctl-bin.js')

async function ctl (...args: string[]): Promise<{ code: number, out: string, err: string }> {
  const r = await execa(process.execPath, [hafwctl(), ...args], { reject: false, timeout: 10_000, stripFinalNewline: false })
  return { code: r.exitCode ?? -1, out: String(r.stdout), err: String(r.stderr) }
}

async function stateJson (sock: string): Promise<Status> {
  const r = await ctl('-s', sock, 'state', '--json')
  if (r.out === '') throw new Error(`hafwctl state --json failed (${r.code}): ${r.err}`)
  return JSON.parse(r.out) as Status
}

t.test('hafwctl against a hafwd pair', { skip }, async t => {
  const lab = await labFor(t, 'ctl')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-ctl-'))
  const sock1 = join(dir, 'run', 'fw1.sock')
  const sock2 = join(dir, 'run', 'fw2.sock')
  const procs: HafwdProcess[] = []
  let watcher: ResultPromise | null = null
  t.teardown(async () => {
    if (watcher !== null && watcher.exitCode === null) watcher.kill('SIGKILL')
    for (const p of procs) await p.stop('SIGKILL').catch(() => null)
  })
  const start = (fw: typeof fw1, name: string, sock: string): HafwdProcess => {
    const p = startHafwd(fw.ns, hafwConfig(lab, fw, { advertInterval: INTERVAL, controlSocket: sock }), dir, name)
    procs.push(p)
    return p
  }

  const p1 = start(fw1, 'fw1', sock1)
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'fw1 elected alone')
  start(fw2, 'fw2', sock2)
  t.not(await waitFor(async () => (await ctl('-s', sock2, 'state')).code === 1, 15_000, 100), null, 'fw2 reports BACKUP')

  await t.test('state --json: fw1 master, fw2 backup, heard fw1', async t => {
    const s1 = await stateJson(sock1)
    const s2 = await stateJson(sock2)
    t.equal(s1.node, 'fw1')
    t.equal(s2.node, 'fw2')
    t.equal(s1.pid, p1.pid, 'the pid of the daemon we started')
    t.same(s1.routers.map(r => r.id).sort(), ['VI_IN/ipv4', 'VI_IN/ipv6', 'VI_OUT/ipv4', 'VI_OUT/ipv6'])
    t.ok(s1.routers.every(r => r.state === 'master'), 'every fw1 router is master')
    t.same(s1.groups.map(g => [g.name, g.state]), [['G_FW', 'master']])
    t.ok(s2.routers.every(r => r.state === 'backup'), 'every fw2 router is backup')
    t.same(s2.groups.map(g => [g.name, g.state]), [['G_FW', 'backup']])
    for (const r of s2.routers) {
      t.not(r.lastMaster, null, `${r.id} heard a master`)
      t.equal(r.lastMaster?.priority, s1.routers.find(x => x.id === r.id)?.effectivePriority, `${r.id}: the master's priority as heard`)
      t.equal(r.lastMaster?.address, s1.routers.find(x => x.id === r.id)?.primaryAddress, `${r.id}: fw1's primary address`)
    }
    t.ok(s1.routers.every(r => r.vips.length > 0), 'VIPs listed')
    t.ok((s1.counters['transition.master'] ?? 0) >= 4, 'runtime counters included')
  })

  await t.test('state exit codes and text; show vrrp; counters', async t => {
    const r1 = await ctl('-s', sock1, 'state')
    t.equal(r1.code, 0, 'fw1: exit 0 (all MASTER)')
    t.match(r1.out, /^fw1 {2}pid \d+ .* MASTER\n/)
    t.match(r1.out, /\nG_FW +- +MASTER /)
    const r2 = await ctl('-s', sock2, 'state')
    t.equal(r2.code, 1, 'fw2: exit 1 (all BACKUP)')
    t.match(r2.out, /\n {2}VI_IN\/ipv4 +eth1\/52 +BACKUP +\S+ +\S+ \(\d+\) /, 'the master column names the address and priority heard')
    const v = await ctl('-s', sock2, 'show', 'vrrp')
    t.equal(v.code, 0)
    t.match(v.out, /adverts received +[1-9]\d*\n/)
    const c1 = await ctl('-s', sock1, 'counters')
    t.equal(c1.code, 0)
    t.match(c1.out, /\neffect\.sendAdvert\.ok +[1-9]\d*\n/, 'the master counts its adverts')
    const c2 = await ctl('-s', sock2, 'counters')
    t.match(c2.out, /\nrx\.frames +[1-9]\d*\n/, 'the backup counts the frames it received')
  })

  await t.test('the control socket is 0600 and served only to its owner', async t => {
    const st = statSync(sock1)
    t.ok(st.isSocket())
    t.equal(st.mode & 0o777, 0o600)
    t.equal(st.uid, 0)
  })

  await t.test('100 idle control clients do not lock hafwctl state out (issue 12)', async t => {
    // More idle clients than control.maxClients (64): the longest-idle ones are closed to make
    // room (1013), so a health check still gets its answer.
    const idle = await Promise.all(Array.from({ length: 100 }, async () => {
      const ws = new WebSocket(`ws+unix:${sock1}:/`)
      const closed = new Promise<number>(resolve => { ws.on('close', code => { resolve(code) }) })
      ws.on('error', () => {})
      await new Promise<void>(resolve => { ws.once('open', () => { resolve() }); ws.once('close', () => { resolve() }) })
      return { ws, closed }
    }))
    t.teardown(() => { for (const c of idle) c.ws.terminate() })
    const r = await ctl('-s', sock1, 'state')
    t.equal(r.code, 0, `hafwctl state answers: exit 0 (all MASTER)${r.err === '' ? '' : `: ${r.err}`}`)
    const evicted = idle.filter(c => c.ws.readyState !== WebSocket.OPEN).length
    t.ok(evicted >= 36, `the oldest idle clients made room (${evicted} closed)`)
    for (const c of idle) c.ws.close()
  })

  await t.test('--watch on fw2 sees the takeover when fw1 is killed', async t => {
    const w = execa(process.execPath, [hafwctl(), '-s', sock2, 'state', '--watch'], { reject: false, buffer: true, all: false })
    watcher = w
    let out = ''
    w.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    t.not(await waitFor(async () => out.includes('watching for changes'), 10_000, 20), null, 'the snapshot is printed first')
    await p1.stop('SIGKILL')
    const done = (): boolean => ['VI_OUT/ipv4', 'VI_OUT/ipv6', 'VI_IN/ipv4', 'VI_IN/ipv6'].every(id => out.includes(`${id}  backup -> master`)) && out.includes('group G_FW  backup -> master')
    t.not(await waitFor(async () => done(), 10_000, 20), null, 'every router and the group went master')
    if (!done()) t.comment(out)
    const tail = out.slice(out.indexOf('watching for changes'))
    t.match(tail, /\n\S+Z {2}VI_\w+\/ipv[46] {2}backup -> master {2}\((masterDown|syncGroup), priority \d+\)\n/, 'an event line')
    await sleep(200)
    w.kill('SIGINT')
    const r = await w
    t.equal(r.exitCode, 0, 'Ctrl-C: exit code of the last state (all MASTER)')
    t.equal((await ctl('-s', sock2, 'state')).code, 0, 'fw2 now reports MASTER')
  })

  await t.test('clean stop removes the socket; hafwctl then exits 4', async t => {
    const p2 = procs[1] as HafwdProcess
    t.equal(await p2.stop('SIGTERM'), 0)
    t.notOk(existsSync(sock2), 'socket removed')
    const r = await ctl('-s', sock2, 'state')
    t.equal(r.code, 4)
    t.equal(r.err, `hafwctl: hafwd is not running (no control socket at ${sock2})\n`)
    // fw1 was SIGKILLed: its socket file is stale.
    t.ok(existsSync(sock1), 'a killed daemon leaves its socket file')
    const r1 = await ctl('-s', sock1, 'state')
    t.equal(r1.code, 4)
    t.match(r1.err, /hafwd is not running \(nothing listens on the control socket/)
  })

  await t.test('a restarted daemon replaces its stale socket', async t => {
    start(fw1, 'fw1-b', sock1)
    t.not(await waitFor(async () => [0, 1, 3].includes((await ctl('-s', sock1, 'state')).code), 15_000, 100), null, 'fw1 serves its socket again')
  })
})
