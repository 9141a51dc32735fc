/**
 * Micro-benchmark of the FTFW pure path, no I/O (prints, asserts nothing):
 *
 *   node dist/bench/ftfw-path.js [--n 100000] [--rounds 7] [--repeat 5] [--batch 64] [--impl DIST --label NAME]...
 *
 * - send: N local NEW events (flowToAttrs + `stepFtfw` local) with a `flush` every `batch` events (one
 *   transmit round per batch of kernel events, as the runtime's zero-delay deadline gives), and an ACK from
 *   the peer fed back for every 300 messages sent (conntrackd's default window), so the resend queue is
 *   released as on a healthy link and never fills; the first ACK carries HELLO_BACK, so from then on messages
 *   go without HELLO, as after a handshake;
 * - recv: the datagrams of one send run fed to a fresh endpoint (`stepFtfw` datagram), every delivery mapped
 *   with flowFromAttrs, and a `flush` every 16 datagrams so its window ACKs go out.
 * The flow mix (module `mix`): IPv4 TCP established 60 %, UDP 20 %, SNAT'ed TCP 10 %, ICMP 5 %, IPv6 TCP 5 %.
 *
 * With one or more `--impl DIST` (a compiled dist/ directory, e.g. main's built into a temp dir), each
 * implementation runs in its own child process, alternating A B A B ... `rounds` times, so the numbers of one
 * run share the machine's load. Without `--impl`, this build's dist runs alone. Per process: one warm-up round,
 * then `repeat` (5) measured rounds of each path, alternating, of which the median (by CPU time) is kept; the
 * table shows the median and the best of those over the processes.
 * GC share = time in GC pauses (perf_hooks 'gc' entries) / wall time of the measured round. CPU = user + system
 * time of the process over the round (GC helper threads included): on a loaded machine it moves far less than
 * wall time, so the CPU columns are the ones to compare.
 */
import { spawnSync } from 'node:child_process'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join, resolve } from 'node:path'
import type { Flow, FlowTuple } from '../core/conntrack/flow.js'

const argv = process.argv.slice(2)
const arg = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(argv[i + 1]) : dflt
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`)
  return v
}
const all = (name: string): string[] => argv.flatMap((a, i) => a === `--${name}` && argv[i + 1] !== undefined ? [argv[i + 1] as string] : [])

const N = arg('n', 100_000)
const ROUNDS = arg('rounds', 7)
const BATCH = arg('batch', 64)
const REPEAT = arg('repeat', 5)
const ACK_EVERY = 300
const RECV_FLUSH_EVERY = 16
const OWN_DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..')

interface PathResult { ms: number, cpuMs: number, gcMs: number, entries: number }
interface RunResult { send: PathResult, recv: PathResult, datagrams: number, bytes: number, delivered: number }

// ------------------------------------------------------------------------------------------- the flow mix

const IPS_SEEN_REPLY = 0x2
const IPS_ASSURED = 0x4
const IPS_SRC_NAT = 0x10
const IPS_SRC_NAT_DONE = 0x80

function invert (t: FlowTuple): FlowTuple {
  const r: FlowTuple = { src: t.dst, dst: t.src, l4proto: t.l4proto }
  if (t.sport !== undefined) r.sport = t.dport as number
  if (t.dport !== undefined) r.dport = t.sport as number
  if (t.icmpType !== undefined) { r.icmpType = 0; r.icmpCode = 0; r.icmpId = t.icmpId as number }
  return r
}

/** Flow i of the mix: deterministic, unique original tuple per i. */
function mix (i: number): Flow {
  const v4 = `10.${100 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`
  const sport = 10000 + (i % 50000)
  const status = IPS_SEEN_REPLY | IPS_ASSURED
  const k = i % 20
  if (k < 12 || k === 19) { // TCP established (k = 19: IPv6)
    const orig: FlowTuple = k === 19
      ? { src: `2001:db8:${(i >> 16).toString(16)}::${(i & 0xffff).toString(16)}`, dst: '2001:db8:ffff::1', l4proto: 6, sport, dport: 443 }
      : { src: v4, dst: '10.200.0.1', l4proto: 6, sport, dport: 443 }
    return { family: k === 19 ? 'ipv6' : 'ipv4', orig, reply: invert(orig), status, timeout: 432000, mark: i & 7, tcp: { state: 3 } }
  }
  if (k < 16) { // UDP (DNS-like)
    const orig: FlowTuple = { src: v4, dst: '10.200.0.53', l4proto: 17, sport, dport: 53 }
    return { family: 'ipv4', orig, reply: invert(orig), status, timeout: 30 }
  }
  if (k < 18) { // TCP through SNAT to 192.0.2.1
    const orig: FlowTuple = { src: v4, dst: '198.51.100.7', l4proto: 6, sport, dport: 80 }
    const reply: FlowTuple = { src: '198.51.100.7', dst: '192.0.2.1', l4proto: 6, sport: 80, dport: 20000 + (i % 40000) }
    return { family: 'ipv4', orig, reply, status: status | IPS_SRC_NAT | IPS_SRC_NAT_DONE, timeout: 120, tcp: { state: 3 } }
  }
  const orig: FlowTuple = { src: v4, dst: '10.200.0.1', l4proto: 1, icmpType: 8, icmpCode: 0, icmpId: i & 0xffff }
  return { family: 'ipv4', orig, reply: invert(orig), status: IPS_SEEN_REPLY, timeout: 30 }
}

const keyOf = (f: Flow): string => `${f.orig.l4proto}|${f.orig.src}|${f.orig.dst}|${f.orig.sport ?? f.orig.icmpId ?? 0}|${f.orig.dport ?? 0}`

// ------------------------------------------------------------------------------------------- one process

/** GC pause time observed while `fn` runs (entries arrive asynchronously, hence the wait). */
async function timed (fn: () => number): Promise<PathResult> {
  let gcMs = 0
  const obs = new PerformanceObserver(list => { for (const e of list.getEntries()) gcMs += e.duration })
  obs.observe({ entryTypes: ['gc'] })
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const entries = fn()
  const ms = performance.now() - t0
  const c = process.cpuUsage(c0)
  const cpuMs = (c.user + c.system) / 1000
  await new Promise(resolve => setTimeout(resolve, 20))
  obs.disconnect()
  return { ms, cpuMs, gcMs, entries }
}

/** Encoded ACK[from, to] as the peer sends it (specs/conntrackd-ftfw.md §1.3), the first with HELLO_BACK. */
function ackDatagram (seq: number, from: number, to: number, helloBack: boolean): Buffer {
  const b = Buffer.alloc(16)
  b[0] = 0x1a // version 1, NET_T_CTL
  b[1] = helloBack ? 0x48 : 0x08 // NET_F_ACK (| NET_F_HELLO_BACK)
  b.writeUInt16BE(16, 2)
  b.writeUInt32BE(seq >>> 0, 4)
  b.writeUInt32BE(from >>> 0, 8)
  b.writeUInt32BE(to >>> 0, 12)
  return b
}

async function runOne (dist: string): Promise<RunResult> {
  const mod = async (p: string): Promise<any> => await import(pathToFileURL(join(dist, p)).href) // eslint-disable-line @typescript-eslint/no-explicit-any
  const ftfw = await mod('core/sync/ftfw.js')
  const map = await mod('core/conntrack/attrs-map.js')
  const ctCodec = await mod('codec/conntrackd-ct.js')
  // Deliveries carry the attribute area since the receiver's byte path; older trees delivered attrs.
  const attrsOf = (d: any): unknown => d.payload !== undefined ? ctCodec.readCtAttrs(d.payload, 0, d.payload.length) : d.attrs // eslint-disable-line @typescript-eslint/no-explicit-any
  const flows = Array.from({ length: N }, (_, i) => mix(i))
  const keys = flows.map(keyOf)
  const cfg = { ...ftfw.FTFW_DEFAULTS }
  const SEQ0 = 0xffffff00 // crosses 2^32 on the way

  let captured: Buffer[] = []
  const send = (record: boolean): number => {
    let s = ftfw.createFtfw(cfg, SEQ0, 0)
    let acked = SEQ0
    let sent = 0
    let peerSeq = 7
    let now = 1
    const out: Buffer[] = []
    const round = (): void => {
      const r = ftfw.stepFtfw(s, { kind: 'flush' }, now)
      s = r.state
      for (const d of r.datagrams) if (record) out.push(d)
      sent = s.nextSeq
      if (((sent - acked) >>> 0) >= ACK_EVERY) {
        s = ftfw.stepFtfw(s, { kind: 'datagram', buf: ackDatagram(peerSeq, acked, sent - 1, peerSeq === 7) }, now).state
        peerSeq++
        acked = sent
      }
    }
    for (let i = 0; i < N; i++) {
      s = ftfw.stepFtfw(s, { kind: 'local', key: keys[i], event: 'new', attrs: map.flowToAttrs(flows[i]) }, now).state
      if ((i + 1) % BATCH === 0) { round(); now++ }
    }
    round()
    if (record) captured = out
    return N
  }

  let delivered = 0
  const recv = (): number => {
    let s = ftfw.createFtfw(cfg, 42, 0)
    let n = 0
    let ok = 0
    for (let i = 0; i < captured.length; i++) {
      const r = ftfw.stepFtfw(s, { kind: 'datagram', buf: captured[i] }, i)
      s = r.state
      for (const d of r.deliver) { n++; if (map.flowFromAttrs(attrsOf(d)).ok === true) ok++ }
      if ((i + 1) % RECV_FLUSH_EVERY === 0) s = ftfw.stepFtfw(s, { kind: 'flush' }, i).state
    }
    delivered = ok
    return n
  }

  send(true) // warm-up, and the datagrams for recv
  recv()
  // REPEAT measured rounds of each, alternating; the round with the median CPU time is reported.
  const sends: PathResult[] = []
  const recvs: PathResult[] = []
  for (let r = 0; r < REPEAT; r++) {
    sends.push(await timed(() => send(false)))
    recvs.push(await timed(recv))
  }
  const mid = (xs: PathResult[]): PathResult => [...xs].sort((a, b) => a.cpuMs - b.cpuMs)[Math.floor(xs.length / 2)] as PathResult
  const sendR = mid(sends)
  const recvR = mid(recvs)
  return { send: sendR, recv: recvR, datagrams: captured.length, bytes: captured.reduce((a, d) => a + d.length, 0), delivered }
}

// ------------------------------------------------------------------------------------------- driver

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }

async function main (): Promise<void> {
  if (argv.includes('--child')) {
    const dist = all('impl')[0] ?? OWN_DIST
    process.stdout.write(JSON.stringify(await runOne(dist)) + '\n')
    return
  }
  const impls = all('impl')
  const labels = all('label')
  const targets = impls.length > 0 ? impls.map((d, i) => ({ dist: resolve(d), label: labels[i] ?? d })) : [{ dist: OWN_DIST, label: 'this build' }]
  const results = new Map<string, RunResult[]>(targets.map(t => [t.label, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of targets) {
      const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', '--impl', t.dist, '--n', String(N), '--batch', String(BATCH), '--repeat', String(REPEAT)], { encoding: 'utf8', maxBuffer: 1 << 20 })
      if (child.status !== 0) throw new Error(`${t.label}: ${child.stderr}`)
      results.get(t.label)?.push(JSON.parse(child.stdout.trim().split('\n').pop() as string) as RunResult)
    }
  }
  console.log(`# ftfw-path  node ${process.version}  N ${N}  batch ${BATCH}  ${ROUNDS} processes per implementation, alternating`)
  console.log('| impl | path | entries/s per CPU-s (median) | µs CPU/entry (median) | best | entries/s wall (median) | GC share (median) | bytes/entry | datagrams |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const [label, rs] of results) {
    for (const path of ['send', 'recv'] as const) {
      const cpuUs = rs.map(x => x[path].cpuMs * 1000 / x[path].entries)
      const wall = rs.map(x => x[path].entries / x[path].ms * 1000)
      const gc = rs.map(x => x[path].gcMs / x[path].ms)
      const r0 = rs[0] as RunResult
      const us = median(cpuUs)
      console.log(`| ${label} | ${path} | ${Math.round(1e6 / us)} | ${us.toFixed(2)} | ${Math.min(...cpuUs).toFixed(2)} | ${Math.round(median(wall))} | ${(100 * median(gc)).toFixed(1)} % | ${(r0.bytes / N).toFixed(1)} | ${r0.datagrams} |`)
    }
    const d = (rs[0] as RunResult).delivered
    if (d !== N) console.log(`| ${label} | note | delivered ${d} of ${N} | | | | | |`)
  }
}

await main()
