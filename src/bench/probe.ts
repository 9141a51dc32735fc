/**
 * The benchmark's additions to the lab topology: a probe host on the inside LAN whose neighbour
 * entry for the VIP is the Ethernet broadcast address (see wire.ts for why), the two ping loops
 * that make the traffic the observer watches, and batched `ip` commands that act on a namespace
 * in one process (so "the box died" is one instant, not three process spawns).
 */
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Topology } from '../lab/topology.js'
import { existingNamespaces } from '../lab/topology.js'
import { nsExec, sh } from '../lab/sh.js'

export const PROBE_ADDR = '10.1.0.200'

export const probeNs = (t: Topology): string => `${t.prefix}-probe`

export async function createProbe (t: Topology): Promise<void> {
  const ns = probeNs(t)
  await destroyProbe(t)
  await sh('ip', ['netns', 'add', ns])
  const tmp = `hbp${process.pid % 100000}`
  await sh('ip', ['link', 'add', `${tmp}a`, 'type', 'veth', 'peer', 'name', `${tmp}b`])
  await sh('ip', ['link', 'set', `${tmp}a`, 'netns', ns])
  await sh('ip', ['link', 'set', `${tmp}b`, 'netns', t.ns.sw])
  await nsExec(ns, 'ip', ['link', 'set', `${tmp}a`, 'name', 'eth0'])
  await nsExec(t.ns.sw, 'ip', ['link', 'set', `${tmp}b`, 'name', 'p-probe'])
  await nsExec(t.ns.sw, 'ip', ['link', 'set', 'p-probe', 'master', 'br-in'])
  await nsExec(t.ns.sw, 'ip', ['link', 'set', 'p-probe', 'up'])
  await nsExec(ns, 'ip', ['link', 'set', 'lo', 'up'])
  await nsExec(ns, 'ip', ['link', 'set', 'eth0', 'up'])
  await nsExec(ns, 'ip', ['addr', 'add', `${PROBE_ADDR}/24`, 'dev', 'eth0'])
  await nsExec(ns, 'ip', ['neigh', 'replace', t.vip.inside4, 'lladdr', 'ff:ff:ff:ff:ff:ff', 'dev', 'eth0', 'nud', 'permanent'])
}

export async function destroyProbe (t: Topology): Promise<void> {
  if ((await existingNamespaces()).includes(probeNs(t))) await sh('ip', ['netns', 'del', probeNs(t)], { allowFail: true })
}

export interface Pingers { stop: () => Promise<void> }

/**
 * probe → inside VIP every `probeMs`; client → server through the pair every `trafficMs`. Our own
 * sender (echo-sender.ts), not ping: ping's pacing falls apart while nobody answers.
 */
export function startPingers (t: Topology, probeMs: number, trafficMs: number): Pingers {
  const sender = join(dirname(fileURLToPath(import.meta.url)), 'echo-sender.js')
  const run = (ns: string, target: string, everyMs: number): ResultPromise =>
    execa('ip', ['netns', 'exec', ns, process.execPath, sender, target, String(everyMs)],
      { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' })
  const procs = [run(probeNs(t), t.vip.inside4, probeMs), run(t.ns.client, t.server.v4, trafficMs)]
  return {
    stop: async () => {
      // `ip netns exec` execs node: these PIDs are the senders started here.
      for (const p of procs) if (p.exitCode === null || p.exitCode === undefined) p.kill('SIGTERM')
      await Promise.all(procs.map(async p => { await p }))
    }
  }
}

/**
 * Run several `ip` commands in namespace `ns` in one process (`ip -force -batch`): errors such as
 * deleting an address that is not there do not stop the batch.
 */
export async function ipBatch (ns: string, lines: readonly string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hbfo-batch-'))
  try {
    const file = join(dir, 'batch')
    writeFileSync(file, lines.join('\n') + '\n')
    await execa('ip', ['-n', ns, '-force', '-batch', file], { reject: false })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function macOf (ns: string, ifname: string): Promise<string> {
  const out = await nsExec(ns, 'ip', ['-j', 'link', 'show', 'dev', ifname])
  const parsed = JSON.parse(out) as Array<{ address?: string }>
  const mac = parsed[0]?.address
  if (mac === undefined) throw new Error(`no MAC for ${ns}/${ifname}`)
  return mac.toLowerCase()
}
