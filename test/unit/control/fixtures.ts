// Status snapshots built by the real core (a node stepped through startup, adverts, timeouts),
// and a fake status source for server tests.
import { createNode, nodeDeadline, nodeSnapshot, stepNode } from '../../../src/core/node.js'
import type { NodeInput, NodeState } from '../../../src/core/node.js'
import type { Router } from '../../../src/core/vrrp/types.js'
import { routerConfig } from '../../helpers/netsim.js'
import type { ControlEvent, CtEntryView, Status } from '../../../src/control/protocol.js'
import type { CommandHandler, CommandOutcome, ReloadResult, StatsResult } from '../../../src/control/commands.js'
import type { EventListener, StatusSource } from '../../../src/control/source.js'

/** G_FW = {VI_OUT/ipv4, VI_IN/ipv4}; VI_MGMT/ipv4 in no group. */
export function pairNode (): NodeState {
  return createNode([
    routerConfig({ id: 'VI_OUT/ipv4', ifname: 'eth0', vrid: 51, primaryAddress: '198.51.100.2', vips: [{ address: '198.51.100.1', prefix: 24, family: 'ipv4' }], syncGroup: 'G_FW' }),
    routerConfig({ id: 'VI_IN/ipv4', ifname: 'eth1', vrid: 52, primaryAddress: '10.1.0.2', vips: [{ address: '10.1.0.1', prefix: 24, family: 'ipv4' }, { address: '10.9.0.1', prefix: 32, family: 'ipv4', dev: 'eth3' }], syncGroup: 'G_FW' }),
    routerConfig({ id: 'VI_MGMT/ipv4', ifname: 'eth2', vrid: 53, primaryAddress: '10.2.0.2', advertIntervalCs: 10, vips: [{ address: '10.2.0.1', prefix: 24, family: 'ipv4' }] })
  ], [{ name: 'G_FW', members: ['VI_OUT/ipv4', 'VI_IN/ipv4'] }])
}

export function step (node: NodeState, input: NodeInput, now: number): NodeState {
  return stepNode(node, input, now).node
}

export function statusFrom (node: NodeState, now: number, over: Partial<Status> = {}): Status {
  const snap = nodeSnapshot(node)
  return {
    node: 'fw1',
    pid: 4242,
    version: '0.1.0',
    uptimeMs: now,
    now,
    time: '2025-01-01T00:00:00.000Z',
    routers: snap.routers.map(r => ({ ...r, vips: (node.routers[r.id] as Router).config.vips.map(v => ({ address: v.address, prefix: v.prefix, dev: v.dev ?? null })) })),
    groups: snap.groups,
    counters: { 'rx.frames': 10 },
    ...over
  }
}

/** Every router started and Master (Master_Down_Timer fired with nobody else on the LAN). */
export function allMaster (): { node: NodeState, now: number } {
  let node = step(pairNode(), { kind: 'all', input: { kind: 'startup' } }, 0)
  let now = 0
  for (let i = 0; i < 1000 && Object.values(node.routers).some(r => r.state !== 'master'); i++) {
    now = nodeDeadline(node) ?? now
    node = step(node, { kind: 'timeout' }, now)
  }
  return { node, now }
}

/** Every router started and Backup, having heard a priority-200 master. */
export function allBackup (): { node: NodeState, now: number } {
  let node = step(pairNode(), { kind: 'all', input: { kind: 'startup' } }, 0)
  const src: Record<string, string> = { 'VI_OUT/ipv4': '198.51.100.3', 'VI_IN/ipv4': '10.1.0.3', 'VI_MGMT/ipv4': '10.2.0.3' }
  for (const id of node.order) {
    node = step(node, { kind: 'router', routerId: id, input: { kind: 'advert', src: src[id] as string, priority: 200, adverIntervalCs: id === 'VI_MGMT/ipv4' ? 10 : 100, addresses: [] } }, 500)
  }
  return { node, now: 1500 }
}

export class FakeSource implements StatusSource {
  private readonly listeners = new Set<EventListener>()
  calls = 0
  constructor (public current: Status, public fail = false) {}
  status (): Status {
    this.calls++
    if (this.fail) throw new Error('snapshot exploded')
    return this.current
  }

  counters (): Record<string, number> { return { ...this.current.counters } }
  onEvent (l: EventListener): () => void {
    this.listeners.add(l)
    return () => { this.listeners.delete(l) }
  }

  listenerCount (): number { return this.listeners.size }
  emit (e: ControlEvent): void { for (const l of this.listeners) l(e) }
}

/** A conntrack entry as the dump sends it. */
export function ctEntry (i: number, over: Partial<CtEntryView> = {}): CtEntryView {
  return {
    family: 'ipv4',
    proto: 6,
    orig: { src: '10.1.0.10', dst: '198.51.100.20', sport: 40000 + i, dport: 80 },
    reply: { src: '198.51.100.20', dst: '198.51.100.1', sport: 80, dport: 40000 + i },
    state: 'ESTABLISHED',
    timeout: 431999,
    nat: { src: { ip: '198.51.100.1' } },
    status: 'alive',
    activeSinceS: 12,
    idleS: 1,
    ...over
  }
}

/** A conntrack status as runtime/conntrack.ts builds it, plus the peer (runtime/commands.ts stats). */
export function ctStatus (over: Record<string, unknown> = {}): Record<string, unknown> {
  const counters = {
    localEvents: 10, coalesced: 0, txMessages: 40, txData: 30, txAck: 4, txNack: 1, txResync: 1, txAlive: 5, txRetransmits: 2, txDatagrams: 20, txBytes: 4000,
    rxDatagrams: 18, rxMessages: 35, rxData: 25, rxAck: 6, rxNack: 0, rxResync: 1, rxAlive: 3, rxHello: 1, rxHelloBack: 1, peerRestarts: 1, gaps: 1, lost: 2,
    ackReleased: 28, nackRequeued: 2, helloFlushed: 0, delivered: 25, drops: {}
  }
  return {
    internal: { name: 'internal', active: 50, created: 60, updated: 100, destroyed: 10, stale: 0, filtered: 4, filteredBy: {}, unknownDestroy: 0, purged: 0, flushed: 0 },
    external: { name: 'external', active: 48, created: 50, updated: 90, destroyed: 2, stale: 0, filtered: 0, filteredBy: {}, unknownDestroy: 0, purged: 0, flushed: 0 },
    sync: { nextSeq: 1700000040, hello: 'done', lastSeqReceived: 1700000123, txQueued: 0, resendQueued: 3, objectsQueued: 0, nacksOutstanding: 0, resyncDeferred: false, deadline: null, counters },
    bulk: 'done',
    commit: null,
    lastCommit: { entries: 48, ok: 48, failed: 0, ms: 3.25, withinBudget: true },
    purgePending: false,
    peer: { transport: 'udp', address: '192.168.100.2', local: '192.168.100.1', port: 3780, interface: 'eth2' },
    ...over
  }
}

/** A command handler that records its calls; `fail` makes the next call throw it. */
export class FakeCommands implements CommandHandler {
  calls: string[] = []
  maintenanceOn = false
  fail: Error | null = null
  entries: CtEntryView[] = []
  private check (call: string): void {
    this.calls.push(call)
    const f = this.fail
    if (f !== null) { this.fail = null; throw f }
  }

  async reload (opts?: { readonly dryRun?: boolean }): Promise<ReloadResult> {
    this.check(opts?.dryRun === true ? 'reload --dry-run' : 'reload')
    if (opts?.dryRun === true) {
      return {
        file: '/etc/hafw/hafw.yaml',
        changes: [{ id: 'VI_OUT/ipv4', change: 'inPlace' }, { id: 'VI_IN/ipv4', change: 'restart' }, { id: 'VI_X/ipv4', change: 'same' }],
        notes: [],
        routers: [
          { id: 'VI_OUT/ipv4', change: 'inPlace', restart: [], inPlace: ['virtualAddresses +192.0.2.9/24', 'track +script:chk (weight -30)'] },
          { id: 'VI_IN/ipv4', change: 'restart', restart: ['vrrp.instances.VI_IN.vrid'], inPlace: [] },
          { id: 'VI_X/ipv4', change: 'same', restart: [], inPlace: [] }
        ],
        dryRun: true
      }
    }
    return { file: '/etc/hafw/hafw.yaml', changes: [{ id: 'VI_OUT/ipv4', change: 'inPlace' }, { id: 'VI_IN/ipv4', change: 'same' }], notes: ['control: changed; takes effect when hafwd restarts'] }
  }

  async maintenance (on: boolean): Promise<{ on: boolean, changed: boolean }> {
    this.check(`maintenance ${on ? 'on' : 'off'}`)
    const changed = on !== this.maintenanceOn
    this.maintenanceOn = on
    return { on, changed }
  }

  async commit (waitMs: number): Promise<CommandOutcome> { this.check(`commit ${waitMs}`); return { message: 'committed 48 of 48 entries of the external cache in 3 ms', data: { running: false } } }
  async flush (caches: string): Promise<CommandOutcome> { this.check(`flush ${caches}`); return { message: `flushed ${caches}` } }
  async resync (): Promise<CommandOutcome> { this.check('resync'); return { message: 'resynced' } }
  async bulk (): Promise<CommandOutcome> { this.check('bulk'); return { message: 'bulk sent' } }
  async requestResync (): Promise<CommandOutcome> { this.check('requestResync'); return { message: 'resync requested from the peer' } }
  async dump (cache: 'internal' | 'external'): Promise<readonly CtEntryView[]> { this.check(`dump ${cache}`); return this.entries }
  stats (): StatsResult { this.check('stats'); return { conntrack: ctStatus(), counters: { 'sync.rx.drop.badChecksum': 2, 'ct.commit.done': 1 } } }
}
