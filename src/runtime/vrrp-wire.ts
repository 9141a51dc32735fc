/**
 * VRRP on the wire for the runtime: received frames → router inputs, sendAdvert effects →
 * packets. Pure functions over the codec; the runner owns the sockets.
 *
 * Ingress does RFC 5798 §7.1 / RFC 3768 §7.1 receive checks in this order, each failure a named
 * drop counter (architecture decision 7):
 *   1. codec (src/codec/vrrp.ts order: length, version, type, TTL/hop limit, length vs count,
 *      checksum, addresses, auth type) → the CodecError code (`VRRP_BAD_TTL`, …);
 *   2. VRID configured on this interface and family        → `unknownVrid`;
 *   3. a unicast router with unicast.checkSource takes adverts from its peers only
 *      (core/vrrp/source-check.ts, keepalived check_unicast_src) → `notUnicastPeer`;
 *   4. version equal to the router's                        → `versionMismatch`;
 *   5. VRRPv2 authentication type and password match        → `authMismatch` (RFC 3768 §7.1).
 * What is left (interval match for v2, own adverts, priorities) is the core's.
 */
import { decodeAdvert, decodeIPv4Packet, encodeAdvert, VRRP_IPV4_GROUP, VRRP_IPV6_GROUP } from '../codec/vrrp.js'
import type { VrrpAdvert, VrrpAdvertInput } from '../codec/vrrp.js'
import { isCodecError } from '../codec/errors.js'
import type { AdvertInput } from '../core/vrrp/types.js'
import { checkUnicastSource } from '../core/vrrp/source-check.js'
import type { Vip } from '../core/effects.js'
import type { Family, VrrpFrame } from '../io/ports.js'

/** What the wire needs to know of one router. */
export interface RouterWire {
  readonly id: string
  readonly ifname: string
  readonly family: Family
  readonly vrid: number
  readonly version: 2 | 3
  readonly advertIntervalCs: number
  readonly vips: readonly Vip[]
  /** VRRPv2 PASS password, or null for no authentication. */
  readonly password: string | null
  readonly v3Ipv4ChecksumCompat: boolean
  /** Unicast peers, or null for the multicast group. */
  readonly unicastPeers: readonly string[] | null
  /** Drop unicast adverts whose source is not one of unicastPeers (unicast.checkSource). */
  readonly checkSource: boolean
}

export type IngressDrop = 'unknownVrid' | 'notUnicastPeer' | 'versionMismatch' | 'authMismatch'

export type IngressResult =
  | { readonly ok: true, readonly routerId: string, readonly input: AdvertInput, readonly advert: VrrpAdvert }
  | { readonly ok: false, readonly reason: string, readonly detail: string }

export function wireKey (ifname: string, family: Family, vrid: number): string {
  return `${ifname}/${family}/${vrid}`
}

/** Index routers by (interface, family, VRID): the demultiplexing key of RFC 5798 §7.1. */
export function indexRouters (routers: readonly RouterWire[]): ReadonlyMap<string, RouterWire> {
  return new Map(routers.map(r => [wireKey(r.ifname, r.family, r.vrid), r]))
}

export function ingress (frame: VrrpFrame, routers: ReadonlyMap<string, RouterWire>): IngressResult {
  let advert: VrrpAdvert
  try {
    if (frame.family === 'ipv4') {
      // The checksum of a v3 compat peer is checked without the pseudo-header; which routers want
      // that is only known after the VRID is read, so try the RFC way first.
      advert = decodeIPv4Packet(frame.data).advert
    } else {
      // The kernel verified the checksum (IPV6_CHECKSUM); the hop limit comes from recvmsg
      // (io/vrrp6.ts) and the codec checks it as it checks the IPv4 TTL (RFC 5798 §7.1).
      advert = decodeAdvert(frame.data, {
        family: 'ipv6',
        src: frame.src,
        dst: frame.dst ?? VRRP_IPV6_GROUP,
        checksumVerified: true,
        ...(frame.hopLimit !== undefined && frame.hopLimit >= 0 ? { ttl: frame.hopLimit } : {})
      })
    }
  } catch (err) {
    if (isCodecError(err)) {
      if (err.code === 'VRRP_BAD_CHECKSUM' && frame.family === 'ipv4') return compatRetry(frame, routers, err.message)
      return { ok: false, reason: err.code, detail: err.message }
    }
    return { ok: false, reason: 'VRRP_UNDECODABLE', detail: String(err) }
  }
  return match(advert, frame, routers)
}

function compatRetry (frame: VrrpFrame, routers: ReadonlyMap<string, RouterWire>, detail: string): IngressResult {
  const vrid = frame.data.length > 21 ? frame.data[((frame.data[0] as number) & 0x0f) * 4 + 1] : undefined
  const r = vrid === undefined ? undefined : routers.get(wireKey(frame.ifname, frame.family, vrid))
  if (r === undefined || !r.v3Ipv4ChecksumCompat) return { ok: false, reason: 'VRRP_BAD_CHECKSUM', detail }
  try {
    return match(decodeIPv4Packet(frame.data, { v3Ipv4ChecksumWithoutPseudoHeader: true }).advert, frame, routers)
  } catch (err) {
    return { ok: false, reason: isCodecError(err) ? err.code : 'VRRP_UNDECODABLE', detail: String(err) }
  }
}

function match (advert: VrrpAdvert, frame: VrrpFrame, routers: ReadonlyMap<string, RouterWire>): IngressResult {
  const r = routers.get(wireKey(frame.ifname, frame.family, advert.vrid))
  if (r === undefined) return { ok: false, reason: 'unknownVrid', detail: `VRID ${advert.vrid} is not configured on ${frame.ifname} (${frame.family})` }
  // Before anything else of the advert is believed: a non-peer must not reach the router (issue 12).
  const source = checkUnicastSource(frame.src, r)
  if (!source.ok) return { ok: false, reason: source.reason, detail: `${r.id}: advert from ${frame.src}, which is not a unicast peer (${(r.unicastPeers ?? []).join(', ')})` }
  if (advert.version !== r.version) return { ok: false, reason: 'versionMismatch', detail: `${r.id}: VRRPv${advert.version} advert, configured v${r.version}` }
  if (advert.version === 2) {
    // RFC 3768 §7.1: the Auth Type must match ours, and for type 1 the password too.
    const want = r.password === null ? 0 : 1
    if (advert.authType !== want || (want === 1 && advert.authData !== r.password)) {
      return { ok: false, reason: 'authMismatch', detail: `${r.id}: auth type ${advert.authType} from ${frame.src}` }
    }
  }
  return {
    ok: true,
    routerId: r.id,
    advert,
    input: { kind: 'advert', src: frame.src, priority: advert.priority, adverIntervalCs: advert.intervalCs, addresses: advert.addresses }
  }
}

/** Destinations of one advert: the group, or each unicast peer (RFC 5798 §5.1.1.2, §5.1.2.2). */
export function advertDestinations (r: RouterWire): readonly string[] {
  if (r.unicastPeers !== null) return r.unicastPeers
  return [r.family === 'ipv4' ? VRRP_IPV4_GROUP : VRRP_IPV6_GROUP]
}

/** The advert this router sends with `priority`, as encoder input. */
export function advertFor (r: RouterWire, priority: number): VrrpAdvertInput {
  const addresses = r.vips.filter(v => v.family === r.family).map(v => v.address)
  if (r.version === 2) {
    return {
      version: 2,
      vrid: r.vrid,
      priority,
      authType: r.password === null ? 0 : 1,
      adverInt: Math.round(r.advertIntervalCs / 100),
      addresses,
      ...(r.password === null ? {} : { authData: r.password })
    }
  }
  return { version: 3, vrid: r.vrid, priority, maxAdverIntCs: r.advertIntervalCs, addresses }
}

/** Encoded payloads, one per destination (the v3 pseudo-header checksum depends on the destination). */
export function egress (r: RouterWire, priority: number, src: string): Array<{ dst: string, payload: Buffer }> {
  const advert = advertFor(r, priority)
  return advertDestinations(r).map(dst => ({
    dst,
    payload: encodeAdvert(advert, { family: r.family, src, dst, v3Ipv4ChecksumWithoutPseudoHeader: r.v3Ipv4ChecksumCompat })
  }))
}
