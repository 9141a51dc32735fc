/**
 * Entry of the conntrack worker thread (./conntrack-protocol.ts says why it is a thread): the
 * service over `parentPort`, with the real ports — ctnetlink (native socket, loadable in a
 * Worker) and the UDP/multicast sync channel — and a log whose records the main thread writes
 * (./worker-log.ts: pino stays out of this thread's heap).
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
import { portLogger } from './worker-log.js'
import { WARM_UP_ENTRIES, warmUpConntrack } from './warm-up.js'
import { loadNfct } from '../io/nfct.js'
import { settleHeap } from './heap-settle.js'

/** The kernel and peer ports of a conntrack model; a refusal names the config key. */
export async function openConntrackPorts (m: ConntrackModel): Promise<ConntrackPorts> {
  // Keys first: a refused key file (readable by others, too short) changes nothing.
  const keys = m.sync.auth === null ? null : loadSyncKeys(m.sync.auth.keyFiles)
  const ct = await openCtnetlink({ eventRecvBufferSize: m.eventBufferBytes })
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
 * How much nicer than the process this thread runs while it commits the external cache (a
 * takeover): the one time its CPU hunger coincides with a new master's first adverts. Linux keeps the nice value per thread, and setpriority(2) with pid 0
 * changes the calling thread only: the main thread (VRRP timers, adverts) stays at the process's
 * nice, the conntrack work yields to it when the CPUs are short (a takeover commit of 100k entries
 * on a loaded 2-core box kept the new master's adverts up to 500 ms late). Raising one's own nice
 * needs no privilege; lowering it back needs CAP_SYS_NICE or an RLIMIT_NICE that allows the base
 * value (the packaged unit sets LimitNICE=+0; root in the lab has the capability). Where neither
 * holds, the thread stays at base + WORKER_NICE after its first commit. Not for good: at nice +5 a 50k/s connection storm on a 2-core box starved the worker behind the load
 * generator (the backup held 92k of 250k entries 1 s after the burst, instead of all of them at
 * nice 0), so event sync runs at the process's nice and only the commit yields.
 */
export const WORKER_NICE = 5

/** The thread's nice: base while syncing, base + WORKER_NICE while committing. */
export function commitNice (): (committing: boolean) => void {
  let base: number
  try { base = getPriority(0) } catch { return () => {} }
  let current = base
  return (committing) => {
    const want = committing ? Math.min(19, base + WORKER_NICE) : base
    if (want === current) return
    try { setPriority(0, want); current = want } catch { /* a sandbox refusing setpriority: stay as we are */ }
  }
}

if (parentPort !== null) {
  const port = parentPort
  serveConntrack(port as unknown as Port<ToWorker, FromWorker>, {
    open: openConntrackPorts,
    clock: monotonicClock,
    unixSeconds: () => Math.floor(Date.now() / 1000),
    logger: (level) => portLogger(port as unknown as Port<ToWorker, FromWorker>, level, { clock: monotonicClock }),
    onClosed: () => { port.close() },
    loopDelay: () => new LoopDelayMonitor(),
    setCommitting: commitNice(),
    warmUp: (cfg) => {
      // Buffers of the kind real input arrives in (./warm-up.ts says why); without the addon the
      // ports cannot open anyway, and the warm-up runs on JavaScript-made Buffers.
      const { addon } = loadNfct()
      return { ...warmUpConntrack(cfg, WARM_UP_ENTRIES, addon === null ? undefined : (b) => addon.copyBuffer(b)), addonBuffers: addon === null ? 0 : 1 }
    },
    settleHeap
  })
}
