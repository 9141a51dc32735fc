// Tracked scripts and files on a running master: a failing weight-0 script puts the sync group in
// FAULT and the peer takes over; a track file's number scaled by its weight lowers the priority
// below the peer's, which then preempts.
import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { waitFor, whoIsMaster } from '../../src/lab/observe.js'

const skip = skipUnlessRoot()

/** Add a track block to both instances of a lab config. */
function withTrack (yaml: string, block: string): string {
  return yaml.replace(/(\n {6}announce:)/g, `\n      track:\n${block}$1`)
}

t.test('track scripts and files', { skip }, async t => {
  const lab = await labFor(t, 'trk')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-track-'))
  const flag = join(dir, 'uplink-ok')
  const weightFile = join(dir, 'demote')
  writeFileSync(flag, '')
  writeFileSync(weightFile, '0\n')
  const procs: HafwdProcess[] = []
  t.teardown(async () => { for (const p of procs) await p.stop('SIGKILL').catch(() => null) })
  const base = { advertInterval: '100ms', ipv6: false }
  const fw1Yaml = withTrack(hafwConfig(lab, fw1, base), `        scripts:
          - name: uplink
            command: [/usr/bin/test, -e, ${flag}]
            interval: 200ms
            fall: 2
        files:
          - path: ${weightFile}
            weight: -10`)
  procs.push(startHafwd(fw1.ns, fw1Yaml, dir, 'fw1'))
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 10_000, 20), null, 'fw1 master with an OK script')
  procs.push(startHafwd(fw2.ns, hafwConfig(lab, fw2, base), dir, 'fw2'))
  await new Promise(resolve => setTimeout(resolve, 1000))
  t.same(await whoIsMaster(lab), ['fw1'])

  rmSync(flag)
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw2', 15_000, 20), null, 'script KO (weight 0) → fw1 FAULT → fw2 master')
  t.match(readFileSync(procs[0]!.logFile, 'utf8'), /tracked script uplink is now KO/)
  writeFileSync(flag, '')
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'script OK again → fw1 preempts back')

  writeFileSync(weightFile, '6\n') // 100 + 6 × -10 = 40 < fw2's 50
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw2', 15_000, 20), null, 'track file lowers fw1 below fw2 → fw2 preempts')
  writeFileSync(weightFile, '0\n')
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'file back to 0 → fw1 preempts back')
})
