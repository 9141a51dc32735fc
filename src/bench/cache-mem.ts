/**
 * Memory and speed of the conntrack caches (core/conntrack/cache.ts), no I/O, no root:
 *
 *   node --expose-gc dist/bench/cache-mem.js [--n 10000,100000] [--rounds 3]
 *        [--impl path/to/cache.js --label name]...
 *
 * Prints, never asserts. For each implementation (default: this build's cache.js; pass several
 * `--impl` to compare, e.g. a build of main in a temporary folder) and each N:
 *
 * - heap bytes per entry: (heapUsed + arrayBuffers) after global.gc(), cache filled with N entries,
 *   minus the same before; the flows are built inside the fill loop, as the codecs hand them over,
 *   so whatever the cache keeps of them is counted and nothing else. Internal cache: kernel NEW
 *   events (id, use and counters as the kernel sends them, window scale and flags); external:
 *   peer NEWs (as attrs-map.ts maps conntrackd messages: no id, no flags). One flow in four is
 *   SNATed (reply tuple differs, the peer's copy carries nat). The same flows with IPv6 addresses
 *   (fd00::<the IPv4 bytes>) for the IPv6 rows. Each measurement runs in its own child process.
 * - applies per second at N = the largest --n: kernel NEW into an empty cache, kernel UPDATE
 *   (timeout and status change, same state) of every entry, kernel DESTROY of every entry, peer UPD
 *   (merge) of every entry of a filled external cache. Each phase's inputs are built before its
 *   clock starts. Median of --rounds, each on a fresh cache, after one warm-up round.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { invertTuple, IPS, L4Proto, TCP_FLAG_BE_LIBERAL, type Flow, type FlowTuple } from '../core/conntrack/flow.js'
import type * as CacheModule from '../core/conntrack/cache.js'
import { formatIPv6 } from '../codec/ip.js'

type Cache = typeof CacheModule

const argv = process.argv.slice(2)
const opt = (name: string): string | undefined => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : undefined }
const opts = (name: string): string[] => argv.flatMap((a, i) => a === `--${name}` && argv[i + 1] !== undefined ? [argv[i + 1] as string] : [])

const src = (i: number): string => `10.${100 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`

/** The IPv6 twin of an IPv4 text: fd00::<the four bytes>, canonical as the codec formats it. */
function six (v4: string): string {
  const b = new Uint8Array(16)
  b[0] = 0xfd
  v4.split('.').forEach((p, k) => { b[12 + k] = Number(p) })
  return formatIPv6(b)
}

function toV6 (f: Flow): Flow {
  const t = (x: FlowTuple): FlowTuple => ({ ...x, src: six(x.src), dst: six(x.dst) })
  const out: Flow = { ...f, family: 'ipv6', orig: t(f.orig), reply: t(f.reply) }
  if (f.nat?.src?.ip !== undefined) out.nat = { src: { ...f.nat.src, ip: six(f.nat.src.ip) } }
  return out
}

/** Entry i as a kernel event: TCP ESTABLISHED to 10.200.0.1:443; every fourth SNATed to 192.0.2.1. */
function kernelFlow (i: number, timeout = 432000): Flow {
  const orig: FlowTuple = { src: src(i), dst: '10.200.0.1', l4proto: L4Proto.TCP, sport: 10000 + (i % 50000), dport: 443 }
  const nat = i % 4 === 0
  const reply = nat ? { ...invertTuple(orig), dst: '192.0.2.1', dport: 20000 + (i % 40000) } : invertTuple(orig)
  return {
    family: 'ipv4',
    orig,
    reply,
    status: IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED | (nat ? IPS.SRC_NAT | IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE : 0),
    timeout,
    id: (0x9e3779b1 * (i + 1)) >>> 0,
    use: 1,
    mark: 0,
    tcp: { state: 3, wscaleOrig: 7, wscaleReply: 7, flagsOrig: { flags: 0x23, mask: 0x23 }, flagsReply: { flags: 0x23, mask: 0x23 } },
    counters: { orig: { packets: 10 + i % 7, bytes: 1000 + i }, reply: { packets: 9, bytes: 5000 } }
  }
}

/** Entry i as the peer's conntrackd sends it (attrs-map.ts: no id, use, counters or TCP flags). */
function peerFlow (i: number, timeout = 432000): Flow {
  const k = kernelFlow(i, timeout)
  const f: Flow = { family: k.family, orig: k.orig, reply: k.reply, status: k.status as number, timeout, tcp: { state: 3, wscaleOrig: 7, wscaleReply: 7 } }
  if (i % 4 === 0) f.nat = { src: { ip: '192.0.2.1', port: 20000 + (i % 40000) } }
  return f
}

/** A partial kernel UPDATE: new timeout, same state, status re-sent; no protoinfo change beyond the state. */
function kernelUpdate (i: number): Flow {
  const k = kernelFlow(i, 431000)
  return { family: k.family, orig: k.orig, reply: k.reply, status: k.status as number, timeout: 431000, id: k.id as number, use: 1, tcp: { state: 3 } }
}

function kernelDestroy (i: number): Flow {
  const k = kernelFlow(i)
  return { family: k.family, orig: k.orig, reply: k.reply, status: k.status as number, id: k.id as number, tcp: { state: 7 } }
}

async function load (impl: string): Promise<Cache> {
  return await import(pathToFileURL(impl).href) as Cache
}

const gc = (): void => { for (let i = 0; i < 3; i++) (globalThis as unknown as { gc: () => void }).gc() }
const heap = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }

/** Child: fill one cache with n entries, print {bytesPerEntry, rssMiB} as JSON. */
async function childMem (c: Cache, which: 'internal' | 'external', n: number, v6: boolean): Promise<void> {
  gc()
  const before = heap()
  let cache = c.createCache(which)
  for (let i = 0; i < n; i++) {
    const f = which === 'internal' ? kernelFlow(i) : peerFlow(i)
    const flow = v6 ? toV6(f) : f
    cache = which === 'internal'
      ? c.applyKernelEvent(cache, { event: 'new', flow, origin: 'other' }, i, null).cache
      : c.applyPeerUpdate(cache, { event: 'new', flow }, i).cache
  }
  gc()
  const after = heap()
  if (c.cacheSize(cache) !== n) throw new Error(`size ${c.cacheSize(cache)} != ${n}`)
  console.log(JSON.stringify({ bytesPerEntry: (after - before) / n, rssMiB: process.memoryUsage().rss / 2 ** 20 }))
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/**
 * Child: applies per second of each kind, printed as JSON. Each phase's inputs are built just before
 * it (not timed) and dropped after, so the live heap during a phase is the cache and one array.
 */
async function childSpeed (c: Cache, n: number, rounds: number): Promise<void> {
  const build = (f: (i: number) => Flow): Flow[] => Array.from({ length: n }, (_, i) => f(i))
  const timed = (inputs: Flow[], apply: (f: Flow) => void): number => {
    const t0 = performance.now()
    for (let i = 0; i < n; i++) apply(inputs[i] as Flow)
    return performance.now() - t0
  }
  const times: Record<string, number[]> = { kernelNew: [], kernelUpdate: [], kernelDestroy: [], peerNew: [], peerUpdate: [] }
  for (let r = 0; r <= rounds; r++) {
    let cache = c.createCache('internal')
    const kernel = (event: 'new' | 'update' | 'destroy', now: number) => (flow: Flow): void => { cache = c.applyKernelEvent(cache, { event, flow, origin: 'other' }, now, null).cache }
    const tNew = timed(build(kernelFlow), kernel('new', 1))
    const tUpd = timed(build(kernelUpdate), kernel('update', 2))
    const tDel = timed(build(kernelDestroy), kernel('destroy', 3))
    if (c.cacheSize(cache) !== 0) throw new Error('destroy left entries')
    let ext = c.createCache('external')
    const peer = (event: 'new' | 'upd', now: number) => (flow: Flow): void => { ext = c.applyPeerUpdate(ext, { event, flow }, now).cache }
    const tPNew = timed(build(i => peerFlow(i)), peer('new', 1))
    const tPUpd = timed(build(i => ({ ...peerFlow(i, 431000), tcp: { state: 3 } })), peer('upd', 2))
    if (c.cacheStats(ext).updated !== n) throw new Error('peer updates did not merge')
    if (r === 0) continue // warm-up
    times.kernelNew?.push(tNew)
    times.kernelUpdate?.push(tUpd)
    times.kernelDestroy?.push(tDel)
    times.peerNew?.push(tPNew)
    times.peerUpdate?.push(tPUpd)
  }
  console.log(JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, n / (median(v) / 1000)]))))
}

function runChild (args: string[]): unknown {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} failed: ${r.stderr}`)
  const last = r.stdout.trim().split('\n').pop() as string
  return JSON.parse(last)
}

async function main (): Promise<void> {
  const child = opt('child')
  if (child !== undefined) {
    const c = await load(opt('impl') as string)
    const n = Number(opt('n'))
    if (child === 'mem') await childMem(c, opt('cache') as 'internal' | 'external', n, opt('family') === 'ipv6')
    else await childSpeed(c, n, Number(opt('rounds')))
    return
  }
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('run node with --expose-gc')
  const ns = (opt('n') ?? '10000,100000').split(',').map(Number)
  const rounds = Number(opt('rounds') ?? 3)
  const impls = opts('impl')
  const labels = opts('label')
  const list = impls.length === 0
    ? [{ impl: fileURLToPath(new URL('../core/conntrack/cache.js', import.meta.url)), label: 'this build' }]
    : impls.map((impl, i) => ({ impl, label: labels[i] ?? impl }))
  console.log(`node ${process.version}, N = ${ns.join(', ')}, ${rounds} rounds (median)\n`)
  console.log('heap bytes per entry (heapUsed + arrayBuffers delta after gc; child RSS after fill in MiB)')
  console.log('| implementation | cache | family | N | bytes/entry | RSS MiB |')
  console.log('|---|---|---|---:|---:|---:|')
  for (const { impl, label } of list) {
    for (const family of ['ipv4', 'ipv6']) {
      for (const which of ['internal', 'external']) {
        for (const n of ns) {
          const m = runChild(['--child', 'mem', '--impl', impl, '--cache', which, '--family', family, '--n', String(n)]) as { bytesPerEntry: number, rssMiB: number }
          console.log(`| ${label} | ${which} | ${family} | ${n} | ${m.bytesPerEntry.toFixed(0)} | ${m.rssMiB.toFixed(0)} |`)
        }
      }
    }
  }
  const n = Math.max(...ns)
  console.log(`\napplies per second at N = ${n}`)
  console.log('| implementation | kernel NEW | kernel UPDATE | kernel DESTROY | peer NEW | peer UPD |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const { impl, label } of list) {
    const s = runChild(['--child', 'speed', '--impl', impl, '--n', String(n), '--rounds', String(rounds)]) as Record<string, number>
    const f = (k: string): string => Math.round(s[k] as number).toLocaleString('en-US')
    console.log(`| ${label} | ${f('kernelNew')} | ${f('kernelUpdate')} | ${f('kernelDestroy')} | ${f('peerNew')} | ${f('peerUpdate')} |`)
  }
}

await main()
