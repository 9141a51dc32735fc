/**
 * Entry of the conntrack worker thread (./conntrack-protocol.ts says why it is a thread): the
 * service over `parentPort`, with the real ports — ctnetlink (native socket, loadable in a
 * Worker) and the UDP/multicast sync channel — and its own logger writing straight to fd 2
 * (never through the main thread's stderr stream).
 */
import { parentPort } from 'node:worker_threads'
import type { ConntrackModel } from '../config/normalize.js'
import { openCtnetlink } from '../io/ctnetlink.js'
import { openSyncUdp } from '../io/sync-udp.js'
import { monotonicClock } from './clock.js'
import { serveConntrack } from './conntrack-service.js'
import type { ConntrackPorts } from './conntrack-service.js'
import type { FromWorker, Port, ToWorker } from './conntrack-protocol.js'
import { createLogger } from './log.js'

/** The kernel and peer ports of a conntrack model; a refusal names the config key. */
export async function openConntrackPorts (m: ConntrackModel): Promise<ConntrackPorts> {
  const ct = await openCtnetlink()
  try {
    const s = m.sync
    const sync = await openSyncUdp(s.transport === 'udp'
      ? { transport: 'udp', family: s.family, address: s.address, peer: s.peer, port: s.port, sndBuffer: s.sndBuffer, rcvBuffer: s.rcvBuffer }
      : { transport: 'multicast', group: s.group, port: s.port, interfaceAddress: s.interfaceAddress, sndBuffer: s.sndBuffer, rcvBuffer: s.rcvBuffer })
    return { ct, sync }
  } catch (err) {
    await ct.close()
    throw new Error(`conntrack.sync: cannot open the sync channel: ${err instanceof Error ? err.message : String(err)}`)
  }
}

if (parentPort !== null) {
  const port = parentPort
  serveConntrack(port as unknown as Port<ToWorker, FromWorker>, {
    open: openConntrackPorts,
    clock: monotonicClock,
    unixSeconds: () => Math.floor(Date.now() / 1000),
    logger: (level) => createLogger(level),
    onClosed: () => { port.close() }
  })
}
