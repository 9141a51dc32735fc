/**
 * The VRRP side of the daemon's I/O: one raw socket per (interface, family) in use, the wiring of
 * the running assembly (which router sends from where, to whom), the VIPs over rtnetlink and the
 * announcements (GARP, unsolicited NA), and the named table of effect handlers the executor runs
 * for the VRRP effects. A reload swaps the wiring as a whole (adopt).
 */
import { createAnnouncer } from '../io/announcer.js'
import { openVrrpSocket } from '../io/vrrp-socket.js'
import type { Announcer, LinkControl, LinkInfo, VrrpFrame, VrrpTransport } from '../io/ports.js'
import type { Vip } from '../core/effects.js'
import type { Assembly } from './assemble.js'
import type { EffectHandlers } from './executor.js'
import type { Logger } from './log.js'
import { egress, indexRouters } from './vrrp-wire.js'
import type { RouterWire } from './vrrp-wire.js'

/** The VRRP effect kinds this module executes. */
export type VrrpHandlers = Required<Pick<EffectHandlers, 'sendAdvert' | 'vipAdd' | 'vipDel' | 'garp' | 'unsolicitedNa'>>

function transportKey (ifname: string, family: string): string { return `${ifname}/${family}` }

/** Every VIP gets its try; the failures are reported together. */
async function eachVip (vips: readonly Vip[], f: (v: Vip) => Promise<void>): Promise<void> {
  const errors: unknown[] = []
  for (const v of vips) await f(v).catch((e: unknown) => { errors.push(e) })
  if (errors.length > 0) throw new AggregateError(errors, errors.map(String).join('; '))
}

export class VrrpIo {
  private wires = new Map<string, RouterWire>()
  private primary = new Map<string, string>()
  private index = indexRouters([])
  private readonly transports = new Map<string, VrrpTransport>()
  /**
   * Link facts (index, MAC) for the NA sockets come from the start-up list and link events:
   * concurrent rtnetlink dumps on one socket confuse the netlink package.
   */
  private readonly linkByName: Map<string, LinkInfo>
  private readonly announcer: Announcer

  constructor (
    private readonly links: LinkControl,
    linkList: readonly LinkInfo[],
    private readonly onFrame: (frame: VrrpFrame) => void,
    private readonly log: Logger
  ) {
    this.linkByName = new Map(linkList.map(l => [l.ifname, l]))
    this.announcer = createAnnouncer({ router: true, link: async (ifname) => this.linkByName.get(ifname) })
  }

  /** The routers indexed for ingress (vrrp-wire.ts ingress). */
  get byIndex (): ReturnType<typeof indexRouters> { return this.index }

  /** Take the wiring of an assembly. `keepOld`: routers gone from it stay reachable until their last effects ran (reload). */
  adopt (a: Assembly, keepOld = false): void {
    const oldWires = this.wires
    const oldPrimary = this.primary
    this.wires = new Map(a.wires.map(w => [w.id, w]))
    this.primary = new Map(a.routers.map(r => [r.id, r.primaryAddress]))
    this.index = indexRouters(a.wires)
    if (!keepOld) return
    for (const [id, w] of oldWires) if (!this.wires.has(id)) this.wires.set(id, w)
    for (const [id, p] of oldPrimary) if (!this.primary.has(id)) this.primary.set(id, p)
  }

  /** Open the raw sockets an assembly needs and does not have yet. Throws when one cannot be opened. */
  openTransports (a: Assembly, known: readonly LinkInfo[]): void {
    for (const w of a.wires) {
      const key = transportKey(w.ifname, w.family)
      if (this.transports.has(key)) continue
      const link = known.find(l => l.ifname === w.ifname) as LinkInfo
      const multicast = a.wires.some(o => o.ifname === w.ifname && o.family === w.family && o.unicastPeers === null)
      const t = openVrrpSocket({ ifname: w.ifname, ifindex: link.index, family: w.family, multicast })
      t.onFrame(frame => { this.onFrame(frame) })
      if (!t.ipv6HopLimitChecked) this.log.warn({ ifname: w.ifname }, 'the vrrp6 addon is not built (npm ci builds it): IPv6 adverts are accepted without the RFC 5798 §7.1 hop-limit check')
      this.transports.set(key, t)
    }
  }

  /** A link event: keep the link facts the NA sockets need. */
  linkChanged (link: LinkInfo): void {
    this.linkByName.set(link.ifname, link)
  }

  /** The VIP of a router that is MASTER was removed by someone else: put it back. */
  async restoreVip (ifname: string, vip: Vip): Promise<void> {
    await this.links.addVip(ifname, vip)
  }

  handlers (): VrrpHandlers {
    return {
      sendAdvert: async (e) => {
        const w = this.wireOf(e.routerId)
        const t = this.transports.get(transportKey(w.ifname, w.family)) as VrrpTransport
        const src = this.primary.get(e.routerId) as string
        for (const p of egress(w, e.priority, src)) await t.send(p.payload, src, p.dst)
      },
      vipAdd: async (e) => { const w = this.wireOf(e.routerId); await eachVip(e.vips, async v => { await this.links.addVip(w.ifname, v) }) },
      vipDel: async (e) => {
        const w = this.wireOf(e.routerId)
        // A stopping master never GARPs after the peer took over.
        for (const v of e.vips) this.announcer.cancel(v.address)
        await eachVip(e.vips, async v => { await this.links.delVip(w.ifname, v) })
      },
      garp: async (e) => { const w = this.wireOf(e.routerId); await eachVip(e.vips, async v => { await this.announcer.garp(v.dev ?? w.ifname, v.address, e.count) }) },
      unsolicitedNa: async (e) => { const w = this.wireOf(e.routerId); await eachVip(e.vips, async v => { await this.announcer.unsolicitedNa(v.dev ?? w.ifname, v.address, e.count) }) }
    }
  }

  /** Close the sockets and the announcer (not the rtnetlink control: the daemon owns it). */
  close (): void {
    for (const t of this.transports.values()) t.close()
    this.announcer.close()
  }

  private wireOf (id: string): RouterWire {
    const w = this.wires.get(id)
    if (w === undefined) throw new Error(`no router ${id}`)
    return w
  }
}
