/**
 * The unicast source check (keepalived `check_unicast_src`; not in the RFCs, which know only the
 * multicast group). A router configured with unicast peers expects adverts from those peers
 * only; an advert from any other address on the LAN is dropped before it reaches the router,
 * so a stray or forged priority-254 advert cannot preempt the master (issue 12).
 *
 * This is defence against mistakes and casual spoofing on the segment, not authentication: the
 * IP source is not protected (see README "Threat model: VRRP and the control socket").
 *
 * Pure: the runtime's ingress (runtime/vrrp-wire.ts) asks, and counts a refusal as
 * `rx.drop.notUnicastPeer`.
 */
import { parseIP } from '../../codec/ip.js'

export interface UnicastSourcePolicy {
  /** Unicast peers of the router; null = multicast, where the check does not apply. */
  readonly unicastPeers: readonly string[] | null
  /** unicast.checkSource (default true with peers; false = keepalived's default behaviour). */
  readonly checkSource: boolean
}

export type SourceVerdict =
  | { readonly ok: true }
  | { readonly ok: false, readonly reason: 'notUnicastPeer' }

/** Byte-wise equality of two addresses, so `fe80::1` and `FE80:0::1` are the same peer. */
function sameAddress (a: string, b: string): boolean {
  const pa = parseIP(a)
  const pb = parseIP(b)
  if (pa === null || pb === null || pa.family !== pb.family) return false
  return pa.bytes.every((x, i) => x === pb.bytes[i])
}

/**
 * May an advert with IP source `src` reach a router with this policy? Multicast routers and
 * routers with the check off take every source (the TTL/hop-limit 255 check of RFC 5798 §7.1
 * has already run in the codec); unicast routers with the check on take only their peers.
 */
export function checkUnicastSource (src: string, policy: UnicastSourcePolicy): SourceVerdict {
  if (policy.unicastPeers === null || !policy.checkSource) return { ok: true }
  return policy.unicastPeers.some(p => sameAddress(p, src)) ? { ok: true } : { ok: false, reason: 'notUnicastPeer' }
}
