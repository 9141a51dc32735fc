/**
 * Watching the lab from outside: who holds the VIPs, when a takeover happened, whether the
 * client reaches the server. Polls are bounded in time and count.
 */
import { addressesOf } from './topology.js'
import type { FwNode, Topology } from './topology.js'
import { nsExec } from './sh.js'

export async function holdsVips (t: Topology, fw: FwNode): Promise<boolean> {
  const [out, inn] = await Promise.all([addressesOf(fw.ns, 'eth0'), addressesOf(fw.ns, 'eth1')])
  return out.includes(t.vip.outside4) && inn.includes(t.vip.inside4)
}

export async function whoIsMaster (t: Topology): Promise<Array<FwNode['name']>> {
  const held = await Promise.all(t.fw.map(async fw => await holdsVips(t, fw)))
  return t.fw.filter((_, i) => held[i] === true).map(fw => fw.name)
}

/** Poll `check` every `stepMs` until it is true or `timeoutMs` passed; returns ms waited or null. */
export async function waitFor (check: () => Promise<boolean>, timeoutMs: number, stepMs = 10): Promise<number | null> {
  const start = performance.now()
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start
    await new Promise(resolve => setTimeout(resolve, stepMs))
  }
  return null
}

/** One ICMP echo from the client to the server through the firewall pair. */
export async function clientReachesServer (t: Topology, waitS = 0.2): Promise<boolean> {
  const out = await nsExec(t.ns.client, 'ping', ['-n', '-c', '1', '-W', String(waitS), t.server.v4], { allowFail: true, timeoutMs: 3000 })
  return /1 received/.test(out)
}
