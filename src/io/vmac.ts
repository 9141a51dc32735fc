/**
 * keepalived use_vmac: one macvlan interface per VRRP router, carrying the RFC 5798 §7.3 virtual
 * router MAC (00-00-5E-00-01-{VRID}), so that after a failover the LAN keeps the same MAC for the
 * VIPs and only the switch port changes (learnt from the new master's GARP and adverts).
 *
 * Like keepalived (vrrp_vmac.c, vrrp_if_config.c):
 * - macvlan in mode private: VEPA (the default) filters received frames whose source MAC is the
 *   macvlan's own, which drops the peer's adverts (the peer sends with the same virtual MAC);
 * - on the macvlan: arp_ignore=1 (answer ARP only for its own addresses, never for the parent's),
 *   accept_local=1 (hear adverts of another router with our source), rp_filter=0 (receive on an
 *   interface that holds no address of the source's subnet);
 * - on the parent: arp_ignore=1 and arp_filter=1, so the parent never answers ARP for a VIP that
 *   lives on the macvlan with its own MAC. hafw adds arp_announce=2 on the parent (keepalived
 *   does not): a packet from a VIP that routes out of the parent (the parent's connected route
 *   comes first) would otherwise make the parent ask "who-has X tell VIP" with the parent's MAC,
 *   and every host it asks files the VIP under the wrong MAC. The parent's previous values are
 *   put back at stop.
 * net.ipv4.conf.all.{arp_ignore,rp_filter} are combined with these by the kernel (max): a host
 * with all.rp_filter=1 keeps filtering on the macvlan; the daemon logs the values it found.
 *
 * IPv6 (keepalived does the same): the macvlan gets no link-local address of its own
 * (addr_gen_mode=1, "none") — it would be fe80::200:5eff:fe00:2xx on both nodes, the same
 * address on one link — but the parent's link-local address, which is the advert source (RFC
 * 5798 §5.1.2.1) and now leaves from the macvlan. The kernel answers Neighbor Solicitations only
 * on the interface holding the target, so the parent needs no setting.
 *
 * An interface that already has the name and the virtual MAC (left by a killed hafwd) is reused;
 * any other interface of that name is refused, never deleted.
 */
import { readFile, writeFile } from 'node:fs/promises'
// The rtnetlink part of the `netlink` package only: its index also loads the nl80211 (WiFi),
// genetlink and WireGuard modules (~0.5 MiB of heap, ~0.9 MiB of RSS, measured) that hafwd never uses.
import { createRtNetlink } from 'netlink/dist/rt/rt.js'
import type { RtNetlinkSocket } from 'netlink/dist/rt/rt.js'

const AF_INET6 = 10
const NLM_F_EXCL = 0x200
const NLM_F_CREATE = 0x400
const IFLA_INFO_KIND = 1
const IFLA_INFO_DATA = 2
const IFLA_MACVLAN_MODE = 1
const MACVLAN_MODE_PRIVATE = 1

export interface VmacSpec {
  /** The macvlan's name (keepalived default vrrp.VRID). */
  readonly name: string
  /** Its lower (parent) interface: the instance interface. */
  readonly parent: string
  /** "00:00:5e:00:01:xx" (IPv4) or "00:00:5e:00:02:xx" (IPv6). */
  readonly mac: string
  readonly family: 'ipv4' | 'ipv6'
}

/** One netlink attribute: 4-byte header, payload, padded to 4. */
function nlattr (type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length
  const out = Buffer.alloc((len + 3) & ~3)
  out.writeUInt16LE(len, 0)
  out.writeUInt16LE(type, 2)
  payload.copy(out, 4)
  return out
}

function u32 (n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n, 0)
  return b
}

/** IFLA_LINKINFO payload for a private-mode macvlan. */
export function macvlanLinkInfo (): Buffer {
  return Buffer.concat([
    nlattr(IFLA_INFO_KIND, Buffer.from('macvlan\0')),
    nlattr(IFLA_INFO_DATA, nlattr(IFLA_MACVLAN_MODE, u32(MACVLAN_MODE_PRIVATE)))
  ])
}

function macBytes (mac: string): Buffer {
  return Buffer.from(mac.split(':').map(x => parseInt(x, 16)))
}

function sysctlPath (ifname: string, key: string): string {
  return `/proc/sys/net/ipv4/conf/${ifname}/${key}`
}

async function readSysctl (ifname: string, key: string): Promise<string | null> {
  try { return (await readFile(sysctlPath(ifname, key), 'utf8')).trim() } catch { return null }
}

async function writeSysctl (ifname: string, key: string, value: string): Promise<void> {
  await writeFile(sysctlPath(ifname, key), value)
}

/** Settings of keepalived's vrrp_if_config.c (module comment). */
const ON_VMAC: ReadonlyArray<readonly [string, string]> = [['arp_ignore', '1'], ['accept_local', '1'], ['rp_filter', '0']]
const ON_PARENT: ReadonlyArray<readonly [string, string]> = [['arp_ignore', '1'], ['arp_filter', '1'], ['arp_announce', '2']]

export class VmacControl {
  private readonly sock: RtNetlinkSocket
  /** Created (or reused) by us, in creation order. */
  private readonly made: VmacSpec[] = []
  /** Parent sysctls as found, restored at stop: "ifname/key" → value. */
  private readonly saved = new Map<string, string>()

  constructor () {
    this.sock = createRtNetlink()
  }

  private async links (): Promise<Map<string, { index: number, mac: string | null }>> {
    const out = new Map<string, { index: number, mac: string | null }>()
    for (const m of await this.sock.getLinks()) {
      const a = m.attrs.address
      if (m.attrs.ifname !== undefined && m.data.index !== undefined) {
        out.set(m.attrs.ifname, { index: m.data.index, mac: a === undefined ? null : [...a].map(x => x.toString(16).padStart(2, '0')).join(':') })
      }
    }
    return out
  }

  /** Create (or reuse) the macvlan, set its and its parent's sysctls, bring it up. Throws with the reason. */
  async create (spec: VmacSpec): Promise<'created' | 'reused'> {
    const links = await this.links()
    const parent = links.get(spec.parent)
    if (parent === undefined) throw new Error(`vmac ${spec.name}: interface ${spec.parent} does not exist`)
    const existing = links.get(spec.name)
    let outcome: 'created' | 'reused' = 'created'
    if (existing !== undefined) {
      if (existing.mac !== spec.mac) throw new Error(`vmac ${spec.name}: an interface of that name already exists with MAC ${existing.mac ?? 'none'}; hafwd does not touch it (choose another vmac name)`)
      outcome = 'reused'
    } else {
      await this.sock.newLink(
        { family: 0, index: 0 },
        { ifname: spec.name, address: macBytes(spec.mac), link: u32(parent.index), linkinfo: macvlanLinkInfo() },
        { flags: NLM_F_CREATE | NLM_F_EXCL })
    }
    this.made.push(spec)
    if (spec.family === 'ipv6') {
      await this.setupIPv6(spec, parent.index)
      return await this.up(spec, outcome)
    }
    for (const [k, v] of ON_PARENT) {
      const key = `${spec.parent}/${k}`
      if (!this.saved.has(key)) {
        const old = await readSysctl(spec.parent, k)
        if (old !== null) this.saved.set(key, old)
      }
      await writeSysctl(spec.parent, k, v)
    }
    for (const [k, v] of ON_VMAC) await writeSysctl(spec.name, k, v)
    return await this.up(spec, outcome)
  }

  private async up (spec: VmacSpec, outcome: 'created' | 'reused'): Promise<'created' | 'reused'> {
    const index = (await this.links()).get(spec.name)?.index
    if (index === undefined) throw new Error(`vmac ${spec.name}: created but not found`)
    await this.sock.setLink({ family: 0, index, flags: { up: true }, change: { up: true } })
    return outcome
  }

  /** Before the link goes up: no generated link-local; then the parent's link-local, without DAD. */
  private async setupIPv6 (spec: VmacSpec, parentIndex: number): Promise<void> {
    await writeFile(`/proc/sys/net/ipv6/conf/${spec.name}/addr_gen_mode`, '1')
    const ll = (await this.sock.getAddresses()).find(a => a.data.family === AF_INET6 && a.data.index === parentIndex && a.data.scope === 253)
    const bytes = ll?.attrs.address ?? ll?.attrs.local
    if (bytes === undefined) throw new Error(`vmac ${spec.name}: ${spec.parent} has no IPv6 link-local address to send adverts from`)
    const index = (await this.links()).get(spec.name)?.index
    if (index === undefined) throw new Error(`vmac ${spec.name}: created but not found`)
    try {
      await this.sock.newAddress(
        { family: AF_INET6, prefixlen: 64, index, scope: 253, flags: { nodad: true } },
        { local: bytes, address: bytes, flags: { nodad: true } },
        { flags: NLM_F_CREATE | NLM_F_EXCL })
    } catch (err) {
      if (!(err instanceof Error && /EEXIST/.test(err.message))) throw err
    }
  }

  /** Delete every macvlan we made and restore the parents' sysctls; errors are returned, not thrown. */
  async removeAll (): Promise<string[]> {
    const errors: string[] = []
    const links = await this.links().catch(() => new Map<string, { index: number, mac: string | null }>())
    for (const spec of this.made.reverse()) {
      const l = links.get(spec.name)
      if (l === undefined || l.mac !== spec.mac) continue
      await this.sock.delLink({ family: 0, index: l.index }).catch((e: unknown) => { errors.push(`${spec.name}: ${String(e)}`) })
    }
    this.made.length = 0
    for (const [key, value] of this.saved) {
      const [ifname, k] = key.split('/') as [string, string]
      await writeSysctl(ifname, k, value).catch((e: unknown) => { errors.push(`${key}: ${String(e)}`) })
    }
    this.saved.clear()
    return errors
  }

  close (): void {
    this.sock.socket.close()
  }
}

/** What the host-wide settings do to the macvlans (for a start-up warning); null when fine. */
export async function vmacHostWarning (): Promise<string | null> {
  const rp = await readSysctl('all', 'rp_filter')
  return rp !== null && rp !== '0' ? `net.ipv4.conf.all.rp_filter=${rp} overrides rp_filter=0 on the vmac interfaces (the kernel uses the maximum): adverts received there may be dropped` : null
}
