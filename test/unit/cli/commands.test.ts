// hafwctl commands against a control server with a fake command handler over a real unix socket:
// argv of every command, reload (applied / refused with key paths and lines → exit 1),
// maintenance, conntrack commands, `conntrack internal|external`, `show sync`, check-config,
// conntrack off → exit 1 with the reason; and the pure renderers (entries, sync, state line).
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from '../../../src/cli/args.js'
import { renderConntrack, renderSync, syncLine } from '../../../src/cli/render-sync.js'
import { renderState } from '../../../src/cli/render.js'
import { ctEntryView } from '../../../src/control/ct-view.js'
import { CommandError } from '../../../src/control/commands.js'
import { startControlServer } from '../../../src/control/server.js'
import { IPS } from '../../../src/core/conntrack/flow.js'
import { main, USAGE } from '../../../src/main/hafwctl.js'
import type { CliIo } from '../../../src/main/hafwctl.js'
import { FakeCommands, FakeSource, allBackup, ctEntry, ctStatus, statusFrom } from '../control/fixtures.js'
import { oneInstance } from '../config/helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'hafwctl-cmd-'))
let n = 0

t.test('argv of the commands', async t => {
  const base = { json: false, watch: false, dryRun: false, socket: null, config: null, timeoutMs: 3000 }
  t.same(parseArgs(['reload']), { ...base, name: 'reload', arg: null })
  t.same(parseArgs(['reload', '--dry-run']), { ...base, name: 'reload', arg: null, dryRun: true })
  t.same(parseArgs(['-n', 'reload']), { ...base, name: 'reload', arg: null, dryRun: true })
  t.equal(parseArgs(['maintenance', 'on', '--dry-run']), '--dry-run goes with reload only')
  t.same(parseArgs(['maintenance', 'on']), { ...base, name: 'maintenance', arg: 'on' })
  t.same(parseArgs(['maintenance', 'off', '--json']), { ...base, name: 'maintenance', arg: 'off', json: true })
  t.same(parseArgs(['commit']), { ...base, name: 'commit', arg: null })
  t.same(parseArgs(['flush']), { ...base, name: 'flush', arg: 'both' })
  t.same(parseArgs(['flush', 'external']), { ...base, name: 'flush', arg: 'external' })
  t.same(parseArgs(['resync']), { ...base, name: 'resync', arg: null })
  t.same(parseArgs(['bulk']), { ...base, name: 'bulk', arg: null })
  t.same(parseArgs(['request-resync']), { ...base, name: 'requestResync', arg: null })
  t.same(parseArgs(['conntrack', 'internal']), { ...base, name: 'conntrack', arg: 'internal' })
  t.same(parseArgs(['conntrack', 'external', '--json']), { ...base, name: 'conntrack', arg: 'external', json: true })
  t.same(parseArgs(['show', 'sync']), { ...base, name: 'showSync', arg: null })
  t.same(parseArgs(['check-config', '/etc/hafw/hafw.yaml']), { ...base, name: 'checkConfig', arg: '/etc/hafw/hafw.yaml' })
  t.equal(parseArgs(['maintenance']), 'unknown command "maintenance"')
  t.equal(parseArgs(['maintenance', 'maybe']), 'maintenance takes on or off')
  t.equal(parseArgs(['flush', 'all']), 'flush takes internal, external or both (default both)')
  t.equal(parseArgs(['conntrack']), 'unknown command "conntrack"')
  t.equal(parseArgs(['conntrack', 'both']), 'conntrack takes internal or external')
  t.equal(parseArgs(['check-config']), 'check-config needs a file')
  t.equal(parseArgs(['reload', 'now']), 'unknown command "reload now"')
  t.equal(parseArgs(['reload', '--watch']), '--watch goes with state only')
  t.equal(parseArgs(['requestResync']), 'unknown command "requestResync"', 'the documented spelling only')
})

function io (): CliIo & { text: () => { out: string, err: string } } {
  let out = ''
  let err = ''
  return { out: (s) => { out += s }, err: (s) => { err += s }, interrupted: new Promise(() => {}), text: () => ({ out, err }) }
}

async function run (argv: string[]): Promise<{ code: number, out: string, err: string }> {
  const i = io()
  const code = await main(argv, i)
  return { code, ...i.text() }
}

async function serve (t: { teardown: (f: () => unknown) => void }, h: FakeCommands): Promise<string> {
  const b = allBackup()
  const path = join(dir, `s${n++}.sock`)
  const server = await startControlServer({ socket: path, source: new FakeSource(statusFrom(b.node, b.now)), commands: h })
  t.teardown(server.close)
  return path
}

t.test('reload: applied (exit 0, changes and notes); refused with key paths and lines (exit 1)', async t => {
  const h = new FakeCommands()
  const s = await serve(t, h)
  const ok = await run(['-s', s, 'reload'])
  t.equal(ok.code, 0)
  t.equal(ok.out, 'reloaded /etc/hafw/hafw.yaml: VI_OUT/ipv4 inPlace\n1 router(s) unchanged\nnote: control: changed; takes effect when hafwd restarts\n')
  h.fail = new CommandError('invalidConfig', '1 error(s) in /etc/hafw/hafw.yaml; nothing applied', [{ path: 'vrrp.instances.VI_OUT.vrid', line: 7, column: 13, message: 'must be 1..255' }])
  const bad = await run(['-s', s, 'reload'])
  t.equal(bad.code, 1, 'refused: exit 1')
  t.equal(bad.out, '')
  t.equal(bad.err, 'hafwctl: hafwd refused the request: 1 error(s) in /etc/hafw/hafw.yaml; nothing applied (invalidConfig)\n  vrrp.instances.VI_OUT.vrid (line 7, column 13): must be 1..255\n')
  const j = await run(['-s', s, 'reload', '--json'])
  t.match(JSON.parse(j.out), { type: 'reloaded', changes: [{ id: 'VI_OUT/ipv4' }, { id: 'VI_IN/ipv4' }] })
})

t.test('reload --dry-run: the plan per router (restart and the key why, in place and what), exit 0; refused like a reload', async t => {
  const h = new FakeCommands()
  const s = await serve(t, h)
  const dry = await run(['-s', s, 'reload', '--dry-run'])
  t.equal(dry.code, 0)
  t.equal(dry.out, [
    'dry run of /etc/hafw/hafw.yaml: valid; nothing applied. Plan:',
    '  VI_OUT/ipv4: in place, no restart: virtualAddresses +192.0.2.9/24; track +script:chk (weight -30)',
    '  VI_IN/ipv4: restarts (vrrp.instances.VI_IN.vrid changed)',
    '  1 router(s) unchanged',
    ''
  ].join('\n'))
  t.same(h.calls, ['reload --dry-run'], 'the daemon was asked for a dry run, not a reload')
  h.fail = new CommandError('invalidConfig', '1 error(s) in /etc/hafw/hafw.yaml; nothing applied', [{ path: 'vrrp.instances.VI_OUT.vrid', line: 7, column: 13, message: 'must be 1..255' }])
  const bad = await run(['-s', s, 'reload', '--dry-run'])
  t.equal(bad.code, 1, 'same exit code as a refused reload')
  t.match(bad.err, /vrrp\.instances\.VI_OUT\.vrid \(line 7, column 13\): must be 1\.\.255/)
  const j = await run(['-s', s, 'reload', '--dry-run', '--json'])
  t.match(JSON.parse(j.out), { type: 'reloaded', dryRun: true, routers: [{ id: 'VI_OUT/ipv4', change: 'inPlace' }, { id: 'VI_IN/ipv4', change: 'restart', restart: ['vrrp.instances.VI_IN.vrid'] }] })
})

t.test('maintenance and the conntrack commands', async t => {
  const h = new FakeCommands()
  const s = await serve(t, h)
  t.match(await run(['-s', s, 'maintenance', 'on']), { code: 0, out: 'maintenance on: every router of this node is held in FAULT, the peer takes over\n' })
  t.match(await run(['-s', s, 'maintenance', 'on']), { code: 0, out: /^maintenance already on/ })
  t.match(await run(['-s', s, 'maintenance', 'off']), { code: 0, out: 'maintenance off: routers back in service\n' })
  t.match(await run(['-s', s, 'commit']), { code: 0, out: 'committed 48 of 48 entries of the external cache in 3 ms\n' })
  t.match(await run(['-s', s, 'flush', 'internal']), { code: 0, out: 'flushed internal\n' })
  t.match(await run(['-s', s, 'flush']), { code: 0, out: 'flushed both\n' })
  t.match(await run(['-s', s, 'resync']), { code: 0 })
  t.match(await run(['-s', s, 'bulk']), { code: 0, out: 'bulk sent\n' })
  t.match(await run(['-s', s, 'request-resync']), { code: 0, out: 'resync requested from the peer\n' })
  t.same(h.calls, ['maintenance on', 'maintenance on', 'maintenance off', 'commit 30000', 'flush internal', 'flush both', 'resync', 'bulk', 'requestResync'])
  h.fail = new CommandError('notAvailable', 'conntrack sync is off in this hafwd (no conntrack section in its configuration)')
  const off = await run(['-s', s, 'bulk'])
  t.equal(off.code, 1)
  t.match(off.err, /conntrack sync is off/)
  const gone = await run(['-s', join(dir, 'nobody.sock'), 'commit'])
  t.equal(gone.code, 4, 'unreachable is still 4')
})

t.test('conntrack internal|external and show sync', async t => {
  const h = new FakeCommands()
  const s = await serve(t, h)
  t.match(await run(['-s', s, 'conntrack', 'external']), { code: 0, out: 'the external cache is empty\n' })
  h.entries = [ctEntry(1), ctEntry(2, { proto: 17, state: undefined, nat: undefined, timeout: 30 })]
  const r = await run(['-s', s, 'conntrack', 'internal'])
  t.equal(r.code, 0)
  t.equal(r.out, [
    'PROTO  STATE        ORIGINAL                             TIMEOUT  NAT                MARK  ACTIVE',
    'tcp    ESTABLISHED  10.1.0.10:40001 -> 198.51.100.20:80  431999s  snat 198.51.100.1  -     12s',
    'udp    -            10.1.0.10:40002 -> 198.51.100.20:80  30s      -                  -     12s',
    '2 entries in the internal cache',
    ''
  ].join('\n'))
  const j = await run(['-s', s, 'conntrack', 'internal', '--json'])
  t.same(JSON.parse(j.out), JSON.parse(JSON.stringify(h.entries)))
  const sync = await run(['-s', s, 'show', 'sync'])
  t.equal(sync.code, 0)
  t.match(sync.out, /^conntrack sync \(FTFW\)\n {2}peer +udp 192\.168\.100\.2 port 3780 from 192\.168\.100\.1 on eth2, heard \(hello done\)\n/)
  t.match(sync.out, /\n {2}last commit +48\/48 entries in 3\.3 ms\n/)
  t.match(sync.out, /\n {2}nack +1 +0\n/)
  t.match(sync.out, /\n {2}errors +rx\.drop\.badChecksum=2\n/)
  const sj = await run(['-s', s, 'show', 'sync', '--json'])
  t.match(JSON.parse(sj.out), { conntrack: { bulk: 'done' }, counters: { 'ct.commit.done': 1 } })
})

t.test('check-config FILE: as hafwd --check-config, no daemon needed', async t => {
  const good = join(dir, 'good.yaml')
  const bad = join(dir, 'bad.yaml')
  writeFileSync(good, oneInstance())
  writeFileSync(bad, oneInstance(['priority: 300']))
  const g = await run(['check-config', good])
  t.equal(g.code, 0)
  t.match(JSON.parse(g.out), { routers: [{ id: 'VI_1/ipv4' }] })
  const b = await run(['check-config', bad])
  t.equal(b.code, 1)
  t.match(b.err, new RegExp(`^${bad}:7:\\d+: vrrp\\.instances\\.VI_1\\.priority: `))
  t.match(USAGE, /check-config FILE/)
  for (const word of ['reload', 'maintenance on|off', 'commit', 'flush [internal|external]', 'resync', 'bulk', 'request-resync', 'conntrack internal|external', 'show sync']) t.ok(USAGE.includes(word), `usage names ${word}`)
})

t.test('renderers: entries of every kind, sync status, the state line', async t => {
  const icmp = ctEntryView({
    key: 'k',
    flow: { family: 'ipv4', orig: { src: '10.1.0.10', dst: '10.2.0.1', l4proto: 1, icmpType: 8, icmpCode: 0, icmpId: 77 }, reply: { src: '10.2.0.1', dst: '10.1.0.10', l4proto: 1, icmpType: 0, icmpCode: 0, icmpId: 77 }, timeout: 29, mark: 255 },
    status: 'new',
    activeSinceS: 75,
    idleS: 3
  })
  t.same(icmp, { family: 'ipv4', proto: 1, orig: { src: '10.1.0.10', dst: '10.2.0.1', icmpType: 8, icmpCode: 0, icmpId: 77 }, reply: { src: '10.2.0.1', dst: '10.1.0.10', icmpType: 0, icmpCode: 0, icmpId: 77 }, timeout: 29, mark: 255, status: 'new', activeSinceS: 75, idleS: 3 })
  const v6 = ctEntryView({
    key: 'k6',
    flow: { family: 'ipv6', orig: { src: '2001:db8:1::10', dst: '2001:db8:2::20', l4proto: 6, sport: 5555, dport: 443 }, reply: { src: '2001:db8:2::20', dst: '2001:db8:2::1', l4proto: 6, sport: 443, dport: 6666 }, status: IPS.SRC_NAT_DONE | IPS.SEEN_REPLY, tcp: { state: 3 } },
    status: 'alive',
    activeSinceS: 4000,
    idleS: 0
  })
  t.same(v6.nat, { src: { ip: '2001:db8:2::1', port: 6666 } }, 'SNAT derived from the reply tuple')
  t.equal(v6.state, 'ESTABLISHED')
  const text = renderConntrack('external', [icmp, v6])
  t.match(text, /\nicmp +- +10\.1\.0\.10 -> 10\.2\.0\.1 type 8 code 0 id 77 +29s +- +0xff +1m15s\n/)
  t.match(text, /\ntcp +ESTABLISHED +\[2001:db8:1::10\]:5555 -> \[2001:db8:2::20\]:443 +- +snat \[2001:db8:2::1\]:6666 +- +1h06m\n/)
  t.match(text, /\n2 entries in the external cache\n$/)
  t.equal(syncLine(ctStatus()), 'sync: peer heard · internal 50 · external 48 · bulk done · last commit 48/48 entries in 3.3 ms')
  t.equal(syncLine(ctStatus({ bulk: 'requested', lastCommit: null, sync: { ...(ctStatus().sync as object), lastSeqReceived: null } })), 'sync: peer not heard · internal 50 · external 48 · bulk requested · last commit none yet')
  t.equal(syncLine(ctStatus({ commit: { running: true, ok: 10, remaining: 90 } })), 'sync: peer heard · internal 50 · external 48 · bulk done · last commit running (10 done, 90 left)')
  t.equal(syncLine({ nonsense: true }), 'sync: status not readable')
  // Issue 12: the daemon's liveness wins over "a message was once accepted".
  const lost = ctStatus({ liveness: { state: 'lost', heardAt: 1000, lostAfterMs: 3000 } })
  t.equal(syncLine(lost), 'sync: peer lost · internal 50 · external 48 · bulk done · last commit 48/48 entries in 3.3 ms')
  t.match(renderSync(lost), /, LOST \(nothing for 3\.0s\) \(hello done\)\n/)
  t.match(syncLine(ctStatus({ liveness: { state: 'heard', heardAt: 1000, lostAfterMs: 3000 } })), /^sync: peer heard ·/)
  t.match(syncLine(ctStatus({ liveness: { state: 'unknown', heardAt: null, lostAfterMs: 3000 } })), /^sync: peer not heard ·/)
  t.match(renderSync(ctStatus(), { 'sync.rx.drop.syncSourceNotPeer': 2, 'ct.commit.refused.ownAddress': 1 }), /errors +rx\.drop\.syncSourceNotPeer=2 commit\.refused\.ownAddress=1\n/)
  t.match(renderSync({ nonsense: true }), /cannot read/)
  const b = allBackup()
  const st = renderState(statusFrom(b.node, b.now, { conntrack: ctStatus(), maintenance: true }))
  t.match(st, /\nmaintenance: ON \(every router held in FAULT; hafwctl maintenance off to return\)\nsync: peer heard · internal 50/)
  t.notMatch(renderState(statusFrom(b.node, b.now)), /sync:|maintenance:|loop delay:/, 'no sync line without conntrack, no loop line from an older daemon')
  const loops = { vrrp: { recentMaxMs: 3.25, recentP99Ms: 1, worstMs: 12.4, windowMs: 10_000 }, conntrack: { recentMaxMs: 240.4, recentP99Ms: 30, worstMs: 900, windowMs: 10_000 } }
  t.match(renderState(statusFrom(b.node, b.now, { loopDelay: loops })), /\nloop delay: vrrp 3\.3 ms \(worst 12 ms\) · conntrack 240 ms \(worst 900 ms\)\n/)
  t.match(renderState(statusFrom(b.node, b.now, { loopDelay: { ...loops, conntrack: null } })), /\nloop delay: vrrp 3\.3 ms \(worst 12 ms\)\n/, 'conntrack off: the VRRP thread only')
})
