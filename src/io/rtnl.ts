/**
 * Links and addresses over rtnetlink (the `netlink` package).
 *
 * VIP add/remove is idempotent: EEXIST on add and EADDRNOTAVAIL on remove mean the address is
 * already where we want it. Events come from the RTNLGRP_LINK / IPV4_IFADDR / IPV6_IFADDR
 * groups; the package's parsed messages drop the NEW/DEL type, so events are parsed here from the
 * raw socket's messages, which keep it.
 */
// The rtnetlink part of the `netlink` package only: its index also loads the nl80211 (WiFi),
// genetlink and WireGuard modules (~0.5 MiB of heap, ~0.9 MiB of RSS, measured) that hafwd never uses.
import { createRtNetlink } from 'netlink/dist/rt/rt.js'
import type { RtNetlinkSocket } from 'netlink/dist/rt/rt.js'
import * as rt from 'netlink/dist/rt/structs.js'
import type { Vip } from '../core/effects.js'
import { formatIP, parseIP } from '../codec/ip.js'
import type { AddressInfo, Family, LinkControl, LinkEvent, LinkInfo } from './ports.js'

const AF_INET = 2
const AF_INET6 = 10
const RTM_NEWLINK = 16
const RTM_DELLINK = 17
const RTM_NEWADDR = 20
const RTM_DELADDR = 21
const NLM_F_EXCL = 0x200
const NLM_F_CREATE = 0x400

function macText (b: Buffer | undefined): string | null {
  if (b === undefined || b.length !== 6) return null
  return [...b].map(x => x.toString(16).padStart(2, '0')).join(':')
}

function toLink (m: rt.LinkMessage): LinkInfo | null {
  const index = m.data.index
  const ifname = m.attrs.ifname
  if (index === undefined || ifname === undefined) return null
  return { ifname, index, up: m.data.flags?.up === true && m.data.flags?.lowerUp === true, mac: macText(m.attrs.address) }
}

export class RtnlLinkControl implements LinkControl {
  private readonly sock: RtNetlinkSocket
  private readonly events: RtNetlinkSocket
  private readonly names = new Map<number, string>()
  private readonly handlers: Array<(e: LinkEvent) => void> = []

  constructor () {
    this.sock = createRtNetlink()
    this.events = createRtNetlink({ ref: false } as Parameters<typeof createRtNetlink>[0])
    this.events.addMembership('LINK')
    this.events.addMembership('IPV4_IFADDR')
    this.events.addMembership('IPV6_IFADDR')
    this.events.socket.on('message', (msgs) => {
      for (const m of msgs) this.onRaw(m.type, m.data)
    })
  }

  private onRaw (type: number, data: Buffer): void {
    let parsed: rt.Message
    try { parsed = rt.parseMessage(type, data) } catch { return }
    if (parsed.kind === 'link' && (type === RTM_NEWLINK || type === RTM_DELLINK)) {
      const link = toLink(parsed)
      if (link === null) return
      this.names.set(link.index, link.ifname)
      this.emit({ kind: 'link', link: type === RTM_DELLINK ? { ...link, up: false } : link })
    } else if (parsed.kind === 'address' && (type === RTM_NEWADDR || type === RTM_DELADDR)) {
      const address = this.toAddress(parsed)
      if (address === null) return
      this.emit({ kind: type === RTM_NEWADDR ? 'addressAdded' : 'addressRemoved', address })
    }
  }

  private emit (e: LinkEvent): void { for (const h of this.handlers) h(e) }

  private toAddress (m: rt.AddressMessage): AddressInfo | null {
    const bytes = m.attrs.local ?? m.attrs.address
    const index = m.data.index
    if (bytes === undefined || index === undefined) return null
    const family: Family = m.data.family === AF_INET6 ? 'ipv6' : 'ipv4'
    return {
      ifname: this.names.get(index) ?? `if${index}`,
      index,
      family,
      address: formatIP(bytes, 0, family),
      prefix: m.data.prefixlen ?? 0,
      scope: m.data.scope ?? 0
    }
  }

  async links (): Promise<LinkInfo[]> {
    const out: LinkInfo[] = []
    for (const m of await this.sock.getLinks()) {
      const l = toLink(m)
      if (l !== null) { this.names.set(l.index, l.ifname); out.push(l) }
    }
    return out
  }

  async addresses (): Promise<AddressInfo[]> {
    if (this.names.size === 0) await this.links()
    const out: AddressInfo[] = []
    for (const m of await this.sock.getAddresses()) {
      const a = this.toAddress(m)
      if (a !== null) out.push(a)
    }
    return out
  }

  private async indexOf (ifname: string): Promise<number> {
    for (const [i, n] of this.names) if (n === ifname) return i
    for (const l of await this.links()) if (l.ifname === ifname) return l.index
    throw new Error(`interface ${ifname} does not exist`)
  }

  async addVip (ifname: string, vip: Vip): Promise<void> {
    const dev = vip.dev ?? ifname
    const index = await this.indexOf(dev)
    const bytes = Buffer.from((parseIP(vip.address) as { bytes: Uint8Array }).bytes)
    const v6 = vip.family === 'ipv6'
    try {
      await this.sock.newAddress(
        { family: v6 ? AF_INET6 : AF_INET, prefixlen: vip.prefix, index, scope: 0, flags: v6 ? { nodad: true } : {} }, // nodad: a VIP is usable at once, no IPv6 DAD delay
        { local: bytes, address: bytes, ...(v6 ? { flags: { nodad: true } } : {}) },
        { flags: NLM_F_CREATE | NLM_F_EXCL })
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err
    }
  }

  async delVip (ifname: string, vip: Vip): Promise<void> {
    const dev = vip.dev ?? ifname
    const index = await this.indexOf(dev)
    const bytes = Buffer.from((parseIP(vip.address) as { bytes: Uint8Array }).bytes)
    try {
      await this.sock.delAddress(
        { family: vip.family === 'ipv6' ? AF_INET6 : AF_INET, prefixlen: vip.prefix, index },
        { local: bytes, address: bytes })
    } catch (err) {
      const e = errno(err)
      if (e !== 'EADDRNOTAVAIL' && e !== 'ENODEV') throw err
    }
  }

  onEvent (h: (e: LinkEvent) => void): void { this.handlers.push(h) }

  close (): void {
    this.sock.socket.close()
    this.events.socket.close()
  }
}

/** The netlink package rejects a NLMSG_ERROR reply with `Error('Request rejected: EEXIST')`. */
function errno (err: unknown): string | undefined {
  const m = err instanceof Error ? /Request rejected: (E[A-Z0-9]+)/.exec(err.message) : null
  return m?.[1]
}

