// The Debian package, installed as an operator installs it, into a clean root: built from the
// repository (--fast: gzip instead of xz, from the dist/ that npm run build made), installed with
// `dpkg --root` into a root that holds only its dependency closure and the essentials
// (packaging/deb/clean-root.sh: dpkg checks the Depends, takes the conffile, runs the maintainer
// scripts chrooted). Then the unit's own ExecStartPre/ExecStart/ExecReload command lines run
// chrooted into that root (ExecStart inside a lab namespace): the daemon becomes master, a refused
// reload fails, an accepted one succeeds, SIGTERM stops it cleanly, and purge removes it all.
import t from 'tap'
import { execa } from 'execa'
import type { Result } from 'execa'
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor } from './helpers.js'
import { repoRoot } from '../../src/lab/hafwd-process.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { waitFor, whoIsMaster } from '../../src/lab/observe.js'

const skip = skipUnlessRoot() ||
  ((['/usr/bin/dpkg-deb', '/usr/sbin/chroot', '/usr/bin/unshare'].find(p => !existsSync(p)) ?? false)) ||
  (existsSync(join(repoRoot(), 'dist/daemon/hafwd-bin.js')) ? false : 'npm run build first (the package takes dist/)')

/** The command line of a unit directive, e.g. ExecReload= (our unit quotes nothing). */
function directive (unit: string, key: string): string[] {
  const line = unit.split('\n').find(l => l.startsWith(`${key}=`))
  if (line === undefined) throw new Error(`no ${key}= in the unit`)
  return line.slice(key.length + 1).trim().split(/\s+/)
}

/**
 * argv chrooted into `root`, with /proc, /dev and /sys mounted in a private mount namespace and
 * the environment systemd gives a unit (env -i: tap's processinfo puts NODE_OPTIONS into every
 * child's environment, and the chroot has no tap).
 */
function chrooted (root: string, argv: string[], ns?: string): [string, string[]] {
  const script = 'mount -t proc proc "$0/proc" && mount --bind /dev "$0/dev" && mount --bind /sys "$0/sys" && ' +
    'exec chroot "$0" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"'
  // ip netns exec already gives the command a mount namespace of its own; elsewhere unshare does.
  return ns === undefined
    ? ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, root, ...argv]]
    : ['ip', ['netns', 'exec', ns, 'sh', '-c', script, root, ...argv]]
}

t.test('Debian package in a clean root', { skip }, async t => {
  const repo = repoRoot()
  const built = await execa('packaging/deb/build.sh', ['--dist', 'dist', '--fast'], { cwd: repo, reject: false, timeout: 300_000 })
  if (built.exitCode !== 0) t.comment(String(built.stderr).slice(-2000))
  t.equal(built.exitCode, 0, 'packaging/deb/build.sh succeeds')
  const deb = join(repo, String(built.stdout).trim().split('\n').pop() as string)

  const depends = (await execa('dpkg-deb', ['--field', deb, 'Depends'])).stdout
  t.match(depends, /libc6 \(>= [\d.]+\)/, 'Depends computed from the binaries')
  t.match(depends, /iputils-arping/)
  t.notMatch(depends, /nodejs/, 'no dependency on a nodejs package (the runtime is bundled)')
  const contents = (await execa('dpkg-deb', ['-c', deb])).stdout
  for (const path of ['./usr/lib/hafw/node', './usr/lib/hafw/dist/daemon/hafwd-bin.js', './usr/lib/hafw/dist/daemon/conntrack-worker.js', './usr/lib/hafw/dist/main/hafwctl-bin.js', './usr/lib/hafw/node_modules/raw-socket/build/Release/raw.node', './usr/lib/hafw/native/nfct/build/Release/nfct.node', './etc/hafw/hafw.yaml', './usr/share/doc/hafw/changelog.Debian.gz', './usr/share/doc/hafw/copyright']) {
    t.match(contents, path, `package holds ${path}`)
  }
  for (const stray of ['prebuilds/linux-arm', '@types/', '.js.map', 'obj.target', 'dist/lab/']) {
    t.notOk(contents.includes(stray), `package holds nothing like ${stray}`)
  }

  const tmp = mkdtempSync(join(tmpdir(), 'hafw-deb-'))
  t.teardown(() => { rmSync(tmp, { recursive: true, force: true }) })
  const root = join(tmp, 'root')
  const installed = await execa(join(repo, 'packaging/deb/clean-root.sh'), [root, deb], { reject: false, all: true })
  if (installed.exitCode !== 0) t.comment(String(installed.all).slice(-2000))
  t.equal(installed.exitCode, 0, 'dpkg --root installs it into the clean root, dependencies satisfied')
  const admin = ['--admindir', join(root, 'var/lib/dpkg')]
  t.match((await execa('dpkg-query', [...admin, '-W', '-f=${Status} ${Conffiles}', 'hafw'])).stdout, /^install ok installed\s+\/etc\/hafw\/hafw\.yaml [0-9a-f]{32}/, 'installed, /etc/hafw/hafw.yaml a conffile')
  t.ok(existsSync(join(root, 'var/lib/systemd/deb-systemd-helper-enabled/hafwd.service.dsh-also')), 'postinst ran (deb-systemd-helper state)')
  t.notOk(existsSync(join(root, 'etc/systemd/system/multi-user.target.wants/hafwd.service')), 'a fresh install does not enable hafwd')

  const unit = readFileSync(join(root, 'lib/systemd/system/hafwd.service'), 'utf8')
  const [cmd, args] = chrooted(root, directive(unit, 'ExecStartPre'))
  t.equal((await execa(cmd, args, { reject: false })).exitCode, 0, 'ExecStartPre: the installed hafwd accepts the shipped conffile')

  const lab = await labFor(t, 'deb')
  const conf = join(root, 'etc/hafw/hafw.yaml')
  const good = hafwConfig(lab, lab.fw[0], { advertInterval: '100ms', controlSocket: '/run/hafw/hafwd.sock' })
  writeFileSync(conf, good)
  mkdirSync(join(root, 'run/hafw'), { recursive: true })
  const [sc, sa] = chrooted(root, directive(unit, 'ExecStart'), lab.fw[0].ns)
  const proc = execa(sc, sa, { reject: false, all: true })
  t.teardown(async () => { proc.kill('SIGTERM'); await proc })
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'ExecStart: the installed daemon becomes master in the lab')
  const run = async (argv: string[]): Promise<Result> => { const [c, a] = chrooted(root, argv); return await execa(c, a, { reject: false }) }
  t.equal((await run(['/usr/bin/hafwctl', '-s', '/run/hafw/hafwd.sock', 'state'])).exitCode, 0, 'the installed hafwctl: state exits 0 (master)')

  const reload = directive(unit, 'ExecReload')
  // A file that is valid but does not fit the system: hafwd refuses it, the reload fails.
  writeFileSync(conf, good.replace('interface: eth1', 'interface: nosuch0'))
  const misfit = await run(reload)
  t.equal(misfit.exitCode, 1, 'ExecReload fails when hafwd refuses the file')
  t.match(String(misfit.stderr), /refused/)
  // An invalid file: refused with the key path and line.
  writeFileSync(conf, good.replace(/priority: \d+/, 'priority: 300'))
  const invalid = await run(reload)
  t.not(invalid.exitCode, 0, 'ExecReload fails on an invalid file')
  t.match(String(invalid.stderr), /hafw\.yaml:\d+:\d+: vrrp\.instances\.VI_OUT\.priority/)
  t.same(await whoIsMaster(lab), ['fw1'], 'still master on the running configuration')
  writeFileSync(conf, good.replace(/priority: \d+/g, 'priority: 120'))
  const ok = await run(reload)
  t.equal(ok.exitCode, 0, 'ExecReload succeeds on an accepted file')
  t.match(String(ok.stdout), /reloaded/)

  proc.kill('SIGTERM')
  const r = await proc
  if (r.exitCode !== 0) t.comment(String(r.all).slice(-2000))
  t.equal(r.exitCode, 0, 'SIGTERM stops it cleanly')

  const purged = await execa('dpkg', ['--root', root, '--purge', 'hafw'], { reject: false, all: true })
  if (purged.exitCode !== 0) t.comment(String(purged.all))
  t.equal(purged.exitCode, 0, 'dpkg --purge succeeds')
  t.notOk(existsSync(join(root, 'usr/lib/hafw')), 'purge removes /usr/lib/hafw')
  t.notOk(existsSync(join(root, 'etc/hafw')), 'purge removes /etc/hafw')
  t.notOk(existsSync(join(root, 'var/lib/systemd/deb-systemd-helper-enabled/hafwd.service.dsh-also')), 'purge drops the unit state')
})
