// Notify hooks on a real hafwd: a single node becomes MASTER and runs its hooks after the VIPs
// are up (the master hook sees the VIP on the interface), with keepalived's generic notify
// arguments on `any`; the sync group's own hook runs too; a clean stop runs the stop hooks
// before the process exits.
import t from 'tap'
import { join } from 'node:path'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { waitFor } from '../../src/lab/observe.js'

const skip = skipUnlessRoot()

t.test('notify hooks: master after the VIPs, any with keepalived arguments, group hook, stop on shutdown', { skip }, async t => {
  const lab = await labFor(t, 'ntf')
  const fw1 = lab.fw[0]!
  // mkdtemp: a root-owned 0700 directory under the sticky /tmp, which the script security check accepts.
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-notify-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const record = join(dir, 'calls')
  const hook = join(dir, 'hook.sh')
  // One line per call: the arguments, the state from the environment, and whether the outside VIP is up.
  writeFileSync(hook, `#!/bin/sh
vip=$(ip -o -4 addr show dev eth0 | grep -c ' ${lab.vip.outside4}/')
echo "$* | state=$HAFW_STATE type=$HAFW_TYPE vip=$vip" >> ${record}
`)
  chmodSync(hook, 0o755)
  const yaml = hafwConfig(lab, fw1, { advertInterval: '100ms', ipv6: false })
    .replace('\n    VI_IN:', `
      notify:
        master: [${hook}, master-hook]
        stop: [${hook}, stop-hook]
        any: [${hook}, any-hook]
        timeout: 5s
    VI_IN:`)
    .replace('      members: [VI_OUT, VI_IN]', `      members: [VI_OUT, VI_IN]
      notify:
        master: [${hook}, group-master]`)
  let proc: HafwdProcess | null = startHafwd(fw1.ns, yaml, dir, 'fw1')
  t.teardown(async () => { await proc?.stop('SIGKILL').catch(() => null) })
  const lines = (): string[] => existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n') : []
  const mastered = await waitFor(async () => lines().some(l => l.startsWith('any-hook INSTANCE VI_OUT MASTER')) && lines().some(l => l.startsWith('group-master')), 10_000, 20)
  t.not(mastered, null, 'master hooks ran')
  if (mastered === null) t.comment(existsSync(proc.logFile) ? readFileSync(proc.logFile, 'utf8').slice(-3000) : 'no log')
  const atMaster = lines()
  t.same(atMaster.filter(l => !l.startsWith('group-')), [
    'any-hook INSTANCE VI_OUT BACKUP 100 | state=BACKUP type=INSTANCE vip=0',
    'master-hook | state=MASTER type=INSTANCE vip=1',
    'any-hook INSTANCE VI_OUT MASTER 100 | state=MASTER type=INSTANCE vip=1'
  ], 'startup BACKUP, then MASTER: own hook before `any`, both after the VIP was added')
  t.same(atMaster.filter(l => l.startsWith('group-')), ['group-master | state=MASTER type=GROUP vip=1'])

  t.equal(await proc.stop('SIGTERM'), 0, 'clean stop')
  proc = null
  const atStop = lines().slice(atMaster.length)
  t.same(atStop, [
    'stop-hook | state=STOP type=INSTANCE vip=0',
    'any-hook INSTANCE VI_OUT STOP 100 | state=STOP type=INSTANCE vip=0'
  ], 'the stop hooks ran, after the VIPs were removed, before hafwd exited')
  const log = readFileSync(join(dir, 'fw1.log'), 'utf8')
  t.match(log, /notify hook stop of INSTANCE VI_OUT done/)
})
