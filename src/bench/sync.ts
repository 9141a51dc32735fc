/**
 * Benchmark: conntrack replication throughput and latency, hafwd → hafwd beside conntrackd →
 * conntrackd, on the lab topology (fw1 = sender A, fw2 = receiver B, FTFW over UDP on the eth2
 * sync link, the lab's conntrack config for both).
 *
 *   node dist/bench/sync.js [--phases 2000x5,10000x3,20000x3] [--only hafwd|conntrackd] [--keep] [--tenths]
 *
 * Each phase is RATE×SECONDS: new connections created in A's kernel at RATE per second for SECONDS.
 * The generator is this file run inside fw1 (`--worker`): pre-encoded ctnetlink creates (TCP
 * ESTABLISHED, unique source address per entry, timeout 3600 s) sent on its own netfilter socket,
 * one tick every 10 ms, at most 500 creates per netlink datagram — so the rate is set by the kernel
 * and the daemons, not by an encoder. (Not `conntrack -I`: one process per entry tops out far below
 * 10k/s.) The daemons see them as ordinary kernel NEW events from another socket.
 *
 * What is measured, and how:
 * - created: the creates the kernel accepted; achieved: created / generator send time.
 * - arrived: entries in B's external cache once the phase has drained (hafwd: `conntrack.external
 *   .active` of the control API status; conntrackd: `conntrackd -s`, "cache external: current active
 *   connections"), minus the count before the phase.
 * - wire p50/p99: per entry, the kernel timestamp (tcpdump on B's eth2) of the first sync datagram
 *   carrying a data message for that entry (its NTA_IPV4 source address says which), minus the
 *   generator's realtime clock just before the netlink send of the entry's batch. This is kernel
 *   event → A's daemon → on the wire at B; B's decode and cache insert are not included. Clocks:
 *   both are CLOCK_REALTIME on the same host (bench/clock.ts calibration in the generator).
 * - cache p50/p99: B's cache count polled (hafwd: status over the control socket every ~25 ms, within its request budget;
 *   conntrackd: `conntrackd -s` in a loop, a process each time, ~10–20 ms apart); the k-th created
 *   entry counts as arrived at the first poll that saw base + k entries (FIFO assumption), so this
 *   includes B's processing but has the poll period as its resolution (printed).
 * - bytes/entry: UDP payload bytes A → B during the phase (data and control) / created; data
 *   bytes/entry: only the NEW/UPD/DEL messages; datagrams A → B.
 * - --tenths: the wire latencies again, split into ten slices of each phase by send time (where in
 *   a phase the tail comes from).
 * - RSS: VmRSS of each daemon and its child processes from /proc (bench/proc.ts), when the
 *   cumulative count of entries created in A reaches 10k and 100k.
 *
 * Everything runs in namespaces created here (prefix hsyb) and removed at the end; all traffic
 * stays inside them. Numbers are printed, never asserted; what could not be measured says why.
 */
import { benchFlow } from './synthetic.js'
import { SNAPSHOT_INTERVAL_MS } from '../runtime/conntrack-protocol.js'
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { applyRuleset, create, destroy, topology } from '../lab/topology.js'
import type { FwNode, Topology } from '../lab/topology.js'
import { startHafwd } from '../lab/hafwd-process.js'
import type { HafwdProcess } from '../lab/hafwd-process.js'
import { conntrackdStats, hafwConfigWithSync, labConntrackdConfig, startConntrackd } from '../lab/conntrackd.js'
import type { ConntrackdProcess } from '../lab/conntrackd.js'
import { waitFor, whoIsMaster } from '../lab/observe.js'
import { sh } from '../lab/sh.js'
import { ControlClient } from '../control/client.js'
import { openNetfilterSocket } from '../io/ctnetlink-socket.js'
import { encodeRequest } from '../codec/ctnetlink.js'
import { NlMsgType, NlmF, splitMessages } from '../codec/netlink.js'
import { calibrate, realNow, sleep } from './clock.js'
import { fmt, table } from './stats.js'
import { arg, treeMemory } from './proc.js'

const self = fileURLToPath(import.meta.url)
const MiB = 1024 * 1024
/** Sync socket buffers of both implementations (conntrackd's example: Snd/RcvSocketBuffer 1249280). */
const SOCKET_BUFFER = 1249280

// ------------------------------------------------------------------------------------------------
// Entries and the generator (runs inside A's namespace)

/** The inverse of entrySource, from the 4 raw bytes of NTA_IPV4's source; null when not ours. */
const entryIndex = (b1: number, b2: number, b3: number, b4: number): number | null =>
  b1 === 10 && b2 >= 100 && b2 < 164 ? ((b2 - 100) << 16) | (b3 << 8) | b4 : null

interface GenJob { readonly rate: number, readonly durationMs: number, readonly offset: number, readonly out: string }
interface GenResult { readonly created: number, readonly failed: number, readonly sendMs: number, readonly achieved: number }
/** Per batch: realtime before the send, first index, count. Written to job.out as JSON. */
type GenBatches = Array<[number, number, number]>

async function generate (job: GenJob): Promise<GenResult> {
  const perTick = Math.max(1, Math.round(job.rate / 100))
  const total = Math.round(job.rate * job.durationMs / 1000)
  const bufs = Array.from({ length: total }, (_, k) => encodeRequest({ op: 'create', flow: benchFlow(job.offset + k) }, k + 1, 0))
  const sock = openNetfilterSocket({ recvBufferSize: 4 * MiB, sendBufferSize: 4 * MiB })
  let failed = 0
  let answered = 0
  let acksWanted = 0
  sock.onMessage((buf) => {
    for (const m of splitMessages(buf)) {
      if (m.header.type !== NlMsgType.ERROR) continue
      if (m.payload.readInt32LE(0) !== 0) failed++
      else answered++
    }
  })
  const batches: GenBatches = []
  const CHUNK = 500 // creates per netlink datagram (larger ones were refused with EMSGSIZE, bench/ct-commit)
  calibrate()
  const t0 = performance.now()
  let next = t0
  for (let o = 0; o < total; o += perTick) {
    const end = Math.min(o + perTick, total)
    for (let c = o; c < end; c += CHUNK) {
      const chunk = bufs.slice(c, Math.min(c + CHUNK, end))
      // NLM_F_ACK on the last message of each datagram only: errors still answer individually.
      chunk.forEach((b, k) => { b.writeUInt16LE(k === chunk.length - 1 ? b.readUInt16LE(6) | NlmF.ACK : b.readUInt16LE(6) & ~NlmF.ACK, 6) })
      batches.push([realNow(), job.offset + c, chunk.length])
      acksWanted++
      await sock.send(chunk)
    }
    next += 10
    const wait = next - performance.now()
    if (wait > 0) await sleep(wait)
  }
  const sendMs = performance.now() - t0
  await waitFor(async () => answered + failed >= acksWanted, 5000, 5)
  sock.close()
  writeFileSync(job.out, JSON.stringify(batches))
  const created = total - failed
  return { created, failed, sendMs, achieved: Math.round(created / (sendMs / 1000)) }
}

// ------------------------------------------------------------------------------------------------
// The wire: a plain pcap reader (tcpdump -w, Ethernet, µs or ns stamps) and the FTFW messages in it

interface WireStats { bytesAB: number, dataBytesAB: number, datagramsAB: number, bytesBA: number, datagramsBA: number }
interface Wire { readonly first: Map<number, number>, stats: (fromMs: number, toMs: number) => WireStats }

function readPcap (file: string, aAddr: string): Wire {
  const buf = readFileSync(file)
  const first = new Map<number, number>()
  const packets: Array<{ ts: number, ab: boolean, len: number, data: number }> = []
  if (buf.length < 24) return { first, stats: () => ({ bytesAB: 0, dataBytesAB: 0, datagramsAB: 0, bytesBA: 0, datagramsBA: 0 }) }
  const magic = buf.readUInt32LE(0)
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1
  const u32 = (o: number): number => le ? buf.readUInt32LE(o) : buf.readUInt32BE(o)
  const a = aAddr.split('.').map(Number)
  let off = 24
  while (off + 16 <= buf.length) {
    const ts = u32(off) * 1000 + u32(off + 4) / (nano ? 1e6 : 1e3)
    const caplen = u32(off + 8)
    const p = off + 16
    off = p + caplen
    if (off > buf.length || caplen < 14 + 20 + 8) continue
    if (buf.readUInt16BE(p + 12) !== 0x0800) continue
    const ip = p + 14
    const ihl = ((buf[ip] as number) & 0x0f) * 4
    if (buf[ip + 9] !== 17) continue
    const ab = a.every((x, k) => buf[ip + 12 + k] === x)
    const udp = ip + ihl
    const payload = udp + 8
    const end = Math.min(udp + buf.readUInt16BE(udp + 4), off)
    let data = 0
    // conntrackd messages back to back (spec §1.1): header 8 bytes, len at 2, type in the low nibble.
    for (let m = payload; m + 8 <= end;) {
      const len = buf.readUInt16BE(m + 2)
      if (len < 8 || m + len > end) break
      const type = (buf[m] as number) & 0x0f
      if (type <= 2) {
        data += len
        // NTA_IPV4 (id 0, nta_len 12) comes first (spec §1.7)
        if (ab && buf.readUInt16BE(m + 8) === 12 && buf.readUInt16BE(m + 10) === 0) {
          const i = entryIndex(buf[m + 12] as number, buf[m + 13] as number, buf[m + 14] as number, buf[m + 15] as number)
          if (i !== null && !first.has(i)) first.set(i, ts)
        }
      }
      m += len
    }
    packets.push({ ts, ab, len: end - payload, data })
  }
  return {
    first,
    stats: (fromMs, toMs) => {
      const s: WireStats = { bytesAB: 0, dataBytesAB: 0, datagramsAB: 0, bytesBA: 0, datagramsBA: 0 }
      for (const p of packets) {
        if (p.ts < fromMs || p.ts > toMs) continue
        if (p.ab) { s.bytesAB += p.len; s.dataBytesAB += p.data; s.datagramsAB++ } else { s.bytesBA += p.len; s.datagramsBA++ }
      }
      return s
    }
  }
}

// ------------------------------------------------------------------------------------------------
// The two implementations behind one interface

type Impl = 'hafwd' | 'conntrackd'

interface Node { readonly pid: number, stop: () => Promise<void> }
interface Pair {
  readonly a: Node
  readonly b: Node
  /** Entries in B's external cache (null when B does not answer). */
  external: () => Promise<number | null>
  readonly pollNote: string
  close: () => Promise<void>
}

async function startPair (impl: Impl, t: Topology, dir: string): Promise<Pair> {
  const [fw1, fw2] = t.fw
  if (impl === 'hafwd') {
    // the same sync socket buffers as the conntrackd configs (its example's 1249280)
    // --event-buffer N: conntrack.eventBuffer of both daemons (default: the daemon's own default)
    const eventBufferArg = arg('--event-buffer')
    const eventBuffer = eventBufferArg === undefined ? undefined : Number(eventBufferArg)
    const o = (fw: FwNode): string => hafwConfigWithSync(t, fw, { controlSocket: join(dir, `${fw.name}.sock`), purgeTimeout: '3600s', startupResyncTimeout: '5s' }, 'udp', { socketBuffer: SOCKET_BUFFER, ...(eventBuffer === undefined ? {} : { eventBuffer }) })
    const pa: HafwdProcess = startHafwd(fw1.ns, o(fw1), dir, 'hafwd-fw1')
    if (await waitFor(async () => (await whoIsMaster(t)).join() === 'fw1', 15_000, 20) === null) throw new Error(`hafwd on fw1 did not become master (${pa.logFile})`)
    const pb: HafwdProcess = startHafwd(fw2.ns, o(fw2), dir, 'hafwd-fw2')
    let client: ControlClient | null = null
    const sock = join(dir, 'fw2.sock')
    await waitFor(async () => {
      try { client = await ControlClient.connect({ socket: sock }, { timeoutMs: 1000 }); return true } catch { return false }
    }, 15_000, 100)
    if (client === null) throw new Error(`hafwd on fw2 has no control socket (${pb.logFile})`)
    const c: ControlClient = client
    const external = async (): Promise<number | null> => {
      try {
        const s = await c.status() as { conntrack?: { external?: { active?: number } } }
        return s.conntrack?.external?.active ?? null
      } catch { return null }
    }
    const bulkDone = async (): Promise<boolean> => {
      try { return ((await c.status()) as { conntrack?: { bulk?: string } }).conntrack?.bulk === 'done' } catch { return false }
    }
    await waitFor(bulkDone, 20_000, 50)
    return {
      a: { pid: pa.pid, stop: async () => { await pa.stop('SIGTERM') } },
      b: { pid: pb.pid, stop: async () => { await pb.stop('SIGTERM') } },
      external,
      pollNote: 'control API status',
      close: async () => { await c.close().catch(() => undefined); await pa.stop('SIGTERM').catch(() => null); await pb.stop('SIGTERM').catch(() => null) }
    }
  }
  const ca: ConntrackdProcess = startConntrackd(fw1.ns, labConntrackdConfig(t, fw1, { transport: 'udp', dir, name: 'ctd-fw1', startupResync: false }), dir, 'ctd-fw1')
  const cb: ConntrackdProcess = startConntrackd(fw2.ns, labConntrackdConfig(t, fw2, { transport: 'udp', dir, name: 'ctd-fw2', startupResync: false }), dir, 'ctd-fw2')
  for (const c of [ca, cb]) {
    if (await waitFor(async () => (await conntrackdStats(c)) !== null, 10_000, 50) === null) throw new Error(`conntrackd in ${c.ns} does not answer (${c.logFile})`)
  }
  return {
    a: { pid: ca.pid, stop: async () => { await ca.stop() } },
    b: { pid: cb.pid, stop: async () => { await cb.stop() } },
    external: async () => (await conntrackdStats(cb))?.external.active ?? null,
    pollNote: 'conntrackd -s',
    close: async () => { await ca.stop().catch(() => null); await cb.stop().catch(() => null) }
  }
}


// ------------------------------------------------------------------------------------------------
// One implementation, all phases

interface Phase { readonly rate: number, readonly seconds: number }
interface PhaseRow {
  readonly phase: Phase
  readonly gen: GenResult
  readonly arrived: number
  readonly drainMs: number | null
  readonly wireLat: number[]
  /** wireLat split by when the entry's batch was sent: ten equal slices of the phase. */
  readonly wireByTenth: number[][]
  readonly wireMissing: number
  readonly cacheLat: number[]
  readonly pollMs: number
  readonly wire: WireStats
}
interface ImplResult { readonly impl: Impl, readonly rows: PhaseRow[], readonly rss: Array<{ entries: number, a: number | null, b: number | null, inB: number | null }>, readonly error?: string }

const pct = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] as number
}

async function runImpl (impl: Impl, phases: readonly Phase[], dir: string): Promise<ImplResult> {
  const t = topology(`hsyb${process.pid % 1000}${impl === 'hafwd' ? 'h' : 'c'}`)
  const rows: PhaseRow[] = []
  const rss: ImplResult['rss'] = []
  let pair: Pair | null = null
  let tcpdump: ResultPromise | null = null
  const pcap = join(dir, `${impl}.pcap`)
  try {
    await create(t)
    await applyRuleset(t)
    pair = await startPair(impl, t, dir)
    const p = pair
    tcpdump = execa('ip', ['netns', 'exec', t.fw[1].ns, 'tcpdump', '-Z', 'root', '--immediate-mode', '-B', '65536', '-i', 'eth2', '-n', '-U', '-w', pcap, 'udp port 3780'], { reject: false, stdin: 'ignore' })
    const td = tcpdump
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('tcpdump did not start')) }, 5000)
      td.stderr?.on('data', (d: Buffer) => { if (d.toString().includes('listening on')) { clearTimeout(timer); resolve() } })
    })
    let offset = 0
    const windows: Array<{ from: number, to: number, batches: GenBatches, base: number, samples: Array<[number, number]> }> = []
    for (const phase of phases) {
      const base = (await p.external()) ?? 0
      const out = join(dir, `${impl}-gen-${offset}.json`)
      const job: GenJob = { rate: phase.rate, durationMs: phase.seconds * 1000, offset, out }
      // poll B's cache while the generator runs and until the phase drains
      const samples: Array<[number, number]> = []
      let polling = true
      const poller = (async () => {
        while (polling) {
          const n = await p.external()
          if (n !== null) samples.push([realNow(), n])
          // under the daemon's control request budget (50/s, burst 200: a faster poller is
          // disconnected and the count stops); conntrackd -s takes ~25 ms a call by itself
          if (impl === 'hafwd') await sleep(22)
        }
      })()
      calibrate()
      const from = realNow()
      const genOut = await sh('ip', ['netns', 'exec', t.fw[0].ns, process.execPath, self, '--worker', JSON.stringify(job)], { timeoutMs: 120_000 })
      const gen = JSON.parse(genOut.trim().split('\n').pop() ?? '{}') as GenResult
      const genEnd = realNow()
      // drained: every created entry in B, or no progress for 5 s (bounded by 60 s)
      let last = -1
      let lastChange = performance.now()
      const drainStart = performance.now()
      for (;;) {
        const n = samples[samples.length - 1]?.[1] ?? base
        if (n !== last) { last = n; lastChange = performance.now() }
        if (n - base >= gen.created || performance.now() - lastChange > 5000 || performance.now() - drainStart > 60_000) break
        await sleep(20)
      }
      polling = false
      await poller
      const arrivedAt = samples.find(s => s[1] - base >= gen.created)?.[0]
      const to = realNow()
      windows.push({ from, to, batches: JSON.parse(readFileSync(out, 'utf8')) as GenBatches, base, samples })
      rows.push({
        phase, gen, arrived: (samples[samples.length - 1]?.[1] ?? base) - base,
        drainMs: arrivedAt === undefined ? null : Math.max(0, arrivedAt - genEnd),
        wireLat: [], wireByTenth: [], wireMissing: 0, cacheLat: [], pollMs: samples.length > 1 ? ((samples[samples.length - 1]?.[0] ?? 0) - (samples[0]?.[0] ?? 0)) / (samples.length - 1) : NaN,
        wire: { bytesAB: 0, dataBytesAB: 0, datagramsAB: 0, bytesBA: 0, datagramsBA: 0 }
      })
      offset += gen.created + gen.failed
      for (const mark of [10_000, 100_000]) {
        if (offset === mark) rss.push({ entries: mark, a: treeMemory(p.a.pid)?.total ?? null, b: treeMemory(p.b.pid)?.total ?? null, inB: await p.external() })
      }
    }
    // stop the capture, then attribute wire timestamps and bytes to the phases
    await sleep(300)
    td.kill('SIGTERM')
    await td
    tcpdump = null
    const wire = readPcap(pcap, t.fw[0].sync)
    windows.forEach((w, k) => {
      const row = rows[k] as PhaseRow
      const wireLat: number[] = []
      const wireByTenth: number[][] = Array.from({ length: 10 }, () => [])
      const cacheLat: number[] = []
      let missing = 0
      let kth = 0
      let s = 0
      const start = w.batches[0]?.[0] ?? 0
      const tenthMs = row.phase.seconds * 100
      for (const [at, firstIndex, count] of w.batches) {
        const tenth = wireByTenth[Math.min(9, Math.floor((at - start) / tenthMs))] as number[]
        for (let i = firstIndex; i < firstIndex + count; i++) {
          const seen = wire.first.get(i)
          if (seen === undefined) missing++
          else { wireLat.push(seen - at); tenth.push(seen - at) }
          kth++
          while (s < w.samples.length && ((w.samples[s]?.[1] ?? 0) - w.base) < kth) s++
          const sample = w.samples[s]
          if (sample !== undefined) cacheLat.push(sample[0] - at)
        }
      }
      rows[k] = { ...row, wireLat, wireByTenth, wireMissing: missing, cacheLat, wire: wire.stats(w.from, w.to) }
    })
    return { impl, rows, rss }
  } catch (err) {
    return { impl, rows, rss, error: err instanceof Error ? err.message : String(err) }
  } finally {
    if (tcpdump !== null) { tcpdump.kill('SIGTERM'); await tcpdump }
    await pair?.close()
    await destroy(t)
  }
}

// ------------------------------------------------------------------------------------------------

function parsePhases (s: string): Phase[] {
  return s.split(',').map(x => {
    const m = /^(\d+)x(\d+(?:\.\d+)?)$/.exec(x.trim())
    if (m === null) throw new Error(`bad phase ${x} (want RATExSECONDS, e.g. 10000x3)`)
    return { rate: Number(m[1]), seconds: Number(m[2]) }
  })
}

async function main (): Promise<void> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    console.log('the sync benchmark needs root (network namespaces)')
    process.exit(1)
  }
  const phases = parsePhases(arg('--phases') ?? '2000x5,10000x3,20000x3')
  const only = arg('--only')
  const impls: Impl[] = only === 'hafwd' ? ['hafwd'] : only === 'conntrackd' ? ['conntrackd'] : ['hafwd', 'conntrackd']
  const dir = mkdtempSync(join(tmpdir(), 'hafw-bench-sync-'))
  console.log(`# sync bench  kernel ${(await sh('uname', ['-r'])).trim()}  node ${process.version}  cpus ${(await sh('nproc', [])).trim()}  ${(await sh('conntrackd', ['-v'], { allowFail: true })).trim()}`)
  console.log(`# phases (rate/s × s): ${phases.map(p => `${p.rate}×${p.seconds}`).join(', ')}; A = fw1 (sender), B = fw2 (receiver), FTFW over UDP on eth2`)
  const results: ImplResult[] = []
  try {
    for (const impl of impls) results.push(await runImpl(impl, phases, dir))
  } finally {
    if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true })
    else console.log(`# kept: ${dir}`)
  }
  const rows: string[][] = []
  for (const r of results) {
    for (const x of r.rows) {
      rows.push([r.impl, `${x.phase.rate}×${x.phase.seconds}s`, String(x.gen.achieved), String(x.gen.created), String(x.arrived),
        fmt(pct(x.wireLat, 50), 1), fmt(pct(x.wireLat, 99), 1), String(x.wireMissing),
        fmt(pct(x.cacheLat, 50), 1), fmt(pct(x.cacheLat, 99), 1), fmt(x.pollMs, 0),
        x.drainMs === null ? 'not all' : fmt(x.drainMs, 0),
        fmt(x.wire.bytesAB / Math.max(1, x.gen.created), 1), fmt(x.wire.dataBytesAB / Math.max(1, x.gen.created), 1), String(x.wire.datagramsAB), String(x.wire.datagramsBA)])
    }
    if (r.error !== undefined) rows.push([r.impl, 'ERROR', r.error])
  }
  console.log('\n## replication: kernel NEW in A → B (latencies in ms)')
  console.log(table(['impl', 'phase', 'achieved/s', 'created', 'in B cache', 'wire p50', 'wire p99', 'not on wire', 'cache p50', 'cache p99', 'poll ms', 'drain ms', 'B/entry', 'data B/entry', 'dgrams A→B', 'dgrams B→A'], rows, 2))
  console.log(`(hafwd's cache columns read its status API, a snapshot the conntrack worker pushes every ${SNAPSHOT_INTERVAL_MS} ms: they include up to that much staleness, ~${SNAPSHOT_INTERVAL_MS / 2} ms on average; the wire columns do not.)`)
  if (process.argv.includes('--tenths')) {
    console.log('\n## wire latency by tenth of each phase (ms, p99 / max of the entries whose batch was sent in it)')
    const tenthRows = results.flatMap(r => r.rows.map(x => [r.impl, `${x.phase.rate}×${x.phase.seconds}s`, ...x.wireByTenth.map(l => `${fmt(pct(l, 99), 1)} / ${fmt(pct(l, 100), 1)}`)]))
    console.log(table(['impl', 'phase', ...Array.from({ length: 10 }, (_, k) => `${k + 1}/10`)], tenthRows, 2))
  }
  console.log('\n## RSS (daemon + children, MiB) when A has created N entries')
  const rssRows: string[][] = []
  for (const r of results) {
    for (const mark of [10_000, 100_000]) {
      const x = r.rss.find(s => s.entries === mark)
      rssRows.push(x === undefined
        ? [r.impl, String(mark), '—', '—', `not measured: the phases' cumulative count never equals ${mark}${r.error !== undefined ? ` (run failed: ${r.error})` : ''}`]
        : [r.impl, String(mark), fmt(x.a, 1), fmt(x.b, 1), `B's external cache held ${String(x.inB)}`])
    }
  }
  console.log(table(['impl', 'entries', 'A (sender) RSS', 'B (receiver) RSS', 'note'], rssRows, 2))
}

if (process.argv[2] === '--worker') {
  const job = JSON.parse(process.argv[3] ?? '{}') as GenJob
  generate(job).then(r => { console.log(JSON.stringify(r)); process.exit(0) }, (err: unknown) => { console.error(err); process.exit(1) })
} else {
  main().then(() => { process.exit(0) }, (err: unknown) => { console.error(err); process.exit(1) })
}
