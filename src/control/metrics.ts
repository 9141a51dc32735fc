/**
 * The Prometheus endpoint (issue 6). An HTTP listener on metrics.listen: loopback by default; any
 * other address is allowed (a Prometheus server usually scrapes from another host) and logged as a
 * warning, since the endpoint has no authentication (issue 11):
 *
 *   GET|HEAD /metrics   Prometheus text format 0.0.4
 *   GET|HEAD /healthz   200 "ok" (the process answers; no check of the routers)
 *   other method        405 on those two paths
 *   anything else       404
 *
 * Every scrape takes ONE status snapshot (StatusSource.status()) and sets all hafw metrics from it
 * before the registry is rendered, so the values of one scrape are consistent with each other and
 * nothing is kept between scrapes but prom-client's objects. Metric and label names are fixed
 * below; label values are the names the core uses (router ids, drop reasons, effect kinds, ...),
 * so a series can be matched with `hafwctl status` and the logs; metric names never appear in label
 * values (every runtime counter belongs to a family of its own, COUNTER_FAMILIES). Per-router
 * series carry router, interface, vrid and family, so alerts can name the VRRP router the way
 * keepalived's users know it. Series whose data does not exist
 * are absent, not 0: a router without a lastTransition has no timestamp, the conntrack metrics
 * appear only when the conntrack module runs, the last-commit gauges only after a commit.
 *
 * The registry is private to the server (never prom-client's global one), and the process
 * metrics (CPU, memory, event loop lag, GC, file descriptors) are added to it under their standard
 * names (process_*, nodejs_*), as every exporter does, so stock dashboards and alerts work.
 * A failing snapshot is a 500: Prometheus then marks the target down instead of storing stale values.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client'
import type { Metric } from 'prom-client'
import { isLoopback } from '../config/net.js'
import type { HostPort } from '../config/net.js'
import { ROUTER_STATES } from '../core/vrrp/types.js'
import { BULK_STATES } from '../core/sync/bulk.js'
import type { ConntrackStatus } from '../runtime/conntrack.js'
import type { Logger } from '../runtime/log.js'
import type { Status } from './protocol.js'
import type { StatusSource } from './source.js'

export const METRICS_PREFIX = 'hafw_'
export const METRICS_PATH = '/metrics'
export const HEALTH_PATH = '/healthz'

/** Sync group and node role states: the same four names as a VRRP router's (core/group, core/orchestrator.ts). */
const FOUR_STATES: readonly string[] = ROUTER_STATES
/** The labels of every per-router series: the router id, and what keepalived users call it by. */
const ROUTER_LABELS = ['router', 'interface', 'vrid', 'family'] as const
type RouterLabel = typeof ROUTER_LABELS[number]

/**
 * Runtime counters (runtime/stats.ts, `hafwctl counters`) that have no place in the status' own
 * structures, each mapped onto a metric family: the counter name's variable parts become labels.
 * The first match wins; `sync.*` and `ct.*` counters come from the conntrack worker (Counters.merge).
 */
interface CounterFamily { readonly re: RegExp, readonly name: string, readonly help: string, readonly labels: readonly string[], readonly fixed?: Readonly<Record<string, string>> }
const COUNTER_FAMILIES: readonly CounterFamily[] = [
  { re: /^reload\.(applied|invalid|refused)$/, name: 'reloads_total', help: 'Reloads (SIGHUP, hafwctl reload), by outcome: applied, invalid (the file), refused (does not fit the system).', labels: ['outcome'] },
  { re: /^command\.(.+)$/, name: 'commands_total', help: 'Control API commands received, by command.', labels: ['command'] },
  { re: /^maintenance\.(.+)$/, name: 'maintenance_changes_total', help: 'Maintenance mode switched, by the mode entered (on, off).', labels: ['mode'] },
  { re: /^track\.script\.(.+)\.([^.]+)$/, name: 'track_script_results_total', help: 'Track script runs, by script and result.', labels: ['script', 'result'] },
  { re: /^notify\.(ok|failed|timeout)$/, name: 'notify_hooks_total', help: 'Notify hooks run (keepalived notify_*), by result: ok (exit 0), failed (non-zero exit, signal, could not start), timeout (killed).', labels: ['result'] },
  { re: /^vip\.restored$/, name: 'vips_restored_total', help: 'VIPs found missing while master and added again.', labels: [] },
  { re: /^(route|rule)\.(added|alreadyPresent|deleted|alreadyAbsent|addFailed|delFailed)$/, name: 'virtual_route_changes_total', help: 'Virtual routes and rules added or removed (keepalived virtual_routes / virtual_rules), by kind (route, rule) and outcome (added, alreadyPresent, deleted, alreadyAbsent, addFailed, delFailed).', labels: ['kind', 'outcome'] },
  { re: /^executor\.advertPassedConntrack$/, name: 'adverts_passed_conntrack_total', help: 'Adverts-only plans run while a conntrack step was in progress (the adverts were not held behind it).', labels: [] },
  { re: /^executor\.advertPassedPlan$/, name: 'adverts_passed_plan_total', help: 'Adverts-only plans run while another plan (VIPs, GARP, routes) was in progress (the adverts were not held behind it).', labels: [] },
  { re: /^ct\.worker\.(.+)$/, name: 'conntrack_worker_events_total', help: 'Conntrack worker thread lifecycle events (failed, exited, restarted).', labels: ['event'] },
  { re: /^ct\.commit\.(budgetOnMain|overBudget|skippedRunning)$/, name: 'conntrack_commit_events_total', help: 'Commit events: budgetOnMain (the main thread stopped waiting), overBudget, skippedRunning (a commit was already running).', labels: ['event'] },
  { re: /^ct\.(internal|external)\.refused\.(.+)$/, name: 'conntrack_refused_total', help: 'Conntrack entries a cache refused, by cache and reason.', labels: ['cache', 'reason'] },
  { re: /^ct\.inject\.failed\.(.+)$/, name: 'conntrack_inject_failures_total', help: 'Direct kernel injections (DisableExternalCache) that failed, by reason.', labels: ['reason'] },
  { re: /^ct\.overrun$/, name: 'conntrack_netlink_overruns_total', help: 'ctnetlink event socket overruns (ENOBUFS), each followed by a resync from a dump.', labels: [] },
  { re: /^ct\.purge\.(.+)$/, name: 'conntrack_purge_events_total', help: 'Purge after PurgeTimeout: deleted entries, cancelled purges.', labels: ['event'] },
  { re: /^ct\.resync\.kernel$/, name: 'conntrack_kernel_resyncs_total', help: 'Internal cache resyncs from the kernel table (conntrackd -R, overruns).', labels: [] },
  { re: /^ct\.events\.(leaveFailed|rejoinFailed)$/, name: 'conntrack_new_group_failures_total', help: 'The kernel refused to let the event socket leave (leaveFailed: the takeover commit ran with its NEW events) or join again (rejoinFailed: retried at every step, then a resync) the NEW event group.', labels: ['op'] },
  { re: /^memory\.trim\.(released|failed)$/, name: 'memory_trims_total', help: 'Periodic malloc_trim calls that gave memory back to the kernel (released) or failed.', labels: ['outcome'] },
  { re: /^sync\.tx\.error$/, name: 'sync_tx_errors_total', help: 'Sync datagrams the socket refused to send.', labels: [] },
  { re: /^sync\.rx\.expectationIgnored$/, name: 'sync_expectations_ignored_total', help: 'Expectation messages from the peer ignored (hafw does not replicate expectations).', labels: [] },
  { re: /^sync\.rx\.drop\.(.+)$/, name: 'sync_drops_total', help: 'Sync messages dropped, by reason (codec, FTFW and entry mapping codes).', labels: ['reason'] },
  { re: /^sync\.rx\.bytes$/, name: 'sync_rx_bytes_total', help: 'Bytes of the sync datagrams received.', labels: [] }
]

/** Families that are conntrack metrics (present only while the module runs), set from their own branch. */
const CONNTRACK_FAMILIES: ReadonlySet<string> = new Set(['sync_drops_total', 'sync_rx_bytes_total'])

/** A counter name nobody mapped yet → a metric name of its own (never a label value). */
export function fallbackMetricName (counter: string): string {
  return `${METRICS_PREFIX}counter_${counter.replace(/[^a-zA-Z0-9_]/g, '_')}_total`
}

/** FTFW HELLO handshake, our side (core/sync/ftfw.ts HelloState). */
const HELLO_STATES = ['init', 'say', 'done'] as const

export class MetricsServerError extends Error {
  override readonly name = 'MetricsServerError'
}

// ---------------------------------------------------------------------------------------------
// Metric definitions
// ---------------------------------------------------------------------------------------------

/** Every hafw metric of one registry. Created per registry: nothing is shared between servers. */
function defineMetrics (reg: Registry) {
  const named: Array<{ name: string, metric: Metric }> = []
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> => {
    const metric = new Gauge<L>({ name: METRICS_PREFIX + name, help, labelNames, registers: [reg] })
    named.push({ name: METRICS_PREFIX + name, metric })
    return metric
  }
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> => {
    const metric = new Counter<L>({ name: METRICS_PREFIX + name, help, labelNames, registers: [reg] })
    named.push({ name: METRICS_PREFIX + name, metric })
    return metric
  }

  const node = {
    info: gauge('info', 'Always 1; the node name and the hafwd version as labels.', ['node', 'version']),
    uptime: gauge('uptime_seconds', 'Seconds since hafwd started (monotonic clock).'),
    role: gauge('node_role', 'The node\'s conntrack role (core/orchestrator.ts): 1 for the current role, 0 for the others.', ['role']),
    roleChanges: counter('node_role_changes_total', 'Times the node\'s role changed, by the role entered.', ['role']),
    loopDelay: gauge<'thread' | 'stat'>('event_loop_delay_seconds', 'How late each event loop runs its timers (thread vrrp: the advert timers; conntrack: the worker): ' +
      'recent_max (last 10 s window and the running one), recent_p99 (last window), worst (since start).', ['thread', 'stat'])
  }

  const vrrp = {
    info: gauge<RouterLabel | 'version' | 'sync_group'>('vrrp_router_info', 'Always 1; a VRRP router\'s configuration as labels.', [...ROUTER_LABELS, 'version', 'sync_group']),
    state: gauge<RouterLabel | 'state'>('vrrp_state', 'VRRP router state: 1 for the current state, 0 for the others (initialize, backup, master, fault).', [...ROUTER_LABELS, 'state']),
    priority: gauge<RouterLabel | 'kind'>('vrrp_priority', 'VRRP priority: configured, and effective (after tracking and demotion: what the adverts carry).', [...ROUTER_LABELS, 'kind']),
    advertInterval: gauge<RouterLabel | 'kind'>('vrrp_advert_interval_seconds', 'Advertisement interval: configured, and the master\'s (RFC 5798 Master_Adver_Interval).', [...ROUTER_LABELS, 'kind']),
    interfaceUp: gauge<RouterLabel>('vrrp_interface_up', '1 when the router\'s interface is up.', ROUTER_LABELS),
    fault: gauge<RouterLabel | 'fault'>('vrrp_fault', '1 for each fault holding the router in FAULT (absent when there is none).', [...ROUTER_LABELS, 'fault']),
    trackUp: gauge<RouterLabel | 'track' | 'kind'>('vrrp_track_up', '1 when a tracked interface, script or weight-0 file is up (OK), 0 when down.', [...ROUTER_LABELS, 'track', 'kind']),
    trackPriority: gauge<RouterLabel | 'track' | 'kind'>('vrrp_track_priority', 'What a tracked object adds to the configured priority now (keepalived weights; a weighted file: value × weight).', [...ROUTER_LABELS, 'track', 'kind']),
    priorityOffset: gauge<RouterLabel | 'source'>('vrrp_priority_offset', 'Other priority offsets in force (bulkSync demotion, maintenance).', [...ROUTER_LABELS, 'source']),
    lastTransition: gauge<RouterLabel>('vrrp_last_transition_timestamp_seconds', 'Wall-clock time of the router\'s last state change (absent before the first).', ROUTER_LABELS),
    transitions: counter<RouterLabel>('vrrp_transitions_total', 'VRRP state changes of the router.', ROUTER_LABELS),
    stateEntries: counter('vrrp_state_entries_total', 'VRRP state changes of all routers, by the state entered.', ['state']),
    adverts: counter<RouterLabel | 'direction'>('vrrp_adverts_total', 'VRRP advertisements received (accepted by the router) and sent.', [...ROUTER_LABELS, 'direction']),
    priorityZero: counter<RouterLabel | 'direction'>('vrrp_priority_zero_adverts_total', 'Priority 0 advertisements (a master resigning, RFC 5798 §6.4.3) received and sent.', [...ROUTER_LABELS, 'direction']),
    addressListMismatch: counter<RouterLabel>('vrrp_address_list_mismatch_total', 'Adverts whose address list differs from ours (RFC 5798 §7.1: logged, counted, accepted).', ROUTER_LABELS),
    groupReleases: counter<RouterLabel>('vrrp_group_release_total', 'Times a fellow sync-group member heard its master release (priority 0) and this backup cut its Master_Down_Timer to one advert interval + Skew_Time.', ROUTER_LABELS),
    drops: counter<RouterLabel | 'reason'>('vrrp_drops_total', 'Inputs the router ignored, by reason (core/vrrp RouterDropReason).', [...ROUTER_LABELS, 'reason'])
  }

  const group = {
    state: gauge('sync_group_state', 'Sync group state: 1 for the current state, 0 for the others.', ['group', 'state']),
    transitions: counter('sync_group_transitions_total', 'State changes of the sync group.', ['group'])
  }

  const runtime = {
    rxFrames: counter('rx_frames_total', 'VRRP frames read from the sockets.'),
    rxDrops: counter('rx_drops_total', 'VRRP frames dropped before reaching a router, by reason (codec and ingress checks).', ['reason']),
    effects: counter('effects_total', 'Effects executed, by kind and outcome (ok, failed, skipped).', ['kind', 'outcome']),
    // COUNTER_FAMILIES, by metric name; sync_drops_total is the conntrack one below.
    families: new Map(COUNTER_FAMILIES.filter(f => !CONNTRACK_FAMILIES.has(f.name)).map(f => [f.name, counter<string>(f.name, f.help, f.labels)]))
  }

  // Present only while the conntrack module runs.
  const ct = {
    entries: gauge('conntrack_cache_entries', 'Entries in the conntrack cache (internal: this node\'s kernel table; external: the peer\'s).', ['cache']),
    events: counter('conntrack_cache_events_total', 'Conntrack cache changes and refusals, by kind (created, updated, destroyed, stale, filtered, unknownDestroy, purged, flushed).', ['cache', 'kind']),
    filtered: counter('conntrack_cache_filtered_total', 'Kernel events and dump entries the filter ignored, by reason.', ['cache', 'reason']),
    bulkState: gauge('conntrack_bulk_state', 'Startup bulk resync from the peer: 1 for the current state, 0 for the others.', ['state']),
    commitRunning: gauge('conntrack_commit_running', '1 while a commit of the external cache is running.'),
    purgePending: gauge('conntrack_purge_pending', '1 while the purge after PurgeTimeout is scheduled.'),
    syncPeerUp: gauge('sync_peer_up', '1 while the sync peer is heard (a datagram passed the source/MAC checks within 3 ALIVE intervals), 0 when lost or not heard yet.'),
    commits: counter('conntrack_commits_total', 'Commits of the external cache into the kernel that finished.'),
    commitEntries: counter('conntrack_commit_entries_total', 'Entries committed into the kernel, by outcome (ok, failed).', ['outcome']),
    syncMessages: counter('sync_messages_total', 'FTFW messages, by direction and type (data, ack, nack, resync, alive).', ['direction', 'type']),
    syncFlags: counter('sync_hello_flags_total', 'FTFW messages received carrying the HELLO or HELLO_BACK flag.', ['flag']),
    syncDatagrams: counter('sync_datagrams_total', 'Sync UDP datagrams, by direction.', ['direction']),
    syncTxBytes: counter('sync_tx_bytes_total', 'Bytes of the sync datagrams sent.'),
    syncRxBytes: counter('sync_rx_bytes_total', 'Bytes of the sync datagrams received (the conntrack worker\'s sync.rx.bytes counter).'),
    syncRetransmits: counter('sync_retransmits_total', 'FTFW messages sent again after a NACK.'),
    syncGaps: counter('sync_gaps_total', 'Sequence gaps seen in the peer\'s messages (each one NACKed).'),
    syncLost: counter('sync_lost_messages_total', 'Messages the sequence gaps spanned (conntrackd msg_rcv_lost).'),
    syncPeerRestarts: counter('sync_peer_restarts_total', 'Peer (re)starts: a HELLO that opened a new handshake.'),
    syncLocalChanges: counter('sync_local_changes_total', 'Local conntrack changes queued for the peer.'),
    syncCoalesced: counter('sync_coalesced_total', 'Local changes merged into an object already queued.'),
    syncDelivered: counter('sync_delivered_total', 'Data messages from the peer decoded and applied to the external cache.'),
    syncResendQueue: counter('sync_resend_queue_events_total', 'Resend queue entries released by an ACK, re-queued by a NACK, flushed by a peer HELLO.', ['event']),
    syncDrops: counter('sync_drops_total', 'Sync messages dropped, by reason (codec, FTFW and entry mapping codes).', ['reason']),
    syncQueue: gauge('sync_queue_length', 'FTFW queues: tx (to send), resend (sent, not acknowledged), objects (queued cache entries), nacks (outstanding).', ['queue']),
    syncHello: gauge('sync_hello_state', 'Our side of the FTFW HELLO handshake: 1 for the current state, 0 for the others.', ['state']),
    syncResyncDeferred: gauge('sync_resync_deferred', '1 while a RESYNC request is deferred.')
  }

  // Present once a commit finished.
  const lastCommit = {
    duration: gauge('conntrack_commit_duration_seconds', 'Duration of the last commit of the external cache into the kernel.'),
    entries: gauge('conntrack_commit_entries', 'Entries of the last commit, by outcome (total, ok, failed).', ['outcome']),
    withinBudget: gauge('conntrack_commit_within_budget', '1 when the last commit finished within its budget (before the VIPs were added).')
  }

  const names = (o: Record<string, unknown>): Set<Metric> => new Set(Object.values(o) as Metric[])
  // The conntrack worker's families (conntrack_*, sync_*) come and go with the module, as `ct`.
  const ctSet = new Set([...names(ct), ...[...runtime.families].filter(([n]) => /^(conntrack|sync)_/.test(n)).map(([, c]) => c)])
  const lastCommitSet = names(lastCommit)
  return {
    node,
    vrrp,
    group,
    runtime,
    ct,
    lastCommit,
    all: named,
    conntrackMetrics: named.filter(n => ctSet.has(n.metric)),
    lastCommitMetrics: named.filter(n => lastCommitSet.has(n.metric))
  }
}

type Metrics = ReturnType<typeof defineMetrics>

// ---------------------------------------------------------------------------------------------
// Setting the metrics from one snapshot
// ---------------------------------------------------------------------------------------------

/** A counter value from the status; anything else (negative, NaN) is skipped, never thrown on. */
function countable (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0
}

function isRecord (x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

/** Status.conntrack is `unknown` on the wire type; the daemon fills it with runtime/conntrack.ts ConntrackStatus. */
function conntrackOf (x: unknown): ConntrackStatus | null {
  if (!isRecord(x) || !isRecord(x.internal) || !isRecord(x.external) || !isRecord(x.sync) || !isRecord(x.sync.counters)) return null
  return x as unknown as ConntrackStatus
}

/** Register or unregister a group of metrics, so that missing data is an absent series, not a 0. */
function present (reg: Registry, metrics: ReadonlyArray<{ name: string, metric: Metric }>, on: boolean): void {
  for (const { name, metric } of metrics) {
    const registered = reg.getSingleMetric(name) !== undefined
    if (on && !registered) reg.registerMetric(metric)
    else if (!on && registered) reg.removeSingleMetric(name)
  }
}

function oneHot<L extends string> (g: Gauge<L>, labels: Partial<Record<L, string>>, key: L, states: readonly string[], current: string | undefined): void {
  const all = current === undefined || states.includes(current) ? states : [...states, current]
  for (const s of all) g.set({ ...labels, [key]: s } as Partial<Record<L, string>>, s === current ? 1 : 0)
}

function inc<L extends string> (c: Counter<L>, labels: Partial<Record<L, string>>, v: unknown): void {
  if (countable(v)) c.inc(labels, v)
}

function setNodeAndRouters (m: Metrics, s: Status): void {
  m.node.info.set({ node: s.node, version: s.version }, 1)
  m.node.uptime.set(s.uptimeMs / 1000)
  for (const [thread, d] of Object.entries(s.loopDelay ?? {})) {
    if (d === null) continue
    m.node.loopDelay.set({ thread, stat: 'recent_max' }, d.recentMaxMs / 1000)
    m.node.loopDelay.set({ thread, stat: 'recent_p99' }, d.recentP99Ms / 1000)
    m.node.loopDelay.set({ thread, stat: 'worst' }, d.worstMs / 1000)
  }
  if (s.role !== undefined) oneHot(m.node.role, {}, 'role', FOUR_STATES, s.role)
  // Wall clock of the snapshot: `at` values are on the monotonic clock `now`, so a timestamp is `time - (now - at)`.
  const wallMs = Date.parse(s.time)
  for (const r of s.routers) {
    const router: Record<RouterLabel, string> = { router: r.id, interface: r.ifname, vrid: String(r.vrid), family: r.family }
    m.vrrp.info.set({ ...router, version: String(r.version), sync_group: r.syncGroup ?? '' }, 1)
    oneHot(m.vrrp.state, router, 'state', ROUTER_STATES, r.state)
    m.vrrp.priority.set({ ...router, kind: 'configured' }, r.configuredPriority)
    m.vrrp.priority.set({ ...router, kind: 'effective' }, r.effectivePriority)
    m.vrrp.advertInterval.set({ ...router, kind: 'configured' }, r.advertIntervalCs / 100)
    m.vrrp.advertInterval.set({ ...router, kind: 'master' }, r.masterAdverIntervalCs / 100)
    m.vrrp.interfaceUp.set(router, r.interfaceUp ? 1 : 0)
    for (const f of r.faults) m.vrrp.fault.set({ ...router, fault: f }, 1)
    for (const t of r.track ?? []) {
      if (t.up !== null) m.vrrp.trackUp.set({ ...router, track: t.name, kind: t.kind }, t.up ? 1 : 0)
      m.vrrp.trackPriority.set({ ...router, track: t.name, kind: t.kind }, t.contribution)
    }
    for (const [source, v] of Object.entries(r.offsets ?? {})) m.vrrp.priorityOffset.set({ ...router, source }, v)
    if (r.lastTransition !== null && Number.isFinite(wallMs)) {
      m.vrrp.lastTransition.set(router, (wallMs - (s.now - r.lastTransition.at)) / 1000)
    }
    const c = r.counters
    inc(m.vrrp.transitions, router, c.transitions)
    inc(m.vrrp.adverts, { ...router, direction: 'rx' }, c.advertsReceived)
    inc(m.vrrp.adverts, { ...router, direction: 'tx' }, c.advertsSent)
    inc(m.vrrp.priorityZero, { ...router, direction: 'rx' }, c.priorityZeroReceived)
    inc(m.vrrp.priorityZero, { ...router, direction: 'tx' }, c.priorityZeroSent)
    inc(m.vrrp.addressListMismatch, router, c.addressListMismatch)
    inc(m.vrrp.groupReleases, router, c.groupReleases)
    for (const [reason, v] of Object.entries(c.drops)) inc(m.vrrp.drops, { ...router, reason }, v)
  }
  for (const g of s.groups) {
    oneHot(m.group.state, { group: g.name }, 'state', FOUR_STATES, g.state)
    inc(m.group.transitions, { group: g.name }, g.transitions)
  }
}

/**
 * The runtime counters (runtime/stats.ts): each onto its metric family (the ones set from the
 * status' structures, then COUNTER_FAMILIES); a name nobody mapped gets a metric of its own
 * (fallbackMetricName), so that no counter is invisible to Prometheus and no metric name ends up
 * in a label value.
 */
function setRuntimeCounters (m: Metrics, counters: Readonly<Record<string, number>>, conntrackOn: boolean, fallback: (name: string) => Counter | null): void {
  for (const [name, v] of Object.entries(counters)) {
    let x: RegExpExecArray | null
    if (name === 'rx.frames') {
      if (countable(v)) m.runtime.rxFrames.inc(v)
    } else if ((x = /^rx\.drop\.(.+)$/.exec(name)) !== null) {
      inc(m.runtime.rxDrops, { reason: x[1] }, v)
    } else if ((x = /^effect\.(.+)\.(ok|failed|skipped)$/.exec(name)) !== null) {
      inc(m.runtime.effects, { kind: x[1], outcome: x[2] }, v)
    } else if ((x = /^transition\.(.+)$/.exec(name)) !== null) {
      inc(m.vrrp.stateEntries, { state: x[1] }, v)
    } else if ((x = /^role\.(.+)$/.exec(name)) !== null) {
      inc(m.node.roleChanges, { role: x[1] }, v)
    } else if (conntrackOn && (x = /^sync\.rx\.drop\.(.+)$/.exec(name)) !== null) {
      inc(m.ct.syncDrops, { reason: x[1] }, v)
    } else if (conntrackOn && name === 'sync.rx.bytes') {
      if (countable(v)) m.ct.syncRxBytes.inc(v)
    } else if (conntrackOn && name === 'ct.commit.done') {
      if (countable(v)) m.ct.commits.inc(v)
    } else if (conntrackOn && name === 'ct.commit.entries') {
      inc(m.ct.commitEntries, { outcome: 'ok' }, v)
    } else if (conntrackOn && name === 'ct.commit.failed') {
      inc(m.ct.commitEntries, { outcome: 'failed' }, v)
    } else if (!conntrackOn && /^(ct|sync)\./.test(name)) {
      // The conntrack worker's counters, left from a configuration with conntrack: their families
      // are absent with the module (a reload turned it off), like every conntrack series.
    } else {
      const fam = COUNTER_FAMILIES.find(f => f.re.test(name))
      const metric = fam === undefined ? undefined : m.runtime.families.get(fam.name)
      if (fam !== undefined && metric !== undefined) {
        const values = fam.re.exec(name) as RegExpExecArray
        inc(metric, Object.fromEntries(fam.labels.map((l, i) => [l, values[i + 1] as string])), v)
      } else if (fam === undefined) {
        const c = fallback(name)
        if (c !== null && countable(v)) c.inc(v)
      }
    }
  }
}

const CACHE_EVENT_KINDS = ['created', 'updated', 'destroyed', 'stale', 'filtered', 'unknownDestroy', 'purged', 'flushed'] as const

function setConntrack (m: Metrics, ct: ConntrackStatus): void {
  for (const [name, cache] of [['internal', ct.internal], ['external', ct.external]] as const) {
    if (countable(cache.active)) m.ct.entries.set({ cache: name }, cache.active)
    for (const kind of CACHE_EVENT_KINDS) inc(m.ct.events, { cache: name, kind }, cache[kind])
    for (const [reason, v] of Object.entries(cache.filteredBy ?? {})) inc(m.ct.filtered, { cache: name, reason }, v)
  }
  oneHot(m.ct.bulkState, {}, 'state', BULK_STATES, ct.bulk)
  m.ct.commitRunning.set(ct.commit?.running === true ? 1 : 0)
  m.ct.purgePending.set(ct.purgePending ? 1 : 0)
  m.ct.syncPeerUp.set(ct.liveness?.state === 'heard' ? 1 : 0)

  const sync = ct.sync
  const c = sync.counters
  for (const [type, tx, rx] of [['data', c.txData, c.rxData], ['ack', c.txAck, c.rxAck], ['nack', c.txNack, c.rxNack], ['resync', c.txResync, c.rxResync], ['alive', c.txAlive, c.rxAlive]] as const) {
    inc(m.ct.syncMessages, { direction: 'tx', type }, tx)
    inc(m.ct.syncMessages, { direction: 'rx', type }, rx)
  }
  inc(m.ct.syncFlags, { flag: 'hello' }, c.rxHello)
  inc(m.ct.syncFlags, { flag: 'helloBack' }, c.rxHelloBack)
  inc(m.ct.syncDatagrams, { direction: 'tx' }, c.txDatagrams)
  inc(m.ct.syncDatagrams, { direction: 'rx' }, c.rxDatagrams)
  if (countable(c.txBytes)) m.ct.syncTxBytes.inc(c.txBytes)
  if (countable(c.txRetransmits)) m.ct.syncRetransmits.inc(c.txRetransmits)
  if (countable(c.gaps)) m.ct.syncGaps.inc(c.gaps)
  if (countable(c.lost)) m.ct.syncLost.inc(c.lost)
  if (countable(c.peerRestarts)) m.ct.syncPeerRestarts.inc(c.peerRestarts)
  if (countable(c.localEvents)) m.ct.syncLocalChanges.inc(c.localEvents)
  if (countable(c.coalesced)) m.ct.syncCoalesced.inc(c.coalesced)
  if (countable(c.delivered)) m.ct.syncDelivered.inc(c.delivered)
  inc(m.ct.syncResendQueue, { event: 'ackReleased' }, c.ackReleased)
  inc(m.ct.syncResendQueue, { event: 'nackRequeued' }, c.nackRequeued)
  inc(m.ct.syncResendQueue, { event: 'helloFlushed' }, c.helloFlushed)
  // FTFW/codec reasons (CTD_*, staleSeq, ...) and the runtime's entry-mapping ones (CTMAP_*) are disjoint sets.
  for (const [reason, v] of Object.entries(c.drops ?? {})) inc(m.ct.syncDrops, { reason }, v)
  m.ct.syncQueue.set({ queue: 'tx' }, sync.txQueued)
  m.ct.syncQueue.set({ queue: 'resend' }, sync.resendQueued)
  m.ct.syncQueue.set({ queue: 'objects' }, sync.objectsQueued)
  m.ct.syncQueue.set({ queue: 'nacks' }, sync.nacksOutstanding)
  oneHot(m.ct.syncHello, {}, 'state', HELLO_STATES, sync.hello)
  m.ct.syncResyncDeferred.set(sync.resyncDeferred ? 1 : 0)

  const last = ct.lastCommit
  if (last !== null) {
    m.lastCommit.duration.set(last.ms / 1000)
    m.lastCommit.entries.set({ outcome: 'total' }, last.entries)
    m.lastCommit.entries.set({ outcome: 'ok' }, last.ok)
    m.lastCommit.entries.set({ outcome: 'failed' }, last.failed)
    m.lastCommit.withinBudget.set(last.withinBudget ? 1 : 0)
  }
}

export interface MetricsCollector {
  readonly registry: Registry
  /** Take one snapshot from the source and render every metric (Prometheus text format). Throws what the source throws. */
  scrape: () => Promise<string>
}

export interface MetricsCollectorOptions {
  /** Add the process metrics (prom-client collectDefaultMetrics: process_*, nodejs_*). Default true. */
  readonly processMetrics?: boolean
}

/** A private registry fed from `source` on every scrape. */
export function createMetricsCollector (source: StatusSource, opts: MetricsCollectorOptions = {}): MetricsCollector {
  const registry = new Registry()
  const m = defineMetrics(registry)
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry })
  // Counters of names no family maps (fallbackMetricName), made on first sight and kept.
  const extra = new Map<string, Counter>()
  const fallback = (name: string): Counter | null => {
    const metricName = fallbackMetricName(name)
    let c = extra.get(metricName)
    if (c === undefined) {
      if (registry.getSingleMetric(metricName) !== undefined) return null
      c = new Counter({ name: metricName, help: `Runtime counter ${name} (hafwctl counters).`, registers: [registry] })
      extra.set(metricName, c)
    }
    return c
  }
  const scrape = async (): Promise<string> => {
    const status = source.status()
    for (const { metric } of m.all) metric.reset()
    for (const c of extra.values()) c.reset()
    const ct = conntrackOf(status.conntrack)
    present(registry, m.conntrackMetrics, ct !== null)
    present(registry, m.lastCommitMetrics, ct?.lastCommit != null)
    setNodeAndRouters(m, status)
    setRuntimeCounters(m, status.counters, ct !== null, fallback)
    if (ct !== null) setConntrack(m, ct)
    // registry.metrics() reads every metric before its first await, so two overlapping scrapes
    // cannot mix their snapshots.
    return await registry.metrics()
  }
  return { registry, scrape }
}

// ---------------------------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------------------------

export interface MetricsServerOptions {
  /** Any address; loopback (127.0.0.0/8, ::1) is the default, others are logged as a warning. Port 0 picks a free port. */
  readonly listen: HostPort
  readonly source: StatusSource
  readonly log?: Logger
  /** See MetricsCollectorOptions. */
  readonly processMetrics?: boolean
}

export interface MetricsServer {
  /** The address actually bound. */
  readonly address: AddressInfo
  /** Stop listening and close every connection; idempotent. */
  close: () => Promise<void>
}

/** Only a scraper talks to this listener: small limits are plenty. */
const MAX_CONNECTIONS = 32
const HEADERS_TIMEOUT_MS = 5_000
const REQUEST_TIMEOUT_MS = 10_000

function reply (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...headers })
  res.end(body)
}

export async function startMetricsServer (opts: MetricsServerOptions): Promise<MetricsServer> {
  const log = opts.log ?? pino({ level: 'silent' })
  const { host, port } = opts.listen
  if (!isLoopback(host)) {
    log.warn({ address: host, port }, 'metrics.listen is not a loopback address: the metrics endpoint (no authentication) is reachable from the network; firewall it to the Prometheus servers')
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MetricsServerError(`metrics.listen port ${port} is not a TCP port`)
  const collector = createMetricsCollector(opts.source, { processMetrics: opts.processMetrics })

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?', 1)[0]
    if (path !== METRICS_PATH && path !== HEALTH_PATH) {
      reply(res, 404, 'not found: hafwd serves /metrics and /healthz\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' })
      return
    }
    if (path === HEALTH_PATH) {
      reply(res, 200, 'ok')
      return
    }
    collector.scrape().then(
      body => { reply(res, 200, body, { 'Content-Type': collector.registry.contentType }) },
      (err: unknown) => {
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'metrics scrape failed')
        reply(res, 500, 'hafwd could not take a status snapshot\n')
      }
    )
  }

  const server: Server = createServer(handle)
  server.maxConnections = MAX_CONNECTIONS
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = REQUEST_TIMEOUT_MS
  server.on('clientError', (_err, socket) => { socket.destroy() })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, () => { server.off('error', reject); resolve() })
    })
  } catch (err) {
    collector.registry.clear()
    throw new MetricsServerError(`cannot listen on metrics.listen ${host}:${port}: ${err instanceof Error ? err.message : String(err)}`)
  }
  const address = server.address() as AddressInfo
  log.info({ address: address.address, port: address.port }, 'metrics endpoint listening')

  let closing: Promise<void> | null = null
  return {
    address,
    close: async () => {
      closing ??= new Promise<void>(resolve => {
        server.close(() => { resolve() })
        server.closeAllConnections()
      }).then(() => { collector.registry.clear() })
      await closing
    }
  }
}
