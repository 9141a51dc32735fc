/**
 * Benchmark: committing N conntrack entries into the kernel, dumping a table of N entries, and the
 * highest kernel event rate the adapter takes without losing events.
 *
 *   node dist/bench/ct-commit.js [--sizes 10000,100000] [--rates 10000,20000,...] [--rcvbufs 0,4194304] [--no-conntrackd] [--no-events]
 *
 * Everything runs in network namespaces created here (prefix hct-bench-) and deleted at the end.
 * Netlink sockets belong to the namespace of their process, so each measurement of our adapter is
 * this file run again inside the namespace (`--worker <json>`), printing one JSON line.
 *
 * Commit comparison (architecture target: "commit of 100k entries no slower than conntrackd -c"):
 * - ours, daemon path: the external cache filled with N entries as a peer's messages leave it
 *   (packed records), then the commit as the conntrack worker runs it (commit.ts batches of
 *   COMMIT_BATCH, requests written from the records, apply with the listener on), timed from the
 *   plan to the last answer. Twice: as a takeover runs it (the event socket out of the NEW group
 *   until the end, core/conntrack/engine-commit.ts) and as an operator's `hafwctl commit` (in it);
 * - ours: `apply()` of N creates into an empty namespace, batched (with and without the event
 *   listener running: with it, our own N NEW events also arrive and are dropped by port id);
 * - conntrackd 1.4.7: two conntrackd in two namespaces, FTFW over UDP on a veth. N entries are
 *   inserted (with our adapter) into A's kernel, conntrackd A starts (its startup dump fills its
 *   internal cache), `conntrackd -B` on A sends them to B, we wait until B's external cache holds N,
 *   then time `conntrackd -c` on B (it blocks until the commit is done) and count B's kernel table.
 * Both commit the same tuples: TCP ESTABLISHED, SEEN_REPLY|ASSURED, reply = inverse of orig.
 *
 * Dump: the daemon's resync inside the worker (`dumpChunks()`: each receive batch packed into
 * records, merged into an internal cache by resyncRecords), `dumpChunks()` alone, `dump()` (every
 * entry decoded into a Flow, all collected into one array, as the control API's views take it) vs
 * the wall time of
 * `ip netns exec NS conntrack -L > /dev/null` (process start included; `ip netns exec NS true` is
 * printed as the baseline).
 *
 * Event rate: a generator socket in a worker thread sends pre-encoded creates at a target rate (a
 * tick every 10 ms) for 1 s in a fresh namespace; the adapter on the main thread counts the NEW
 * events it gets and the overruns it reports; with the kernel's default receive buffer (212992), 8 MiB
 * (a 4 MiB request, the old default) and the adapter's default (DEFAULT_EVENT_RCVBUF, doubled);
 * `--rcvbufs a,b,c` picks others (setsockopt values; 0 = kernel default).
 */
import { benchFlow } from './synthetic.js'
import { applyPeerUpdate, beginResync, cacheSize, cacheSource, createCache, endResync, resyncRecords } from '../core/conntrack/cache.js'
import { applyCommitResults, commitDone, commitProgress, nextCommitBatch, planCommit } from '../core/conntrack/commit.js'
import { COMMIT_BATCH } from '../runtime/conntrack.js'
import { batchSize } from '../core/conntrack/record-batch.js'
import { spawn } from 'node:child_process'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { sh, nsExec } from '../lab/sh.js'
import { openCtnetlink } from '../io/ctnetlink.js'
import { DEFAULT_EVENT_RCVBUF } from '../io/ctnetlink-events.js'
import { openNetfilterSocket } from '../io/ctnetlink-socket.js'
import { encodeRequest } from '../codec/ctnetlink.js'
import { splitMessages, NlMsgType, NlmF } from '../codec/netlink.js'
import type { ApplyResult } from '../io/conntrack-port.js'
import { arg } from './proc.js'

const self = fileURLToPath(import.meta.url)
const tag = String(process.pid % 100000)
const MiB = 1024 * 1024


const errnoHistogram = (res: ApplyResult[]): Record<string, number> => {
  const h: Record<string, number> = {}
  for (const r of res) if (!r.ok) h[r.errno] = (h[r.errno] ?? 0) + 1
  return h
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

// ------------------------------------------------------------------------------------------------
// Workers (run inside a namespace)

type Job =
  | { kind: 'commit', n: number, events: boolean, offset?: number }
  /** The daemon's path: the external cache (packed records) → commit.ts batches → apply, listener on. */
  | { kind: 'daemonCommit', n: number, takeover: boolean }
  | { kind: 'dump', repeat: number }
  /** The kernel's share: pre-encoded creates (encoding untimed), paced like the adapter. */
  | { kind: 'commitFloor', n: number }
  | { kind: 'events', rate: number, durationMs: number, recvBuffer: number }

async function worker (job: Job): Promise<unknown> {
  switch (job.kind) {
    case 'commit': {
      const ct = await openCtnetlink({ events: job.events })
      const reqs = Array.from({ length: job.n }, (_, i) => ({ op: 'create' as const, flow: benchFlow(i + (job.offset ?? 0)) }))
      const t0 = performance.now()
      const res = await ct.apply(reqs)
      const ms = performance.now() - t0
      const table = (await ct.dump()).length
      const stats = ct.stats()
      await ct.close()
      // the codec's share: encoding the same requests again, no I/O (JIT warm)
      const e0 = performance.now()
      reqs.forEach((r, i) => encodeRequest(r, i + 1, 0))
      const encodeMs = performance.now() - e0
      return { ms, encodeMs, ok: res.filter(r => r.ok).length, failed: errnoHistogram(res), table, datagrams: stats.commit.datagrams, window: stats.commitWindow, ownEvents: stats.ownEvents, overruns: stats.overruns }
    }
    case 'daemonCommit': {
      const ct = await openCtnetlink({ events: true })
      // the external cache as the peer's FTFW messages leave it (filled untimed)
      const cache = createCache('external')
      for (let i = 0; i < job.n; i++) applyPeerUpdate(cache, { event: 'new', flow: benchFlow(i) }, 0)
      const t0 = performance.now()
      // a takeover's commit runs out of the NEW event group (engine-commit.ts), an operator's in it
      if (job.takeover) ct.listenNew(false)
      let s = planCommit(cacheSource(cache), t0, { batchSize: COMMIT_BATCH })
      let byRecord = 0
      while (!commitDone(s)) {
        const b = nextCommitBatch(s, performance.now())
        if (b.requests.length === 0) break
        for (const r of b.requests) if (r.request.op === 'createAttrs') byRecord++
        const answers = await ct.apply(b.requests.map(r => r.request as Exclude<typeof r.request, { op: 'dump' }>))
        s = applyCommitResults(b.state, b.requests.map((r, i) => {
          const a = answers[i]
          return { id: r.id, error: a === undefined ? 'ENOANSWER' : a.ok ? null : a.errno }
        }))
      }
      if (job.takeover) ct.listenNew(true)
      const ms = performance.now() - t0
      const table = (await ct.dump()).length
      await ct.close()
      const p = commitProgress(s)
      return { ms, ok: p.ok, failed: p.failed, byRecord, table }
    }
    case 'dump': {
      const ct = await openCtnetlink({ events: false })
      const times: number[] = []
      const chunkTimes: number[] = []
      const cacheTimes: number[] = []
      let count = 0
      let streamed = 0
      // The daemon's resync: chunks of packed records merged into an internal cache (the first
      // repeat fills it, the later ones merge into it, as an overrun resync does).
      const cache = createCache('internal')
      const opts = { filter: null, purge: false, propagate: false }
      for (let i = 0; i < job.repeat; i++) {
        let seen = 0
        const t1 = performance.now()
        streamed = await ct.dumpChunks(batch => { seen += batchSize(batch) })
        chunkTimes.push(performance.now() - t1)
        if (seen !== streamed) throw new Error(`dumpChunks handed over ${seen} entries, counted ${streamed}`)
        const run = beginResync()
        const t2 = performance.now()
        await ct.dumpChunks(batch => { resyncRecords(cache, run, batch, t2, opts) })
        endResync(cache, run, opts)
        cacheTimes.push(performance.now() - t2)
      }
      if (cacheSize(cache) !== streamed) throw new Error(`resync cached ${cacheSize(cache)} of ${streamed}`)
      for (let i = 0; i < job.repeat; i++) {
        const t0 = performance.now()
        count = (await ct.dump()).length
        times.push(performance.now() - t0)
      }
      await ct.close()
      // the kernel's share: the same dump, messages counted, not decoded
      const sock = openNetfilterSocket({})
      const rawTimes: number[] = []
      for (let i = 0; i < job.repeat; i++) {
        const t0 = performance.now()
        await new Promise<void>((resolve) => {
          sock.onMessage((buf) => { if (splitMessages(buf).some(m => m.header.type === NlMsgType.DONE && m.header.seq === 900 + i)) resolve() })
          void sock.send([encodeRequest({ op: 'dump' }, 900 + i, 0)])
        })
        rawTimes.push(performance.now() - t0)
      }
      sock.close()
      return { ms: median(times), times, count, rawMs: median(rawTimes), chunkMs: median(chunkTimes), cacheMs: median(cacheTimes), streamed }
    }
    case 'commitFloor': {
      const per = 800
      const bufs = Array.from({ length: job.n }, (_, i) => {
        const b = encodeRequest({ op: 'create', flow: benchFlow(i) }, i + 1, 0)
        if ((i + 1) % per !== 0 && i !== job.n - 1) b.writeUInt16LE(b.readUInt16LE(6) & ~NlmF.ACK, 6)
        return b
      })
      const sock = openNetfilterSocket({ recvBufferSize: 4 * MiB, sendBufferSize: MiB })
      const datagrams = Math.ceil(job.n / per)
      let answers = 0
      let inFlight = 0
      let next = 0
      const t0 = performance.now()
      await new Promise<void>((resolve) => {
        // at most 6 datagrams (4800 answers' worth of budget) unanswered, as the adapter's window
        const send = (): void => {
          while (inFlight < 6 && next < job.n) { void sock.send(bufs.slice(next, next + per)); next += per; inFlight++ }
        }
        sock.onMessage((buf) => {
          for (const m of splitMessages(buf)) if (m.header.type === NlMsgType.ERROR) { answers++; inFlight-- }
          if (answers >= datagrams) resolve(); else send()
        })
        send()
      })
      const ms = performance.now() - t0
      sock.close()
      return { ms }
    }
    case 'events': {
      const listener = await openCtnetlink({ eventRecvBufferSize: job.recvBuffer })
      let received = 0
      let lastEventAt = performance.now()
      const overruns: string[] = []
      listener.onEvent(e => { if (e.event === 'new') { received++; lastEventAt = performance.now() } })
      listener.onOverrun(i => { overruns.push(i.reason) })
      // the generator runs in a worker thread (its own socket, so the events are not ours, and its
      // own loop, so the listener has this thread to itself as in the daemon)
      const elu0 = performance.eventLoopUtilization()
      const gen = new Worker(self, { workerData: { rate: job.rate, durationMs: job.durationMs } satisfies GenJob })
      const g = await new Promise<GenResult>((resolve, reject) => { gen.once('message', resolve); gen.once('error', reject) })
      await gen.terminate()
      // drain: stop when nothing arrived for 500 ms (bounded)
      const end = performance.now() + 15000
      while (performance.now() < end && received < g.created && performance.now() - lastEventAt < 500) await sleep(20)
      const elu = performance.eventLoopUtilization(elu0)
      const es = listener.stats().eventSocket
      await listener.close()
      return { target: job.rate, achieved: Math.round(g.total / (g.sendMs / 1000)), created: g.created, received, overruns: overruns.length, rcvbuf: es?.recvBufferSize, datagrams: es?.datagrams, batches: es?.batches, elu: elu.utilization }
    }
  }
}

interface GenJob { rate: number, durationMs: number }
interface GenResult { total: number, created: number, sendMs: number }

/** Pre-encoded creates at `rate` (a tick every 10 ms, at most 500 per datagram) for `durationMs`. */
async function generate (job: GenJob): Promise<GenResult> {
  const perTick = Math.max(1, Math.round(job.rate / 100))
  const total = Math.round(job.rate * job.durationMs / 1000)
  const bufs = Array.from({ length: total }, (_, i) => encodeRequest({ op: 'create', flow: benchFlow(i, 600) }, i + 1, 0))
  const gen = openNetfilterSocket({ recvBufferSize: 4 * MiB, sendBufferSize: 4 * MiB })
  let failures = 0
  let answers = 0
  let wanted = 0
  gen.onMessage((buf) => {
    for (const m of splitMessages(buf)) {
      if (m.header.type !== NlMsgType.ERROR) continue
      if (m.payload.readInt32LE(0) !== 0) failures++
      else answers++
    }
  })
  const CHUNK = 500 // messages per datagram
  const t0 = performance.now()
  let next = t0
  for (let o = 0; o < total; o += perTick) {
    const tickEnd = Math.min(o + perTick, total)
    for (let c = o; c < tickEnd; c += CHUNK) {
      const chunk = bufs.slice(c, Math.min(c + CHUNK, tickEnd))
      // NLM_F_ACK on the last of each datagram only, as the adapter does
      chunk.forEach((b, k) => { b.writeUInt16LE(k === chunk.length - 1 ? b.readUInt16LE(6) | NlmF.ACK : b.readUInt16LE(6) & ~NlmF.ACK, 6) })
      wanted++
      await gen.send(chunk)
    }
    next += 10
    const wait = next - performance.now()
    if (wait > 0) await sleep(wait)
  }
  const sendMs = performance.now() - t0
  const until = performance.now() + 5000
  while (answers + failures < wanted && performance.now() < until) await sleep(5)
  gen.close()
  return { total, created: total - failures, sendMs }
}

// ------------------------------------------------------------------------------------------------
// Orchestration (root namespace)

async function runWorker<T> (ns: string, job: Job, timeoutMs = 600_000): Promise<T> {
  const out = await sh('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, self, '--worker', JSON.stringify(job)], { timeoutMs })
  const line = out.trim().split('\n').pop() ?? ''
  return JSON.parse(line) as T
}

async function freshNs (name: string): Promise<string> {
  await sh('ip', ['netns', 'del', name], { allowFail: true })
  await sh('ip', ['netns', 'add', name])
  await nsExec(name, 'ip', ['link', 'set', 'lo', 'up'])
  return name
}

async function delNs (name: string): Promise<void> {
  await sh('ip', ['netns', 'del', name], { allowFail: true })
}

async function wallMs (cmd: string, args: string[], repeat = 3): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now()
    await sh(cmd, args, { timeoutMs: 600_000 })
    times.push(performance.now() - t0)
  }
  return median(times)
}

function conntrackdConf (dir: string, name: string, self: string, peer: string, ifname: string): string {
  return `# hct bench conntrackd (${name}); private paths under ${dir}
Sync {
\tMode FTFW {
\t}
\tUDP {
\t\tIPv4_address ${self}
\t\tIPv4_Destination_Address ${peer}
\t\tPort 3780
\t\tInterface ${ifname}
\t\tSndSocketBuffer 1249280
\t\tRcvSocketBuffer 1249280
\t\tChecksum on
\t}
}
General {
\tHashSize 65536
\tHashLimit 524288
\tLogFile ${dir}/${name}.log
\tSyslog off
\tLockFile ${dir}/${name}.lock
\tUNIX {
\t\tPath ${dir}/${name}.ctl
\t}
\tNetlinkBufferSize 2097152
\tNetlinkBufferSizeMaxGrowth 8388608
\tFilter From Userspace {
\t\tProtocol Accept {
\t\t\tTCP
\t\t}
\t\tAddress Ignore {
\t\t\tIPv4_address 127.0.0.1
\t\t\tIPv4_address ${self}
\t\t\tIPv4_address ${peer}
\t\t}
\t}
}
`
}

interface ConntrackdResult { commitMs: number, external: number, committed: number, bulkMs: number, note: string }

/** N entries through two real conntrackd (FTFW/UDP), then `conntrackd -c` on the receiver, timed. */
async function conntrackdCommit (n: number, dir: string): Promise<ConntrackdResult> {
  const nsA = await freshNs(`hct-bench-ca-${tag}`)
  const nsB = await freshNs(`hct-bench-cb-${tag}`)
  const ifA = `hctbca${tag}`
  const ifB = `hctbcb${tag}`
  const procs: number[] = []
  try {
    await sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB])
    for (const [ns, dev, addr] of [[nsA, ifA, '10.97.0.1'], [nsB, ifB, '10.97.0.2']] as const) {
      await nsExec(ns, 'ip', ['addr', 'add', `${addr}/24`, 'dev', dev])
      await nsExec(ns, 'ip', ['link', 'set', dev, 'up'])
    }
    const confA = `${dir}/ctd-a-${n}.conf`
    const confB = `${dir}/ctd-b-${n}.conf`
    writeFileSync(confA, conntrackdConf(dir, `ctd-a-${n}`, '10.97.0.1', '10.97.0.2', ifA))
    writeFileSync(confB, conntrackdConf(dir, `ctd-b-${n}`, '10.97.0.2', '10.97.0.1', ifB))
    const inserted = await runWorker<{ ok: number }>(nsA, { kind: 'commit', n, events: false })
    if (inserted.ok !== n) throw new Error(`inserted ${inserted.ok} of ${n} into A`)
    const start = (ns: string, conf: string): void => {
      const p = spawn('ip', ['netns', 'exec', ns, 'conntrackd', '-C', conf], { stdio: 'ignore' })
      if (p.pid !== undefined) procs.push(p.pid)
    }
    start(nsB, confB)
    await sleep(1500)
    start(nsA, confA) // its startup dump puts the N entries in its internal cache
    await sleep(3000)
    const external = async (): Promise<number> => {
      const s = await nsExec(nsB, 'conntrackd', ['-C', confB, '-s'], { allowFail: true })
      const m = /cache external:\s*current active connections:\s+(\d+)/.exec(s)
      return m === null ? -1 : Number(m[1])
    }
    const t0 = performance.now()
    await nsExec(nsA, 'conntrackd', ['-C', confA, '-B'])
    let ext = 0
    const deadline = Date.now() + 300_000
    while (Date.now() < deadline) {
      ext = await external()
      if (ext >= n) break
      await sleep(500)
    }
    const bulkMs = performance.now() - t0
    let note = ''
    if (ext < n) note = `B's external cache reached only ${ext} of ${n}`
    const t1 = performance.now()
    await nsExec(nsB, 'conntrackd', ['-C', confB, '-c'], { timeoutMs: 600_000 })
    const commitMs = performance.now() - t1
    const committed = Number((await nsExec(nsB, 'conntrack', ['-C'])).trim())
    return { commitMs, external: ext, committed, bulkMs, note }
  } finally {
    for (const pid of procs) { try { process.kill(pid, 'SIGTERM') } catch {} }
    await sleep(500)
    await delNs(nsA)
    await delNs(nsB)
  }
}

const fmt = (ms: number): string => ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`

async function main (): Promise<void> {
  const sizes = (arg('--sizes') ?? '10000,100000').split(',').map(Number)
  const rates = (arg('--rates') ?? '5000,10000,25000,50000,100000,200000').split(',').map(Number)
  const withConntrackd = !process.argv.includes('--no-conntrackd')
  const withEvents = !process.argv.includes('--no-events')
  const dir = `/tmp/hct-bench-${tag}`
  mkdirSync(dir, { recursive: true })
  console.log(`# ct-commit bench  kernel ${(await sh('uname', ['-r'])).trim()}  node ${process.version}  cpus ${(await sh('nproc', [])).trim()}  ${(await sh('conntrackd', ['-v'], { allowFail: true })).trim()}`)
  try {
    console.log('\n## commit N entries into an empty table')
    console.log('| N | ours, daemon path, takeover (external cache → requests → kernel, listener out of NEW) | ours, daemon path, operator commit (listener in NEW) | ours, apply(), listener on | ours, apply(), listener off | conntrackd -c | conntrackd / ours (takeover) | notes |')
    console.log('|---|---|---|---|---|---|---|---|')
    const dumpRows: string[] = []
    for (const n of sizes) {
      const ns = await freshNs(`hct-bench-c-${tag}`)
      const on = await runWorker<{ ms: number, encodeMs: number, ok: number, failed: Record<string, number>, table: number, datagrams: number, window: number, overruns: number }>(ns, { kind: 'commit', n, events: true })
      type DaemonRow = { ms: number, ok: number, failed: number, byRecord: number, table: number }
      const nsd = await freshNs(`hct-bench-p-${tag}`)
      const daemon = await runWorker<DaemonRow>(nsd, { kind: 'daemonCommit', n, takeover: true })
      await delNs(nsd)
      const nso = await freshNs(`hct-bench-o-${tag}`)
      const operator = await runWorker<DaemonRow>(nso, { kind: 'daemonCommit', n, takeover: false })
      await delNs(nso)
      const ns2 = await freshNs(`hct-bench-d-${tag}`)
      const off = await runWorker<{ ms: number, ok: number, table: number, datagrams: number }>(ns2, { kind: 'commit', n, events: false })
      await delNs(ns2)
      const ns3 = await freshNs(`hct-bench-f-${tag}`)
      const floor = await runWorker<{ ms: number }>(ns3, { kind: 'commitFloor', n })
      await delNs(ns3)
      // dump of the table the first commit left
      const ours = await runWorker<{ ms: number, rawMs: number, count: number, chunkMs: number, cacheMs: number, streamed: number }>(ns, { kind: 'dump', repeat: 3 })
      const cli = await wallMs('ip', ['netns', 'exec', ns, 'sh', '-c', 'conntrack -L >/dev/null 2>&1'])
      const base = await wallMs('ip', ['netns', 'exec', ns, 'true'])
      dumpRows.push(`| ${n} | ${fmt(ours.cacheMs)} | ${fmt(ours.chunkMs)} (${ours.streamed} entries) | ${fmt(ours.ms)} (${ours.count} flows) | ${fmt(ours.rawMs)} | ${fmt(cli)} | ${fmt(base)} | ${(cli / ours.cacheMs).toFixed(2)} |`)
      await delNs(ns)
      let ctd: ConntrackdResult | undefined
      let ctdErr = ''
      if (withConntrackd) {
        try { ctd = await conntrackdCommit(n, dir) } catch (err) { ctdErr = String((err as Error).message) }
      }
      const notes = [
        `daemon path: takeover ${daemon.ok}/${n} ok (${daemon.byRecord} written from records), table ${daemon.table}; operator ${operator.ok}/${n} ok, table ${operator.table}`,
        `ours: ${on.ok}/${n} ok, table ${on.table}, ${on.datagrams} datagrams, window ${on.window}, listener overruns ${on.overruns}; off: ${off.ok}/${n} ok, table ${off.table}`,
        `codec encode of the N requests alone ${fmt(on.encodeMs)}; kernel floor (pre-encoded datagrams) ${fmt(floor.ms)}`,
        ctd === undefined ? (withConntrackd ? `conntrackd failed: ${ctdErr}` : 'conntrackd skipped') : `conntrackd: external cache ${ctd.external}, kernel after -c ${ctd.committed}, FTFW bulk took ${fmt(ctd.bulkMs)}${ctd.note === '' ? '' : `; ${ctd.note}`}`
      ].join('; ')
      console.log(`| ${n} | ${fmt(daemon.ms)} | ${fmt(operator.ms)} | ${fmt(on.ms)} | ${fmt(off.ms)} | ${ctd === undefined ? 'n/a' : fmt(ctd.commitMs)} | ${ctd === undefined ? 'n/a' : (ctd.commitMs / daemon.ms).toFixed(2)} | ${notes} |`)
    }
    console.log('\n## dump a table of N entries')
    console.log('| N | ours: resync into the internal cache (dumpChunks → resyncRecords, as the daemon; median of 3) | ours dumpChunks() alone (packed records) | ours dump(), collected Flows (median of 3) | same dump, not decoded (kernel + framing) | ip netns exec … conntrack -L >/dev/null (median of 3) | ip netns exec … true | conntrack -L / ours (resync) |')
    console.log('|---|---|---|---|---|---|---|---|')
    for (const r of dumpRows) console.log(r)

    if (withEvents) {
      console.log('\n## kernel event rate vs lost events (1 s of creates from another socket, NEW events counted)')
      console.log('| event socket SO_RCVBUF (effective) | target rate /s | achieved /s | created | NEW events received | overruns | datagrams / JS batches | listener thread busy |')
      console.log('|---|---|---|---|---|---|---|---|')
      const rcvbufs = (arg('--rcvbufs') ?? `0,${4 * MiB},${DEFAULT_EVENT_RCVBUF}`).split(',').map(Number)
      for (const recvBuffer of rcvbufs) {
        for (const rate of rates) {
          const ns = await freshNs(`hct-bench-e-${tag}`)
          const r = await runWorker<{ target: number, achieved: number, created: number, received: number, overruns: number, rcvbuf: number, datagrams?: number, batches?: number, elu?: number }>(ns, { kind: 'events', rate, durationMs: 1000, recvBuffer })
            .finally(async () => { await delNs(ns) })
          const perBatch = r.batches === undefined || r.batches === 0 ? 'n/a' : `${r.datagrams ?? 0} / ${r.batches} (${((r.datagrams ?? 0) / r.batches).toFixed(1)} per batch)`
          console.log(`| ${r.rcvbuf} | ${r.target} | ${r.achieved} | ${r.created} | ${r.received} | ${r.overruns} | ${perBatch} | ${r.elu === undefined ? 'n/a' : `${(r.elu * 100).toFixed(0)} %`} |`)
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    for (const name of ['c', 'd', 'f', 'e', 'o', 'p', 'ca', 'cb']) await delNs(`hct-bench-${name}-${tag}`)
  }
}

if (!isMainThread) {
  // the event generator thread of the 'events' job
  generate(workerData as GenJob).then(r => { parentPort?.postMessage(r) }, (err: unknown) => { throw err })
} else if (process.argv[2] === '--worker') {
  const job = JSON.parse(process.argv[3] ?? '{}') as Job
  worker(job).then(r => { console.log(JSON.stringify(r)); process.exit(0) }, (err: unknown) => { console.error(err); process.exit(1) })
} else {
  main().then(() => { process.exit(0) }, (err: unknown) => { console.error(err); process.exit(1) })
}
