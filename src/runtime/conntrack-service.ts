/**
 * The conntrack worker's side of the protocol (./conntrack-protocol.ts): opens the ports, runs
 * the ConntrackRuntime, answers requests, pushes snapshots and the startup demotion.
 *
 * The ports are opened through `open` so the same service runs in the real Worker
 * (./conntrack-worker.ts: ctnetlink + the UDP sync channel) and in tests over a MessageChannel
 * with fakes — the messages cross a structured-clone boundary either way.
 */
import type { ConntrackModel } from '../config/normalize.js'
import type { ConntrackControl } from '../io/conntrack-port.js'
import type { SyncTransport } from '../io/ports.js'
import type { FilterCidr } from '../core/conntrack/filter.js'
import { ConntrackRuntime, engineConfig } from './conntrack.js'
import type { EngineConfig } from '../core/conntrack/engine.js'
import { SNAPSHOT_INTERVAL_MS } from './conntrack-protocol.js'
import { SETTLE_AFTER_START_MS } from './heap-settle.js'
import type { ConntrackEffect, ConntrackRequest, FromWorker, Port, ToWorker } from './conntrack-protocol.js'
import type { Clock } from './clock.js'
import type { LogSink } from './worker-log.js'
import { Counters } from './stats.js'
import type { LoopDelayMonitor } from './loop-delay.js'

export interface ConntrackPorts {
  readonly ct: ConntrackControl
  readonly sync: SyncTransport
  /** Authenticated sync only: swap the keys (SIGHUP reload). */
  readonly setSyncKeys?: (keys: readonly Buffer[]) => void
}

export interface ServiceDeps {
  /** Open the kernel and peer ports for a model; throws with a message naming the config key. */
  readonly open: (model: ConntrackModel) => Promise<ConntrackPorts>
  readonly clock: Clock
  /** Unix time in seconds (the first FTFW sequence number). */
  readonly unixSeconds: () => number
  /** The worker's log at a pino level name; the real worker's posts to the main thread, whose logger names the component. */
  readonly logger: (level: string) => LogSink
  /** Called once the service closed its ports (the worker entry exits the thread). */
  readonly onClosed?: () => void
  /** A monitor of this thread's loop (the real worker); absent in tests over a MessageChannel. */
  readonly loopDelay?: () => LoopDelayMonitor
  /** Told whether a commit runs, at its start and with every snapshot (the real worker yields the CPU meanwhile). */
  readonly setCommitting?: (committing: boolean) => void
  /**
   * Run before the ports open, with the engine's config (the real worker: ./warm-up.ts, synthetic
   * traffic through the byte paths so the first real second runs compiled code); what it returns is
   * logged. Absent in tests.
   */
  readonly warmUp?: (cfg: EngineConfig) => Record<string, number>
  /**
   * One full collection of this thread's heap, SETTLE_AFTER_START_MS after the start (./heap-settle.ts
   * says why); false when it cannot run. Absent in tests.
   */
  readonly settleHeap?: () => boolean
  /** When settleHeap runs after the start (default SETTLE_AFTER_START_MS; tests shorten it). */
  readonly settleAfterMs?: number
}

interface Running {
  readonly runtime: ConntrackRuntime
  readonly ports: ConntrackPorts
  readonly counters: Counters
  readonly log: LogSink
}

export function serveConntrack (port: Port<ToWorker, FromWorker>, deps: ServiceDeps): void {
  let running: Running | null = null
  let snapshotTimer: NodeJS.Timeout | null = null
  let loop: LoopDelayMonitor | null = null
  let settleTimer: NodeJS.Timeout | null = null

  const pushSnapshot = (): void => {
    if (running === null) return
    const status = running.runtime.status()
    deps.setCommitting?.(status.commit?.running === true)
    port.postMessage({ type: 'snapshot', status, counters: running.counters.toJSON(), ...(loop !== null ? { loopDelay: loop.snapshot() } : {}) })
  }

  const handle = async (req: ConntrackRequest): Promise<FromWorker> => {
    switch (req.type) {
      case 'open': {
        if (running !== null) throw new Error('the conntrack worker is already open')
        const log = deps.logger(req.logLevel)
        if (deps.warmUp !== undefined) {
          // an optimisation: whatever goes wrong in it is logged and the worker starts anyway
          const t0 = deps.clock()
          try {
            const warmed = deps.warmUp(engineConfig(req.model, deps.unixSeconds()))
            log.info({ ...warmed, ms: Math.round(deps.clock() - t0) }, 'conntrack code warmed up on synthetic entries (in memory only: nothing sent, nothing in the kernel)')
          } catch (err) {
            log.warn({ err: String(err) }, 'conntrack warm-up failed; starting cold')
          }
        }
        const ports = await deps.open(req.model)
        const counters = new Counters()
        const runtime = new ConntrackRuntime({
          model: req.model,
          ct: ports.ct,
          sync: ports.sync,
          clock: deps.clock,
          log,
          counters,
          unixSeconds: deps.unixSeconds(),
          localAddresses: req.localAddresses,
          setDemotion: (offset) => { port.postMessage({ type: 'demotion', offset }) },
          onBulkTransition: (t) => { port.postMessage({ type: 'bulk', ...t }) },
          onPeerTransition: (t) => { port.postMessage({ type: 'peer', ...t }) }
        })
        running = { runtime, ports, counters, log }
        return { type: 'reply', id: req.id, ok: true }
      }
      case 'start': {
        await need().runtime.start()
        loop ??= deps.loopDelay?.() ?? null
        snapshotTimer = setInterval(pushSnapshot, SNAPSHOT_INTERVAL_MS)
        snapshotTimer.unref()
        const settle = deps.settleHeap
        if (settle !== undefined && settleTimer === null) {
          settleTimer = setTimeout(() => {
            const t0 = deps.clock()
            const done = settle()
            running?.log.debug({ ms: Math.round(deps.clock() - t0), collected: done }, done ? 'conntrack worker heap collected after the start' : 'conntrack worker heap not collected after the start: node runs without --expose-gc')
          }, deps.settleAfterMs ?? SETTLE_AFTER_START_MS)
          settleTimer.unref()
        }
        return { type: 'reply', id: req.id, ok: true }
      }
      case 'effect': {
        const h = need().runtime.handlers()[req.effect.kind] as ((e: ConntrackEffect) => Promise<void>) | undefined
        if (h === undefined) throw new Error(`${req.effect.kind} is not served by the conntrack worker`)
        if (req.effect.kind === 'ctCommit') deps.setCommitting?.(true)
        await h(req.effect)
        return { type: 'reply', id: req.id, ok: true }
      }
      case 'dump':
        return { type: 'reply', id: req.id, ok: true, value: need().runtime.dump(req.cache) }
      case 'close': {
        if (snapshotTimer !== null) clearInterval(snapshotTimer)
        snapshotTimer = null
        if (settleTimer !== null) clearTimeout(settleTimer)
        settleTimer = null
        loop?.stop()
        loop = null
        const r = running
        running = null
        if (r !== null) {
          await r.runtime.close()
          await r.ports.sync.close()
          await r.ports.ct.close()
        }
        return { type: 'reply', id: req.id, ok: true }
      }
    }
  }

  const need = (): Running => {
    if (running === null) throw new Error('the conntrack worker is not open')
    return running
  }

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'localAddresses') {
      running?.runtime.setLocalAddresses(msg.cidrs as FilterCidr[])
      return
    }
    if (msg.type === 'syncKeys') {
      running?.ports.setSyncKeys?.(msg.keys.map(k => Buffer.from(k)))
      return
    }
    handle(msg).then(
      (reply) => {
        pushSnapshot()
        port.postMessage(reply)
        if (msg.type === 'close') deps.onClosed?.()
      },
      (err: unknown) => {
        pushSnapshot()
        port.postMessage({ type: 'reply', id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) })
      })
  })
}
