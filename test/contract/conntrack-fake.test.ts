// The ConntrackControl contract against the in-memory fake (the same suite runs against the real
// ctnetlink adapter in test/e2e/ctnetlink.test.ts).
import t from 'tap'
import { conntrackContract, tcpFlow } from './conntrack.contract.js'
import { FakeConntrack } from '../helpers/fake-conntrack.js'

conntrackContract(t, async () => {
  const fake = new FakeConntrack()
  return {
    port: fake,
    external: {
      create: async (flow) => { fake.kernel.create(flow) },
      delete: async (flow) => { fake.kernel.delete(flow) }
    },
    done: async () => { await fake.close() }
  }
})

t.test('fake: overruns reach the handlers with a running count', async t => {
  const fake = new FakeConntrack()
  const seen: number[] = []
  fake.onOverrun(i => { seen.push(i.count) })
  fake.triggerOverrun()
  fake.triggerOverrun('listener-restarted')
  t.same(seen, [1, 2])
})

t.test('fake: records what was applied', async t => {
  const fake = new FakeConntrack()
  await fake.apply([{ op: 'create', flow: tcpFlow(1) }])
  t.equal(fake.applied.length, 1)
  t.equal(fake.applied[0]?.[0]?.op, 'create')
})
