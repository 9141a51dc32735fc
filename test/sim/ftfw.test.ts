// Two conntrack engines (src/core/conntrack/engine.ts) on a simulated lossy link (test/helpers/syncsim.ts): fake
// clock, seeded PRNG, never sleeps. After the producers stop, each external cache converges to the other peer's
// internal cache.
import t, { type Test } from 'tap'
import { cacheDiff, mulberry32, runWorkload, sameCache, SyncSim, tcpFlow, type LinkModel } from '../helpers/syncsim.js'

const LOSSY = (loss: number): Partial<LinkModel> => ({ delayMs: 1, loss, duplicate: 0.05, reorder: 0.05, reorderMs: 5 })

function converge (t: Test, sim: SyncSim, maxMs: number, what: string): void {
  const at = sim.settle(maxMs)
  t.ok(at !== null, `${what}: converged${at !== null ? '' : ` — b.external vs a.internal: ${cacheDiff(sim.b.external, sim.a.internal)}; a.external vs b.internal: ${cacheDiff(sim.a.external, sim.b.internal)}`}`)
}

function runUntilBulkDone (sim: SyncSim, name: 'a' | 'b', maxMs = 40_000): void {
  const end = sim.now + maxMs
  while (sim.now < end && sim.peer(name).bulk?.state !== 'done') sim.runFor(100)
}

for (const loss of [0.1, 0.3]) {
  t.test(`${loss * 100} % loss, reordering, duplication: both directions converge`, t => {
    const sim = new SyncSim({ seed: 7 + loss * 100, link: LOSSY(loss), a: { initialSeq: 1_700_000_000 }, b: { initialSeq: 1_700_000_002 } })
    sim.start('a')
    sim.start('b')
    sim.runFor(1500)
    const rng = mulberry32(99)
    // a: 4000 kernel events on 600 flows, several per ms; b: a lighter stream of its own, interleaved.
    for (let round = 0; round < 8; round++) {
      runWorkload(sim, 'a', rng, 500, 600, 0.4)
      runWorkload(sim, 'b', rng, 60, 80, 3)
    }
    t.ok(sim.a.internal.size > 100 && sim.b.internal.size > 20, 'both sides hold flows')
    converge(t, sim, 60_000, 'after the producers stop')
    const a = sim.a.ftfw!.counters
    const b = sim.b.ftfw!.counters
    t.ok(sim.lost > 0 && sim.duplicated > 0, `the link lost ${sim.lost} and duplicated ${sim.duplicated} datagrams`)
    t.ok(b.gaps > 0 && a.txRetransmits > 0, `gaps detected (${b.gaps}) and repaired by retransmission (${a.txRetransmits})`)
    t.ok(b.drops.staleSeq > 0, `duplicates and late copies dropped as stale (${b.drops.staleSeq})`)
    t.equal(a.drops.resendQueueFull + b.drops.resendQueueFull, 0, 'resend queues never overflowed')
    t.ok(a.coalesced > 0, `changes coalesced (${a.coalesced})`)
    // Quiet link: only the 1 Hz idle control traffic remains, and the resend queues drain.
    sim.runFor(5000)
    t.ok(sameCache(sim.b.external, sim.a.internal), 'still converged')
    t.end()
  })
}

t.test('sequence numbers wrap past 2^32 during the run', t => {
  const sim = new SyncSim({ seed: 3, link: LOSSY(0.2), a: { initialSeq: 0xfffff000 }, b: { initialSeq: 0xfffffff0 } })
  sim.start('a')
  sim.start('b')
  sim.runFor(1500)
  const rng = mulberry32(5)
  runWorkload(sim, 'a', rng, 6000, 800, 0.3)
  runWorkload(sim, 'b', rng, 200, 50, 2)
  converge(t, sim, 60_000, 'across the wrap')
  t.ok(sim.a.ftfw!.nextSeq < 0xfffff000, `a wrapped (next seq ${sim.a.ftfw!.nextSeq})`)
  t.ok(sim.b.ftfw!.nextSeq < 0xfffffff0, `b wrapped (next seq ${sim.b.ftfw!.nextSeq})`)
  t.equal(sim.b.ftfw!.counters.peerRestarts, 1, 'the wrap is not mistaken for a restart')
  t.end()
})

t.test('receiver restarts mid-stream (new, lower initial seq, HELLO): resync converges', t => {
  const sim = new SyncSim({ seed: 11, link: LOSSY(0.1), a: { initialSeq: 1_700_000_000 }, b: { initialSeq: 1_700_000_000 } })
  sim.start('a')
  sim.start('b')
  sim.runFor(1500)
  const rng = mulberry32(12)
  runWorkload(sim, 'a', rng, 1500, 400, 0.5)
  sim.restart('b', 1_700_000_003) // a few seconds later in Unix time, far below b's old counter
  t.equal(sim.b.priorityOffsets.at(-1)?.offset, -250, 'b demotes itself while its bulk is pending')
  runWorkload(sim, 'a', rng, 1500, 400, 0.5)
  converge(t, sim, 60_000, 'after the restart')
  runUntilBulkDone(sim, 'b') // complete once our RESYNC is ACKed and no NACK is in flight (lost ACKs take a while)
  t.equal(sim.b.bulk?.outcome, 'complete')
  t.equal(sim.b.priorityOffsets.at(-1)?.offset, 0, 'demotion lifted')
  t.ok(sim.a.ftfw!.counters.peerRestarts >= 2, 'a saw the restart HELLO')
  t.ok(sim.a.ftfw!.counters.helloFlushed > 0, "a released what the dead instance never acknowledged")
  t.end()
})

t.test('sender restarts mid-stream: the peer pulls its state again, both converge', t => {
  const sim = new SyncSim({ seed: 21, link: LOSSY(0.1), a: { initialSeq: 1_700_000_000 }, b: { initialSeq: 1_700_000_000 } })
  sim.start('a')
  sim.start('b')
  sim.runFor(1500)
  const rng = mulberry32(22)
  runWorkload(sim, 'a', rng, 1500, 400, 0.5)
  sim.runFor(8000) // a's last changes are acknowledged before it dies (deletions lost with a dying daemon cannot be recovered by FTFW)
  sim.restart('a', 1_700_000_005)
  runWorkload(sim, 'a', rng, 1500, 400, 0.5)
  converge(t, sim, 60_000, 'after the restart')
  runUntilBulkDone(sim, 'a')
  t.equal(sim.a.bulk?.outcome, 'complete')
  t.end()
})

// The bulk-complete rule (core/sync/bulk.ts): at the moment the FSM says "complete", the external cache must
// already hold the peer's whole state. Checked on several seeds and loss rates with a 3000-flow table.
for (const loss of [0, 0.1, 0.3]) {
  t.test(`bulk complete ⇒ the whole peer table is in (${loss * 100} % loss, 4 seeds)`, t => {
    for (const seed of [1, 2, 3, 4]) {
      const sim = new SyncSim({ seed, link: LOSSY(loss), a: { initialSeq: 1_700_000_000 }, b: { initialSeq: 42 } })
      sim.start('a')
      for (let n = 0; n < 3000; n++) sim.change('a', 'new', tcpFlow(n))
      sim.start('b', 42, true) // b boots with an empty table and asks a for everything
      runUntilBulkDone(sim, 'b')
      t.equal(sim.b.bulk?.outcome, 'complete', `seed ${seed}: complete (at ${sim.b.bulkTransitions.at(-1)?.at ?? '—'} ms)`)
      const snap = sim.b.externalAtBulkComplete
      t.ok(snap !== null && sameCache(snap, sim.a.internal), `seed ${seed}: external at completion = a's table${snap === null ? '' : ` (${cacheDiff(snap, sim.a.internal)})`}`)
    }
    t.end()
  })
}

t.test('startup with no peer: demoted, RESYNC retried, then gives up and lifts the demotion', t => {
  const sim = new SyncSim({ seed: 1, a: { initialSeq: 1, bulkAtStart: true }, b: { initialSeq: 2 } })
  sim.start('a')
  sim.runFor(20_000)
  t.equal(sim.a.bulk?.outcome, 'gaveUp')
  t.same(sim.a.priorityOffsets, [{ at: 0, offset: -250 }, { at: 12_000, offset: 0 }], '-250 until the last retry timed out')
  t.equal(sim.a.ftfw!.counters.txResync, 0, 'no RESYNC goes out before a first message from the peer is accepted')
  t.ok(sim.a.ftfw!.resyncDeferred, 'it is held until then')
  t.end()
})
