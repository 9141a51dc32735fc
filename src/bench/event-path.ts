/**
 * The daemon's whole conntrack event path in one process, no I/O, no root: what one kernel NEW
 * event costs from the event socket's bytes to the peer's external cache.
 *
 *   node --expose-gc dist/bench/event-path.js [--n 200000] [--batch 128] [--rounds 3] [--flows] [--cpu-prof]
 *
 * - A sender runtime A and a receiver runtime B (runtime/conntrack.ts, the worker's code, config
 *   of the lab: UDP sync, default filter, startup resync off), their sync channels joined in memory
 *   (each datagram handed over on the next event-loop turn, as a socket would).
 * - The kernel: N CT_NEW event messages (entry i is benchFlow(i), encoded as ctnetlink messages
 *   with the event flags NLM_F_CREATE|NLM_F_EXCL and port id 0), cut into batches of `--batch`
 *   datagrams as the nfct addon hands them over, decoded by the adapter's own decodeEventBatch.
 *   One batch per event-loop turn (setImmediate), so A's zero-delay transmit timer and B's ACKs
 *   interleave as in the daemon. Kernel events carry a few more attributes (id, use) than these.
 * - Printed per round: wall ms, entries/s wall, µs CPU per entry (process user+system, A and B
 *   together, GC threads included), GC pauses (count, ms), and B's external cache count at the end
 *   (must be N). Then the heap after a forced GC with both caches full.
 *
 * - Then B commits its whole external cache (the takeover's ctCommit: plan, batches, each request
 *   encoded as the committer does; the kernel's own work excluded).
 *
 * Prints, never asserts. Wall-clock numbers depend on the machine's load; the CPU column less so.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks'
import pino from 'pino'
import { encodeRequest, encodeRequestInto, MAX_REQUEST_BYTES } from '../codec/ctnetlink-request.js'
import { nlAlign } from '../codec/nlattr.js'
import { normalize } from '../config/normalize.js'
import { validateConfigText } from '../config/validate.js'
import type { ConntrackModel } from '../config/normalize.js'
import type { ApplyResult, ConntrackControl, ConntrackEvent, CtMutation, OverrunInfo } from '../io/conntrack-port.js'
import { decodeEventBatch, decodeEventRecords } from '../io/ctnetlink.js'
import { EventBatchBuilder, type KernelEventBatch } from '../core/conntrack/record-batch.js'
import type { SyncTransport } from '../io/ports.js'
import { ConntrackRuntime } from '../runtime/conntrack.js'
import { Counters } from '../runtime/stats.js'
import type { Flow } from '../core/conntrack/flow.js'
import { benchFlow } from './synthetic.js'

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`)
  return v
}
const N = arg('n', 200_000)
const BATCH = arg('batch', 128)
const ROUNDS = arg('rounds', 3)
/** `--flows`: the Flow path (decodeEventBatch, one engine step per event), for comparison. */
const FLOWS = process.argv.includes('--flows')

const A_ADDR = '192.168.100.1'
const B_ADDR = '192.168.100.2'

function model (address: string, peer: string): ConntrackModel {
  const text = `vrrp:
  instances:
    VI_1:
      interface: eth0
      vrid: 1
      priority: 100
      virtualAddresses: [192.0.2.1/24]
conntrack:
  sync: { transport: udp, interface: eth2, udp: { address: ${address}, peer: ${peer} } }
  startupResyncTimeout: 0s
  purgeTimeout: 3600s
`
  const r = validateConfigText(text)
  if (!r.ok) throw new Error(r.issues.map(i => `${i.path}: ${i.message}`).join('\n'))
  const m = normalize(r.config).conntrack
  if (m === null) throw new Error('no conntrack section')
  return m
}

/** The kernel side of one runtime: events come from `feed`, dumps are empty, applies succeed. */
class BenchKernel implements ConntrackControl {
  private handler: ((e: ConntrackEvent) => void) | null = null
  private recordHandler: ((b: KernelEventBatch) => void) | null = null
  private readonly builder = new EventBatchBuilder()
  readonly counters = { events: 0, ownEvents: 0, eventDecodeErrors: 0 }
  /** As the adapter does: the byte path when the runtime takes records (it does), else Flows. */
  feed (buf: Buffer): void {
    if (this.recordHandler === null || FLOWS) decodeEventBatch(buf, 0, this.counters, e => { this.handler?.(e) }, () => {})
    else decodeEventRecords(buf, 0, this.counters, this.builder, b => { this.recordHandler?.(b) }, e => { this.handler?.(e) }, () => {})
  }
  onEventRecords (h: (b: KernelEventBatch) => void): void { this.recordHandler = h }
  async dump (): Promise<Flow[]> { return [] }
  async dumpChunks (): Promise<number> { return 0 }
  /** Encoded as the committer does (the codec's share of a commit), then answered ok. */
  async apply (requests: readonly CtMutation[]): Promise<ApplyResult[]> {
    let seq = 1
    for (const r of requests) this.encodedBytes += encodeRequestInto(r, seq++, 0, this.scratch, 0)
    return requests.map(() => ({ ok: true }))
  }

  private readonly scratch = Buffer.alloc(MAX_REQUEST_BYTES)

  encodedBytes = 0
  async flush (): Promise<void> {}
  onEvent (h: (e: ConntrackEvent) => void): void { this.handler = h }
  onOverrun (_h: (i: OverrunInfo) => void): void {}
  async close (): Promise<void> {}
}

/** Two sync channels joined in memory; a datagram arrives on the next turn of the loop. */
function link (): [SyncTransport, SyncTransport] {
  const handlers: Array<((d: Buffer, from: string) => void) | null> = [null, null]
  const end = (me: 0 | 1, from: string): SyncTransport => ({
    send: async (d) => { const copy = Buffer.from(d); setImmediate(() => { handlers[1 - me]?.(copy, from) }) },
    onDatagram: (h) => { handlers[me] = h },
    close: async () => {}
  })
  return [end(0, A_ADDR), end(1, B_ADDR)]
}

/** N event datagrams (one message each, as the kernel sends events) in batches of `batch`. */
function eventBatches (offset: number, n: number, batch: number): Buffer[] {
  const out: Buffer[] = []
  let parts: Buffer[] = []
  for (let i = 0; i < n; i++) {
    const m = encodeRequest({ op: 'create', flow: benchFlow(offset + i) }, 0)
    m.writeUInt16LE(0x0600, 6) // NLM_F_CREATE | NLM_F_EXCL, as a NEW event
    const len = nlAlign(m.length)
    parts.push(len === m.length ? m : Buffer.concat([m, Buffer.alloc(len - m.length)]))
    if (parts.length === batch) { out.push(Buffer.concat(parts)); parts = [] }
  }
  if (parts.length > 0) out.push(Buffer.concat(parts))
  return out
}

const turn = async (): Promise<void> => { await new Promise<void>(resolve => { setImmediate(resolve) }) }

async function main (): Promise<void> {
  const silent = pino({ level: 'silent' })
  const [ta, tb] = link()
  const ka = new BenchKernel()
  const kb = new BenchKernel()
  const mk = (m: ConntrackModel, ct: BenchKernel, sync: SyncTransport): ConntrackRuntime => new ConntrackRuntime({
    model: m, ct, sync, clock: () => performance.now(), log: silent, counters: new Counters(), unixSeconds: Math.floor(Date.now() / 1000),
    localAddresses: [], setDemotion: () => {}, onBulkTransition: () => {}
  })
  const a = mk(model(A_ADDR, B_ADDR), ka, ta)
  const b = mk(model(B_ADDR, A_ADDR), kb, tb)
  await a.start()
  await b.start()
  let gcCount = 0
  let gcMs = 0
  new PerformanceObserver(list => { for (const e of list.getEntries()) { gcCount++; gcMs += e.duration } }).observe({ entryTypes: ['gc'] })

  console.log(`# event-path bench  node ${process.version}  N ${N} per round  batch ${BATCH} datagrams  ${FLOWS ? 'Flow path (--flows)' : 'byte path'}`)
  console.log('| round | wall ms | entries/s wall | µs CPU/entry | GC pauses | GC ms | in B external |')
  console.log('|---|---|---|---|---|---|---|')
  for (let r = 0; r <= ROUNDS; r++) {
    const batches = eventBatches(r * N, N, BATCH)
    const before = b.status().external.active
    await turn()
    const gc0 = [gcCount, gcMs]
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    for (const buf of batches) { ka.feed(buf); await turn() }
    while (b.status().external.active - before < N && performance.now() - t0 < 60_000) await turn()
    const wall = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    const got = b.status().external.active - before
    const label = r === 0 ? 'warm-up' : String(r)
    console.log(`| ${label} | ${wall.toFixed(0)} | ${Math.round(N / wall * 1000)} | ${((cpu.user + cpu.system) / N).toFixed(2)} | ${gcCount - (gc0[0] as number)} | ${(gcMs - (gc0[1] as number)).toFixed(0)} | ${got} |`)
  }
  // B's takeover: commit its whole external cache (batches of COMMIT_BATCH, each encoded; the
  // kernel's own work excluded), as the ctCommit effect runs it.
  const held = b.status().external.active
  const cpuC = process.cpuUsage()
  const tc = performance.now()
  await b.handlers().ctCommit?.({ kind: 'ctCommit', budgetMs: 600_000 })
  const commitMs = performance.now() - tc
  const cc = process.cpuUsage(cpuC)
  console.log(`\ncommit of B's external cache: ${held} entries in ${commitMs.toFixed(0)} ms wall (${((cc.user + cc.system) / held).toFixed(2)} µs CPU/entry), ${(kb.encodedBytes / held).toFixed(0)} request bytes/entry; last commit ${JSON.stringify(b.status().lastCommit)}`)
  const g = (globalThis as { gc?: () => void }).gc
  if (g !== undefined) {
    g()
    const h = process.memoryUsage()
    const held = (ROUNDS + 1) * N
    console.log(`\nafter GC, A internal ${a.status().internal.active} and B external ${b.status().external.active} entries: heapUsed ${(h.heapUsed / 2 ** 20).toFixed(1)} MiB, arrayBuffers ${(h.arrayBuffers / 2 ** 20).toFixed(1)} MiB, rss ${(h.rss / 2 ** 20).toFixed(1)} MiB (${((h.heapUsed + h.arrayBuffers) / held / 2).toFixed(0)} B per cached entry, both caches)`)
  }
  await a.close()
  await b.close()
}

await main()
