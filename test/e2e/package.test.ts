// The Debian package: it builds from the repository, holds the daemon, the CLI, the unit and the
// example config, and the daemon from the unpacked package validates the example and becomes
// master in a lab namespace.
import t from 'tap'
import { execa } from 'execa'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor } from './helpers.js'
import { repoRoot } from '../../src/lab/hafwd-process.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { waitFor, whoIsMaster } from '../../src/lab/observe.js'
import { writeFileSync } from 'node:fs'

const skip = skipUnlessRoot() || (existsSync('/usr/bin/dpkg-deb') ? false : 'dpkg-deb is not installed')

t.test('Debian package', { skip }, async t => {
  const root = repoRoot()
  const built = await execa('packaging/deb/build.sh', [], { cwd: root, reject: false, timeout: 300_000 })
  if (built.exitCode !== 0) t.comment(String(built.stderr).slice(-2000))
  t.equal(built.exitCode, 0, 'packaging/deb/build.sh succeeds')
  const deb = join(root, String(built.stdout).trim().split('\n').pop() as string)
  t.ok(existsSync(deb), `${deb} exists`)
  const info = await execa('dpkg-deb', ['--field', deb, 'Package', 'Depends'])
  t.match(info.stdout, /hafw/)
  t.match(info.stdout, /iputils-arping/)
  const contents = (await execa('dpkg-deb', ['-c', deb])).stdout
  for (const path of ['./usr/bin/hafwd', './usr/bin/hafwctl', './lib/systemd/system/hafwd.service', './etc/hafw/hafw.yaml.example', './usr/lib/hafw/dist/main/hafwd-bin.js', './usr/lib/hafw/node_modules/raw-socket/build/Release/raw.node', './usr/lib/hafw/native/nfct/build/Release/nfct.node']) {
    t.match(contents, path, `package holds ${path}`)
  }

  const unpacked = mkdtempSync(join(tmpdir(), 'hafw-deb-'))
  await execa('dpkg-deb', ['-x', deb, unpacked])
  const hafwd = join(unpacked, 'usr/bin/hafwd')
  const check = await execa(hafwd, ['--check-config', join(unpacked, 'etc/hafw/hafw.yaml.example')], { reject: false })
  t.equal(check.exitCode, 0, 'the packaged hafwd validates the packaged example')
  const unit = readFileSync(join(unpacked, 'lib/systemd/system/hafwd.service'), 'utf8')
  t.match(unit, /CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW/)
  t.match(unit, /ExecReload=\/bin\/kill -HUP \$MAINPID/)

  const lab = await labFor(t, 'deb')
  const cfg = join(unpacked, 'fw1.yaml')
  writeFileSync(cfg, hafwConfig(lab, lab.fw[0], { advertInterval: '100ms', controlSocket: join(unpacked, 'fw1.sock') }))
  const proc = execa('ip', ['netns', 'exec', lab.fw[0].ns, hafwd, '-c', cfg], { reject: false })
  t.teardown(async () => { proc.kill('SIGTERM'); await proc })
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 10_000, 20), null, 'the packaged daemon becomes master in the lab')
  proc.kill('SIGTERM')
  const r = await proc
  t.equal(r.exitCode, 0, 'and stops cleanly')
})
