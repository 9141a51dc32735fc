/**
 * The Announcer port on real sockets and processes: GARP through arping, unsolicited NA on a
 * raw ICMPv6 socket per interface (opened on first use, since the interface's MAC is needed).
 */
import type { Announcer, LinkInfo } from './ports.js'
import { garpWithArping } from './arping.js'
import type { ArpingOptions } from './arping.js'
import { openNaSender } from './ndisc-socket.js'
import type { NaSender } from './ndisc-socket.js'

export interface AnnouncerOptions extends ArpingOptions {
  /** Look an interface up (index, MAC) when its NA socket is first needed. */
  readonly link: (ifname: string) => Promise<LinkInfo | undefined>
  /** Set the NA Router flag: true on a forwarding firewall (RFC 4861 §4.4). */
  readonly router: boolean
}

export function createAnnouncer (opts: AnnouncerOptions): Announcer {
  const naSenders = new Map<string, NaSender>()
  // Running GARP rounds by address: a VIP that is removed (or a daemon that stops) must not keep
  // announcing itself while the peer already owns it.
  const rounds = new Map<string, Set<AbortController>>()
  const naFor = async (ifname: string): Promise<NaSender> => {
    const open = naSenders.get(ifname)
    if (open !== undefined) return open
    const link = await opts.link(ifname)
    if (link === undefined || link.mac === null) throw new Error(`cannot send NA on ${ifname}: no such interface or no MAC address`)
    const sender = openNaSender(ifname, link.index, link.mac, opts.router)
    naSenders.set(ifname, sender)
    return sender
  }
  return {
    garp: async (ifname, address, count) => {
      const ac = new AbortController()
      const set = rounds.get(address) ?? new Set<AbortController>()
      rounds.set(address, set.add(ac))
      try {
        await garpWithArping(ifname, address, count, { ...opts, signal: ac.signal })
      } finally {
        set.delete(ac)
        if (set.size === 0) rounds.delete(address)
      }
    },
    unsolicitedNa: async (ifname, address, count) => { await (await naFor(ifname)).send(address, count) },
    cancel: (address) => { for (const ac of rounds.get(address) ?? []) ac.abort() },
    close: () => {
      for (const set of rounds.values()) for (const ac of set) ac.abort()
      for (const s of naSenders.values()) s.close()
      naSenders.clear()
    }
  }
}
