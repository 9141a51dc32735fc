// hafwd --version / --check-config [--print] and hafwctl --version, run in-process.
import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { main as hafwd, parseArgs } from '../../../src/main/hafwd.js'
import { main as hafwctl } from '../../../src/main/hafwctl.js'

const pkgVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Run hafwd's main with stdout/stderr captured. */
async function runHafwd (argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const o = process.stdout.write.bind(process.stdout)
  const e = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((s: string) => { out += s; return true }) as typeof process.stdout.write
  process.stderr.write = ((s: string) => { err += s; return true }) as typeof process.stderr.write
  try {
    const code = await hafwd(argv)
    return { code, out, err }
  } finally {
    process.stdout.write = o
    process.stderr.write = e
  }
}

t.test('--version: "hafwd VERSION" from package.json, exit 0', async t => {
  for (const flag of ['--version', '-V']) {
    t.same(await runHafwd([flag]), { code: 0, out: `hafwd ${pkgVersion}\n`, err: '' }, flag)
  }
  const out: string[] = []
  const code = await hafwctl(['--version'], { out: s => { out.push(s) }, err: () => {}, interrupted: new Promise<void>(() => {}) })
  t.equal(code, 0)
  t.same(out, [`hafwctl ${pkgVersion}\n`])
})

t.test('--check-config: one OK line with the counts; the model only with --print; errors as before', async t => {
  const dir = t.testdir({})
  const good = join(dir, 'hafw.yaml')
  // Two instances, one of them dual-stack (3 routers), one explicit sync group, conntrack absent.
  writeFileSync(good, [
    'vrrp:',
    '  instances:',
    '    VI_A: { interface: eth0, vrid: 1, virtualAddresses: [192.0.2.1/24, "2001:db8::1/64"] }',
    '    VI_B: { interface: eth1, vrid: 2, version: 2, virtualAddresses: [198.51.100.1/24], authentication: { type: pass, password: secret } }',
    '  syncGroups:',
    '    G: { members: [VI_A, VI_B] }',
    ''
  ].join('\n'))
  const ok = await runHafwd(['--check-config', good])
  t.same(ok, { code: 0, out: `hafwd: ${good} OK (3 routers, 1 sync group, conntrack sync off)\n`, err: '' })

  const printed = await runHafwd(['--check-config', good, '--print'])
  t.equal(printed.code, 0)
  const lines = printed.out.trimEnd().split('\n')
  t.equal(lines.pop(), `hafwd: ${good} OK (3 routers, 1 sync group, conntrack sync off)`)
  const model = JSON.parse(lines.join('\n')) as { routers: Array<{ id: string, authentication: { password: string } | null }> }
  t.same(model.routers.map(r => r.id), ['VI_A/ipv4', 'VI_A/ipv6', 'VI_B/ipv4'])
  t.equal(model.routers[2]?.authentication?.password, '<redacted>')

  const withCt = join(dir, 'ct.yaml')
  writeFileSync(withCt, readFileSync(good, 'utf8').replace('  syncGroups:\n    G: { members: [VI_A, VI_B] }\n', '') +
    'conntrack:\n  sync: { transport: udp, interface: eth2, udp: { address: 10.0.0.1, peer: 10.0.0.2 } }\nmetrics: { listen: "127.0.0.1:9100" }\n')
  t.match(await runHafwd(['--check-config', withCt]), { code: 0, out: `hafwd: ${withCt} OK (3 routers, 0 sync groups, conntrack sync on, metrics on 127.0.0.1:9100)\n` })

  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, readFileSync(good, 'utf8').replace('vrid: 2', 'vrid: 300'))
  const b = await runHafwd(['--check-config', bad])
  t.equal(b.code, 1)
  t.equal(b.out, '')
  t.match(b.err, new RegExp(`^${bad}:4:\\d+: vrrp\\.instances\\.VI_B\\.vrid: `))
})

t.test('parseArgs: --print only with --check-config', async t => {
  t.equal(parseArgs(['--print']), '--print goes with --check-config')
  t.match(parseArgs(['--check-config', 'f', '--print']), { mode: 'check', config: 'f', print: true })
})
