// Notify hooks in the config: the schema (argv lists, absolute program, timeout), the model
// (instances and groups, implicit groups have none), and the file-system checks run on load
// (exists, executable, keepalived enable_script_security: nothing others can write).
import t from 'tap'
import { chmodSync, mkdirSync, symlinkSync, writeFileSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile } from '../../../src/config/load.js'
import { checkHookFiles, hookProgramProblem } from '../../../src/config/hook-files.js'
import { invalid, model, oneInstance, valid } from './helpers.js'

t.test('notify: argv lists per state, timeout default 10s, into the router model', async t => {
  const m = model(oneInstance([
    'notify:',
    '  master: [/usr/local/sbin/up, --table, "100"]',
    '  stop: [/usr/local/sbin/down]',
    '  any: [/etc/keepalived/notify.sh]'
  ], ['192.0.2.1/24', '2001:db8::1/64']))
  t.equal(m.routers.length, 2)
  for (const r of m.routers) {
    t.same(r.notify, { master: ['/usr/local/sbin/up', '--table', '100'], backup: null, fault: null, stop: ['/usr/local/sbin/down'], any: ['/etc/keepalived/notify.sh'], timeoutMs: 10_000 }, `${r.id} carries the instance's hooks`)
  }
  t.same(m.syncGroups.map(g => [g.name, g.notify]), [['instance:VI_1', null]], 'an implicit group has no hooks of its own')
  t.equal(model(oneInstance()).routers[0]?.notify, null, 'no notify: null')
  t.equal(valid(oneInstance(['notify: { fault: [/bin/true], timeout: 500ms }'])).vrrp.instances.VI_1?.notify?.timeout, 500)
})

t.test('notify on a sync group', async t => {
  const text = oneInstance([], ['192.0.2.1/24']).replace('vrrp:\n', 'vrrp:\n  syncGroups:\n    G1:\n      members: [VI_1]\n      notify: { master: [/usr/bin/logger, up], any: [/usr/bin/logger] }\n')
  const m = model(text)
  t.same(m.syncGroups.find(g => g.name === 'G1')?.notify, { master: ['/usr/bin/logger', 'up'], backup: null, fault: null, stop: null, any: ['/usr/bin/logger'], timeoutMs: 10_000 })
})

t.test('notify: refused with the key path — relative program, empty argv, a shell line, bad timeout, typo', async t => {
  const issues = invalid(oneInstance([
    'notify:',
    '  master: [notify.sh, MASTER]',
    '  backup: []',
    '  fault: "/bin/sh -c foo"',
    '  timeout: 2h',
    '  notify_stop: [/bin/true]'
  ]))
  const at = (p: string): string | undefined => issues.find(i => i.path === `vrrp.instances.VI_1.notify.${p}`)?.message
  t.match(at('master[0]'), /absolute path/)
  t.equal(issues.find(i => i.path === 'vrrp.instances.VI_1.notify.master[0]')?.line, 8)
  t.match(at('backup'), /program and its arguments/)
  t.match(at('fault'), /list of strings/)
  t.match(at('timeout'), /100ms\.\.1h/)
  t.match(at('notify_stop'), /unknown key/)
})

// ---------------------------------------------------------------------------------------------
// File checks with a fake file system
// ---------------------------------------------------------------------------------------------

interface FakeEntry { mode: number, uid: number, dir?: boolean }
function fakeFs (entries: Record<string, FakeEntry>, links: Record<string, string> = {}) {
  const stat = (p: string): Stats => {
    const e = entries[p]
    if (e === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' })
    return { mode: e.mode, uid: e.uid, isFile: () => e.dir !== true } as unknown as Stats
  }
  const realpath = (p: string): string => {
    const target = links[p] ?? p
    stat(target)
    return target
  }
  return { stat, realpath, uid: 0 }
}

const SAFE_DIRS: Record<string, FakeEntry> = {
  '/': { mode: 0o755, uid: 0, dir: true },
  '/etc': { mode: 0o755, uid: 0, dir: true },
  '/etc/hafw': { mode: 0o755, uid: 0, dir: true },
  '/tmp': { mode: 0o1777, uid: 0, dir: true }
}

t.test('hookProgramProblem: exists, regular, executable, owned by root or us', async t => {
  const fs = fakeFs({
    ...SAFE_DIRS,
    '/etc/hafw/ok': { mode: 0o755, uid: 0 },
    '/etc/hafw/noexec': { mode: 0o644, uid: 0 },
    '/etc/hafw/theirs': { mode: 0o755, uid: 1000 },
    '/etc/hafw/openfile': { mode: 0o757, uid: 0 }
  })
  t.equal(hookProgramProblem('/etc/hafw/ok', fs), null)
  t.match(hookProgramProblem('/etc/hafw/missing', fs), /does not exist/)
  t.match(hookProgramProblem('/etc/hafw', fs), /not a regular file/)
  t.match(hookProgramProblem('/etc/hafw/noexec', fs), /not executable/)
  t.match(hookProgramProblem('/etc/hafw/theirs', fs), /unsafe: .* owned by uid 1000/)
  t.equal(hookProgramProblem('/etc/hafw/theirs', { ...fs, uid: 1000 }), null, 'our own file is fine when hafwd runs as that user')
  t.match(hookProgramProblem('/etc/hafw/openfile', fs), /unsafe: .* writable by every user/)
})

t.test('hookProgramProblem: directories others can write (keepalived enable_script_security)', async t => {
  const fs = fakeFs({
    ...SAFE_DIRS,
    '/srv': { mode: 0o777, uid: 0, dir: true },
    '/srv/hook': { mode: 0o755, uid: 0 },
    '/tmp/hook': { mode: 0o755, uid: 0 },
    '/tmp/bob': { mode: 0o755, uid: 1000, dir: true },
    '/tmp/bob/hook': { mode: 0o755, uid: 0 },
    '/tmp/mine': { mode: 0o700, uid: 0, dir: true },
    '/tmp/mine/hook': { mode: 0o755, uid: 0 },
    '/etc/hafw/link': { mode: 0o755, uid: 0 }
  }, { '/etc/hafw/link': '/srv/hook', '/tmp/via': '/etc/hafw/link' })
  t.match(hookProgramProblem('/srv/hook', fs), /unsafe: \/srv is writable by every user/)
  t.equal(hookProgramProblem('/tmp/hook', fs), null, 'sticky /tmp and the file is root\'s: others cannot replace it')
  t.match(hookProgramProblem('/tmp/bob/hook', fs), /unsafe: \/tmp\/bob is owned by uid 1000/)
  t.equal(hookProgramProblem('/tmp/mine/hook', fs), null, 'a private directory in /tmp (mkdtemp) is fine')
  t.match(hookProgramProblem('/etc/hafw/link', fs), /unsafe: \/srv is writable/, 'a link is judged by its target too')
  t.match(hookProgramProblem('/tmp/via', fs), /unsafe/, 'and by where the link itself lives')
})

t.test('checkHookFiles: every hook of instances and groups, by key path', async t => {
  const config = valid(oneInstance(['notify: { master: [/etc/hafw/ok, x], any: [/etc/hafw/missing] }']).replace('vrrp:\n', 'vrrp:\n  syncGroups:\n    G1:\n      members: [VI_1]\n      notify: { stop: [/etc/hafw/noexec] }\n'))
  const fs = fakeFs({ ...SAFE_DIRS, '/etc/hafw/ok': { mode: 0o755, uid: 0 }, '/etc/hafw/noexec': { mode: 0o600, uid: 0 } })
  t.same(checkHookFiles(config, fs).map(i => [i.path.join('.'), i.message]), [
    ['vrrp.instances.VI_1.notify.any.0', '/etc/hafw/missing does not exist'],
    ['vrrp.syncGroups.G1.notify.stop.0', '/etc/hafw/noexec is not executable (chmod +x)']
  ])
})

t.test('loadConfigFile checks the hook programs on disk, with key path and line', async t => {
  const dir = t.testdir({})
  const hooks = join(dir, 'hooks')
  mkdirSync(hooks, { mode: 0o755 })
  chmodSync(hooks, 0o755)
  const script = join(hooks, 'up.sh')
  writeFileSync(script, '#!/bin/sh\n')
  chmodSync(script, 0o755)
  symlinkSync(script, join(hooks, 'link.sh'))
  const file = join(dir, 'hafw.yaml')
  writeFileSync(file, oneInstance([`notify: { master: [${script}], any: [${join(hooks, 'link.sh')}] }`]))
  const ok = await loadConfigFile(file)
  t.equal(ok.ok, true, 'an executable script in root-owned 0755 directories loads')
  chmodSync(script, 0o757)
  const bad = await loadConfigFile(file)
  t.equal(bad.ok, false)
  if (!bad.ok) {
    t.same(bad.issues.map(i => [i.path, i.line]), [['vrrp.instances.VI_1.notify.master[0]', 7], ['vrrp.instances.VI_1.notify.any[0]', 7]], 'the link to it too')
    t.match(bad.issues[0]?.message, /unsafe: .* writable by every user/)
  }
})
