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
/** A failed worker is started again after this, doubling up to RESTART_MAX_MS while it keeps failing. */
const RESTART_FIRST_MS = 1000
const RESTART_MAX_MS = 30_000
/** A worker that ran this long without failing resets the back-off. */
const RESTART_STABLE_MS = 60_000

/**
 * The worker's young generation, in MiB: V8's default on 64-bit (3 × a 16 MiB semi-space), stated
 * because the daemon's --max-semi-space-size=1 (main/node-flags.ts) would apply to every isolate.
 * The worker allocates per conntrack event; a 1 MiB semi-space would scavenge hundreds of times a
 * second in a storm and promote short-lived objects.
 */
export const WORKER_YOUNG_GENERATION_MB = 48

export async function openConntrack (model: Model, deps: {
  log: Logger
  counters: Counters
  addresses: readonly AddressInfo[]
  setDemotion: (offset: number) => void
  transitions: Transitions
}): Promise<ConntrackWiring | null> {
  const m = model.conntrack
  if (m === null) return null
  const spawn = (): Worker => new Worker(new URL('./conntrack-worker.js', import.meta.url), { name: 'hafwd-conntrack', stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } })
  let worker = spawn()
  const client = new ConntrackClient(worker as unknown as Port<FromWorker, ToWorker>, {
    counters: deps.counters,
    log: deps.log,
    onDemotion: deps.setDemotion,
    onBulk: (t) => { deps.transitions.emit({ kind: 'bulk', from: t.from, to: t.to, reason: t.event, at: t.at }) },
    onPeer: (t) => { deps.transitions.emit({ kind: 'peer', from: t.from, to: t.to, at: t.at }) }
  })
  let closing = false
  let started = false
  let backoff = RESTART_FIRST_MS
  let startedAt = Date.now()
  let restartTimer: NodeJS.Timeout | null = null

  // A dead worker loses the caches (the kernel table and the peer are the truth): a new one
  // resyncs from both, as conntrackd does after a restart. VRRP is not touched meanwhile.
  const restart = async (): Promise<void> => {
    restartTimer = null
    if (closing) return
    worker = spawn()
    watch(worker)
    client.attach(worker as unknown as Port<FromWorker, ToWorker>)
    startedAt = Date.now()
    try {
      await client.open(m, client.addresses, deps.log.level)
      await client.start()
      deps.counters.inc('ct.worker.restarted')
      deps.log.warn('conntrack worker restarted: caches resynced from the kernel, resync requested from the peer')
    } catch (err) {
      deps.log.error({ err: String(err) }, 'the restarted conntrack worker failed to open')
      void worker.terminate()
    }
  }
  const died = (reason: string): void => {
    client.fail(reason)
    if (closing || !started || restartTimer !== null) return
    if (Date.now() - startedAt > RESTART_STABLE_MS) backoff = RESTART_FIRST_MS
    deps.log.error({ retryInMs: backoff }, `${reason}: conntrack sync stopped, VRRP goes on; restarting it`)
    restartTimer = setTimeout(() => { void restart() }, backoff)
    backoff = Math.min(backoff * 2, RESTART_MAX_MS)
  }
  function watch (w: Worker): void {
    w.on('error', (err) => {
      deps.counters.inc('ct.worker.failed')
      deps.log.error({ err: String(err), stack: err instanceof Error ? err.stack : undefined }, 'the conntrack worker failed')
      died(`the conntrack worker failed: ${String(err)}`)
    })
    w.on('exit', (code) => {
      if (w !== worker) return
      deps.counters.inc('ct.worker.exited')
      died(`the conntrack worker exited (code ${code})`)
    })
  }
  watch(worker)

  const close = async (): Promise<void> => {
    if (closing) return
    closing = true
    if (restartTimer !== null) clearTimeout(restartTimer)
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
  const runtime: ConntrackHandle = {
    handlers: () => client.handlers(),
    status: () => client.status(),
    dump: async (c) => await client.dump(c),
    setLocalAddresses: (c) => { client.setLocalAddresses(c) },
    setSyncKeys: (k) => { client.setSyncKeys(k) },
    loopDelay: () => client.loopDelay(),
    // Restarts only once the first start succeeded: a worker that cannot start refuses the daemon.
    start: async () => { await client.start(); started = true },
    close
  }
  return { runtime, close }
}
