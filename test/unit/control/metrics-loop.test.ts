// How late each event loop runs (runtime/loop-delay.ts) in /metrics: one gauge family, thread and
// statistic as labels; a thread without numbers (conntrack off, or no snapshot yet) is absent.
import t from 'tap'
import { createMetricsCollector } from '../../../src/control/metrics.js'
import { FakeSource, allMaster, statusFrom } from './fixtures.js'

t.test('loopDelay → hafw_event_loop_delay_seconds{thread,stat}', async t => {
  const { node, now } = allMaster()
  const loopDelay = { vrrp: { recentMaxMs: 12.5, recentP99Ms: 1.2, worstMs: 40, windowMs: 10_000 }, conntrack: null }
  const text = await createMetricsCollector(new FakeSource(statusFrom(node, now, { loopDelay })), { processMetrics: false }).scrape()
  t.match(text, /# TYPE hafw_event_loop_delay_seconds gauge/)
  t.match(text, /hafw_event_loop_delay_seconds\{thread="vrrp",stat="recent_max"\} 0\.0125/)
  t.match(text, /hafw_event_loop_delay_seconds\{thread="vrrp",stat="recent_p99"\} 0\.0012/)
  t.match(text, /hafw_event_loop_delay_seconds\{thread="vrrp",stat="worst"\} 0\.04/)
  t.notMatch(text, /thread="conntrack"/, 'no conntrack numbers: no series')
})
