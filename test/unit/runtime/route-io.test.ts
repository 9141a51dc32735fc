// The route/rule effect handlers: every entry tried in order, "already there / already gone"
// counted as success apart, a failure counted, logged with the route in ip syntax, and reported
// so the executor counts the effect as failed without stopping the other entries.
import t from 'tap'
import pino from 'pino'
import type { VRoute, VRule } from '../../../src/core/effects.js'
import type { RouteControl, RouteOutcome } from '../../../src/io/ports.js'
import { routeText, ruleText } from '../../../src/io/rtnl-route.js'
import { routeHandlers } from '../../../src/runtime/route-io.js'
import { Counters } from '../../../src/runtime/stats.js'

const r1: VRoute = { family: 'ipv4', dst: '198.51.100.0', prefix: 24, type: 'unicast', via: '10.0.0.1', src: '10.0.0.5', metric: 7, table: 100 }
const r2: VRoute = { family: 'ipv4', dst: '203.0.113.0', prefix: 24, type: 'blackhole', table: 254 }
const r3: VRoute = { family: 'ipv6', dst: '2001:db8::', prefix: 32, type: 'unicast', dev: 'eth1', table: 254 }
const rule: VRule = { family: 'ipv4', from: { address: '10.0.0.0', prefix: 8 }, table: 100, priority: 10, fwmark: 3 }

function fake (outcomes: Record<string, RouteOutcome | Error>): { control: RouteControl, calls: string[] } {
  const calls: string[] = []
  const run = async (key: string): Promise<RouteOutcome> => {
    calls.push(key)
    const o = outcomes[key] ?? 'done'
    if (o instanceof Error) throw o
    return o
  }
  return {
    calls,
    control: {
      addRoute: async r => await run(`add ${r.dst}`),
      delRoute: async r => await run(`del ${r.dst}`),
      addRule: async r => await run(`addrule ${r.table}`),
      delRule: async r => await run(`delrule ${r.table}`),
      close: () => {}
    }
  }
}

t.test('ip-syntax texts for logs', async t => {
  t.equal(routeText(r1), '198.51.100.0/24 via 10.0.0.1 src 10.0.0.5 metric 7 table 100')
  t.equal(routeText(r2), 'blackhole 203.0.113.0/24')
  t.equal(routeText(r3), '2001:db8::/32 dev eth1')
  t.equal(ruleText(rule), 'priority 10 from 10.0.0.0/8 fwmark 3 table 100')
})

t.test('adds: done, already present, failed, in order; the effect fails when one entry failed', async t => {
  const { control, calls } = fake({ 'add 203.0.113.0': 'already', 'add 2001:db8::': new Error('Request rejected: ENETUNREACH') })
  const counters = new Counters()
  const h = routeHandlers(control, counters, pino({ level: 'silent' }))
  await t.rejects(h.routeAdd({ kind: 'routeAdd', routerId: 'A', routes: [r1, r2, r3] }), /ENETUNREACH/)
  t.same(calls, ['add 198.51.100.0', 'add 203.0.113.0', 'add 2001:db8::'], 'every route tried, in order')
  t.equal(counters.get('route.added'), 1)
  t.equal(counters.get('route.alreadyPresent'), 1)
  t.equal(counters.get('route.addFailed'), 1)
})

t.test('deletes: already absent is success', async t => {
  const { control } = fake({ 'del 198.51.100.0': 'already', 'delrule 100': 'already' })
  const counters = new Counters()
  const h = routeHandlers(control, counters, pino({ level: 'silent' }))
  await h.routeDel({ kind: 'routeDel', routerId: 'A', routes: [r1, r2] })
  await h.ruleDel({ kind: 'ruleDel', routerId: 'A', rules: [rule] })
  await h.ruleAdd({ kind: 'ruleAdd', routerId: 'A', rules: [rule] })
  t.same(counters.toJSON(), { 'route.alreadyAbsent': 1, 'route.deleted': 1, 'rule.added': 1, 'rule.alreadyAbsent': 1 })
})
