/**
 * Opens the conntrack module's ports (ctnetlink, the sync channel) for a config model and builds
 * the ConntrackRuntime. Kept apart from daemon.ts so the VRRP-only daemon opens none of it.
 */
import type { Model } from '../config/normalize.js'
import { openCtnetlink } from '../io/ctnetlink.js'
import { openSyncUdp } from '../io/sync-udp.js'
import type { AddressInfo } from '../io/ports.js'
import type { FilterCidr } from '../core/conntrack/filter.js'
import { ConntrackRuntime } from './conntrack.js'
import type { Clock } from './clock.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

/** The node's own addresses as host prefixes: the sync filter ignores traffic to and from them. */
export function localCidrs (addrs: readonly AddressInfo[]): FilterCidr[] {
  return addrs.map(a => ({ address: a.address, prefix: a.family === 'ipv4' ? 32 : 128, family: a.family }))
}

export interface ConntrackWiring {
  readonly runtime: ConntrackRuntime
  close: () => Promise<void>
}

export async function openConntrack (model: Model, deps: {
  clock: Clock
  log: Logger
  counters: Counters
  addresses: readonly AddressInfo[]
  setDemotion: (offset: number) => void
}): Promise<ConntrackWiring | null> {
  const m = model.conntrack
  if (m === null) return null
  const ct = await openCtnetlink()
  let sync
  try {
    const s = m.sync
    sync = await openSyncUdp(s.transport === 'udp'
      ? { transport: 'udp', family: s.family, address: s.address, peer: s.peer, port: s.port, sndBuffer: s.sndBuffer, rcvBuffer: s.rcvBuffer }
      : { transport: 'multicast', group: s.group, port: s.port, interfaceAddress: s.interfaceAddress, sndBuffer: s.sndBuffer, rcvBuffer: s.rcvBuffer })
  } catch (err) {
    await ct.close()
    throw new Error(`conntrack.sync: cannot open the sync channel: ${err instanceof Error ? err.message : String(err)}`)
  }
  const runtime = new ConntrackRuntime({
    model: m,
    ct,
    sync,
    clock: deps.clock,
    log: deps.log,
    counters: deps.counters,
    unixSeconds: Math.floor(Date.now() / 1000),
    localAddresses: localCidrs(deps.addresses),
    setDemotion: deps.setDemotion
  })
  return {
    runtime,
    close: async () => {
      await runtime.close()
      await sync.close()
      await ct.close()
    }
  }
}
