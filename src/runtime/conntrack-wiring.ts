/**
 * Starts the conntrack module for a config model: a worker thread (./conntrack-worker.ts) that
 * opens ctnetlink and the sync channel and runs the ConntrackRuntime, and the main thread's
 * handle on it (./conntrack-client.ts). Kept apart from daemon.ts so a VRRP-only daemon starts
 * none of it.
 *
 * Why a thread (architecture decision 1): the conntrack path — kernel event storms, cache
 * updates, FTFW sending, a 100k-entry commit, their garbage collection — must never delay an
 * advert. A Worker has its own event loop and heap; the VRRP loop only sees small messages.
 */
import { Worker } from 'node:worker_threads'
import type { Model } from '../config/normalize.js'
import type { AddressInfo } from '../io/ports.js'
import type { FilterCidr } from '../core/conntrack/filter.js'
import { ConntrackClient } from './conntrack-client.js'
import type { ConntrackHandle } from './conntrack-client.js'
import type { FromWorker, Port, ToWorker } from './conntrack-protocol.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'
import type { Transitions } from './transitions.js'

/** The node's own addresses as host prefixes: the sync filter ignores traffic to and from them. */
export function localCidrs (addrs: readonly AddressInfo[]): FilterCidr[] {
  return addrs.map(a => ({ address: a.address, prefix: a.family === 'ipv4' ? 32 : 128, family: a.family }))
}

export interface ConntrackWiring {
  readonly runtime: ConntrackHandle
  close: () => Promise<void>
}

/** Wait this long for the worker to close its sockets before terminating it. */
const CLOSE_TIMEOUT_MS = 3000

export async function openConntrack (model: Model, deps: {
  log: Logger
  counters: Counters
  addresses: readonly AddressInfo[]
  setDemotion: (offset: number) => void
  transitions: Transitions
}): Promise<ConntrackWiring | null> {
  const m = model.conntrack
  if (m === null) return null
  const worker = new Worker(new URL('./conntrack-worker.js', import.meta.url), { name: 'hafwd-conntrack', stdout: false, stderr: false })
  const client = new ConntrackClient(worker as unknown as Port<FromWorker, ToWorker>, {
    counters: deps.counters,
    log: deps.log,
    onDemotion: deps.setDemotion,
    onBulk: (t) => { deps.transitions.emit({ kind: 'bulk', from: t.from, to: t.to, reason: t.event, at: t.at }) }
  })
  let closing = false
  worker.on('error', (err) => {
    deps.counters.inc('ct.worker.failed')
    deps.log.error({ err: String(err), stack: err instanceof Error ? err.stack : undefined }, 'the conntrack worker failed: conntrack sync stopped, VRRP goes on')
    client.fail(`the conntrack worker failed: ${String(err)}`)
  })
  worker.on('exit', (code) => {
    if (closing) return
    deps.log.error({ code }, 'the conntrack worker exited: conntrack sync stopped, VRRP goes on')
    client.fail(`the conntrack worker exited (code ${code})`)
  })
  const close = async (): Promise<void> => {
    if (closing) return
    closing = true
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>(resolve => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS) })
    await Promise.race([client.close().catch(() => undefined), timeout])
    clearTimeout(timer)
    await worker.terminate()
  }
  try {
    await client.open(m, localCidrs(deps.addresses), deps.log.level)
  } catch (err) {
    await close()
    throw err
  }
  return { runtime: client, close }
}
