/**
 * Entry of the conntrack worker thread (./conntrack-protocol.ts says why it is a thread): the
 * service over `parentPort`, with the real ports — ctnetlink (native socket, loadable in a
 * Worker) and the UDP/multicast sync channel — and its own logger writing straight to fd 2
 * (never through the main thread's stderr stream).
 */
import { getPriority, setPriority } from 'node:os'
import { parentPort } from 'node:worker_threads'
import type { ConntrackModel } from '../config/normalize.js'
import { openCtnetlink } from '../io/ctnetlink.js'
import { openSyncUdp } from '../io/sync-udp.js'
import { authenticateSync, loadSyncKeys } from '../io/sync-auth.js'
import { monotonicClock } from './clock.js'
import { LoopDelayMonitor } from './loop-delay.js'
import { serveConntrack } from './conntrack-service.js'
import type { ConntrackPorts } from './conntrack-service.js'
import type { FromWorker, Port, ToWorker } from './conntrack-protocol.js'
import { createLogger } from './log.js'

/** The kernel and peer ports of a conntrack model; a refusal names the config key. */
export async function openConntrackPorts (m: ConntrackModel): Promise<ConntrackPorts> {
  // Keys first: a refused key file (readable by others, too short) changes nothing.
  const keys = m.sync.auth === null ? null : loadSyncKeys(m.sync.auth.keyFiles)
  const ct = await openCtnetlink()
  try {
    const s = m.sync
    const sync = await openSyncUdp(s.transport === 'udp'
      ? { transport: 'udp', family: s.family, address: s.address, peer: s.peer, port: s.port, sndBuffer: s.sndBuffer, rcvBuffer: s.rcvBuffer }
      : { transport: 'multicast', group: s.group, port: s.port, interfaceAddress: s.interfaceAddress, sndBuffer: s.sndBuffer, rcvBuffer: s.rcvBuffer }, monotonicClock)
    if (keys === null) return { ct, sync }
    const local = s.transport === 'udp' ? s.address : s.interfaceAddress
    // Microseconds since the epoch: above every counter a previous instance sent (sync-auth.ts).
    const authed = authenticateSync(sync, { keys, local, firstCounter: Date.now() * 1000 })
    return { ct, sync: authed, setSyncKeys: (k) => { authed.setKeys(k) } }
  } catch (err) {
    await ct.close()
    throw new Error(`conntrack.sync: cannot open the sync channel: ${err instanceof Error ? err.message : String(err)}`)
  }
}

/**
 * How much nicer than the process this thread runs. Linux keeps the nice value per thread, and setpriority(2) with pid 0
 * changes the calling thread only: the main thread (VRRP timers, adverts) stays at the process's
 * nice, the conntrack work yields to it when the CPUs are short (a takeover commit of 100k entries
 * on a loaded 2-core box kept the new master's adverts up to 500 ms late). Raising one's own nice
 * needs no privilege (the packaged unit has no CAP_SYS_NICE to lower the main thread's instead).
 * When the CPUs are not short, nice changes nothing: the worker still gets a whole core.
 */
export const WORKER_NICE = 5

if (parentPort !== null) {
  const port = parentPort
  try { setPriority(0, Math.min(19, getPriority(0) + WORKER_NICE)) } catch { /* a sandbox refusing setpriority: run at the process's nice */ }
  serveConntrack(port as unknown as Port<ToWorker, FromWorker>, {
    open: openConntrackPorts,
    clock: monotonicClock,
    unixSeconds: () => Math.floor(Date.now() / 1000),
    logger: (level) => createLogger(level),
    onClosed: () => { port.close() },
    loopDelay: () => new LoopDelayMonitor()
  })
}
