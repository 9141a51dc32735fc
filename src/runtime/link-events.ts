/**
 * rtnetlink link and address events as the daemon answers them: interface state and tracked
 * interfaces go to the core; the node's addresses feed the conntrack filter (it ignores traffic
 * to and from them); a VIP removed behind our back while MASTER is put back, with the virtual
 * routes and rules the kernel dropped along with it.
 */
import type { AddressInfo, LinkEvent } from '../io/ports.js'
import type { FilterCidr } from '../core/conntrack/filter.js'
import { localCidrs } from './conntrack-wiring.js'
import type { Logger } from './log.js'
import type { Runner } from './runner.js'
import type { Counters } from './stats.js'
import type { VrrpIo } from './vrrp-io.js'
import type { RouterConfig } from '../core/vrrp/types.js'

export interface LinkEventContext {
  readonly runner: Runner
  readonly vrrp: VrrpIo
  readonly counters: Counters
  readonly log: Logger
  /** Interfaces some router tracks (changes with a reload). */
  readonly tracked: () => ReadonlySet<string>
  /** Last known up/down per interface: only changes are stepped. */
  readonly linkUp: Map<string, boolean>
  /** The node's addresses by `ifname/address`. */
  readonly addressList: Map<string, AddressInfo>
  readonly localAddressesChanged: (cidrs: FilterCidr[]) => void
  /**
   * Put a MASTER router's virtual routes and rules back after its VIP was restored: removing an
   * address makes the kernel drop the routes that use it (src, or a gateway in its prefix).
   */
  readonly restoreRoutes?: (config: RouterConfig) => Promise<void>
}

export function linkEventHandler (c: LinkEventContext): (ev: LinkEvent) => void {
  return (ev) => {
    if (ev.kind === 'link') {
      c.vrrp.linkChanged(ev.link)
      if (c.linkUp.get(ev.link.ifname) === ev.link.up) return
      c.linkUp.set(ev.link.ifname, ev.link.up)
      c.log.info({ ifname: ev.link.ifname, up: ev.link.up }, `link ${ev.link.ifname} ${ev.link.up ? 'up' : 'down'}`)
      void c.runner.dispatch({ kind: 'interface', ifname: ev.link.ifname, up: ev.link.up })
      if (c.tracked().has(ev.link.ifname)) void c.runner.dispatch({ kind: 'track', name: `if:${ev.link.ifname}`, up: ev.link.up })
    } else if (ev.kind === 'addressAdded') {
      c.addressList.set(`${ev.address.ifname}/${ev.address.address}`, ev.address)
      c.localAddressesChanged(localCidrs([...c.addressList.values()]))
    } else if (ev.kind === 'addressRemoved') {
      c.addressList.delete(`${ev.address.ifname}/${ev.address.address}`)
      c.localAddressesChanged(localCidrs([...c.addressList.values()]))
      restoreVip(c, ev.address)
    }
  }
}

/** A VIP of a MASTER router disappeared (someone ran `ip addr del`): put it back. */
function restoreVip (c: LinkEventContext, addr: AddressInfo): void {
  for (const r of Object.values(c.runner.state.routers)) {
    if (r.state !== 'master') continue
    const vip = r.config.vips.find(v => v.address === addr.address && (v.dev ?? r.config.ifname) === addr.ifname)
    if (vip === undefined) continue
    c.counters.inc('vip.restored')
    c.log.warn({ routerId: r.config.id, vip: vip.address }, 'a VIP was removed behind our back while MASTER: putting it back')
    const config = r.config
    c.vrrp.restoreVip(config.ifname, vip)
      .then(async () => { if ((config.routes?.length ?? 0) + (config.rules?.length ?? 0) > 0) await c.restoreRoutes?.(config) })
      .catch((e: unknown) => { c.log.error({ err: String(e) }, 'cannot restore VIP') })
  }
}
