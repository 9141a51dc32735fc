// hafwctl end to end without a daemon: argv parsing, and main() against a control server with a
// fake status source over a real unix socket (state + exit codes, --json, --watch, show vrrp,
// counters, unreachable daemon, -c config).
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs, DEFAULT_SOCKET } from '../../../src/cli/args.js'
import { main, USAGE } from '../../../src/main/hafwctl.js'
import type { CliIo } from '../../../src/main/hafwctl.js'
import { startControlServer } from '../../../src/control/server.js'
import { ControlClient } from '../../../src/control/client.js'
import type { ControlEvent } from '../../../src/control/protocol.js'
import { FakeSource, allBackup, allMaster, statusFrom } from '../control/fixtures.js'

const dir = mkdtempSync(join(tmpdir(), 'hafwctl-'))
let n = 0

t.test('argv', async t => {
  const base = { json: false, watch: false, dryRun: false, socket: null, config: null, timeoutMs: 3000, arg: null }
  t.same(parseArgs(['state']), { ...base, name: 'state' })
  t.same(parseArgs(['-s', '/x.sock', 'state', '--json', '--watch']), { ...base, name: 'state', socket: '/x.sock', json: true, watch: true })
  t.same(parseArgs(['state', '--socket=/y.sock', '-t', '500']), { ...base, name: 'state', socket: '/y.sock', timeoutMs: 500 })
  t.same(parseArgs(['show', 'vrrp', '--json']), { ...base, name: 'showVrrp', json: true })
  t.same(parseArgs(['-c', '/etc/hafw/hafw.yaml', 'counters']), { ...base, name: 'counters', config: '/etc/hafw/hafw.yaml' })
  t.same(parseArgs([]), { ...base, name: 'help' })
  t.same(parseArgs(['state', '-h']), { ...base, name: 'help' })
  t.equal(parseArgs(['frob']), 'unknown command "frob"')
  t.equal(parseArgs(['show']), 'unknown command "show"')
  t.equal(parseArgs(['state', '--nope']), 'unknown option --nope')
  t.equal(parseArgs(['state', '-s']), '-s needs a socket path')
  t.equal(parseArgs(['state', '-t', 'soon']), '-t needs a positive number of milliseconds')
  t.equal(parseArgs(['counters', '--watch']), '--watch goes with state only')
  t.match(parseArgs(['-s', '/a', '-c', '/b', 'state']), /exclusive/)
  t.equal(DEFAULT_SOCKET, '/run/hafw/hafwd.sock')
})

interface Run { code: number, out: string, err: string }

function io (interrupt?: Promise<void>): CliIo & { text: () => { out: string, err: string } } {
  let out = ''
  let err = ''
  return {
    out: (s) => { out += s },
    err: (s) => { err += s },
    interrupted: interrupt ?? new Promise(() => {}),
    text: () => ({ out, err })
  }
}

async function run (argv: string[]): Promise<Run> {
  const i = io()
  const code = await main(argv, i)
  return { code, ...i.text() }
}

async function serve (t: { teardown: (fn: () => unknown) => void }, source: FakeSource): Promise<string> {
  const path = join(dir, `s${n++}.sock`)
  const server = await startControlServer({ socket: path, source })
  t.teardown(server.close)
  return path
}

t.test('state: text, --json, exit codes 0 and 1', async t => {
  const m = allMaster()
  const b = allBackup()
  const master = statusFrom(m.node, m.now)
  const pm = await serve(t, new FakeSource(master))
  const pb = await serve(t, new FakeSource(statusFrom(b.node, b.now)))
  const r0 = await run(['-s', pm, 'state'])
  t.equal(r0.code, 0)
  t.match(r0.out, /^fw1 {2}pid 4242 .* MASTER\n\nNAME /)
  t.equal(r0.err, '')
  const r1 = await run(['-s', pb, 'state'])
  t.equal(r1.code, 1)
  t.match(r1.out, /BACKUP/)
  const j = await run(['state', '--json', '-s', pm])
  t.equal(j.code, 0)
  t.same(JSON.parse(j.out), JSON.parse(JSON.stringify(master)), '--json prints the raw snapshot')
})

t.test('show vrrp and counters', async t => {
  const m = allMaster()
  const p = await serve(t, new FakeSource(statusFrom(m.node, m.now, { counters: { 'rx.frames': 3, 'transition.master': 3 } })))
  const v = await run(['-s', p, 'show', 'vrrp'])
  t.equal(v.code, 0)
  t.match(v.out, /\nVI_IN\/ipv4 {2}eth1 VRID 52 VRRPv3 IPv4\n {2}state {13}MASTER, sync group G_FW\n/)
  const vj = await run(['-s', p, 'show', 'vrrp', '--json'])
  t.same((JSON.parse(vj.out) as Array<{ id: string }>).map(r => r.id), ['VI_OUT/ipv4', 'VI_IN/ipv4', 'VI_MGMT/ipv4'])
  const c = await run(['-s', p, 'counters'])
  t.equal(c.out, 'COUNTER            VALUE\nrx.frames          3\ntransition.master  3\n')
  const cj = await run(['-s', p, 'counters', '--json'])
  t.same(JSON.parse(cj.out), { 'rx.frames': 3, 'transition.master': 3 })
})

t.test('state --watch: the snapshot, one line per event, exit code of the last state', async t => {
  const b = allBackup()
  const source = new FakeSource(statusFrom(b.node, b.now))
  const p = await serve(t, source)
  let interrupt = (): void => {}
  const i = io(new Promise<void>(resolve => { interrupt = resolve }))
  const done = main(['-s', p, 'state', '--watch'], i)
  // Wait until the snapshot is out, then push events.
  while (!i.text().out.includes('watching for changes')) await new Promise(resolve => setTimeout(resolve, 5))
  const time = '2025-01-01T00:00:05.000Z'
  const events: ControlEvent[] = [
    { kind: 'transition', routerId: 'VI_OUT/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 5000, time },
    { kind: 'transition', routerId: 'VI_IN/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 5000, time },
    { kind: 'groupTransition', group: 'G_FW', from: 'backup', to: 'master', reason: 'allWantMaster', member: null, at: 5000, time },
    { kind: 'transition', routerId: 'VI_MGMT/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 5000, time }
  ]
  for (const e of events) source.emit(e)
  while (!i.text().out.includes('VI_MGMT/ipv4  backup -> master')) await new Promise(resolve => setTimeout(resolve, 5))
  interrupt()
  t.equal(await done, 0, 'everything is MASTER now')
  const lines = i.text().out.split('\n')
  const at = lines.indexOf('watching for changes (Ctrl-C to stop)')
  t.same(lines.slice(at + 1), [
    '2025-01-01T00:00:05.000Z  VI_OUT/ipv4  backup -> master  (masterDown, priority 100)',
    '2025-01-01T00:00:05.000Z  VI_IN/ipv4  backup -> master  (masterDown, priority 100)',
    '2025-01-01T00:00:05.000Z  group G_FW  backup -> master  (allWantMaster)',
    '2025-01-01T00:00:05.000Z  VI_MGMT/ipv4  backup -> master  (masterDown, priority 100)',
    ''
  ])
})

t.test('state --watch --json: JSON lines; the daemon going away is exit 4', async t => {
  const m = allMaster()
  const source = new FakeSource(statusFrom(m.node, m.now))
  const path = join(dir, `s${n++}.sock`)
  const server = await startControlServer({ socket: path, source })
  const i = io()
  const done = main(['-s', path, 'state', '--watch', '--json'], i)
  while (!i.text().out.includes('\n')) await new Promise(resolve => setTimeout(resolve, 5))
  const e: ControlEvent = { kind: 'transition', routerId: 'VI_MGMT/ipv4', from: 'master', to: 'backup', reason: 'preempted', priority: 100, at: 9, time: 't' }
  source.emit(e)
  while (i.text().out.split('\n').length < 3) await new Promise(resolve => setTimeout(resolve, 5))
  await server.close()
  t.equal(await done, 4)
  const [first, second] = i.text().out.split('\n')
  t.equal((JSON.parse(first as string) as { node: string }).node, 'fw1')
  t.same(JSON.parse(second as string), e)
  t.match(i.text().err, /^hafwctl: hafwd closed the connection \(1001 hafwd stopping\)\n$/)
})

t.test('unreachable daemon: exit 4 with the reason; usage errors: 64', async t => {
  const missing = join(dir, 'none.sock')
  for (const argv of [['state'], ['show', 'vrrp'], ['counters'], ['state', '--watch']]) {
    const r = await run(['-s', missing, ...argv])
    t.equal(r.code, 4, argv.join(' '))
    t.equal(r.err, `hafwctl: hafwd is not running (no control socket at ${missing})\n`)
    t.equal(r.out, '')
  }
  const u = await run(['state', '--bogus'])
  t.equal(u.code, 64)
  t.match(u.err, /^hafwctl: unknown option --bogus\nusage: hafwctl /)
  const h = await run(['--help'])
  t.equal(h.code, 0)
  t.equal(h.out, USAGE)
  for (const code of ['0 ', '1 ', '2 ', '3 ', '4 ', '5 ', '64 ']) t.match(USAGE, new RegExp(`\\n {2}${code} +\\S`), `--help documents exit ${code.trim()}`)
})

t.test('-c CONFIG reads control.socket from the hafwd config', async t => {
  const m = allMaster()
  const p = await serve(t, new FakeSource(statusFrom(m.node, m.now)))
  const cfg = join(dir, 'hafw.yaml')
  writeFileSync(cfg, `control:
  socket: ${p}
vrrp:
  instances:
    VI_1:
      interface: eth0
      vrid: 51
      priority: 100
      virtualAddresses: [192.0.2.1/24]
`)
  const r = await run(['-c', cfg, 'state'])
  t.equal(r.err, '')
  t.equal(r.code, 0)
  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, 'control: {socket: relative}\n')
  const rb = await run(['-c', bad, 'state'])
  t.equal(rb.code, 64)
  t.match(rb.err, /cannot take control\.socket from .*bad\.yaml/)
})

t.test('busy daemon (every connection held by a watcher): exit 5, not 4', async t => {
  const m = allMaster()
  const path = join(dir, `busy${n++}.sock`)
  const server = await startControlServer({ socket: path, source: new FakeSource(statusFrom(m.node, m.now)), maxClients: 1 })
  t.teardown(server.close)
  const watcher = await ControlClient.connect({ socket: path })
  t.teardown(async () => { await watcher.close() })
  await watcher.subscribe(() => {})
  for (const argv of [['state'], ['counters'], ['reload']]) {
    const r = await run(['-s', path, ...argv])
    t.equal(r.code, 5, argv.join(' '))
    t.match(r.err, /^hafwctl: hafwd is busy: .*HTTP 503/)
  }
  await watcher.close()
  t.equal((await run(['-s', path, 'state'])).code, 0, 'once the watcher is gone: answered')
})
