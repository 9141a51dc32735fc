/**
 * Benchmark: resident memory of an idle node, hafwd (VRRP + conntrack sync, one daemon) beside
 * keepalived + conntrackd (the two daemons it replaces), on the lab topology, in one run.
 *
 *   node dist/bench/idle-rss.js [--seconds 45] [--only hafwd|classic] [--keep]
 *
 * Each implementation runs as the lab pair (fw1 master, fw2 backup; the lab's VRRP instances and
 * its conntrack sync over UDP on eth2) with no traffic. RSS is VmRSS of every process of the node
 * (the daemon and its descendants; keepalived's VRRP child, conntrackd), read from /proc every 5 s
 * for `--seconds` (default 45: hafwd's malloc_trim runs 10 s after start and every 10 s after,
 * so the window holds several). The table prints the last sample and the min–max of the samples
 * after 15 s. It also splits the RSS by /proc/PID/status (RssFile, RssAnon): file-backed pages
 * (mostly the node binary) and anonymous pages (the V8 heaps of both threads, malloc).
 *
 * Everything runs in namespaces created here (prefix hidl) and removed at the end; the only traffic
 * is VRRP and the sync protocol inside them. Numbers are printed, never asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyRuleset, create, destroy, topology } from '../lab/topology.js'
import type { FwNode, Topology } from '../lab/topology.js'
import { startHafwd } from '../lab/hafwd-process.js'
import { hafwConfigWithSync, labConntrackdConfig, startConntrackd } from '../lab/conntrackd.js'
import { keepalivedConfig, startKeepalived } from '../lab/keepalived.js'
import { waitFor, whoIsMaster } from '../lab/observe.js'
import { sleep } from './clock.js'
import { fmt, table } from './stats.js'
import { arg, treeMemory } from './proc.js'
import type { TreeMemory } from './proc.js'

type Impl = 'hafwd' | 'classic'
const LABEL: Record<Impl, string> = { hafwd: 'hafwd', classic: 'keepalived + conntrackd' }
const SAMPLE_MS = 5000
const SETTLED_MS = 15_000

interface Node { readonly name: string, readonly pids: number[], stop: () => Promise<void> }

async function startImpl (impl: Impl, t: Topology, dir: string): Promise<Node[]> {
  const nodes: Node[] = []
  const start = (fw: FwNode): Node => {
    if (impl === 'hafwd') {
      const p = startHafwd(fw.ns, hafwConfigWithSync(t, fw, { controlSocket: join(dir, `${fw.name}.sock`) }, 'udp'), dir, `hafwd-${fw.name}`)
      return { name: fw.name, pids: [p.pid], stop: async () => { await p.stop('SIGTERM').catch(() => undefined) } }
    }
    const k = startKeepalived(fw.ns, keepalivedConfig(t, fw), dir, `keepalived-${fw.name}`)
    const c = startConntrackd(fw.ns, labConntrackdConfig(t, fw, { transport: 'udp', dir, name: `ctd-${fw.name}` }), dir, `ctd-${fw.name}`)
    return { name: fw.name, pids: [k.pid, c.pid], stop: async () => { await k.stop('SIGTERM').catch(() => undefined); await c.stop('SIGTERM').catch(() => undefined) } }
  }
  try {
    nodes.push(start(t.fw[0]))
    if (await waitFor(async () => (await whoIsMaster(t)).join() === 'fw1', 15_000, 20) === null) throw new Error(`${LABEL[impl]} on fw1 did not become master (logs in ${dir})`)
    nodes.push(start(t.fw[1]))
    return nodes
  } catch (err) {
    for (const n of nodes) await n.stop()
    throw err
  }
}

interface Row { readonly impl: Impl, readonly node: string, readonly last: TreeMemory | null, readonly min: number, readonly max: number, readonly error?: string }

async function runImpl (impl: Impl, seconds: number, dir: string): Promise<Row[]> {
  const t = topology(`hidl${process.pid % 1000}${impl === 'hafwd' ? 'h' : 'c'}`)
  let nodes: Node[] = []
  try {
    await create(t)
    await applyRuleset(t)
    nodes = await startImpl(impl, t, dir)
    const started = performance.now()
    const samples = nodes.map(() => [] as Array<{ at: number, r: TreeMemory }>)
    while (performance.now() - started < seconds * 1000) {
      await sleep(SAMPLE_MS)
      nodes.forEach((n, i) => {
        const parts = n.pids.map(treeMemory)
        if (parts.some(p => p === null)) return
        const r = (parts as TreeMemory[]).reduce((a, b) => ({ total: a.total + b.total, file: a.file + b.file, anon: a.anon + b.anon }))
        samples[i]?.push({ at: performance.now() - started, r })
        process.stderr.write(`${LABEL[impl]} ${n.name} t=${((performance.now() - started) / 1000).toFixed(0)}s RSS ${r.total.toFixed(1)} MiB\n`)
      })
    }
    return nodes.map((n, i) => {
      const s = samples[i] ?? []
      const settled = s.filter(x => x.at >= SETTLED_MS).map(x => x.r.total)
      return { impl, node: n.name, last: s[s.length - 1]?.r ?? null, min: Math.min(...settled), max: Math.max(...settled) }
    })
  } catch (err) {
    return [{ impl, node: '-', last: null, min: NaN, max: NaN, error: err instanceof Error ? err.message : String(err) }]
  } finally {
    for (const n of nodes) await n.stop()
    await destroy(t)
  }
}

async function main (): Promise<void> {
  const seconds = Number(arg('--seconds') ?? 45)
  if (!Number.isFinite(seconds) || seconds < 20) throw new Error('--seconds: a number of at least 20 (the samples after 15 s are summarised)')
  const only = arg('--only')
  if (only !== undefined && only !== 'hafwd' && only !== 'classic') throw new Error('--only: hafwd or classic')
  const impls: Impl[] = only === undefined ? ['hafwd', 'classic'] : [only]
  const dir = mkdtempSync(join(tmpdir(), 'hafw-idle-rss-'))
  const rows: Row[] = []
  for (const impl of impls) rows.push(...await runImpl(impl, seconds, dir))
  console.log(`\n## Idle RSS per node (MiB, every process of the node), ${seconds} s, no traffic\n`)
  console.log(table(['impl', 'node', 'RSS last', `RSS min–max after ${SETTLED_MS / 1000} s`, 'file-backed', 'anonymous', 'note'],
    rows.map(r => [LABEL[r.impl], r.node, fmt(r.last?.total ?? null, 1), `${fmt(r.min, 1)}–${fmt(r.max, 1)}`, fmt(r.last?.file ?? null, 1), fmt(r.last?.anon ?? null, 1), r.error ?? ''])))
  if (process.argv.includes('--keep')) console.log(`\nlogs kept in ${dir}`)
  else rmSync(dir, { recursive: true, force: true })
}

main().catch(err => { console.error(err instanceof Error ? err.message : err); process.exitCode = 1 })
