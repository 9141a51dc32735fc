// The ctnetlink adapter against the real kernel, in network namespaces this test creates.
//
// Netlink sockets belong to the network namespace of the process that opens them, so this file
// runs twice: the outer run (root namespace) creates namespace A (conntrack on, an iptables nat
// table so NAT can be set up) and namespace B (a TCP/UDP echo peer over a veth pair), then runs
// itself inside A (`ip netns exec`) as a tap subprocess; the inner run does the checks. Nothing
// leaves the two namespaces; both are deleted at the end.
import t from 'tap'
import { fileURLToPath } from 'node:url'
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { createSocket } from 'node:dgram'
import { skipUnlessRoot } from './helpers.js'
import { sh, nsExec } from '../../src/lab/sh.js'
import { openCtnetlink } from '../../src/io/ctnetlink.js'
import type { ConntrackEvent, OverrunInfo } from '../../src/io/conntrack-port.js'
import { IPS, L4Proto, type Flow } from '../../src/core/conntrack/flow.js'
import { conntrackContract, tcpFlow } from '../contract/conntrack.contract.js'

const INNER = process.env.HCT_E2E_INNER === '1'
const tag = `${process.pid % 100000}`
const NS_A = process.env.HCT_NS_A ?? `hct-e2e-a-${tag}`
const NS_B = process.env.HCT_NS_B ?? `hct-e2e-b-${tag}`
const ADDR_A = '10.98.0.1'
const ADDR_B = '10.98.0.2'
const TCP_PORT = 7001
const UDP_PORT = 7002

async function until (cond: () => boolean | Promise<boolean>, ms = 8000): Promise<boolean> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

// ------------------------------------------------------------------------------------------
// Outer run: namespaces, then this file again inside A.

async function outer (): Promise<void> {
  const vethA = `hcte${tag}a`
  const vethB = `hcte${tag}b`
  t.teardown(async () => {
    await sh('ip', ['netns', 'del', NS_A], { allowFail: true })
    await sh('ip', ['netns', 'del', NS_B], { allowFail: true })
  })
  await sh('ip', ['netns', 'add', NS_A])
  await sh('ip', ['netns', 'add', NS_B])
  await sh('ip', ['link', 'add', vethA, 'netns', NS_A, 'type', 'veth', 'peer', 'name', vethB, 'netns', NS_B])
  for (const [ns, dev, addr] of [[NS_A, vethA, ADDR_A], [NS_B, vethB, ADDR_B]] as const) {
    await nsExec(ns, 'ip', ['addr', 'add', `${addr}/24`, 'dev', dev])
    await nsExec(ns, 'ip', ['link', 'set', dev, 'up'])
    await nsExec(ns, 'ip', ['link', 'set', 'lo', 'up'])
  }
  // conntrack hooks are registered per namespace only when a rule needs them
  await nsExec(NS_A, 'iptables', ['-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'NEW,ESTABLISHED,RELATED', '-j', 'ACCEPT'])
  await nsExec(NS_A, 'iptables', ['-A', 'OUTPUT', '-m', 'conntrack', '--ctstate', 'NEW,ESTABLISHED,RELATED', '-j', 'ACCEPT'])
  await nsExec(NS_A, 'ip6tables', ['-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'NEW,ESTABLISHED,RELATED', '-j', 'ACCEPT'])
  // a nat table: ctnetlink can only set up NAT bindings (CTA_NAT_SRC) with nf_nat in use
  await nsExec(NS_A, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-p', 'tcp', '--dport', '65000', '-j', 'MASQUERADE'])
  const self = fileURLToPath(import.meta.url)
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v
  Object.assign(env, { HCT_E2E_INNER: '1', HCT_NS_A: NS_A, HCT_NS_B: NS_B })
  await t.spawn('ip', ['netns', 'exec', NS_A, process.execPath, ...process.execArgv, self], { env, timeout: 240_000 }, 'ctnetlink in a namespace')
}

// ------------------------------------------------------------------------------------------
// Inner run (inside namespace A).

interface CtLine { proto: string, timeout: number, state: string, fields: string[], mark: number | undefined, text: string }

/** `conntrack -L` lines, parsed enough for checks: first src/dst/sport/dport = orig, second = reply. */
async function conntrackList (): Promise<CtLine[]> {
  const out = await sh('conntrack', ['-L'], { allowFail: true })
  return out.split('\n').filter(l => /^(tcp|udp|icmp|sctp|unknown)/.test(l)).map(text => {
    const tok = text.trim().split(/\s+/)
    const proto = tok[0] ?? ''
    const timeout = Number(tok[2])
    const state = proto === 'tcp' ? (tok[3] ?? '') : ''
    const markTok = tok.find(x => x.startsWith('mark='))
    return { proto, timeout, state, fields: tok.filter(x => x.includes('=')), mark: markTok === undefined ? undefined : Number(markTok.slice(5)), text }
  })
}

function lineFor (lines: CtLine[], f: Flow): CtLine | undefined {
  const o = [`src=${f.orig.src}`, `dst=${f.orig.dst}`, `sport=${String(f.orig.sport)}`, `dport=${String(f.orig.dport)}`]
  return lines.find(l => o.every((x, i) => l.fields[i] === x))
}

/** The reply half (src, dst, sport, dport) of a `conntrack -L` line. */
function replyOf (l: CtLine): string[] {
  return l.fields.filter(x => /^(src|dst|sport|dport)=/.test(x)).slice(4, 8)
}

function cliArgs (f: Flow): string[] {
  const p = f.orig.l4proto === L4Proto.TCP ? 'tcp' : 'udp'
  const a = ['-p', p, '-s', f.orig.src, '-d', f.orig.dst, '--sport', String(f.orig.sport), '--dport', String(f.orig.dport)]
  return f.family === 'ipv6' ? ['-f', 'ipv6', ...a] : a
}

async function startPeer (): Promise<ChildProcess> {
  const script = `
    const net = require('net'), dgram = require('dgram')
    net.createServer(s => s.pipe(s)).listen(${TCP_PORT}, '${ADDR_B}', () => {
      const u = dgram.createSocket('udp4')
      u.on('message', (m, r) => u.send(m, r.port, r.address))
      u.bind(${UDP_PORT}, '${ADDR_B}', () => process.stdout.write('ready\\n'))
    })`
  const child = spawn('ip', ['netns', 'exec', NS_B, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
    child.on('exit', code => { reject(new Error(`peer exited ${String(code)}`)) })
  })
  return child
}

const sameOrig = (f: Flow, src: string, dst: string, l4: number, sport: number, dport: number): boolean =>
  f.orig.src === src && f.orig.dst === dst && f.orig.l4proto === l4 && f.orig.sport === sport && f.orig.dport === dport

async function inner (): Promise<void> {
  t.test('real traffic shows up as events and in the dump', async t => {
    const ct = await openCtnetlink()
    t.teardown(async () => { await ct.close() })
    await ct.flush()
    const events: ConntrackEvent[] = []
    ct.onEvent(e => { events.push(e) })
    const peer = await startPeer()
    t.teardown(() => { peer.kill() })

    const sock: Socket = connect({ host: ADDR_B, port: TCP_PORT, localAddress: ADDR_A })
    await new Promise<void>(resolve => sock.once('connect', () => { resolve() }))
    const sport = sock.localPort ?? 0
    sock.write('hello')
    await new Promise<void>(resolve => sock.once('data', () => { resolve() }))

    const udp = createSocket('udp4')
    await new Promise<void>(resolve => udp.bind(0, ADDR_A, () => { resolve() }))
    const usport = udp.address().port
    udp.send('ping', UDP_PORT, ADDR_B)
    await new Promise<void>(resolve => udp.once('message', () => { resolve() }))

    const isTcp = (f: Flow): boolean => sameOrig(f, ADDR_A, ADDR_B, L4Proto.TCP, sport, TCP_PORT)
    const isUdp = (f: Flow): boolean => sameOrig(f, ADDR_A, ADDR_B, L4Proto.UDP, usport, UDP_PORT)
    t.ok(await until(() => events.some(e => e.event === 'new' && isTcp(e.flow))), 'TCP new event')
    t.ok(await until(() => events.some(e => e.event === 'update' && isTcp(e.flow) && e.flow.tcp?.state === 3)), 'TCP update to ESTABLISHED')
    t.ok(await until(() => events.some(e => e.event === 'new' && isUdp(e.flow))), 'UDP new event')
    const tcpEv = events.find(e => isTcp(e.flow))
    t.same(tcpEv?.flow.reply, { src: ADDR_B, dst: ADDR_A, l4proto: L4Proto.TCP, sport: TCP_PORT, dport: sport }, 'event reply tuple')

    const dumped = await ct.dump()
    const tcp = dumped.find(isTcp)
    const u = dumped.find(isUdp)
    t.ok(tcp !== undefined, 'TCP flow in the dump')
    t.equal(tcp?.tcp?.state, 3, 'ESTABLISHED in the dump')
    t.equal((tcp?.status ?? 0) & IPS.ASSURED, IPS.ASSURED, 'ASSURED')
    t.same(u?.reply, { src: ADDR_B, dst: ADDR_A, l4proto: L4Proto.UDP, sport: UDP_PORT, dport: usport }, 'UDP reply tuple in the dump')
    t.ok((await ct.dump('ipv6')).every(f => f.family === 'ipv6'), 'ipv6 dump holds no ipv4 flow')

    sock.end()
    t.ok(await until(() => events.some(e => e.event === 'update' && isTcp(e.flow) && (e.flow.tcp?.state ?? 0) >= 4)), 'TCP close seen (FIN_WAIT or later)')
    udp.close()
    sock.destroy()
  })

  t.test('synthetic entries, checked with conntrack -L', async t => {
    const ct = await openCtnetlink({ events: false })
    t.teardown(async () => { await ct.close() })
    await ct.flush()
    const est = tcpFlow(1, { timeout: 200, mark: 77 })
    const snat: Flow = { ...tcpFlow(2, { timeout: 250 }), nat: { src: { ip: '10.98.0.200', port: 41000 } } }
    const other = tcpFlow(3, { timeout: 100 })
    t.same(await ct.apply([{ op: 'create', flow: est }, { op: 'create', flow: snat }, { op: 'create', flow: other }]), [{ ok: true }, { ok: true }, { ok: true }])

    let lines = await conntrackList()
    const le = lineFor(lines, est)
    t.ok(le !== undefined, `ESTABLISHED entry listed: ${le?.text ?? 'missing'}`)
    t.equal(le?.state, 'ESTABLISHED')
    t.equal(le?.mark, 77, 'mark 77')
    t.ok((le?.timeout ?? 0) <= 200 && (le?.timeout ?? 0) >= 190, `timeout ${String(le?.timeout)} ≈ 200`)
    t.same(le === undefined ? [] : replyOf(le), [`src=${est.reply.src}`, `dst=${est.reply.dst}`, `sport=${String(est.reply.sport)}`, `dport=${String(est.reply.dport)}`], 'reply tuple')
    t.match(le?.text ?? '', /\[ASSURED\]/, 'ASSURED')
    const ls = lineFor(lines, snat)
    t.same(ls === undefined ? [] : replyOf(ls), [`src=${snat.orig.dst}`, 'dst=10.98.0.200', `sport=${String(snat.orig.dport)}`, 'dport=41000'], `SNAT in the reply tuple: ${ls?.text ?? 'missing'}`)

    t.same(await ct.apply([{ op: 'setTimeout', flow: est, timeout: 15 }]), [{ ok: true }])
    lines = await conntrackList()
    t.ok((lineFor(lines, est)?.timeout ?? 99) <= 15, `after setTimeout: ${String(lineFor(lines, est)?.timeout)} <= 15`)

    t.same(await ct.apply([{ op: 'delete', flow: other }]), [{ ok: true }])
    lines = await conntrackList()
    t.equal(lineFor(lines, other), undefined, 'deleted entry gone')
    t.ok(lineFor(lines, est) !== undefined, 'the others stay')

    await ct.flush()
    t.equal((await conntrackList()).length, 0, 'flush: conntrack -L is empty')
  })

  t.test('overrun: a tiny event buffer and a burst; counted, the socket lives on, a dump recovers', async t => {
    // SO_RCVBUFFORCE 1: the kernel's minimum (a few KiB), so a burst of 5000 events must overflow it
    const ct = await openCtnetlink({ eventRecvBufferSize: 1 })
    const blaster = await openCtnetlink({ events: false })
    t.teardown(async () => { await ct.close(); await blaster.close() })
    await blaster.flush()
    const overruns: OverrunInfo[] = []
    ct.onOverrun(i => { overruns.push(i) })
    const events: ConntrackEvent[] = []
    ct.onEvent(e => { events.push(e) })
    t.ok((ct.stats().eventSocket?.recvBufferSize ?? Infinity) < 16384, `event socket buffer forced small: ${String(ct.stats().eventSocket?.recvBufferSize)}`)
    const n = 5000
    const flows = Array.from({ length: n }, (_, i) => tcpFlow(i, { timeout: 600 }))
    const res = await blaster.apply(flows.map(flow => ({ op: 'create' as const, flow })))
    t.equal(res.filter(r => r.ok).length, n, `${n} created by another socket`)
    t.ok(await until(() => overruns.length > 0, 30_000), `overrun reported: ${JSON.stringify(overruns[0])}`)
    t.same(overruns[0], { count: 1, reason: 'enobufs' }, 'the first report: count 1, ENOBUFS')
    t.ok(events.length < n, `events lost: ${events.length} of ${n} received`)
    const stats = ct.stats()
    t.equal(stats.overruns, overruns.length, `every overrun counted (${stats.overruns})`)
    t.equal(stats.eventSocket?.enobufs, overruns.length, 'one ENOBUFS from the socket per report')
    const dumped = await ct.dump()
    t.equal(dumped.length, n, 'a dump after the overrun has the full table')
    // still listening on the same socket: a new external entry after the overrun arrives as an event
    const after = tcpFlow(60000, { timeout: 60 })
    await blaster.apply([{ op: 'create', flow: after }])
    t.ok(await until(() => events.some(e => e.event === 'new' && e.flow.orig.src === after.orig.src && e.flow.orig.sport === after.orig.sport), 15_000), 'events flow again after the overrun')
    t.equal(ct.stats().eventSocket?.portId, stats.eventSocket?.portId, 'same event socket (no restart)')
    t.comment(`event socket: ${JSON.stringify(ct.stats().eventSocket)}`)
    await blaster.flush()
  })

  t.test('our own changes never come back as events (kernel filter; the JS check stays idle)', async t => {
    const ct = await openCtnetlink()
    const other = await openCtnetlink({ events: false })
    t.teardown(async () => { await ct.close(); await other.close() })
    await other.flush()
    const events: ConntrackEvent[] = []
    ct.onEvent(e => { events.push(e) })
    const before = ct.stats().eventSocket?.datagrams ?? 0
    const own = Array.from({ length: 200 }, (_, i) => tcpFlow(i, { timeout: 60 }))
    t.equal((await ct.apply(own.map(flow => ({ op: 'create' as const, flow })))).filter(r => r.ok).length, 200, '200 created by the adapter itself')
    const ext = tcpFlow(5000, { timeout: 60 })
    await other.apply([{ op: 'create', flow: ext }])
    t.ok(await until(() => events.some(e => e.flow.orig.src === ext.orig.src)), 'the external entry arrives')
    await new Promise(resolve => setTimeout(resolve, 200))
    t.equal(events.filter(e => own.some(f => f.orig.src === e.flow.orig.src && f.orig.sport === e.flow.orig.sport)).length, 0, 'none of our 200')
    t.equal(ct.stats().ownEvents, 0, 'the JS-side pid check saw none: the kernel dropped them')
    t.equal((ct.stats().eventSocket?.datagrams ?? 0) - before, 1, 'one datagram queued: the external event')
    await other.flush()
  })

  t.test('contract suite against the real adapter', async t => {
    const ct = await openCtnetlink()
    t.teardown(async () => { await ct.close() })
    conntrackContract(t, async () => ({
      port: ct,
      external: {
        create: async (flow) => {
          const f = flow.orig.l4proto === L4Proto.TCP ? ['--state', 'ESTABLISHED'] : []
          await sh('conntrack', ['-I', ...cliArgs(flow), ...f, '-t', String(flow.timeout ?? 60), '-u', 'SEEN_REPLY'])
        },
        delete: async (flow) => { await sh('conntrack', ['-D', ...cliArgs(flow)]) }
      },
      // one adapter for the whole suite
      done: async () => {}
    }))
  })
}

const skip = skipUnlessRoot()
if (skip !== false) {
  t.plan(0, skip)
} else if (INNER) {
  await inner()
} else {
  await outer()
}

