// FTFW reliability machine (src/core/sync/ftfw.ts), specs/conntrackd-ftfw.md §3, with a fake clock (`now`).
import t from 'tap'
import { encodeMessage, type CtAttrs, type CtdMessage } from '../../../../src/codec/conntrackd.js'
import {
  createFtfw, ftfwSnapshot, stepFtfw, FtfwConfigError, FTFW_DEFAULTS, type FtfwConfig, type FtfwInput, type FtfwState,
  type FtfwStepResult
} from '../../../../src/core/sync/ftfw.js'
import { flowKey, messagesOf, tcpFlow } from '../../../helpers/syncsim.js'

const cfg = (o: Partial<FtfwConfig> = {}): FtfwConfig => ({ ...FTFW_DEFAULTS, ...o })
type R = FtfwStepResult<FtfwState>

/** A peer under test: keeps the state and every result. */
class Peer {
  results: R[] = []
  constructor (public s: FtfwState) {}
  step (input: FtfwInput, now: number): R {
    const r = stepFtfw(this.s, input, now)
    this.s = r.state
    this.results.push(r)
    return r
  }

  local (n: number, event: 'new' | 'upd' | 'del', now: number, attrs: CtAttrs = tcpFlow(n)): R {
    return this.step({ kind: 'local', key: flowKey(attrs), event, attrs }, now)
  }

  /** Feed datagrams, then run the transmit round conntrackd runs after each input. */
  recv (datagrams: readonly Buffer[], now: number): { r: R[], out: Buffer[] } {
    const r = datagrams.map(buf => this.step({ kind: 'datagram', buf }, now))
    const f = this.step({ kind: 'flush' }, now)
    return { r, out: [...f.datagrams] }
  }

  timeout (now: number): Buffer[] {
    return [...this.step({ kind: 'timeout' }, now).datagrams]
  }
}

const hex = (b: Buffer): string => b.toString('hex')
const attrsOf = (m: CtdMessage | undefined): CtAttrs | null => m?.kind === 'ct' ? m.attrs : null
const flagsOf = (ds: readonly Buffer[]): number[] => ds.flatMap(d => {
  const out: number[] = []
  for (let o = 0; o < d.length; o += d.readUInt16BE(o + 2)) out.push(d[o + 1] as number)
  return out
})
const kinds = (ds: readonly Buffer[]): string[] => messagesOf(ds).map(m =>
  m.kind === 'ack' || m.kind === 'nack' ? `${m.kind}[${m.from},${m.to}]` : m.kind === 'ct' ? `${m.event}@${m.seq}` : m.kind)

/** Two peers created at 0 whose HELLO handshake is over at 3000 (both DONE; each owes an ACK of the other's last). */
function pair (aSeq = 1000, bSeq = 5000, o: Partial<FtfwConfig> = {}): { a: Peer, b: Peer, now: number } {
  const a = new Peer(createFtfw(cfg(o), aSeq, 0))
  const b = new Peer(createFtfw(cfg(o), bSeq, 0))
  // 1000: both say ALIVE|HELLO; 2000: both ACK|HELLO|HELLO_BACK; 3000: both ACK|HELLO_BACK.
  for (const now of [1000, 2000, 3000]) {
    const fromA = a.timeout(now)
    const fromB = b.timeout(now)
    a.recv(fromB, now)
    b.recv(fromA, now)
  }
  if (a.s.hello !== 'done' || b.s.hello !== 'done') throw new Error('pair: handshake did not complete')
  return { a, b, now: 3000 }
}

/** Two fresh peers (nothing exchanged yet). */
function fresh (aSeq = 1000, bSeq = 5000, o: Partial<FtfwConfig> = {}): { a: Peer, b: Peer } {
  return { a: new Peer(createFtfw(cfg(o), aSeq, 0)), b: new Peer(createFtfw(cfg(o), bSeq, 0)) }
}

t.test('HELLO handshake: 0x30 every second while alone, then 0x68, 0x48, then plain flags (§3.6, capture)', t => {
  const a = new Peer(createFtfw(cfg(), 1000, 0))
  const alive1 = a.timeout(1000)
  t.equal(hex(alive1[0]!), '1a300008000003e8', 'ALIVE|HELLO, len 8, seq 1000')
  t.same(a.step({ kind: 'timeout' }, 1999).datagrams, [], 'nothing before the next second')
  const alive2 = a.timeout(2000)
  t.same(flagsOf(alive2), [0x30])
  t.equal(messagesOf(alive2)[0]!.seq, 1001, 'every message takes the next sequence number')
  // b starts at 2500; it hears a's ALIVE|HELLO of 3000 and answers when its own ALIVE timer fires (3500).
  const b = new Peer(createFtfw(cfg(), 5000, 2500))
  const alive3 = a.timeout(3000)
  t.same(b.recv(alive3, 3000).out, [], 'a HELLO is answered on the next message, not at once')
  const first = b.timeout(3500)
  t.same(flagsOf(first), [0x68], 'ACK|HELLO|HELLO_BACK')
  t.same(kinds(first), ['ack[1002,1002]'])
  t.equal(hex(first[0]!), '1a68001000001388000003ea000003ea')
  t.equal(b.s.hello, 'say')
  t.same(a.recv(first, 3500).out, [])
  t.equal(a.s.hello, 'done', "b's HELLO_BACK ends a's HELLO")
  const answer = a.timeout(4000)
  t.same(flagsOf(answer), [0x48], 'ACK|HELLO_BACK once')
  t.same(kinds(answer), ['ack[5000,5000]'])
  b.recv(answer, 4000)
  t.equal(b.s.hello, 'done')
  t.same(flagsOf(b.timeout(4500)), [0x08], 'then plain ACK')
  t.same(flagsOf(a.timeout(5000)), [0x10], 'nothing to acknowledge: plain ALIVE')
  t.end()
})

t.test('ACK window: one ACK per ackWindowSize in-sequence messages (§3.3 d)', t => {
  const { a, b } = fresh(1000, 5000, { ackWindowSize: 5 })
  const now = 10
  const seq0 = a.s.nextSeq
  for (let i = 0; i < 12; i++) a.local(i, 'new', now)
  const burst = [...a.step({ kind: 'flush' }, now).datagrams]
  t.equal(messagesOf(burst).length, 12)
  const { out } = b.recv(burst, now + 1)
  t.same(kinds(out), [`ack[${seq0},${seq0 + 4}]`, `ack[${seq0 + 5},${seq0 + 9}]`], 'two full windows acknowledged at once')
  t.equal(b.s.counters.delivered, 12)
  // The last two are acknowledged by the idle timer.
  t.same(kinds(b.timeout(b.s.aliveAt)), [`ack[${seq0 + 10},${seq0 + 11}]`])
  t.end()
})

t.test('default window of 300', t => {
  const { a, b } = fresh()
  const now = 10
  const seq0 = a.s.nextSeq
  for (let i = 0; i < 301; i++) a.local(i, 'new', now)
  const { out } = b.recv([...a.step({ kind: 'flush' }, now).datagrams], now + 1)
  t.same(kinds(out), [`ack[${seq0},${seq0 + 299}]`])
  t.end()
})

t.test('idle timer to the ms: ACK of the pending range 1 s after our last send, else ALIVE (§3.5)', t => {
  const { a, b } = fresh()
  t.equal(b.s.aliveAt, 1000, 'armed at creation')
  a.local(1, 'new', 100)
  const d = [...a.step({ kind: 'flush' }, 100).datagrams]
  t.same(b.recv(d, 150).out, [], 'receiving neither re-arms the timer nor sends')
  t.equal(b.step({ kind: 'timeout' }, 999).datagrams.length, 0, 'not at 999 ms')
  const ack = b.timeout(1000)
  t.same(kinds(ack), ['ack[1000,1000]'], 'ACK[s, s] at exactly 1000 ms')
  t.same(kinds(b.timeout(2000)), ['alive'], 'nothing pending: ALIVE one interval later')
  t.same(kinds(b.timeout(3000)), ['alive'])
  t.equal(b.results.at(-1)!.deadline, 4000)
  // Our own transmissions re-arm it: a data round at 3500 moves the next ALIVE to 4500.
  b.local(5, 'new', 3500)
  b.step({ kind: 'flush' }, 3500)
  t.equal(b.results.at(-1)!.deadline, 4500)
  t.end()
})

t.test('a transmit round is due at once: deadline = now while something is queued', t => {
  const p = new Peer(createFtfw(cfg(), 1, 0))
  t.equal(p.local(1, 'new', 10).deadline, 10)
  const r = p.step({ kind: 'timeout' }, 10)
  t.equal(messagesOf(r.datagrams).length, 1, 'timeout at the deadline transmits')
  t.equal(r.deadline, 1010, 'then the ALIVE timer, re-armed by the round')
  t.end()
})

t.test('gap: ACK for the pending range and NACK for the gap in one datagram; retransmission with a new seq (§3.3 b)', t => {
  const { a, b, now } = pair()
  const sent: Buffer[][] = []
  for (let i = 0; i < 5; i++) {
    a.local(i, 'new', now + i)
    sent.push([...a.step({ kind: 'flush' }, now + i).datagrams])
  }
  const seqs = sent.map(d => messagesOf(d)[0]!.seq)
  b.recv(sent[0]!, now + 10)
  b.recv(sent[1]!, now + 10)
  const pendingFrom = b.s.rx.ackFrom // a's last handshake ACK is not acknowledged yet
  const { out } = b.recv(sent[3]!, now + 11) // sent[2] lost
  t.equal(out.length, 1, 'one datagram')
  t.same(kinds(out), [`ack[${pendingFrom},${seqs[1]}]`, `nack[${seqs[2]},${seqs[2]}]`])
  t.equal(b.s.counters.gaps, 1)
  t.equal(b.s.counters.lost, 1)
  t.equal(b.s.counters.delivered, 3, 'the message after the gap is applied')
  const nextA = a.s.nextSeq
  const { out: resent } = a.recv(out, now + 12)
  const m = messagesOf(resent)
  t.equal(m.length, 1, 'only the NACKed object goes again')
  t.equal(m[0]!.seq, nextA, 'with a new sequence number')
  t.same(attrsOf(m[0]), tcpFlow(2))
  t.equal(a.s.counters.txRetransmits, 1)
  t.equal(ftfwSnapshot(a.s).objectsQueued, 3, 'two objects released by the ACK; the NACKed one and two unacknowledged')
  // b receives sent[4] (in sequence after sent[3]) then the retransmission: everything delivered.
  b.recv(sent[4]!, now + 13)
  b.recv(resent, now + 13)
  t.equal(b.s.counters.delivered, 5)
  t.equal(b.s.counters.drops.staleSeq, 0)
  t.end()
})

t.test('NACKed ACK/NACK controls are retransmitted too, with their range', t => {
  const { a, b, now } = pair()
  a.local(1, 'new', now)
  b.recv([...a.step({ kind: 'flush' }, now).datagrams], now)
  const ack = b.timeout(b.s.aliveAt)
  const ackSeq = messagesOf(ack)[0]!.seq
  // a never gets that ACK; b's next message reveals the gap and a NACKs it.
  const alive = b.timeout(b.s.aliveAt)
  const { out: nack } = a.recv(alive, b.s.aliveAt)
  t.ok(kinds(nack).includes(`nack[${ackSeq},${ackSeq}]`))
  const { out: again } = b.recv(nack, b.s.aliveAt)
  const m = messagesOf(again)
  t.same(kinds(again), [kinds(ack)[0]], 'the same ACK range again')
  t.not(m[0]!.seq, ackSeq, 'under a new sequence number')
  t.end()
})

t.test('stale, duplicate and reordered messages are dropped and counted (§3.3 c)', t => {
  const { a, b, now } = pair()
  a.local(1, 'new', now)
  const d1 = [...a.step({ kind: 'flush' }, now).datagrams]
  a.local(2, 'new', now)
  const d2 = [...a.step({ kind: 'flush' }, now).datagrams]
  b.recv(d1, now)
  b.recv(d2, now)
  const before = b.s.rx.lastSeq
  b.recv(d1, now + 1)
  b.recv(d2, now + 1)
  t.equal(b.s.counters.drops.staleSeq, 2)
  t.equal(b.s.counters.delivered, 2, 'not applied again')
  t.equal(b.s.rx.lastSeq, before, 'sequence not moved')
  t.end()
})

t.test('first HELLO of a restarted peer flushes our resend queue; later HELLOs of the same peer do not (§3.3 a)', t => {
  const { a, now } = pair()
  const restarts = a.s.counters.peerRestarts // the handshake of pair() itself
  for (let i = 0; i < 3; i++) a.local(i, 'new', now)
  a.step({ kind: 'flush' }, now)
  const waiting = ftfwSnapshot(a.s).resendQueued
  t.equal(ftfwSnapshot(a.s).objectsQueued, 3, 'unacknowledged objects waiting (with our unacknowledged ACK)')
  // b restarts with a LOWER sequence base (Unix time of its restart, capture phase 7).
  const b2 = new Peer(createFtfw(cfg(), 4000, now))
  const hello = b2.timeout(now + 1000)
  t.same(flagsOf(hello), [0x30])
  const r = a.recv(hello, now + 1000)
  t.ok(r.r[0]!.peerRestarted, 'peerRestarted')
  t.equal(ftfwSnapshot(a.s).resendQueued, 0, 'resend queue flushed')
  t.equal(a.s.counters.helloFlushed, waiting)
  t.equal(a.s.rx.lastSeq, 4000, 'new sequence base accepted without the sequence check')
  // a sends again; b2 has not seen our HELLO_BACK yet and says HELLO once more: no second flush.
  a.local(7, 'new', now + 1000)
  const d = [...a.step({ kind: 'flush' }, now + 1000).datagrams]
  t.same(flagsOf(d), [0x40], 'HELLO_BACK on our next message, once')
  t.equal(ftfwSnapshot(a.s).resendQueued, 1)
  b2.local(9, 'new', now + 1001) // carries HELLO: b2 has not received the HELLO_BACK yet
  const again = [...b2.step({ kind: 'flush' }, now + 1001).datagrams]
  t.same(flagsOf(again), [0x20])
  const r2 = a.recv(again, now + 1002)
  t.notOk(r2.r[0]!.peerRestarted, 'same handshake: not a restart')
  t.equal(ftfwSnapshot(a.s).resendQueued, 1, 'what we sent to the new peer stays retransmittable')
  t.same(flagsOf(r2.out), [], 'nothing due yet')
  t.equal(a.s.counters.delivered, 1)
  // A duplicate of the first HELLO message is stale, not a new restart.
  const r3 = a.recv(hello, now + 1003)
  t.notOk(r3.r[0]!.peerRestarted)
  t.equal(a.s.counters.drops.staleSeq, 1)
  t.equal(a.s.counters.peerRestarts, restarts + 1)
  t.end()
})

t.test('RESYNC: request bytes, the peer is told to bulk, the bulk leaves before the ACK that covers the RESYNC', t => {
  const { a, b, now } = pair()
  const r = a.step({ kind: 'requestResync' }, now)
  t.equal(r.deadline, now)
  const req = [...a.step({ kind: 'flush' }, now).datagrams]
  const seq = a.results.at(-1)!.state.nextSeq - 1
  t.equal(hex(req[0]!), '1a020010' + seq.toString(16).padStart(8, '0') + '0000000000000000', 'RESYNC from = to = 0')
  b.s.rx.window = 1 // b is one message short of a full window: the RESYNC completes it and queues an ACK
  const got = b.step({ kind: 'datagram', buf: req[0]! }, now)
  t.ok(got.resyncRequested)
  // That ACK covers the RESYNC: the bulk must go before it.
  b.step({ kind: 'bulk', entries: [1, 2].map(n => ({ key: flowKey(tcpFlow(n)), event: 'upd' as const, attrs: tcpFlow(n) })) }, now)
  const answer = [...b.step({ kind: 'flush' }, now).datagrams]
  const last = kinds(answer).at(-1) ?? ''
  t.same(kinds(answer).map(k => k.replace(/@\d+/, '')).slice(0, 2), ['upd', 'upd'], 'bulk first')
  t.match(last, new RegExp(`^ack\\[\\d+,${seq}\\]$`), 'then the ACK covering the RESYNC')
  const back = a.step({ kind: 'datagram', buf: answer[0]! }, now + 1)
  t.ok(back.resyncAcked, 'our RESYNC acknowledged')
  t.equal(back.deliver.length, 2, 'after the bulk was delivered')
  t.end()
})

t.test('a RESYNC waits for a first accepted message from the peer (so the bulk lands after our sequence base)', t => {
  const { a, b } = fresh()
  a.step({ kind: 'requestResync' }, 10)
  t.same(a.step({ kind: 'flush' }, 10).datagrams, [], 'nothing to send yet')
  t.ok(a.s.resyncDeferred)
  const r = a.step({ kind: 'datagram', buf: b.timeout(1000)[0]! }, 1001)
  t.ok(r.deadline !== null && r.deadline <= 1001, 'queued as soon as the peer is heard (due now)')
  t.equal(ftfwSnapshot(a.s).txQueued, 1)
  t.same(kinds([...a.step({ kind: 'flush' }, 1001).datagrams]), ['resync'])
  t.notOk(a.s.resyncDeferred)
  t.end()
})

t.test('resend queue is bounded: the oldest entry is dropped and counted (§3.5)', t => {
  const { a } = fresh(1000, 5000, { resendQueueSize: 4 })
  const now = 10
  const seq0 = a.s.nextSeq
  for (let i = 0; i < 6; i++) a.local(i, 'new', now)
  a.step({ kind: 'flush' }, now)
  t.equal(a.s.counters.drops.resendQueueFull, 2)
  t.equal(ftfwSnapshot(a.s).resendQueued, 4)
  t.equal(ftfwSnapshot(a.s).objectsQueued, 4, 'the dropped objects are forgotten')
  // A NACK for the dropped ones finds nothing to retransmit.
  const nack: CtdMessage = { kind: 'nack', from: seq0, to: seq0 + 1, seq: 42, hello: false, helloBack: false }
  const out = a.recv([encodeMessage(nack)], now + 1).out
  t.same(kinds(out), [])
  t.end()
})

t.test('coalescing: one queue node per flow, type decided at transmit time (§3.5, §1.7)', t => {
  const { a } = fresh()
  const now = 10
  const x = tcpFlow(1, 1)
  a.local(1, 'new', now, x)
  a.local(1, 'upd', now, { ...x, tcpState: 3, timeout: 100 })
  a.local(2, 'upd', now)
  a.local(2, 'del', now, { src: '10.1.0.2', dst: '192.0.2.80', l4proto: 6, sport: 10002, dport: 80 })
  a.local(3, 'del', now)
  a.local(3, 'new', now, tcpFlow(3, 2))
  t.equal(a.s.counters.coalesced, 3)
  const m = messagesOf([...a.step({ kind: 'flush' }, now).datagrams])
  t.equal(m.length, 3, 'one message per flow')
  t.same(m.map(x => x.kind === 'ct' ? x.event : x.kind), ['new', 'del', 'new'], 'NEW+UPD → NEW, UPD+DEL → DEL, DEL+NEW → NEW')
  t.same(attrsOf(m[0]), { ...x, tcpState: 3, timeout: 100 }, 'latest state')
  t.same(attrsOf(m[1]), tcpFlow(2), 'a DEL carries the last known full state')
  // A change of a flow sent but not yet acknowledged moves it back to the tx queue: one message, a new seq.
  const oldSeq = m[0]!.seq
  a.local(1, 'upd', now + 1, { ...x, tcpState: 4 })
  t.equal(ftfwSnapshot(a.s).resendQueued, 2, 'the old entry left the resend queue')
  const m2 = messagesOf([...a.step({ kind: 'flush' }, now + 1).datagrams])
  t.equal(m2.length, 1)
  t.ok(m2[0]!.seq > oldSeq)
  t.end()
})

t.test('sequence wraparound at 2^32: 100 messages from 0xFFFFFFF0, no gap, no stale, all released', t => {
  const { a, b } = fresh(0xfffffff0, 7)
  let now = 10
  const seqs: number[] = []
  for (let i = 0; i < 100; i++) {
    a.local(i, 'new', now)
    const d = [...a.step({ kind: 'flush' }, now).datagrams]
    seqs.push(messagesOf(d)[0]!.seq)
    b.recv(d, now)
    now += 5
  }
  t.equal(seqs[0], 0xfffffff0)
  t.equal(seqs[15], 0xffffffff)
  t.equal(seqs[16], 0, 'wraps to 0')
  t.equal(seqs[99], 83)
  t.equal(b.s.counters.delivered, 100)
  t.equal(b.s.counters.gaps, 0)
  t.equal(b.s.counters.drops.staleSeq, 0)
  const ack = b.timeout(b.s.aliveAt)
  t.same(kinds(ack), ['ack[4294967280,83]'], 'one ACK range across the wrap')
  a.recv(ack, now)
  t.equal(ftfwSnapshot(a.s).resendQueued, 0, 'the ACK range across the wrap releases everything')
  // A gap across the wrap is NACKed with the right range.
  const c = fresh(0xfffffffe, 7)
  const ds: Buffer[][] = []
  for (let i = 0; i < 4; i++) { c.a.local(i, 'new', 10); ds.push([...c.a.step({ kind: 'flush' }, 10).datagrams]) }
  c.b.recv(ds[0]!, 11)
  t.same(kinds(c.b.recv(ds[3]!, 11).out), ['ack[4294967294,4294967294]', 'nack[4294967295,0]'])
  t.end()
})

t.test('malformed input is counted by code; a bad payload is still sequenced and acknowledged (§1.1, §3.4)', t => {
  const b = new Peer(createFtfw(cfg(), 5000, 0))
  const now = 10
  const base = 100
  b.recv([encodeMessage({ kind: 'alive', seq: base, hello: false, helloBack: false })], now)
  const before = b.s.counters.delivered
  b.recv([Buffer.from('1a1000', 'hex')], now)
  t.equal(b.s.counters.drops.CTD_TRUNCATED, 1)
  const alive = (seq: number): Buffer => encodeMessage({ kind: 'alive', seq, hello: false, helloBack: false })
  const badVersion = alive(base + 1)
  badVersion[0] = 0x2a
  b.recv([badVersion], now)
  t.equal(b.s.counters.drops.CTD_BAD_VERSION, 1)
  const badFlags = alive(base + 1)
  badFlags[1] = 0x00 // control without ACK/NACK/RESYNC/ALIVE
  b.recv([badFlags], now)
  t.equal(b.s.counters.drops.CTD_BAD_FLAGS, 1)
  t.equal(b.s.rx.lastSeq, base, 'neither moves the sequence')
  // A data message whose attribute is broken: counted, not delivered, but acknowledged.
  const data = encodeMessage({ kind: 'ct', event: 'new', attrs: tcpFlow(1), seq: base + 1, hello: false, helloBack: false })
  data.writeUInt16BE(5, 8) // first attribute (NTA_IPV4, 8 bytes payload) claims a 1-byte payload
  b.recv([data], now)
  t.equal(b.s.counters.drops.CTD_BAD_ATTR_LEN, 1)
  t.equal(b.s.counters.delivered, before, 'not delivered')
  t.equal(b.s.rx.lastSeq, base + 1, 'sequenced')
  t.same(kinds(b.timeout(b.s.aliveAt)), [`ack[${base},${base + 1}]`], 'and acknowledged')
  // An ACK range that runs backwards is MSG_BAD.
  b.recv([encodeMessage({ kind: 'ack', from: 10, to: 5, seq: base + 2, hello: false, helloBack: false })], now)
  t.equal(b.s.counters.drops.badAckRange, 1)
  t.equal(b.s.rx.lastSeq, base + 1)
  t.end()
})

t.test('a local flow the encoder refuses is dropped and counted, using no sequence number', t => {
  const p = new Peer(createFtfw(cfg(), 77, 0))
  p.local(1, 'new', 0, { ...tcpFlow(1), sport: 70000 })
  p.local(2, 'new', 0)
  const m = messagesOf([...p.step({ kind: 'flush' }, 0).datagrams])
  t.equal(m.length, 1)
  t.equal(m[0]!.seq, 77)
  t.equal(p.s.counters.drops.CTD_ENCODE_INVALID, 1)
  t.equal(ftfwSnapshot(p.s).objectsQueued, 1)
  t.end()
})

t.test('datagrams are packed into mtu − 28 bytes (§1.1)', t => {
  const p = new Peer(createFtfw(cfg({ mtu: 200 }), 1, 0))
  for (let i = 0; i < 10; i++) p.local(i, 'new', 0)
  const ds = p.step({ kind: 'flush' }, 0).datagrams
  t.ok(ds.length > 1)
  for (const d of ds) t.ok(d.length < 172)
  t.equal(messagesOf(ds).length, 10)
  t.end()
})

t.test('createFtfw validates its config and initial sequence', t => {
  t.throws(() => createFtfw(cfg({ ackWindowSize: 0 }), 1, 0), FtfwConfigError)
  t.throws(() => createFtfw(cfg({ mtu: 40 }), 1, 0), FtfwConfigError)
  t.throws(() => createFtfw(cfg(), 2 ** 32, 0), FtfwConfigError)
  t.throws(() => createFtfw(cfg(), -1, 0), FtfwConfigError)
  t.end()
})
