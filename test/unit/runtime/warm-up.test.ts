// The worker's warm-up (src/runtime/warm-up.ts): synthetic traffic takes the whole path on scratch
// engines (decoded events → sender → datagrams → receiver → commit), with the node's FTFW settings
// whatever its filter, and leaves nothing behind (it is pure: no port, no shared state).
import t from 'tap'
import { warmUpConntrack, WARM_UP_ENTRIES } from '../../../src/runtime/warm-up.js'
import type { EngineConfig } from '../../../src/core/conntrack/engine.js'
import { FTFW_DEFAULTS } from '../../../src/core/sync/ftfw.js'

function nodeConfig (over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    // a node whose own filter would refuse every synthetic flow: the scratch engines do not use it
    filter: { protocols: { mode: 'accept', list: ['udp'] }, ignoreAddresses: [{ address: '198.18.0.0', prefix: 15, family: 'ipv4' }], tcpStates: null },
    alwaysIgnore: [],
    ftfw: FTFW_DEFAULTS,
    bulk: null,
    disableExternalCache: true,
    commitBatch: 500,
    initialSeq: 1_700_000_000,
    syncSource: { kind: 'unicast', peer: '10.0.0.2' },
    auth: true,
    ...over
  }
}

t.test('every synthetic entry is decoded, replicated and committed', async t => {
  const r = warmUpConntrack(nodeConfig(), 1000)
  t.same({ events: r.events, received: r.received, committed: r.committed }, { events: 1000, received: 1000, committed: 1000 })
  t.ok(r.datagrams > 1000 / 50, `datagrams both ways: ${r.datagrams}`)
})

t.test('the default size, and a size that is not a multiple of the batch', async t => {
  const r = warmUpConntrack(nodeConfig({ ftfw: { ...FTFW_DEFAULTS, aliveIntervalMs: 200 } }))
  t.equal(r.committed, WARM_UP_ENTRIES)
  t.equal(warmUpConntrack(nodeConfig(), 130).committed, 130)
})

t.test('twice in a row gives the same: no state is kept between runs', async t => {
  t.same(warmUpConntrack(nodeConfig(), 300), warmUpConntrack(nodeConfig(), 300))
})

t.test('every kernel batch and every datagram the other engine gets goes through asReceived (the kind of Buffer real input is)', async t => {
  let calls = 0
  const seen = new Set<Buffer>()
  const r = warmUpConntrack(nodeConfig(), 300, (b) => { calls++; const c = Buffer.from(b); seen.add(c); return c })
  const batches = Math.ceil(300 / 128)
  t.equal(calls, batches + r.datagrams, `${batches} event batches + ${r.datagrams} datagrams`)
  t.equal(seen.size, calls, 'each one a new Buffer')
  t.same(r, warmUpConntrack(nodeConfig(), 300), 'copied input gives the same result')
})
