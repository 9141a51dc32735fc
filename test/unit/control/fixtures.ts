// Status snapshots built by the real core (a node stepped through startup, adverts, timeouts),
// and a fake status source for server tests.
import { createNode, nodeDeadline, nodeSnapshot, stepNode } from '../../../src/core/node.js'
import type { NodeInput, NodeState } from '../../../src/core/node.js'
import type { Router } from '../../../src/core/vrrp/types.js'
import { routerConfig } from '../../helpers/netsim.js'
import type { ControlEvent, Status } from '../../../src/control/protocol.js'
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
