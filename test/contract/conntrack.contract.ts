// Contract suite for ConntrackControl (src/io/conntrack-port.ts): run against the fake always
// (test/contract/conntrack-fake.test.ts) and against the real ctnetlink adapter in a network
// namespace (test/e2e/ctnetlink.test.ts). What it asserts is what the kernel does (spec §5.3–§5.4),
// so the fake cannot drift from the kernel unnoticed.
import type { Test } from 'tap'
import type { ConntrackControl, ConntrackEvent } from '../../src/io/conntrack-port.js'
import { IPS, L4Proto, invertTuple, type Flow, type FlowTuple } from '../../src/core/conntrack/flow.js'

export interface ConntrackHarness {
  /** A port on an empty table of its own. */
  port: ConntrackControl
  /** Changes someone else makes (the conntrack CLI, packets): the port must report them as events. */
  external: {
    create: (flow: Flow) => Promise<void>
    delete: (flow: Flow) => Promise<void>
  }
  /** Release everything (the port too). */
  done: () => Promise<void>
}

const TCP_ESTABLISHED = 3

export function tcpFlow (n: number, opts: { timeout?: number, mark?: number, src?: string } = {}): Flow {
  const orig: FlowTuple = { src: opts.src ?? `10.77.${(n >> 8) & 255}.${n & 255}`, dst: '10.78.0.1', l4proto: L4Proto.TCP, sport: 20000 + (n % 40000), dport: 443 }
  const f: Flow = {
    family: 'ipv4',
    orig,
    reply: invertTuple(orig),
    status: IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: opts.timeout ?? 600,
    tcp: { state: TCP_ESTABLISHED, flagsOrig: { flags: 0x08, mask: 0x08 }, flagsReply: { flags: 0x08, mask: 0x08 } }
  }
  if (opts.mark !== undefined) f.mark = opts.mark
  return f
}

export function udp6Flow (n: number, timeout = 120): Flow {
  const orig: FlowTuple = { src: 'fd77::1', dst: 'fd78::2', l4proto: L4Proto.UDP, sport: 30000 + n, dport: 53 }
  return { family: 'ipv6', orig, reply: invertTuple(orig), status: IPS.SEEN_REPLY, timeout }
}

const sameTuple = (a: FlowTuple, b: FlowTuple): boolean =>
  a.src === b.src && a.dst === b.dst && a.l4proto === b.l4proto && a.sport === b.sport && a.dport === b.dport

function find (flows: Flow[], f: Flow): Flow | undefined {
  return flows.find(x => x.family === f.family && sameTuple(x.orig, f.orig))
}

/** Wait for asynchronous delivery (kernel events), bounded. */
async function until (cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return true
}

export function conntrackContract (t: Test, make: () => Promise<ConntrackHarness>): void {
  const withHarness = (name: string, fn: (t: Test, h: ConntrackHarness) => Promise<void>): void => {
    t.test(name, async t => {
      const h = await make()
      t.teardown(async () => { await h.done() })
      await h.port.flush()
      await fn(t, h)
    })
  }

  withHarness('create, then the dump shows tuples, status, mark, protoinfo and a running timeout', async (t, h) => {
    const f = tcpFlow(1, { timeout: 300, mark: 42 })
    t.same(await h.port.apply([{ op: 'create', flow: f }]), [{ ok: true }])
    const got = find(await h.port.dump(), f)
    if (got === undefined) { t.fail('created flow not in the dump'); return }
    t.same(got.reply, f.reply, 'reply tuple')
    t.equal(got.mark, 42, 'mark')
    const want = IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED
    t.equal((got.status ?? 0) & want, want, 'SEEN_REPLY|ASSURED|CONFIRMED')
    t.equal(got.tcp?.state, TCP_ESTABLISHED, 'TCP ESTABLISHED')
    t.ok((got.timeout ?? -1) <= 300 && (got.timeout ?? -1) >= 290, `timeout ${String(got.timeout)} in [290, 300]`)
  })

  withHarness('one result per request, in order; failures are per entry', async (t, h) => {
    const a = tcpFlow(10)
    const b = tcpFlow(11)
    const res = await h.port.apply([
      { op: 'create', flow: a },
      { op: 'create', flow: a },
      { op: 'update', flow: b },
      { op: 'create', flow: b },
      { op: 'get', flow: b },
      { op: 'delete', flow: tcpFlow(12) },
      { op: 'create', flow: { ...tcpFlow(13), timeout: undefined } },
      { op: 'setTimeout', flow: tcpFlow(14), timeout: 5 }
    ])
    t.same(res, [
      { ok: true },
      { ok: false, errno: 'EEXIST' },
      { ok: false, errno: 'ENOENT' },
      { ok: true },
      { ok: true },
      { ok: false, errno: 'ENOENT' },
      { ok: false, errno: 'CT_ENCODE_NO_TIMEOUT' },
      { ok: false, errno: 'ENOENT' }
    ])
    const flows = await h.port.dump()
    t.equal(flows.length, 2, 'exactly the two created')
  })

  withHarness('non-exclusive create and update change an existing entry', async (t, h) => {
    const f = tcpFlow(20, { mark: 1 })
    await h.port.apply([{ op: 'create', flow: f }])
    t.same(await h.port.apply([{ op: 'create', flow: { ...f, mark: 2 }, exclusive: false }]), [{ ok: true }])
    t.equal(find(await h.port.dump(), f)?.mark, 2, 'create-or-update changed the mark')
    t.same(await h.port.apply([{ op: 'update', flow: { ...f, mark: 3 } }]), [{ ok: true }])
    t.equal(find(await h.port.dump(), f)?.mark, 3, 'update changed the mark')
  })

  withHarness('setTimeout shortens the timer; delete removes; delete again is ENOENT', async (t, h) => {
    const f = tcpFlow(30, { timeout: 3600 })
    await h.port.apply([{ op: 'create', flow: f }])
    t.same(await h.port.apply([{ op: 'setTimeout', flow: f, timeout: 15 }]), [{ ok: true }])
    const got = find(await h.port.dump(), f)
    t.ok(got !== undefined && (got.timeout ?? 99) <= 15, `timeout ${String(got?.timeout)} <= 15`)
    t.same(await h.port.apply([{ op: 'delete', flow: f }]), [{ ok: true }])
    t.equal(find(await h.port.dump(), f), undefined, 'gone')
    t.same(await h.port.apply([{ op: 'delete', flow: f }]), [{ ok: false, errno: 'ENOENT' }])
  })

  withHarness('SNAT on create: the reply tuple is mangled and the dump reports the binding', async (t, h) => {
    const f: Flow = { ...tcpFlow(40), nat: { src: { ip: '10.79.0.9', port: 41000 } } }
    t.same(await h.port.apply([{ op: 'create', flow: f }]), [{ ok: true }])
    const got = find(await h.port.dump(), f)
    t.equal(got?.reply.dst, '10.79.0.9', 'reply goes to the SNAT address')
    t.equal(got?.reply.dport, 41000, 'and port')
    t.same(got?.nat?.src, { ip: '10.79.0.9', port: 41000 }, 'binding derived from the dump')
  })

  withHarness('dump per family', async (t, h) => {
    const v4 = tcpFlow(50)
    const v6 = udp6Flow(1)
    t.same(await h.port.apply([{ op: 'create', flow: v4 }, { op: 'create', flow: v6 }]), [{ ok: true }, { ok: true }])
    const all = await h.port.dump()
    t.ok(find(all, v4) !== undefined && find(all, v6) !== undefined, 'both in the full dump')
    const only4 = await h.port.dump('ipv4')
    t.ok(only4.every(f => f.family === 'ipv4') && find(only4, v4) !== undefined, 'ipv4 dump')
    const only6 = await h.port.dump('ipv6')
    t.ok(only6.every(f => f.family === 'ipv6') && find(only6, v6) !== undefined, 'ipv6 dump')
  })

  withHarness('large batches: 3000 creates, all answered, all in the table; flush empties it', async (t, h) => {
    const flows = Array.from({ length: 3000 }, (_, i) => tcpFlow(1000 + i))
    const res = await h.port.apply(flows.map(flow => ({ op: 'create' as const, flow })))
    t.equal(res.length, 3000)
    t.equal(res.filter(r => r.ok).length, 3000, 'all created')
    t.equal((await h.port.dump()).length, 3000, 'all dumped')
    const again = await h.port.apply(flows.slice(0, 500).map(flow => ({ op: 'create' as const, flow })))
    t.ok(again.every(r => !r.ok && r.errno === 'EEXIST'), 'EEXIST for each, matched by seq')
    await h.port.flush()
    t.equal((await h.port.dump()).length, 0, 'flushed')
  })

  withHarness('own changes are not echoed as events; external ones are', async (t, h) => {
    const events: ConntrackEvent[] = []
    h.port.onEvent(e => { events.push(e) })
    const mine = tcpFlow(60)
    await h.port.apply([{ op: 'create', flow: mine }, { op: 'setTimeout', flow: mine, timeout: 30 }, { op: 'delete', flow: mine }])
    const theirs = tcpFlow(61)
    await h.external.create(theirs)
    t.ok(await until(() => events.some(e => e.event === 'new' && sameTuple(e.flow.orig, theirs.orig))), 'external create → new')
    t.notOk(events.some(e => sameTuple(e.flow.orig, mine.orig)), 'nothing about our own flow')
    await h.external.delete(theirs)
    t.ok(await until(() => events.some(e => e.event === 'destroy' && sameTuple(e.flow.orig, theirs.orig))), 'external delete → destroy')
    const ev = events.find(e => e.event === 'new')
    t.same(ev?.flow.reply, theirs.reply, 'event carries the reply tuple')
  })
}
