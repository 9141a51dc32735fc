/**
 * The conntrack event socket (NFNLGRP_CONNTRACK_NEW/UPDATE/DESTROY, spec §5.4), opened in the thread
 * that owns the adapter: no child process and no pipe, since the nfct addon reports a receive-buffer
 * overflow as ENOBUFS instead of aborting (./ctnetlink-socket.ts).
 *
 * - Our own changes: a BPF filter drops, in the kernel, every event whose nlmsg_pid is the commit
 *   socket's port id (conntrackd does the same with its BPF filter), so a 100k-entry commit does not
 *   queue 100k events for us to read and throw away. The adapter keeps the JS-side pid check too.
 * - ENOBUFS (events were lost) → `onOverrun`; the socket keeps listening. The runtime answers with a
 *   dump resync (conntrackd's NetlinkOverrunResync). Any other receive error → `onError`.
 * - `listenNew(false)` leaves the NEW group for a takeover commit (core/conntrack/engine-commit.ts
 *   says why it loses nothing): the filter drops our own events only after the kernel built them,
 *   while with no member in the group it builds none (native/nfct/nfct.c setMembership, measured
 *   there). Not on kernels where that could cost the new entries their later events
 *   (`newGroupLeaveSafe`).
 */
import { release } from 'node:os'
import { openNetfilterSocket, type NetfilterSocket } from './ctnetlink-socket.js'
import type { NfctAddon } from './nfct.js'

/** NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY. */
export const CONNTRACK_GROUPS: readonly number[] = [1, 2, 3]
const NFNLGRP_CONNTRACK_NEW = 1

/**
 * Whether leaving the NEW group keeps the entries created meanwhile reporting their updates and
 * end. With `nf_conntrack_events=2` (the default since 5.19) the kernel gives a new entry its
 * event extension only while ctnetlink has a listener; from 6.0 (and 5.19.4) that is a sticky mask
 * of the groups ever joined, so staying in UPDATE/DESTROY is enough (test/e2e/nfct.test.ts checks
 * the running kernel). 5.19.0–5.19.3 counted listeners per netns, and whether dropping one group
 * could clear it is not worth the risk: there, the commit keeps the group. Before 5.19 events
 * were always on. An unparseable release keeps the group.
 */
export function newGroupLeaveSafe (kernelRelease: string): boolean {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(kernelRelease)
  if (m === null) return false
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
  return !(major === 5 && minor === 19 && patch < 4)
}

/**
 * Default setsockopt value for the event socket's SO_RCVBUFFORCE: 64 MiB, which the kernel doubles
 * to 128 MiB of receive-buffer accounting. Why this size:
 * - one event is one skb: 1280 bytes of rmem each (measured: Rmem in /proc/net/netlink after 2000
 *   queued NEW events), so 128 MiB holds ~100k events, i.e. ~1 s of a 100k/s storm queued while
 *   this thread is behind (a dump decode, a GC pause, a commit, the CPU shared with the VRRP thread
 *   and the traffic on a 2-core box). Measured on the sync bench (bench/conntrack-path.md): with
 *   32 MiB (the previous default) 100k/s for 2 s overran twice (two full resyncs, the last entries
 *   on the peer 4 s late); with 128 MiB none, every entry on the peer, wire p99 0.4 s. 8 MiB lost
 *   events from 50k/s on a loaded machine;
 * - it is accounting, not an allocation: memory is used only while a backlog exists, and a backlog
 *   that big is a storm the daemon would otherwise answer with a dump of the whole table;
 * - conntrackd starts at NetlinkBufferSize (2 MiB) and doubles on each overrun up to
 *   NetlinkBufferSizeMaxGrowth (8 MiB in its example config); we take the large size up front
 *   (SO_RCVBUFFORCE is not capped by rmem_max) because every overrun costs a full dump resync.
 */
export const DEFAULT_EVENT_RCVBUF = 64 * 1024 * 1024

/**
 * Receive layout of the event socket: 8 KiB slots in a 1 MiB batch, i.e. up to 128 events per
 * recvmmsg() (a conntrack event datagram is one message of a few hundred bytes; the kernel sizes it
 * with ctnetlink_nlmsg_size, far below 8 KiB). Measured against 32 KiB slots (8 per call): receive
 * system time ~1.0 instead of ~2.1 µs per event. A datagram that would not fit is dropped by the
 * addon and reported as EMSGSIZE, which counts as lost events here.
 */
const EVENT_SLOT_BYTES = 8 * 1024
const EVENT_BATCH_BYTES = 1024 * 1024

export interface EventSocketOptions {
  /** SO_RCVBUFFORCE value (the kernel doubles it). Default DEFAULT_EVENT_RCVBUF. */
  recvBufferSize?: number
  /** The commit socket's port id: its events are dropped in the kernel. 0: no filter. */
  ownPortId: number
  /** For tests: the kernel release (default os.release()), for `newGroupLeaveSafe`. */
  kernelRelease?: string
  /** For tests: a scripted addon. */
  addon?: NfctAddon
}

export interface EventSocketStats {
  portId: number
  /** Effective receive buffer, as the kernel reports it. */
  recvBufferSize: number
  /** Whether the own-port BPF filter is attached. */
  ownPortFilter: boolean
  /** Whether the socket is in the NEW group (false while a takeover commit runs). */
  newEvents: boolean
  /** Datagrams (one event each) and JS callbacks (batches) so far. */
  datagrams: number
  batches: number
  /** ENOBUFS reports (overruns) and other receive errors. */
  enobufs: number
  errors: number
}

export interface EventSocket {
  readonly portId: number
  /** Join (true) or leave (false) NFNLGRP_CONNTRACK_NEW; repeating the current state does nothing. */
  listenNew: (on: boolean) => void
  stats: () => EventSocketStats
  close: () => void
}

export function openEventSocket (
  opts: EventSocketOptions,
  onData: (buf: Buffer) => void,
  onOverrun: () => void,
  onError: (errno: string) => void = () => {}
): EventSocket {
  const sock: NetfilterSocket = openNetfilterSocket({
    recvBufferSize: opts.recvBufferSize ?? DEFAULT_EVENT_RCVBUF,
    groups: CONNTRACK_GROUPS,
    recvSlotBytes: EVENT_SLOT_BYTES,
    recvBatchBytes: EVENT_BATCH_BYTES
  }, opts.addon)
  let filtered = false
  try {
    if (opts.ownPortId !== 0) { sock.dropOwnPort(opts.ownPortId); filtered = true }
  } catch (err) {
    sock.close()
    throw err
  }
  sock.onMessage(onData)
  // ENOBUFS: the kernel dropped events; EMSGSIZE: the addon dropped one that did not fit its slot
  sock.onError((errno) => { if (errno === 'ENOBUFS' || errno === 'EMSGSIZE') onOverrun(); else onError(errno) })
  let newEvents = true
  const mayLeave = newGroupLeaveSafe(opts.kernelRelease ?? release())
  return {
    portId: sock.portId,
    listenNew: (on) => {
      if (on === newEvents || (!on && !mayLeave)) return
      sock.setMembership(NFNLGRP_CONNTRACK_NEW, on)
      newEvents = on
    },
    stats: () => {
      const s = sock.stats()
      return { portId: sock.portId, recvBufferSize: sock.recvBufferSize, ownPortFilter: filtered, newEvents, datagrams: s.datagrams, batches: s.batches, enobufs: s.enobufs, errors: s.errors }
    },
    close: () => { sock.close() }
  }
}
