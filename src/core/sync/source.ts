/**
 * Who may speak on the sync link: the source address check of every received datagram (issue 12).
 *
 * conntrackd reads whatever arrives on its sync socket (spec §1.1): one datagram from any host on
 * the link, or any host that can route to it, may carry NEW entries into the external cache (and
 * into the kernel at the next takeover) or a HELLO that resets the receive sequence. hafw checks
 * the source before the datagram is parsed, so a refused one touches no FTFW state at all:
 *
 *   unicast    the source must be the configured peer (`conntrack.sync.udp.peer`);
 *   multicast  the source must never be our own interface address (multicast loop is off, so our
 *              own address on a received datagram is forged), and, when `multicast.members` is
 *              given, must be one of them. Without that list any other address on the link passes.
 *
 * This does not stop a host that can forge the peer's source address: that is what the keyed MAC
 * (conntrack.sync.auth) is for. Pure: addresses are compared in canonical form (codec/ip.ts).
 */
import { canonicalIP } from '../../codec/ip.js'

export type SyncSourcePolicy =
  | { readonly kind: 'unicast', readonly peer: string }
  | { readonly kind: 'multicast', readonly own: string, readonly members: readonly string[] | null }

/** Why a datagram's source was refused; counted as `sync.rx.drop.<reason>`. */
export type SyncSourceReason = 'syncSourceNotPeer' | 'syncSourceNotMember' | 'syncSourceOwn' | 'syncSourceUnknown'

/** A policy with every address in canonical form (build once, check per datagram). */
export interface CompiledSourcePolicy {
  readonly kind: 'unicast' | 'multicast'
  readonly allowed: ReadonlySet<string> | null
  readonly own: string | null
}

function canon (text: string): string | null {
  // Node reports IPv6 link-local sources with their zone ("fe80::1%sync0"); the zone is not part of the address.
  const pct = text.indexOf('%')
  const bare = pct < 0 ? text : text.slice(0, pct)
  // An IPv4 peer seen through a dual-stack socket arrives as ::ffff:a.b.c.d.
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  return canonicalIP(v4 !== null ? v4[1] as string : bare)
}

export function compileSourcePolicy (p: SyncSourcePolicy): CompiledSourcePolicy {
  const must = (a: string): string => {
    const c = canon(a)
    if (c === null) throw new RangeError(`sync source: not an IP address: ${a}`)
    return c
  }
  if (p.kind === 'unicast') return { kind: 'unicast', allowed: new Set([must(p.peer)]), own: null }
  return { kind: 'multicast', allowed: p.members === null ? null : new Set(p.members.map(must)), own: must(p.own) }
}

/** null: the datagram may be parsed; otherwise why it is dropped. `from` undefined: the transport did not say. */
export function checkSyncSource (p: CompiledSourcePolicy, from: string | undefined): SyncSourceReason | null {
  if (from === undefined) return 'syncSourceUnknown'
  const a = canon(from)
  if (a === null) return 'syncSourceUnknown'
  if (p.kind === 'unicast') return p.allowed?.has(a) === true ? null : 'syncSourceNotPeer'
  if (a === p.own) return 'syncSourceOwn'
  if (p.allowed !== null && !p.allowed.has(a)) return 'syncSourceNotMember'
  return null
}
