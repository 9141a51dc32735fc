/**
 * Anti-replay window of authenticated sync (conntrack.sync.auth), as IPsec's (RFC 4303 §3.4.3, RFC 6479):
 * the highest sender counter accepted and a bitmap of the WINDOW counters below it. A counter above the
 * highest slides the window; one inside it is accepted once; one below it is refused as a replay.
 *
 * The sender starts its counter at its start time in microseconds (io/sync-auth.ts) and adds one per
 * datagram, so a restarted peer continues above its previous instance without any handshake. Only counters
 * of datagrams whose MAC verified reach this window. Pure; numbers stay below 2^53.
 */

/** Counters remembered below the highest one (IPsec's default is 32 or 64; reordering on one link is small). */
export const REPLAY_WINDOW = 64

export interface ReplayWindow {
  /** Highest counter accepted (−1: none yet). */
  readonly top: number
  /** Bit i set: counter top − i was accepted (bit 0 is `top` itself). */
  readonly seen: bigint
}

export const EMPTY_REPLAY_WINDOW: ReplayWindow = { top: -1, seen: 0n }

const MASK = (1n << BigInt(REPLAY_WINDOW)) - 1n

/** Accept `counter` (the successor window) or refuse it (null): already seen, or older than the window. */
export function acceptCounter (w: ReplayWindow, counter: number): ReplayWindow | null {
  if (!Number.isSafeInteger(counter) || counter < 0) return null
  if (w.top < 0) return { top: counter, seen: 1n }
  if (counter > w.top) {
    const shift = counter - w.top
    const seen = shift >= REPLAY_WINDOW ? 1n : ((w.seen << BigInt(shift)) | 1n) & MASK
    return { top: counter, seen }
  }
  const back = w.top - counter
  if (back >= REPLAY_WINDOW) return null
  const bit = 1n << BigInt(back)
  if ((w.seen & bit) !== 0n) return null
  return { top: w.top, seen: w.seen | bit }
}
