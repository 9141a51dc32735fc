// Replay of real conntrackd 1.4.7 traffic (test/fixtures/captures/conntrackd/README.md): our FTFW endpoint plays
// node b. Every datagram node a sent is fed to it at its capture time (ms), with b's own `conntrackd -n` as a
// requestResync input; everything our endpoint sends must equal, byte for byte and in order, what the real b
// sent: the HELLO handshake (0x30, then 0x48 after a's 0x68), the 1 s idle ACK ping-pong, ACK[s, s], the window
// ACK after a burst, ACK+NACK pairs during the 30 % loss phase, ALIVE while a is down, and the answer to a's
// restart HELLO (0x28). It also delivers every data message a sent, in order.
import t from 'tap'
import { decodeDatagram } from '../../../../src/codec/conntrackd.js'
import { readCtAttrs } from '../../../../src/codec/conntrackd-ct.js'
import { createFtfw, ftfwDeadline, stepFtfw, FTFW_DEFAULTS, type FtfwInput, type FtfwState, type FtfwDelivery } from '../../../../src/core/sync/ftfw.js'
import { loadCapture, type CaptureFile } from '../../codec/conntrackd-vectors.js'

interface Sent { at: number, hex: string }

/** Times (ms from the first datagram) at which b's operator ran `conntrackd -n`: b's RESYNC datagrams. */
function resyncTimes (cap: CaptureFile, b: string): number[] {
  return cap.datagrams
    .filter(d => d.src.startsWith(b + ':') && d.messages.some(m => m.type === 10 && (m.flags & 0x02) !== 0))
    .map(d => Math.round(d.time * 1000))
}

function replay (cap: CaptureFile, b: string, bSeq: number, bStart: number): { sent: Sent[], delivered: FtfwDelivery[], state: FtfwState } {
  let st = createFtfw(FTFW_DEFAULTS, bSeq, bStart)
  const sent: Sent[] = []
  const delivered: FtfwDelivery[] = []
  const resyncs = resyncTimes(cap, b)
  const step = (input: FtfwInput, now: number): void => {
    const r = stepFtfw(st, input, now)
    st = r.state
    for (const d of r.datagrams) sent.push({ at: now, hex: d.toString('hex') })
    delivered.push(...r.deliver)
  }
  /** Run our timers (and operator resyncs) due strictly before `t`, or up to `t` inclusive. */
  const runUntil = (t: number, inclusive: boolean, stopAfterSend = false): void => {
    for (;;) {
      const before = sent.length
      const dl = ftfwDeadline(st)
      const nextResync = resyncs[0]
      const due = (x: number | null | undefined): x is number => x != null && (inclusive ? x <= t : x < t)
      if (due(nextResync) && (dl === null || nextResync <= dl)) {
        resyncs.shift()
        step({ kind: 'requestResync' }, nextResync)
        step({ kind: 'flush' }, nextResync)
      } else if (due(dl)) {
        step({ kind: 'timeout' }, dl)
      } else {
        return
      }
      if (stopAfterSend && sent.length > before) return
    }
  }
  for (const d of cap.datagrams) {
    const at = Math.round(d.time * 1000)
    if (d.src.startsWith(b + ':')) {
      // b sent here: our timer should fire within a few ms (conntrackd's alarms drift by ~1 ms).
      runUntil(at + 5, true, true)
    } else {
      runUntil(at, false)
      step({ kind: 'datagram', buf: Buffer.from(d.hex, 'hex') }, at)
      step({ kind: 'flush' }, at) // conntrackd transmits after each received datagram
    }
  }
  return { sent, delivered, state: st }
}

for (const [name, b] of [['udp-unicast', '10.98.0.2'], ['mcast', '10.98.0.2']] as const) {
  t.test(`${name}: our endpoint sends what conntrackd b sent`, t => {
    const cap = loadCapture(name)
    const bDatagrams = cap.datagrams.filter(d => d.src.startsWith(b + ':'))
    const first = bDatagrams[0]
    if (first === undefined) throw new Error('capture without b datagrams')
    const firstMsg = first.messages[0]
    if (firstMsg === undefined) throw new Error('empty datagram')
    // b's first message is its ALIVE timer firing one interval after start.
    const { sent, delivered, state } = replay(cap, b, firstMsg.seq, Math.round(first.time * 1000) - 1000)
    t.equal(sent.length, bDatagrams.length, 'as many datagrams as b sent')
    for (let i = 0; i < Math.min(sent.length, bDatagrams.length); i++) {
      const want = bDatagrams[i]!
      const got = sent[i]!
      t.equal(got.hex, want.hex, `b datagram #${want.index} at ${want.time}s`)
      t.ok(Math.abs(got.at - want.time * 1000) <= 5, `b datagram #${want.index}: sent at ${got.at} ms, capture ${Math.round(want.time * 1000)} ms`)
    }
    // Every data message a sent that reached b is delivered, in order.
    const aData = cap.datagrams.filter(d => !d.src.startsWith(b + ':')).flatMap(d => d.messages.filter(m => m.type <= 5))
    t.equal(delivered.length, aData.length, 'every data message delivered')
    const wantEvents = aData.map(m => (['new', 'upd', 'del'] as const)[m.type % 3])
    t.same(delivered.map(d => d.event), wantEvents, 'in order, with their types')
    const decoded = cap.datagrams.filter(d => !d.src.startsWith(b + ':'))
      .flatMap(d => decodeDatagram(Buffer.from(d.hex, 'hex')).messages).filter(m => m.kind === 'ct')
    t.same(delivered.map(d => d.kind === 'ct' ? readCtAttrs(d.payload, 0, d.payload.length) : d.attrs), decoded.map(m => m.kind === 'ct' ? m.attrs : null), 'attributes as decoded')
    t.equal(state.counters.drops.staleSeq, 0, 'nothing stale in the capture')
    t.end()
  })
}
