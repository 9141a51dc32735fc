// Startup resync FSM (src/core/sync/bulk.ts): named states/events, demotion while pending, retries, hard bound,
// invalid pairs are errors.
import t from 'tap'
import {
  bulkEvent, createBulk, stepBulk, BulkConfigError, BulkFsmError, BULK_DEFAULTS, BULK_EVENTS, BULK_STATES,
  type Bulk, type BulkInput, type BulkStepResult
} from '../../../../src/core/sync/bulk.js'

const ftfw = (o: Partial<{ resyncAcked: boolean, nacksOutstanding: number, peerRestarted: boolean }> = {}): BulkInput =>
  ({ kind: 'ftfw', resyncAcked: false, nacksOutstanding: 0, peerRestarted: false, ...o })

function started (now = 1000): BulkStepResult {
  return stepBulk(createBulk(BULK_DEFAULTS), { kind: 'start' }, now)
}

t.test('start: RESYNC requested, demoted, retry timer armed', t => {
  const b0 = createBulk(BULK_DEFAULTS)
  t.equal(b0.state, 'none')
  const r = started()
  t.equal(r.bulk.state, 'requested')
  t.ok(r.requestResync)
  t.equal(r.priorityOffset, -250)
  t.equal(r.deadline, 1000 + BULK_DEFAULTS.requestTimeoutMs)
  t.same(r.transitions, [{ from: 'none', to: 'requested', event: 'start', at: 1000 }])
  t.end()
})

t.test('complete: our RESYNC acknowledged and no NACK outstanding (same step)', t => {
  const r = stepBulk(started().bulk, ftfw({ resyncAcked: true }), 1500)
  t.equal(r.bulk.state, 'done')
  t.equal(r.bulk.outcome, 'complete')
  t.equal(r.priorityOffset, 0)
  t.equal(r.deadline, null)
  t.same(r.transitions.map(x => `${x.from}-${x.event}->${x.to}`), ['requested-resyncAcked->receiving', 'receiving-settled->done'])
  t.end()
})

t.test('complete only once the NACKed part of the bulk is in (nacksOutstanding back to 0)', t => {
  let r = stepBulk(started().bulk, ftfw({ resyncAcked: true, nacksOutstanding: 2 }), 1500)
  t.equal(r.bulk.state, 'receiving')
  t.equal(r.priorityOffset, -250)
  t.equal(r.deadline, 1000 + BULK_DEFAULTS.startupResyncTimeoutMs, 'only the hard bound while receiving')
  r = stepBulk(r.bulk, ftfw({ nacksOutstanding: 1 }), 1600)
  t.equal(r.bulk.state, 'receiving')
  r = stepBulk(r.bulk, ftfw({ nacksOutstanding: 0 }), 1700)
  t.equal(r.bulk.state, 'done')
  t.equal(r.bulk.outcome, 'complete')
  t.end()
})

t.test('settled before the RESYNC is acknowledged means nothing', t => {
  const r = stepBulk(started().bulk, ftfw(), 1200)
  t.equal(r.bulk.state, 'requested')
  t.same(r.transitions, [])
  t.end()
})

t.test('no ACK: RESYNC again every requestTimeoutMs, then give up after `retries`', t => {
  let b: Bulk = started(0).bulk
  const asks: number[] = []
  for (let i = 0; i < 10 && b.state === 'requested'; i++) {
    const now = (b.requestedAt ?? 0) + BULK_DEFAULTS.requestTimeoutMs
    const r = stepBulk(b, { kind: 'timeout' }, now)
    if (r.requestResync) asks.push(now)
    b = r.bulk
  }
  t.same(asks, [3000, 6000, 9000], 'three retries')
  t.equal(b.state, 'done')
  t.equal(b.outcome, 'gaveUp')
  t.equal(b.requests, 4)
  t.equal(stepBulk(b, { kind: 'timeout' }, 20000).priorityOffset, 0, 'demotion lifted')
  t.end()
})

t.test('hard bound: give up after startupResyncTimeoutMs even while receiving', t => {
  const cfg = { ...BULK_DEFAULTS, startupResyncTimeoutMs: 5000 }
  let r = stepBulk(createBulk(cfg), { kind: 'start' }, 0)
  r = stepBulk(r.bulk, ftfw({ resyncAcked: true, nacksOutstanding: 1 }), 100)
  t.equal(r.deadline, 5000)
  t.same(stepBulk(r.bulk, { kind: 'timeout' }, 4999).transitions, [], 'not before')
  r = stepBulk(r.bulk, { kind: 'timeout' }, 5000)
  t.equal(r.bulk.outcome, 'gaveUp')
  t.equal(r.transitions[0]?.event, 'giveUp')
  // The hard bound also caps the retry timer.
  const r2 = stepBulk(createBulk({ ...cfg, requestTimeoutMs: 4000 }), { kind: 'start' }, 0)
  t.equal(stepBulk(r2.bulk, { kind: 'timeout' }, 4000).bulk.state, 'requested')
  t.equal(stepBulk(r2.bulk, { kind: 'timeout' }, 4000).requestResync, true)
  t.end()
})

t.test('peer restart while pending: ask the new instance (an ACK in the same step is ignored)', t => {
  let r = stepBulk(started().bulk, ftfw({ resyncAcked: true, nacksOutstanding: 1 }), 1100)
  t.equal(r.bulk.state, 'receiving')
  r = stepBulk(r.bulk, ftfw({ peerRestarted: true, resyncAcked: true, nacksOutstanding: 0 }), 1200)
  t.equal(r.bulk.state, 'requested')
  t.ok(r.requestResync)
  t.equal(r.bulk.requestedAt, 1200)
  t.end()
})

t.test('FTFW facts are ignored before start and after done', t => {
  const none = createBulk(BULK_DEFAULTS)
  const r = stepBulk(none, ftfw({ resyncAcked: true, peerRestarted: true }), 5)
  t.equal(r.bulk, none)
  t.equal(r.priorityOffset, 0)
  const done = stepBulk(started().bulk, ftfw({ resyncAcked: true }), 1500).bulk
  t.equal(stepBulk(done, ftfw({ peerRestarted: true }), 1600).bulk, done)
  t.equal(stepBulk(done, { kind: 'timeout' }, 99999).bulk, done, 'a stray timeout does nothing')
  t.end()
})

t.test('master while the RESYNC is unanswered and no peer was ever heard: the wait ends (alone), demotion lifted', t => {
  const r = stepBulk(started().bulk, { kind: 'master', peerHeard: false }, 1400)
  t.equal(r.bulk.state, 'done')
  t.equal(r.bulk.outcome, 'alone')
  t.equal(r.priorityOffset, 0)
  t.equal(r.deadline, null, 'no retry timer left')
  t.notOk(r.requestResync)
  t.same(r.transitions, [{ from: 'requested', to: 'done', event: 'alone', at: 1400 }])
  // a peer that was heard is worth waiting for; so is a bulk already arriving
  const heard = stepBulk(started().bulk, { kind: 'master', peerHeard: true }, 1400)
  t.equal(heard.bulk.state, 'requested')
  t.equal(heard.priorityOffset, -250)
  const receiving = stepBulk(started().bulk, ftfw({ resyncAcked: true, nacksOutstanding: 1 }), 1500).bulk
  t.equal(stepBulk(receiving, { kind: 'master', peerHeard: false }, 1600).bulk, receiving, 'receiving: nothing changes')
  t.equal(stepBulk(createBulk(BULK_DEFAULTS), { kind: 'master', peerHeard: false }, 1600).bulk.state, 'none', 'before start: nothing')
  t.end()
})

t.test('invalid (state, event) pairs are errors, not silence', t => {
  t.throws(() => stepBulk(started().bulk, { kind: 'start' }, 2000), BulkFsmError, 'start twice')
  const done = stepBulk(started().bulk, ftfw({ resyncAcked: true }), 1500).bulk
  t.throws(() => stepBulk(done, { kind: 'start' }, 2000), BulkFsmError)
  const none = createBulk(BULK_DEFAULTS)
  t.throws(() => bulkEvent(none, 'retryTimeout', 0), { name: 'BulkFsmError', message: /retryTimeout is invalid in state none/ })
  t.throws(() => bulkEvent(none, 'giveUp', 0), BulkFsmError)
  // Every pair is either in the table or a BulkFsmError.
  let invalid = 0
  for (const state of BULK_STATES) {
    for (const event of BULK_EVENTS) {
      const b: Bulk = { ...none, state, startedAt: 0, requestedAt: 0, requests: 1 }
      try {
        bulkEvent(b, event, 1)
      } catch (e) {
        t.ok(e instanceof BulkFsmError, `${state}/${event}`)
        invalid++
      }
    }
  }
  t.equal(invalid, 11, 'eleven invalid pairs (start when started; timers when none is armed; alone outside requested)')
  t.end()
})

t.test('createBulk validates its config', t => {
  t.throws(() => createBulk({ ...BULK_DEFAULTS, demotion: 10 }), BulkConfigError)
  t.throws(() => createBulk({ ...BULK_DEFAULTS, retries: -1 }), BulkConfigError)
  t.throws(() => createBulk({ ...BULK_DEFAULTS, requestTimeoutMs: 0 }), BulkConfigError)
  t.end()
})
