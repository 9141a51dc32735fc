// The sender's byte path (engine input kernelRecords: cache.ts applyKernelRecords, FTFW bodies written
// from records by record-attrs.ts) against the Flow path (kernelEvent per event) on the same kernel
// events: the same datagrams byte for byte, the same counters, the same caches and status. Seeded random
// event streams: NEW / UPDATE / DESTROY on a small set of keys (so entries are replaced, merged, coalesced
// in the queues, moved back from the resend queue), partial events, regressing TCP states, other
// incarnations (ids), NAT, ICMP, IPv6, zones, a filter, and entries with side data (a helper) that the
// byte path declines and hands over as Flows in order.
//
// One thing is held fixed per key: the NAT shape (status NAT bits and reply tuple). The queues merge a
// later change over an earlier one differently on the two paths when a change REMOVES a NAT attribute
// (attributes merge, a body replaces: txqueue.ts coalesce); the byte path sends the entry's state as it
// is, which is what conntrackd sends.
import t from 'tap'
import { createEngine, engineDeadline, engineStatus, stepEngine } from '../../../../src/core/conntrack/engine.js'
import type { EngineConfig, EngineEffect, EngineInput, EngineState } from '../../../../src/core/conntrack/engine.js'
import { cacheSnapshot } from '../../../../src/core/conntrack/cache.js'
import { IPS, invertTuple, type Flow, type FlowTuple } from '../../../../src/core/conntrack/flow.js'
import { EV_DESTROY, EV_NEW, EV_UPDATE, EventBatchBuilder } from '../../../../src/core/conntrack/record-batch.js'
import { FTFW_DEFAULTS } from '../../../../src/core/sync/ftfw.js'
import { mulberry32 } from '../../../helpers/prng.js'

function config (): EngineConfig {
  return {
    filter: {
      protocols: { mode: 'ignore', list: [] },
      ignoreAddresses: [{ address: '10.9.0.0', prefix: 16, family: 'ipv4' }, { address: '2001:db8:9::', prefix: 48, family: 'ipv6' }],
      tcpStates: { mode: 'ignore', list: ['TIME_WAIT'] }
    },
    alwaysIgnore: [],
    ftfw: { ...FTFW_DEFAULTS, resendQueueSize: 40 },
    bulk: null,
    disableExternalCache: false,
    commitBatch: 2,
    initialSeq: 1_700_000_000
  }
}

class Driver {
  now = 0
  state: EngineState
  readonly sent: Buffer[] = []
  readonly counts = new Map<string, number>()
  constructor () { this.state = createEngine(config(), [{ address: '10.0.1.1', prefix: 32, family: 'ipv4' }], 0) }
  step (input: EngineInput): void {
    const r = stepEngine(this.state, input, this.now)
    this.state = r.state
    for (const e of r.effects as EngineEffect[]) {
      if (e.kind === 'send') this.sent.push(Buffer.from(e.datagram))
      if (e.kind === 'count') this.counts.set(e.name, (this.counts.get(e.name) ?? 0) + e.by)
    }
  }

  fire (): void {
    const d = engineDeadline(this.state)
    if (d === null) return
    this.now = Math.max(this.now, d)
    this.step({ kind: 'timeout' })
  }
}

interface Shape { family: 'ipv4' | 'ipv6', orig: FlowTuple, reply: FlowTuple, natBits: number, zone: number | undefined }

function shapes (rnd: () => number): Shape[] {
  const out: Shape[] = []
  for (let k = 0; k < 40; k++) {
    const v6 = rnd() < 0.3
    const host = (n: number, ignored: boolean): string => v6 ? `2001:db8:${ignored ? 9 : 1}::${n}` : `10.${ignored ? 9 : 0}.0.${n}`
    const proto = [6, 6, 6, 17, v6 ? 58 : 1][Math.floor(rnd() * 5)] as number
    const orig: FlowTuple = { src: host(2 + (k % 5), rnd() < 0.1), dst: host(100 + k, false), l4proto: proto }
    if (proto === 1 || proto === 58) { orig.icmpType = proto === 1 ? 8 : 128; orig.icmpCode = 0; orig.icmpId = k } else { orig.sport = 1000 + k; orig.dport = 80 }
    const reply = invertTuple(orig)
    let natBits = 0
    if (rnd() < 0.3) { reply.dst = host(250, false); if (reply.dport !== undefined) reply.dport = 40000 + k; natBits = IPS.SRC_NAT | IPS.SRC_NAT_DONE }
    out.push({ family: v6 ? 'ipv6' : 'ipv4', orig, reply, natBits, zone: rnd() < 0.1 ? 3 : undefined })
  }
  return out
}

function event (rnd: () => number, sh: Shape): Flow {
  const f: Flow = { family: sh.family, orig: { ...sh.orig }, reply: { ...sh.reply } }
  if (rnd() < 0.85) f.status = IPS.CONFIRMED | IPS.SEEN_REPLY | sh.natBits | (rnd() < 0.5 ? IPS.ASSURED : 0)
  if (rnd() < 0.8) f.timeout = Math.floor(rnd() * 500000)
  if (rnd() < 0.3) f.mark = Math.floor(rnd() * 3)
  if (rnd() < 0.5) f.id = 1 + Math.floor(rnd() * 2)
  if (sh.zone !== undefined) f.zone = sh.zone
  if (sh.orig.l4proto === 6 && rnd() < 0.9) f.tcp = { state: 1 + Math.floor(rnd() * 9), ...(rnd() < 0.3 ? { wscaleOrig: 7, wscaleReply: 7 } : {}) }
  if (rnd() < 0.3) f.synproxy = { isn: 0, its: 0, tsoff: 0 }
  if (rnd() < 0.3) f.use = 1
  if (rnd() < 0.05) f.helper = 'ftp' // side data: declined by the byte path, a Flow event in order
  return f
}

const KINDS = ['new', 'update', 'destroy'] as const
const CODES = [EV_NEW, EV_UPDATE, EV_DESTROY]

t.test('kernelRecords ≡ kernelEvent: same datagrams, counters, caches (seeded random event streams)', async t => {
  let events = 0
  let bodies = 0
  let declined = 0
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = mulberry32(seed)
    const keys = shapes(rnd)
    const flowPath = new Driver()
    const bytePath = new Driver()
    const builder = new EventBatchBuilder()
    for (let round = 0; round < 12; round++) {
      // one receive batch: v4 events, then v6 events, in arrival order within each (the byte path's order)
      const batch: Array<{ kind: typeof KINDS[number], flow: Flow }> = []
      const n = 1 + Math.floor(rnd() * 30)
      for (let i = 0; i < n; i++) {
        const r = rnd()
        batch.push({ kind: r < 0.3 ? 'new' : r < 0.8 ? 'update' : 'destroy', flow: event(rnd, keys[Math.floor(rnd() * keys.length)] as Shape) })
      }
      // a declined event ends a segment: the records before it, then it as a Flow (the adapter's order)
      let segment: typeof batch = []
      const flush = (): void => {
        const ordered = [...segment.filter(e => e.flow.family === 'ipv4'), ...segment.filter(e => e.flow.family === 'ipv6')]
        for (const e of ordered) flowPath.step({ kind: 'kernelEvent', event: e.kind, flow: e.flow })
        if (builder.size > 0) bytePath.step({ kind: 'kernelRecords', batch: builder.take() })
        segment = []
      }
      for (const e of batch) {
        events++
        if (builder.addFlow(e.flow, CODES[KINDS.indexOf(e.kind)] as number)) { segment.push(e); bodies++; continue }
        declined++
        flush()
        flowPath.step({ kind: 'kernelEvent', event: e.kind, flow: e.flow })
        bytePath.step({ kind: 'kernelEvent', event: e.kind, flow: e.flow })
      }
      flush()
      if (rnd() < 0.6) { flowPath.fire(); bytePath.fire() }
    }
    flowPath.fire()
    bytePath.fire()
    const a = Buffer.concat(flowPath.sent).toString('hex')
    const b = Buffer.concat(bytePath.sent).toString('hex')
    if (a !== b) { t.fail(`seed ${seed}: datagrams differ (${flowPath.sent.length} vs ${bytePath.sent.length})`); return }
    if (flowPath.sent.length === 0) { t.fail(`seed ${seed}: nothing sent`); return }
    t.same([...bytePath.counts].sort(), [...flowPath.counts].sort(), `seed ${seed}: counters`)
    t.same(engineStatus(bytePath.state), engineStatus(flowPath.state), `seed ${seed}: status`)
    t.same(cacheSnapshot(bytePath.state.internal), cacheSnapshot(flowPath.state.internal), `seed ${seed}: internal cache`)
  }
  t.ok(bodies > 20_000 && declined > 1000, `${events} events: ${bodies} on the byte path, ${declined} declined`)
})
