// The Prometheus endpoint over a real HTTP listener on 127.0.0.1:0 (loopback only), fed by a fake
// status source built from the real core (fixtures.ts) plus a conntrack status built from the real
// cache and FTFW snapshots. Every response body goes through a strict parser of the text format.
import t from 'tap'
import { Writable } from 'node:stream'
import pino from 'pino'
import { register as globalRegistry } from 'prom-client'
import { createMetricsCollector, fallbackMetricName, MetricsServerError, startMetricsServer } from '../../../src/control/metrics.js'
import type { MetricsServer } from '../../../src/control/metrics.js'
import type { HostPort } from '../../../src/config/net.js'
import type { RouterStatus, Status } from '../../../src/control/protocol.js'
import type { StatusSource } from '../../../src/control/source.js'
import { cacheStats, createCache } from '../../../src/core/conntrack/cache.js'
import { createFtfw, ftfwSnapshot } from '../../../src/core/sync/ftfw.js'
import type { ConntrackStatus } from '../../../src/runtime/conntrack.js'
import { FakeSource, allBackup, allMaster, statusFrom } from './fixtures.js'

const LOOPBACK: HostPort = { host: '127.0.0.1', port: 0, family: 'ipv4' }

// ---------------------------------------------------------------------------------------------
// Prometheus text format 0.0.4, strictly
// ---------------------------------------------------------------------------------------------

interface Sample { readonly name: string, readonly labels: Readonly<Record<string, string>>, readonly value: number }
interface Parsed { readonly samples: Sample[], readonly types: Map<string, string>, readonly help: Map<string, string> }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*'
// Values are Go ParseFloat text (Prometheus parses them so): Inf/NaN in any case; prom-client writes
// NaN as "Nan" (the event loop lag before its first measurement).
const VALUE = '(?:[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])'
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL}="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"(?:,${LABEL}="(?:[^"\\\\\\n]|\\\\[\\\\"n])*")*)?,?)\\})? (${VALUE})(?: -?[0-9]+)?$`)
const LABEL_RE = new RegExp(`(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`, 'g')
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count']

function unescape (v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => c === 'n' ? '\n' : c)
}

/** Throws on any line that is not valid text format, a sample without a TYPE, or a duplicate series. */
function parseExposition (text: string): Parsed {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const samples: Sample[] = []
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  const seen = new Set<string>()
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue
    let m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line)
    if (m !== null) { help.set(m[1] as string, m[2] as string); continue }
    m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line)
    if (m !== null) {
      if (types.has(m[1] as string)) throw new Error(`TYPE given twice for ${m[1]}`)
      types.set(m[1] as string, m[2] as string)
      continue
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment line: ${line}`)
    m = SAMPLE_RE.exec(line)
    if (m === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`)
    const name = m[1] as string
    const family = types.has(name) ? name : HISTOGRAM_SUFFIXES.map(s => name.endsWith(s) ? name.slice(0, -s.length) : '').find(f => f !== '' && types.has(f))
    if (family === undefined) throw new Error(`sample ${name} has no TYPE line before it`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL_RE)) {
      if ((l[1] as string) in labels) throw new Error(`label ${l[1]} repeated in ${line}`)
      labels[l[1] as string] = unescape(l[2] as string)
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seen.has(key)) throw new Error(`duplicate series ${key}`)
    seen.add(key)
    const raw = m[3] as string
    samples.push({ name, labels, value: /inf/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(raw) ? NaN : Number(raw) })
  }
  return { samples, types, help }
}

/** The samples of one metric whose labels include `match`. */
function find (p: Parsed, name: string, match: Record<string, string> = {}): Sample[] {
  return p.samples.filter(s => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
}

/** The value of the one sample of `name` matching `match` (fails when there is not exactly one). */
function value (p: Parsed, name: string, match: Record<string, string> = {}): number {
  const found = find(p, name, match)
  if (found.length !== 1) throw new Error(`${name}${JSON.stringify(match)}: ${found.length} samples`)
  return (found[0] as Sample).value
}

// ---------------------------------------------------------------------------------------------
// Status fixtures
// ---------------------------------------------------------------------------------------------

function withRouter (s: Status, id: string, f: (r: RouterStatus) => RouterStatus): Status {
  return { ...s, routers: s.routers.map(r => r.id === id ? f(r) : r) }
}

/** A conntrack status from the real cache and FTFW snapshots, with some counters set. */
function conntrackStatus (over: Partial<ConntrackStatus> = {}): ConntrackStatus {
  const internal = cacheStats(createCache('internal'))
  const external = cacheStats(createCache('external'))
  const sync = ftfwSnapshot(createFtfw({ ackWindowSize: 300, resendQueueSize: 131072, aliveIntervalMs: 1000, mtu: 1500 }, 1000, 0))
  return {
    internal: { ...internal, active: 120, created: 150, updated: 900, destroyed: 30, stale: 2, filtered: 7, filteredBy: { ...internal.filteredBy, address: 5, protocol: 2 } },
    external: { ...external, active: 80, created: 81, destroyed: 1 },
    sync: {
      ...sync,
      hello: 'done',
      txQueued: 3,
      resendQueued: 40,
      objectsQueued: 2,
      nacksOutstanding: 1,
      resyncDeferred: false,
      counters: { ...sync.counters, txData: 140, txAck: 3, rxData: 95, rxAck: 12, rxAlive: 4, rxHello: 1, rxHelloBack: 1, txDatagrams: 20, rxDatagrams: 30, txBytes: 9000, txRetransmits: 6, gaps: 2, lost: 5, peerRestarts: 1, localEvents: 150, coalesced: 10, delivered: 95, ackReleased: 130, nackRequeued: 6, drops: { ...sync.counters.drops, CTD_TRUNCATED: 3, staleSeq: 1 } }
    },
    bulk: 'done',
    commit: null,
    lastCommit: { entries: 80, ok: 79, failed: 1, ms: 250, withinBudget: true },
    purgePending: false,
    liveness: { state: 'heard', heardAt: 0, lostAfterMs: 3000 },
    ...over
  }
}

/** Master on every router, counters and drops of every family, conntrack on. */
function fullStatus (): Status {
  const { node, now } = allMaster()
  let s = statusFrom(node, now, {
    role: 'master',
    counters: {
      'rx.frames': 42,
      'rx.drop.VRRP_BAD_TTL': 3,
      'rx.drop.noRouter': 1,
      'effect.sendAdvert.ok': 30,
      'effect.vipAdd.failed': 1,
      'effect.ctCommit.skipped': 2,
      'transition.master': 3,
      'transition.backup': 3,
      'role.master': 1,
      'sync.rx.drop.CTMAP_NO_ADDRESS': 4,
      'ct.commit.done': 2,
      'ct.commit.entries': 150,
      'ct.commit.failed': 1,
      'vip.restored': 1,
      'notify.ok': 4,
      'notify.timeout': 1,
      'track.script.chk_fw.ok': 12,
      'track.script.chk_fw.failed': 2,
      'reload.applied': 2,
      'reload.refused': 1,
      'command.commit': 3,
      'ct.worker.restarted': 1,
      'ct.internal.refused.filtered.address': 5,
      'sync.rx.bytes': 123456,
      'sync.tx.error': 2,
      'ct.events.rejoinFailed': 3,
      'memory.trim.released': 9,
      'some.new-counter': 7
    },
    conntrack: conntrackStatus()
  })
  s = withRouter(s, 'VI_OUT/ipv4', r => ({ ...r, effectivePriority: 90, counters: { ...r.counters, advertsReceived: 7, priorityZeroReceived: 1, addressListMismatch: 2, drops: { lowerPriorityAsMaster: 4, ownAdvert: 2 } } }))
  return s
}

async function scrapeText (srv: MetricsServer, path = '/metrics', method = 'GET'): Promise<{ status: number, body: string, headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${srv.address.port}${path}`, { method })
  return { status: res.status, body: await res.text(), headers: res.headers }
}

async function scrape (srv: MetricsServer): Promise<Parsed> {
  const r = await scrapeText(srv)
  if (r.status !== 200) throw new Error(`scrape: HTTP ${r.status}`)
  return parseExposition(r.body)
}

async function serve (t: { teardown: (fn: () => Promise<void>) => void }, source: StatusSource, extra: { log?: pino.Logger, processMetrics?: boolean } = {}): Promise<MetricsServer> {
  const srv = await startMetricsServer({ listen: LOOPBACK, source, ...extra })
  t.teardown(async () => { await srv.close() })
  return srv
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

t.test('GET /metrics: node, VRRP routers and sync groups from one snapshot', async t => {
  const status = fullStatus()
  const srv = await serve(t, new FakeSource(status))
  t.equal(srv.address.address, '127.0.0.1')
  t.ok(srv.address.port > 0, 'an ephemeral port was bound')
  const r = await scrapeText(srv)
  t.equal(r.status, 200)
  t.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4; charset=utf-8/)
  const p = parseExposition(r.body)

  t.equal(value(p, 'hafw_info', { node: 'fw1', version: '0.1.0' }), 1)
  t.equal(value(p, 'hafw_uptime_seconds'), status.uptimeMs / 1000)
  t.same(find(p, 'hafw_node_role').map(s => [s.labels.role, s.value]).sort(), [['backup', 0], ['fault', 0], ['initialize', 0], ['master', 1]])

  const ids = status.routers.map(r => r.id)
  t.same(ids, ['VI_OUT/ipv4', 'VI_IN/ipv4', 'VI_MGMT/ipv4'])
  for (const r of status.routers) {
    const states = find(p, 'hafw_vrrp_state', { router: r.id })
    t.same(states.map(s => [s.labels.state, s.value]).sort(), [['backup', 0], ['fault', 0], ['initialize', 0], ['master', 1]], `${r.id}: one-hot state`)
    t.equal(value(p, 'hafw_vrrp_priority', { router: r.id, kind: 'configured' }), r.configuredPriority)
    t.equal(value(p, 'hafw_vrrp_transitions_total', { router: r.id }), r.counters.transitions)
    t.ok(r.counters.transitions > 0)
    t.equal(value(p, 'hafw_vrrp_adverts_total', { router: r.id, direction: 'tx' }), r.counters.advertsSent)
    t.equal(value(p, 'hafw_vrrp_interface_up', { router: r.id }), 1)
    // Every per-router series names the router the way keepalived users know it, too.
    const ident = { router: r.id, interface: r.ifname, vrid: String(r.vrid), family: r.family }
    t.equal(value(p, 'hafw_vrrp_state', { ...ident, state: 'master' }), 1, `${r.id}: state with interface, vrid, family`)
    for (const name of ['hafw_vrrp_state', 'hafw_vrrp_priority', 'hafw_vrrp_advert_interval_seconds', 'hafw_vrrp_interface_up', 'hafw_vrrp_transitions_total', 'hafw_vrrp_adverts_total', 'hafw_vrrp_router_info']) {
      const series = find(p, name, { router: r.id })
      t.ok(series.length > 0 && series.every(x => x.labels.interface === r.ifname && x.labels.vrid === String(r.vrid) && x.labels.family === r.family), `${name} ${r.id}: router labels`)
    }
    // The last transition happened at `at` on the monotonic clock: time − (now − at).
    const at = r.lastTransition?.at ?? NaN
    t.equal(value(p, 'hafw_vrrp_last_transition_timestamp_seconds', { router: r.id }), (Date.parse(status.time) - (status.now - at)) / 1000)
  }
  t.equal(value(p, 'hafw_vrrp_priority', { router: 'VI_OUT/ipv4', kind: 'effective' }), 90)
  t.equal(value(p, 'hafw_vrrp_priority', { router: 'VI_IN/ipv4', kind: 'effective' }), 100)
  t.equal(value(p, 'hafw_vrrp_adverts_total', { router: 'VI_OUT/ipv4', direction: 'rx' }), 7)
  t.equal(value(p, 'hafw_vrrp_priority_zero_adverts_total', { router: 'VI_OUT/ipv4', direction: 'rx' }), 1)
  t.equal(value(p, 'hafw_vrrp_address_list_mismatch_total', { router: 'VI_OUT/ipv4' }), 2)
  t.same(find(p, 'hafw_vrrp_drops_total', { router: 'VI_OUT/ipv4' }).map(s => [s.labels.reason, s.value]).sort(), [['lowerPriorityAsMaster', 4], ['ownAdvert', 2]])
  t.same(find(p, 'hafw_vrrp_drops_total', { router: 'VI_IN/ipv4' }), [], 'no drop series for reasons that never happened')
  t.equal(value(p, 'hafw_vrrp_advert_interval_seconds', { router: 'VI_MGMT/ipv4', kind: 'configured' }), 0.1)
  t.equal(value(p, 'hafw_vrrp_advert_interval_seconds', { router: 'VI_OUT/ipv4', kind: 'configured' }), 1)
  t.same(find(p, 'hafw_vrrp_router_info', { router: 'VI_IN/ipv4' }).map(s => s.labels), [{ router: 'VI_IN/ipv4', interface: 'eth1', family: 'ipv4', vrid: '52', version: '3', sync_group: 'G_FW' }])
  t.equal(value(p, 'hafw_vrrp_router_info', { router: 'VI_MGMT/ipv4' }), 1)
  t.equal(find(p, 'hafw_vrrp_router_info', { router: 'VI_MGMT/ipv4' })[0]?.labels.sync_group, '', 'no sync group: empty label')
  t.same(find(p, 'hafw_vrrp_fault'), [])

  t.same(find(p, 'hafw_sync_group_state', { group: 'G_FW' }).map(s => [s.labels.state, s.value]).sort(), [['backup', 0], ['fault', 0], ['initialize', 0], ['master', 1]])
  t.equal(value(p, 'hafw_sync_group_transitions_total', { group: 'G_FW' }), (status.groups[0]?.transitions ?? -1))

  t.equal(p.types.get('hafw_vrrp_state'), 'gauge')
  t.equal(p.types.get('hafw_vrrp_drops_total'), 'counter')
  t.ok((p.help.get('hafw_vrrp_priority') ?? '').length > 10, 'metrics carry a HELP text')
})

t.test('GET /metrics: runtime counters by family; no metric name inside a label value', async t => {
  const p = await scrape(await serve(t, new FakeSource(fullStatus())))
  t.equal(value(p, 'hafw_rx_frames_total'), 42)
  t.same(find(p, 'hafw_rx_drops_total').map(s => [s.labels.reason, s.value]).sort(), [['VRRP_BAD_TTL', 3], ['noRouter', 1]])
  t.same(find(p, 'hafw_effects_total').map(s => [s.labels.kind, s.labels.outcome, s.value]).sort(), [['ctCommit', 'skipped', 2], ['sendAdvert', 'ok', 30], ['vipAdd', 'failed', 1]])
  t.same(find(p, 'hafw_vrrp_state_entries_total').map(s => [s.labels.state, s.value]).sort(), [['backup', 3], ['master', 3]])
  t.equal(value(p, 'hafw_node_role_changes_total', { role: 'master' }), 1)
  t.equal(value(p, 'hafw_conntrack_commits_total'), 2)
  t.equal(value(p, 'hafw_conntrack_commit_entries_total', { outcome: 'ok' }), 150)
  t.equal(value(p, 'hafw_conntrack_commit_entries_total', { outcome: 'failed' }), 1)
  t.same(find(p, 'hafw_track_script_results_total').map(s => [s.labels.script, s.labels.result, s.value]).sort(), [['chk_fw', 'failed', 2], ['chk_fw', 'ok', 12]])
  t.equal(value(p, 'hafw_vips_restored_total'), 1)
  t.same(find(p, 'hafw_notify_hooks_total').map(s => [s.labels.result, s.value]).sort(), [['ok', 4], ['timeout', 1]])
  t.same(find(p, 'hafw_reloads_total').map(s => [s.labels.outcome, s.value]).sort(), [['applied', 2], ['refused', 1]])
  t.equal(value(p, 'hafw_commands_total', { command: 'commit' }), 3)
  t.equal(value(p, 'hafw_conntrack_worker_events_total', { event: 'restarted' }), 1)
  t.equal(value(p, 'hafw_conntrack_refused_total', { cache: 'internal', reason: 'filtered.address' }), 5)
  t.equal(value(p, 'hafw_sync_rx_bytes_total'), 123456, 'received sync bytes, from the conntrack worker\'s counter')
  t.equal(value(p, 'hafw_sync_tx_errors_total'), 2)
  t.equal(value(p, 'hafw_conntrack_new_group_failures_total', { op: 'rejoinFailed' }), 3)
  t.equal(value(p, 'hafw_memory_trims_total', { outcome: 'released' }), 9)
  t.equal(fallbackMetricName('some.new-counter'), 'hafw_counter_some_new_counter_total')
  t.equal(value(p, 'hafw_counter_some_new_counter_total'), 7, 'a counter nobody mapped gets a metric of its own')
  t.notOk(p.types.has('hafw_runtime_counter_total'), 'no generic counter family')
  for (const x of p.samples) {
    t.notOk('name' in x.labels, `${x.name}: no "name" label`)
    for (const [k, v] of Object.entries(x.labels)) {
      if (/^(rx|sync|ct|effect|track|reload|command|vip|transition|role)\./.test(v)) t.fail(`${x.name}{${k}="${v}"}: a counter name in a label value`)
    }
  }
})

t.test('GET /metrics: conntrack caches, FTFW sync, bulk and commit', async t => {
  const p = await scrape(await serve(t, new FakeSource(fullStatus())))
  t.equal(value(p, 'hafw_conntrack_cache_entries', { cache: 'internal' }), 120)
  t.equal(value(p, 'hafw_conntrack_cache_entries', { cache: 'external' }), 80)
  t.equal(value(p, 'hafw_conntrack_cache_events_total', { cache: 'internal', kind: 'updated' }), 900)
  t.equal(value(p, 'hafw_conntrack_cache_events_total', { cache: 'internal', kind: 'stale' }), 2)
  t.equal(value(p, 'hafw_conntrack_cache_events_total', { cache: 'external', kind: 'created' }), 81)
  t.equal(find(p, 'hafw_conntrack_cache_events_total').length, 16, '8 kinds × 2 caches, zeros included')
  t.equal(value(p, 'hafw_conntrack_cache_filtered_total', { cache: 'internal', reason: 'address' }), 5)
  t.equal(value(p, 'hafw_conntrack_cache_filtered_total', { cache: 'internal', reason: 'tcpState' }), 0)

  t.equal(value(p, 'hafw_sync_messages_total', { direction: 'tx', type: 'data' }), 140)
  t.equal(value(p, 'hafw_sync_messages_total', { direction: 'rx', type: 'ack' }), 12)
  t.equal(value(p, 'hafw_sync_messages_total', { direction: 'rx', type: 'alive' }), 4)
  t.equal(find(p, 'hafw_sync_messages_total').length, 10, '5 types × 2 directions')
  t.equal(value(p, 'hafw_sync_hello_flags_total', { flag: 'helloBack' }), 1)
  t.equal(value(p, 'hafw_sync_datagrams_total', { direction: 'rx' }), 30)
  t.equal(value(p, 'hafw_sync_tx_bytes_total'), 9000)
  t.equal(value(p, 'hafw_sync_retransmits_total'), 6)
  t.equal(value(p, 'hafw_sync_gaps_total'), 2)
  t.equal(value(p, 'hafw_sync_lost_messages_total'), 5)
  t.equal(value(p, 'hafw_sync_peer_restarts_total'), 1)
  t.equal(value(p, 'hafw_sync_local_changes_total'), 150)
  t.equal(value(p, 'hafw_sync_coalesced_total'), 10)
  t.equal(value(p, 'hafw_sync_delivered_total'), 95)
  t.equal(value(p, 'hafw_sync_resend_queue_events_total', { event: 'nackRequeued' }), 6)
  // FTFW/codec reasons from the snapshot and the runtime's entry-mapping reasons, in one metric.
  t.equal(value(p, 'hafw_sync_drops_total', { reason: 'CTD_TRUNCATED' }), 3)
  t.equal(value(p, 'hafw_sync_drops_total', { reason: 'staleSeq' }), 1)
  t.equal(value(p, 'hafw_sync_drops_total', { reason: 'CTMAP_NO_ADDRESS' }), 4)
  t.equal(value(p, 'hafw_sync_drops_total', { reason: 'resendQueueFull' }), 0, 'every FTFW reason is exported, zeros included')
  t.equal(value(p, 'hafw_sync_queue_length', { queue: 'resend' }), 40)
  t.equal(value(p, 'hafw_sync_queue_length', { queue: 'nacks' }), 1)
  t.same(find(p, 'hafw_sync_hello_state').map(s => [s.labels.state, s.value]).sort(), [['done', 1], ['init', 0], ['say', 0]])
  t.equal(value(p, 'hafw_sync_resync_deferred'), 0)

  t.same(find(p, 'hafw_conntrack_bulk_state').map(s => [s.labels.state, s.value]).sort(), [['done', 1], ['none', 0], ['receiving', 0], ['requested', 0]])
  t.equal(value(p, 'hafw_conntrack_commit_running'), 0)
  t.equal(value(p, 'hafw_conntrack_purge_pending'), 0)
  t.equal(value(p, 'hafw_sync_peer_up'), 1, 'the fixture\'s peer is heard')
  t.equal(value(p, 'hafw_conntrack_commit_duration_seconds'), 0.25)
  t.equal(value(p, 'hafw_conntrack_commit_entries', { outcome: 'total' }), 80)
  t.equal(value(p, 'hafw_conntrack_commit_entries', { outcome: 'ok' }), 79)
  t.equal(value(p, 'hafw_conntrack_commit_entries', { outcome: 'failed' }), 1)
  t.equal(value(p, 'hafw_conntrack_commit_within_budget'), 1)
})

t.test('process metrics under their standard names on the private registry; the global registry stays empty', async t => {
  const p = await scrape(await serve(t, new FakeSource(fullStatus())))
  t.equal(p.types.get('process_cpu_user_seconds_total'), 'counter')
  t.equal(p.types.get('process_resident_memory_bytes'), 'gauge')
  t.equal(p.types.get('process_start_time_seconds'), 'gauge')
  t.equal(p.types.get('nodejs_eventloop_lag_seconds'), 'gauge')
  t.equal(p.types.get('nodejs_gc_duration_seconds'), 'histogram')
  t.same([...p.types.keys()].filter(n => !/^(hafw|process|nodejs)_/.test(n)), [], 'hafw_, and the standard process_/nodejs_ names')
  t.notOk([...p.types.keys()].some(n => n.startsWith('hafw_process_') || n.startsWith('hafw_nodejs_')), 'no prefix on the process metrics')
  t.equal(globalRegistry.getMetricsAsArray().length, 0, 'nothing registered on prom-client\'s global registry')
  const bare = await scrape(await serve(t, new FakeSource(fullStatus()), { processMetrics: false }))
  t.notOk(bare.types.has('process_cpu_user_seconds_total'), 'process metrics can be left out')
  t.ok(bare.types.has('hafw_vrrp_state'))
})

t.test('without conntrack, and before the first commit, those series are absent (not 0)', async t => {
  const { node, now } = allBackup()
  const source = new FakeSource(statusFrom(node, now, { counters: { 'rx.frames': 3, 'ct.commit.done': 1 } }))
  const srv = await serve(t, source)
  let p = await scrape(srv)
  for (const name of [...p.types.keys()]) t.notMatch(name, /^hafw_(conntrack|sync_(?!group))/, `${name} is not a conntrack metric`)
  t.same(find(p, 'hafw_node_role'), [], 'no role in the status: no role series')
  t.same(p.samples.filter(x => /ct_commit|commits/.test(x.name)), [], 'a ct counter left by an earlier config is absent with the module, like its family')
  const backup = find(p, 'hafw_vrrp_state', { state: 'backup' })
  t.same(backup.map(r => [r.labels.router, r.value]), source.current.routers.map(r => [r.id, 1]), 'every router is backup, one series each')
  t.same(find(p, 'hafw_vrrp_last_transition_timestamp_seconds').length, 3)

  // The conntrack module runs, no commit yet: the last-commit gauges stay absent.
  source.current = { ...source.current, conntrack: conntrackStatus({ lastCommit: null, bulk: 'receiving', commit: { total: 10, ok: 4, exists: 0, replaced: 0, updatedInPlace: 0, failed: 0, remaining: 6, inFlight: 0, queued: 0, batches: 1, done: false, running: true } as unknown as ConntrackStatus['commit'] }) }
  p = await scrape(srv)
  t.equal(value(p, 'hafw_conntrack_cache_entries', { cache: 'internal' }), 120)
  t.equal(value(p, 'hafw_conntrack_bulk_state', { state: 'receiving' }), 1)
  t.equal(value(p, 'hafw_conntrack_commit_running'), 1)
  t.notOk(p.types.has('hafw_conntrack_commit_duration_seconds'))
  t.notOk(p.types.has('hafw_conntrack_commit_entries'))
  t.notOk(p.types.has('hafw_conntrack_commit_within_budget'))
  t.equal(value(p, 'hafw_conntrack_commits_total'), 1)
  t.same(p.samples.filter(x => x.name.startsWith('hafw_counter_')), [], 'no fallback series for it')

  // And back: conntrack off again (a reload), the series go away again.
  source.current = { ...source.current, conntrack: undefined }
  p = await scrape(srv)
  t.notOk(p.types.has('hafw_conntrack_cache_entries'))
  t.notOk(p.types.has('hafw_sync_messages_total'))
  // A conntrack value that is not a ConntrackStatus is ignored rather than crashing the scrape.
  source.current = { ...source.current, conntrack: { internal: 3 } }
  p = await scrape(srv)
  t.notOk(p.types.has('hafw_conntrack_cache_entries'))
})

t.test('every scrape takes a new snapshot; series of vanished routers and faults go away', async t => {
  const source = new FakeSource(fullStatus())
  const srv = await serve(t, source)
  let p = await scrape(srv)
  t.equal(find(p, 'hafw_vrrp_state', { router: 'VI_MGMT/ipv4' }).length, 4)
  const calls = source.calls

  source.current = withRouter({ ...source.current, routers: source.current.routers.filter(r => r.id !== 'VI_MGMT/ipv4') }, 'VI_OUT/ipv4', r => ({
    ...r,
    state: 'fault',
    interfaceUp: false,
    faults: ['interface', 'track:chk_fw'],
    counters: { ...r.counters, transitions: r.counters.transitions + 1, drops: { ...r.counters.drops, inFault: 9 } }
  }))
  p = await scrape(srv)
  t.equal(source.calls, calls + 1, 'one status() call per scrape')
  t.same(find(p, 'hafw_vrrp_state', { router: 'VI_MGMT/ipv4' }), [], 'a removed router has no series left')
  t.same(find(p, 'hafw_vrrp_transitions_total', { router: 'VI_MGMT/ipv4' }), [])
  t.equal(value(p, 'hafw_vrrp_state', { router: 'VI_OUT/ipv4', state: 'fault' }), 1)
  t.equal(value(p, 'hafw_vrrp_state', { router: 'VI_OUT/ipv4', state: 'master' }), 0)
  t.equal(value(p, 'hafw_vrrp_interface_up', { router: 'VI_OUT/ipv4' }), 0)
  t.same(find(p, 'hafw_vrrp_fault', { router: 'VI_OUT/ipv4' }).map(s => [s.labels.fault, s.value]).sort(), [['interface', 1], ['track:chk_fw', 1]])
  t.equal(value(p, 'hafw_vrrp_drops_total', { router: 'VI_OUT/ipv4', reason: 'inFault' }), 9)
  t.equal(value(p, 'hafw_vrrp_drops_total', { router: 'VI_OUT/ipv4', reason: 'ownAdvert' }), 2, 'counters are set to the snapshot, not added up across scrapes')
})

t.test('tracking: hafw_vrrp_track_up / _track_priority per object, other offsets; gone when the track goes', async t => {
  const source = new FakeSource(fullStatus())
  const srv = await serve(t, source)
  source.current = withRouter(source.current, 'VI_OUT/ipv4', r => ({
    ...r,
    effectivePriority: 25,
    track: [
      { name: 'if:eth2', kind: 'interface', weight: -60, up: false, value: null, contribution: -60, fault: false },
      { name: 'file:/run/prio', kind: 'file', weight: -5, up: null, value: 3, contribution: -15, fault: false }
    ],
    offsets: { bulkSync: -250 }
  }))
  let p = await scrape(srv)
  t.equal(value(p, 'hafw_vrrp_track_up', { router: 'VI_OUT/ipv4', track: 'if:eth2', kind: 'interface', interface: 'eth0', vrid: '51', family: 'ipv4' }), 0)
  t.equal(value(p, 'hafw_vrrp_track_priority', { router: 'VI_OUT/ipv4', track: 'if:eth2' }), -60)
  t.equal(value(p, 'hafw_vrrp_track_priority', { router: 'VI_OUT/ipv4', track: 'file:/run/prio', kind: 'file' }), -15)
  t.same(find(p, 'hafw_vrrp_track_up', { track: 'file:/run/prio' }), [], 'a weighted file has a value, not up/down')
  t.equal(value(p, 'hafw_vrrp_priority_offset', { router: 'VI_OUT/ipv4', source: 'bulkSync' }), -250)
  t.equal(value(p, 'hafw_vrrp_priority', { router: 'VI_OUT/ipv4', kind: 'effective' }), 25)
  source.current = withRouter(source.current, 'VI_OUT/ipv4', r => ({ ...r, track: [], offsets: {} }))
  p = await scrape(srv)
  t.same(find(p, 'hafw_vrrp_track_up'), [], 'a removed track has no series left')
  t.same(find(p, 'hafw_vrrp_priority_offset'), [])
})

t.test('label values are escaped (quote, backslash, newline) and parse back', async t => {
  const status = { ...fullStatus(), node: 'fw"1\\a\nb', version: '1.0.0-rc.1' }
  const p = await scrape(await serve(t, new FakeSource(status)))
  t.equal(find(p, 'hafw_info')[0]?.labels.node, 'fw"1\\a\nb')
})

t.test('overlapping scrapes each render one consistent snapshot', async t => {
  let n = 0
  const base = fullStatus()
  const source: StatusSource = {
    status: () => { n++; return { ...base, uptimeMs: n * 1000, counters: { 'rx.frames': n } } },
    counters: () => ({}),
    onEvent: () => () => {}
  }
  const srv = await serve(t, source, { processMetrics: false })
  const all = await Promise.all(Array.from({ length: 20 }, async () => await scrape(srv)))
  const seen = new Set<number>()
  for (const p of all) {
    const frames = value(p, 'hafw_rx_frames_total')
    t.equal(value(p, 'hafw_uptime_seconds'), frames, 'uptime and rx.frames come from the same snapshot')
    seen.add(frames)
  }
  t.equal(seen.size, 20, 'each scrape took its own snapshot')
})

t.test('/healthz, HEAD, query strings, 404 and 405', async t => {
  const srv = await serve(t, new FakeSource(fullStatus()))
  const h = await scrapeText(srv, '/healthz')
  t.equal(h.status, 200)
  t.equal(h.body, 'ok')
  t.equal((await scrapeText(srv, '/metrics?name[]=hafw_vrrp_state')).status, 200, 'a query string is ignored')
  const head = await scrapeText(srv, '/metrics', 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.body, '')
  for (const path of ['/', '/metrics/', '/metricsx', '/favicon.ico', '/healthz/x', '/Metrics']) {
    t.equal((await scrapeText(srv, path)).status, 404, `GET ${path}`)
  }
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await scrapeText(srv, '/metrics', method)
    t.equal(r.status, 405, `${method} /metrics`)
    t.equal(r.headers.get('allow'), 'GET, HEAD')
  }
  t.equal((await scrapeText(srv, '/nothing', 'POST')).status, 404)
})

t.test('a failing snapshot is a 500 (logged); the endpoint keeps serving', async t => {
  const lines: string[] = []
  const log = pino({ level: 'info' }, new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } }))
  const source = new FakeSource(fullStatus(), true)
  const srv = await serve(t, source, { log })
  const r = await scrapeText(srv)
  t.equal(r.status, 500)
  t.notMatch(r.body, /hafw_/, 'no partial exposition')
  t.ok(lines.some(l => l.includes('metrics scrape failed') && l.includes('snapshot exploded')), 'the error is logged')
  t.ok(lines.some(l => l.includes('metrics endpoint listening')), 'the listening address is logged')
  t.equal((await scrapeText(srv, '/healthz')).status, 200)
  source.fail = false
  t.equal(value(await scrape(srv), 'hafw_rx_frames_total'), 42)
})

t.test('any configured address is accepted; a non-loopback one is logged as a warning', async t => {
  const source = new FakeSource(fullStatus())
  const lines: Array<{ level: number, msg: string, address?: string }> = []
  const log = pino({ level: 'info' }, new Writable({ write (chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as { level: number, msg: string }); cb() } }))
  // The wildcard address, only for the time of one request over loopback.
  const any = await startMetricsServer({ listen: { host: '0.0.0.0', port: 0, family: 'ipv4' }, source, log, processMetrics: false })
  t.teardown(async () => { await any.close() })
  t.equal(any.address.address, '0.0.0.0')
  const r = await fetch(`http://127.0.0.1:${any.address.port}/healthz`)
  t.equal(r.status, 200)
  await r.text()
  await any.close()
  t.match(lines.find(l => l.level === 40), { msg: /not a loopback address/, address: '0.0.0.0' }, 'warned')
  const quiet: unknown[] = []
  const ql = pino({ level: 'info' }, new Writable({ write (chunk: Buffer, _e, cb) { quiet.push(JSON.parse(chunk.toString())); cb() } }))
  await (await startMetricsServer({ listen: LOOPBACK, source, log: ql, processMetrics: false })).close()
  t.notOk(quiet.some(l => (l as { level: number }).level >= 40), 'no warning on loopback')
  await t.rejects(startMetricsServer({ listen: { ...LOOPBACK, port: 70000 }, source }), MetricsServerError)
  // Any address of 127.0.0.0/8, and ::1.
  const v6 = await serve(t, source, { processMetrics: false })
  t.equal(v6.address.family, 'IPv4')
  const six = await startMetricsServer({ listen: { host: '::1', port: 0, family: 'ipv6' }, source, processMetrics: false })
  t.teardown(async () => { await six.close() })
  t.equal(six.address.address, '::1')
  const res = await fetch(`http://[::1]:${six.address.port}/healthz`)
  t.equal(res.status, 200)
  await res.text()
})

t.test('a port in use is a MetricsServerError; close is idempotent and frees the port', async t => {
  const source = new FakeSource(fullStatus())
  const a = await startMetricsServer({ listen: LOOPBACK, source, processMetrics: false })
  await t.rejects(startMetricsServer({ listen: { ...LOOPBACK, port: a.address.port }, source }), { name: 'MetricsServerError', message: /cannot listen/ })
  // A keep-alive connection does not hold close() up.
  await (await fetch(`http://127.0.0.1:${a.address.port}/healthz`)).text()
  await a.close()
  await a.close()
  await t.rejects(fetch(`http://127.0.0.1:${a.address.port}/healthz`), 'nothing listens after close')
  const b = await startMetricsServer({ listen: { ...LOOPBACK, port: a.address.port }, source, processMetrics: false })
  t.equal(b.address.port, a.address.port, 'the port can be bound again')
  await b.close()
})

t.test('two collectors do not share state', async t => {
  const a = createMetricsCollector(new FakeSource(fullStatus()), { processMetrics: false })
  const { node, now } = allBackup()
  const b = createMetricsCollector(new FakeSource(statusFrom(node, now)), { processMetrics: false })
  const pa = parseExposition(await a.scrape())
  const pb = parseExposition(await b.scrape())
  t.equal(value(pa, 'hafw_vrrp_state', { router: 'VI_IN/ipv4', state: 'master' }), 1)
  t.equal(value(pb, 'hafw_vrrp_state', { router: 'VI_IN/ipv4', state: 'master' }), 0)
  t.equal(value(pb, 'hafw_rx_frames_total'), 10)
  t.equal(value(pa, 'hafw_rx_frames_total'), 42)
})

t.test('the text-format checker itself rejects bad input', async t => {
  t.throws(() => parseExposition('hafw_x 1\n'), /no TYPE/)
  t.throws(() => parseExposition('# TYPE hafw_x gauge\nhafw_x{a="1} 1\n'), /not a sample/)
  t.throws(() => parseExposition('# TYPE hafw_x gauge\nhafw_x 1\nhafw_x 2\n'), /duplicate/)
  t.throws(() => parseExposition('# TYPE hafw_x gauge\nhafw_x one\n'), /not a sample/)
  t.throws(() => parseExposition('# TYPE hafw_x gauge\nhafw_x 1'), /newline/)
  t.same(parseExposition('# TYPE hafw_x gauge\nhafw_x{a="q\\"",b="\\\\"} +Inf\n').samples, [{ name: 'hafw_x', labels: { a: 'q"', b: '\\' }, value: Infinity }])
})
