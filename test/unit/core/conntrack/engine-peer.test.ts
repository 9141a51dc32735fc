// Issue 12 in the engine (src/core/conntrack/engine-peer.ts, core/sync/source.ts): only the peer may speak on
// the sync link, peer entries naming our own addresses or outside conntrack.commitRanges never reach the
// kernel, and the peer's liveness. Fake clock, real datagrams from a second engine.
import t from 'tap'
import { createEngine, engineDeadline, engineStatus, stepEngine } from '../../../../src/core/conntrack/engine.js'
import type { EngineConfig, EngineEffect, EngineInput, EngineState } from '../../../../src/core/conntrack/engine.js'
import { FTFW_DEFAULTS } from '../../../../src/core/sync/ftfw.js'
import type { FilterCidr } from '../../../../src/core/conntrack/filter.js'
import type { Flow } from '../../../../src/core/conntrack/flow.js'
import { invertTuple } from '../../../../src/core/conntrack/flow.js'
import { tcpFlow } from './helpers.js'
import { plainRequest } from '../../../helpers/ct-request.js'

const PEER = '10.9.0.2'
const ATTACKER = '10.9.0.66'
const host = (address: string): FilterCidr => ({ address, prefix: 32, family: 'ipv4' })

function config (over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    filter: { protocols: { mode: 'ignore', list: [] }, ignoreAddresses: [], tcpStates: null },
    alwaysIgnore: [],
    ftfw: FTFW_DEFAULTS,
    bulk: null,
    disableExternalCache: false,
    commitBatch: 100,
    initialSeq: 1_700_000_000,
    syncSource: { kind: 'unicast', peer: PEER },
    ...over
  }
}

class Node {
  now = 0
  state: EngineState
  constructor (cfg: EngineConfig = config(), local: readonly FilterCidr[] = []) {
    this.state = createEngine(cfg, local, this.now)
  }

  step (input: EngineInput): EngineEffect[] {
    const r = stepEngine(this.state, input, this.now)
    this.state = r.state
    return [...r.effects]
  }

  /** Kernel NEWs, then the transmit round: the datagrams they leave in. */
  datagrams (flows: readonly Flow[]): Buffer[] {
    for (const flow of flows) this.step({ kind: 'kernelEvent', event: 'new', flow })
    return of(this.step({ kind: 'timeout' }), 'send').map(s => s.datagram)
  }
}

const of = <K extends EngineEffect['kind']>(effects: readonly EngineEffect[], kind: K): Array<Extract<EngineEffect, { kind: K }>> =>
  effects.filter((e): e is Extract<EngineEffect, { kind: K }> => e.kind === kind)
const counts = (effects: readonly EngineEffect[]): Record<string, number> => {
  const c: Record<string, number> = {}
  for (const e of of(effects, 'count')) c[e.name] = (c[e.name] ?? 0) + e.by
  return c
}

function feed (n: Node, datagrams: readonly Buffer[], from: string | undefined): EngineEffect[] {
  return datagrams.flatMap(buf => n.step(from === undefined ? { kind: 'datagram', buf } : { kind: 'datagram', buf, from }))
}

t.test('unicast: a datagram not from udp.peer is dropped before parsing, counted, and touches nothing', async t => {
  const b = new Node()
  const forged = new Node(config({ initialSeq: 5 })).datagrams([tcpFlow(4000)]) // NEW ESTABLISHED with HELLO
  const fx = feed(b, forged, ATTACKER)
  t.same(counts(fx), { 'sync.rx.drop.syncSourceNotPeer': 1 })
  const st = engineStatus(b.state)
  t.equal(st.external.active, 0, 'nothing in the external cache')
  t.equal(st.sync.counters.rxDatagrams, 0, 'FTFW never saw it')
  t.equal(st.sync.counters.rxHello, 0)
  t.equal(st.sync.lastSeqReceived, null, 'no sequence base taken from it')
  t.equal(st.liveness.state, 'unknown', 'and the peer is not heard because of it')
  t.same(counts(feed(b, forged, undefined)), { 'sync.rx.drop.syncSourceUnknown': 1 }, 'no source: dropped too')
  t.same(counts(feed(b, forged, `::ffff:${PEER}`)), {}, 'the peer seen through a dual-stack socket passes')
  t.equal(engineStatus(b.state).external.active, 1)
})

t.test('a forged HELLO from a non-peer does not reset the receive sequence: the real peer goes on in sequence', async t => {
  const a = new Node()
  const b = new Node()
  feed(b, a.datagrams([tcpFlow(1), tcpFlow(2)]), PEER)
  const before = { ...b.state.ftfw.rx }
  const restartsBefore = b.state.ftfw.counters.peerRestarts
  const attacker = new Node(config({ initialSeq: 4_000_000_000 })) // far ahead, with HELLO
  feed(b, attacker.datagrams([tcpFlow(666)]), ATTACKER)
  t.same(b.state.ftfw.rx, before, 'receiver state unchanged')
  t.equal(b.state.ftfw.counters.peerRestarts, restartsBefore, 'no peer restart')
  const fx = feed(b, a.datagrams([tcpFlow(3)]), PEER)
  t.notOk('sync.rx.drop.staleSeq' in counts(fx), 'the real peer is not dropped as stale')
  t.equal(b.state.ftfw.counters.gaps, 0, 'and no gap')
  t.equal(engineStatus(b.state).external.active, 3, 'its three entries arrived, the forged one did not')
})

t.test('multicast: our own address is always refused; with members only they pass', async t => {
  const own = '10.9.0.1'
  const open = new Node(config({ syncSource: { kind: 'multicast', own, members: null } }))
  const dg = (): Buffer[] => new Node().datagrams([tcpFlow(9)])
  t.same(counts(feed(open, dg(), own)), { 'sync.rx.drop.syncSourceOwn': 1 })
  t.same(counts(feed(open, dg(), ATTACKER)), {}, 'without a member list any other source passes')
  const closed = new Node(config({ syncSource: { kind: 'multicast', own, members: [PEER, '10.9.0.3'] } }))
  t.same(counts(feed(closed, dg(), ATTACKER)), { 'sync.rx.drop.syncSourceNotMember': 1 })
  t.same(counts(feed(closed, dg(), '10.9.0.3')), {})
  t.equal(engineStatus(closed.state).external.active, 1)
})

/** A TCP flow from `src` to `dst` without NAT. */
function flow (src: string, dst: string, sport: number): Flow {
  const orig = { src, dst, l4proto: 6, sport, dport: 443 }
  return { ...tcpFlow(sport), orig, reply: invertTuple(orig) }
}

t.test('peer entries naming our addresses, a VIP or an origin outside commitRanges are refused on arrival', async t => {
  const b = new Node(config({ ownAddresses: [host('192.0.2.1')], commitRanges: [{ address: '10.0.1.0', prefix: 24, family: 'ipv4' }] }), [host('10.0.1.1')])
  const a = new Node()
  const fx = feed(b, a.datagrams([
    flow('10.0.1.2', '198.51.100.7', 1), // inside → out: fine
    flow('10.0.1.5', '192.0.2.1', 2), // to the VIP itself (reply source = VIP)
    flow('10.0.1.1', '198.51.100.7', 3), // from our interface address
    flow('203.0.113.9', '10.0.1.2', 4) // opened from outside: not in commitRanges
  ]), PEER)
  t.same(counts(fx), { 'ct.external.refused.ownAddress': 2, 'ct.external.refused.outsideCommitRanges': 1 })
  t.equal(engineStatus(b.state).external.active, 1)
  t.same(b.step({ kind: 'command', id: 1, effect: { kind: 'ctCommit', budgetMs: 1000 } }).flatMap(e => e.kind === 'apply' ? e.requests.map(plainRequest).map(r => r.op === 'flush' ? '' : r.flow.orig.sport) : []), [1], 'only the good one is committed')
})

t.test('the inject path (DisableExternalCache) refuses the same entries', async t => {
  const b = new Node(config({ disableExternalCache: true, ownAddresses: [host('192.0.2.1')] }))
  const fx = feed(b, new Node().datagrams([flow('10.0.1.2', '192.0.2.1', 1), flow('10.0.1.2', '198.51.100.7', 2)]), PEER)
  t.same(counts(fx), { 'ct.external.refused.ownAddress': 1 })
  t.equal(of(fx, 'apply').length, 1, 'one inject, for the good entry')
})

t.test('an entry whose address became ours after it arrived is refused at commit', async t => {
  const b = new Node()
  feed(b, new Node().datagrams([flow('10.0.7.7', '198.51.100.7', 1), flow('10.0.1.2', '198.51.100.7', 2)]), PEER)
  t.equal(engineStatus(b.state).external.active, 2)
  b.step({ kind: 'localAddresses', cidrs: [host('10.0.7.7')] })
  const fx = b.step({ kind: 'command', id: 1, effect: { kind: 'ctCommit', budgetMs: 1000 } })
  t.same(counts(fx)['ct.commit.refused.ownAddress'], 1)
  const applied = of(fx, 'apply').flatMap(e => e.requests).map(plainRequest)
  t.same(applied.map(r => r.op === 'flush' ? '' : r.flow.orig.src), ['10.0.1.2'])
})

t.test('peer liveness: heard on the first admitted datagram, lost after 3 ALIVE intervals of silence, heard again', async t => {
  const a = new Node()
  const b = new Node()
  t.equal(engineStatus(b.state).liveness.state, 'unknown')
  b.now = 100
  let fx = feed(b, a.datagrams([tcpFlow(1)]), PEER)
  t.same(of(fx, 'peer').map(e => [e.from, e.to, e.at]), [['unknown', 'heard', 100]])
  t.same(engineStatus(b.state).liveness, { state: 'heard', heardAt: 100, lostAfterMs: 3000 })
  b.now = 2000
  fx = feed(b, a.datagrams([tcpFlow(2)]), PEER)
  t.same(of(fx, 'peer'), [], 'no event while it stays heard')
  // Silence: step every deadline until 4999; still heard. Forged datagrams do not keep it alive.
  for (let i = 0; i < 20; i++) {
    feed(b, new Node(config({ initialSeq: 9 })).datagrams([tcpFlow(99)]), ATTACKER)
    const d = engineDeadline(b.state) as number
    if (d >= 5000) break
    b.now = d
    t.same(of(b.step({ kind: 'timeout' }), 'peer'), [])
  }
  t.equal(engineStatus(b.state).liveness.state, 'heard')
  t.ok((engineDeadline(b.state) as number) <= 5000, 'a deadline at the loss instant')
  b.now = 5000
  fx = b.step({ kind: 'timeout' })
  t.same(of(fx, 'peer').map(e => [e.from, e.to, e.at]), [['heard', 'lost', 5000]])
  b.now = 9000
  t.same(of(b.step({ kind: 'timeout' }), 'peer'), [], 'lost once')
  fx = feed(b, a.datagrams([tcpFlow(3)]), PEER)
  t.same(of(fx, 'peer').map(e => [e.from, e.to]), [['lost', 'heard']])
})

t.test('authenticated: the I/O verdict and the replay window decide before FTFW', async t => {
  const b = new Node(config({ auth: true }))
  const a = new Node()
  const [d1, d2] = [a.datagrams([tcpFlow(1)]), a.datagrams([tcpFlow(2)])].map(x => x[0] as Buffer) as [Buffer, Buffer]
  const c = (fx: EngineEffect[]): Record<string, number> => counts(fx)
  t.same(c(b.step({ kind: 'datagram', buf: d1, from: PEER })), { 'sync.rx.drop.authMissing': 1 }, 'no verdict: refused')
  t.same(c(b.step({ kind: 'datagram', buf: d1, from: PEER, auth: { ok: false, reason: 'authBadMac' } })), { 'sync.rx.drop.authBadMac': 1 })
  t.equal(b.state.ftfw.counters.rxDatagrams, 0)
  t.same(c(b.step({ kind: 'datagram', buf: d1, from: PEER, auth: { ok: true, counter: 1000, key: 0 } })), {})
  t.same(c(b.step({ kind: 'datagram', buf: d1, from: PEER, auth: { ok: true, counter: 1000, key: 0 } })), { 'sync.rx.drop.authReplay': 1 }, 'the same counter again: a replay')
  t.same(c(b.step({ kind: 'datagram', buf: d2, from: PEER, auth: { ok: true, counter: 1001, key: 1 } })), { 'sync.rx.auth.previousKey': 1 }, 'the second key is accepted, counted')
  t.equal(engineStatus(b.state).external.active, 2)
  t.same(c(b.step({ kind: 'datagram', buf: d2, from: ATTACKER, auth: { ok: true, counter: 2000, key: 0 } })), { 'sync.rx.drop.syncSourceNotPeer': 1 }, 'the source check comes first')
  t.equal(b.state.replay.top, 1001, 'and a refused source does not move the window')
})
