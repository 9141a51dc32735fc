// The route/rule counters of runtime/route-io.ts in /metrics: one family, kind and outcome as
// labels (not a fallback metric per counter name).
import t from 'tap'
import { createMetricsCollector } from '../../../src/control/metrics.js'
import { FakeSource, allMaster, statusFrom } from './fixtures.js'

t.test('route.* and rule.* counters → hafw_virtual_route_changes_total{kind,outcome}', async t => {
  const { node, now } = allMaster()
  const status = statusFrom(node, now, { counters: { 'route.added': 3, 'route.alreadyAbsent': 2, 'rule.addFailed': 1 } })
  const text = await createMetricsCollector(new FakeSource(status), { processMetrics: false }).scrape()
  t.match(text, /# TYPE hafw_virtual_route_changes_total counter/)
  t.match(text, /hafw_virtual_route_changes_total\{kind="route",outcome="added"\} 3/)
  t.match(text, /hafw_virtual_route_changes_total\{kind="route",outcome="alreadyAbsent"\} 2/)
  t.match(text, /hafw_virtual_route_changes_total\{kind="rule",outcome="addFailed"\} 1/)
  t.notMatch(text, /hafw_counter_route_/, 'no fallback metric')
})
