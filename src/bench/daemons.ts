/**
 * hafwd and keepalived behind one small interface, so the benchmark drives both the same way.
 * Every signal goes to a PID this benchmark started (keepalived's VRRP child is the one its own
 * parent forked, read from the private pid file).
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LabVrrpOptions } from '../lab/configs.js'
import { hafwConfig } from '../lab/configs.js'
import type { FwNode, Topology } from '../lab/topology.js'
import { startHafwd } from '../lab/hafwd-process.js'
import { keepalivedConfig, startKeepalived } from '../lab/keepalived.js'
import { sleep } from './clock.js'

export type Implementation = 'hafwd' | 'keepalived'

export interface Daemon {
  readonly logFile: string
  /** The box dies: SIGKILL every process of the daemon that could send an advert. Synchronous. */
  kill: () => void
  /** Clean stop (priority 0 on the way out). Synchronous; `exited` tells when it is over. */
  term: () => void
  exited: () => Promise<void>
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

function startHafwdDaemon (t: Topology, fw: FwNode, o: LabVrrpOptions, dir: string, name: string): Daemon {
  const p = startHafwd(fw.ns, hafwConfig(t, fw, { ...o, controlSocket: join(dir, `${name}.sock`) }), dir, name)
  // `ip netns exec` execs node: p.pid is hafwd itself.
  return {
    logFile: p.logFile,
    kill: () => { try { process.kill(p.pid, 'SIGKILL') } catch { /* already gone */ } },
    term: () => { try { process.kill(p.pid, 'SIGTERM') } catch { /* already gone */ } },
    exited: async () => { await p.proc }
  }
}

async function startKeepalivedDaemon (t: Topology, fw: FwNode, o: LabVrrpOptions, dir: string, name: string): Promise<Daemon> {
  const k = startKeepalived(fw.ns, keepalivedConfig(t, fw, o), dir, name)
  const vrrpPidFile = join(dir, `${name}.vrrp.pid`)
  const deadline = performance.now() + 10_000
  let vrrpPid = 0
  while (vrrpPid === 0) {
    if (performance.now() > deadline) throw new Error(`keepalived in ${fw.ns} wrote no VRRP pid file (log ${k.logFile})`)
    if (existsSync(vrrpPidFile)) vrrpPid = Number(readFileSync(vrrpPidFile, 'utf8').trim()) || 0
    if (vrrpPid === 0) await sleep(20)
  }
  let exited: Promise<void> | null = null
  const waitExit = async (): Promise<void> => {
    // stop('SIGTERM') after the process is gone only waits for it (execa skips the kill).
    exited ??= k.stop('SIGTERM')
    await exited
    // The VRRP child outlives a killed parent only until our SIGKILL lands; wait for it too
    // (bounded: an orphan zombie stays visible until whoever adopted it reaps it).
    const until = performance.now() + 3000
    while (alive(vrrpPid) && performance.now() < until) await sleep(10)
  }
  return {
    logFile: k.logFile,
    kill: () => {
      // Stop the parent first so it cannot respawn the child, then kill both. A SIGTERM'd child
      // would send priority 0, which is exactly what a dead box does not do.
      try { process.kill(k.pid, 'SIGSTOP') } catch { /* already gone */ }
      try { process.kill(vrrpPid, 'SIGKILL') } catch { /* already gone */ }
      try { process.kill(k.pid, 'SIGKILL') } catch { /* already gone */ }
    },
    term: () => { exited ??= k.stop('SIGTERM') },
    exited: waitExit
  }
}

export async function startDaemon (impl: Implementation, t: Topology, fw: FwNode, o: LabVrrpOptions, dir: string, name: string): Promise<Daemon> {
  return impl === 'hafwd' ? startHafwdDaemon(t, fw, o, dir, name) : await startKeepalivedDaemon(t, fw, o, dir, name)
}
