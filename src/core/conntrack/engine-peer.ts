/**
 * What the engine accepts from the sync peer (issue 12), before FTFW and before the kernel:
 *
 *   admitDatagram   the source address (core/sync/source.ts), then, with conntrack.sync.auth, the I/O
 *                   layer's MAC verdict and the replay window (core/sync/replay.ts). Only a datagram that
 *                   passes reaches FTFW, so a refused one cannot touch the receive sequence (HELLO, resync)
 *                   nor mark the peer heard. Drops are counted `sync.rx.drop.<reason>`.
 *   peerEntryRefusal a peer entry whose ORIGINAL or REPLY source is one of our addresses or a VIP (the
 *                   flows our own filter never replicates, filter.ts), or whose original source is outside
 *                   conntrack.commitRanges. Checked when an entry arrives (external cache or the inject
 *                   path) AND again at commit: the node's addresses change over time (rtnetlink), so an
 *                   entry stored before an address became ours is still refused when it would reach the
 *                   kernel. The commit check alone would leave forged entries visible in the external
 *                   cache; the arrival check alone would miss that case.
 *   liveness        `heard` on each admitted datagram, `lost` when none came for `peerLostMs`.
 */
import type { Deadline, Millis } from '../time.js'
import { checkSyncSource } from '../sync/source.js'
import { acceptCounter } from '../sync/replay.js'
import type { EngineOut } from './engine-out.js'
import type { AuthVerdict, EngineState, PeerLiveness } from './engine-types.js'
import { addressBytesListed, addressListed } from './filter.js'
import { K_SRC, type RecordLayout } from './flow-record.js'
import type { Flow } from './flow.js'

/** An idle FTFW peer sends ALIVE once per interval (spec §3.5): three missed ones make it lost. */
export const PEER_LOST_INTERVALS = 3

export function peerLostMs (s: EngineState): number {
  return s.config.peerLostMs ?? PEER_LOST_INTERVALS * s.config.ftfw.aliveIntervalMs
}

/** Should this datagram reach FTFW? Counts the reason when not. */
export function admitDatagram (s: EngineState, from: string | undefined, auth: AuthVerdict | undefined, now: Millis, out: EngineOut): boolean {
  if (s.source !== null) {
    const why = checkSyncSource(s.source, from)
    if (why !== null) { out.count(`sync.rx.drop.${why}`); return false }
  }
  if (s.config.auth === true) {
    const v: AuthVerdict = auth ?? { ok: false, reason: 'authMissing' }
    if (!v.ok) { out.count(`sync.rx.drop.${v.reason}`); return false }
    const next = acceptCounter(s.replay, v.counter)
    if (next === null) { out.count('sync.rx.drop.authReplay'); return false }
    s.replay = next
    if (v.key > 0) out.count('sync.rx.auth.previousKey')
  }
  heard(s, now, out)
  return true
}

function setLiveness (s: EngineState, to: PeerLiveness, now: Millis, out: EngineOut): void {
  const from = s.peer.state
  if (from === to) return
  s.peer.state = to
  out.push({ kind: 'peer', from, to, at: now })
}

function heard (s: EngineState, now: Millis, out: EngineOut): void {
  s.peer.heardAt = now
  setLiveness(s, 'heard', now, out)
}

/** When the peer becomes lost if nothing arrives (null: not heard, nothing to lose). */
export function livenessDeadline (s: EngineState): Deadline {
  return s.peer.state === 'heard' && s.peer.heardAt !== null ? s.peer.heardAt + peerLostMs(s) : null
}

export function livenessDue (s: EngineState, now: Millis, out: EngineOut): void {
  const d = livenessDeadline(s)
  if (d !== null && d <= now) setLiveness(s, 'lost', now, out)
}

export type PeerEntryRefusal = 'ownAddress' | 'outsideCommitRanges'

/** peerEntryRefusal on a packed record (peer-record.ts): the same checks on its address bytes. */
export function peerRecordRefusal (s: EngineState, lay: RecordLayout, u8: Uint8Array, off = 0): PeerEntryRefusal | null {
  if (addressBytesListed(s.own, lay.family, u8, off + K_SRC) || addressBytesListed(s.own, lay.family, u8, off + lay.rSrc)) return 'ownAddress'
  if (s.commitRanges !== null && !addressBytesListed(s.commitRanges, lay.family, u8, off + K_SRC)) return 'outsideCommitRanges'
  return null
}

/** Why a peer entry may not enter our tables (null: it may). */
export function peerEntryRefusal (s: EngineState, flow: Flow): PeerEntryRefusal | null {
  if (addressListed(s.own, flow.family, flow.orig.src) || addressListed(s.own, flow.family, flow.reply.src)) return 'ownAddress'
  if (s.commitRanges !== null && !addressListed(s.commitRanges, flow.family, flow.orig.src)) return 'outsideCommitRanges'
  return null
}
