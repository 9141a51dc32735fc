/**
 * One NETLINK_NETFILTER socket (the nfct addon, native/nfct), plus the adapter's typed error and
 * errno naming.
 *
 * Facts that shape the adapter:
 * - `send(buffers[])` is ONE sendmsg() with an iovec: the kernel sees one datagram holding every
 *   message and nfnetlink processes them in order inside that call (netlink_rcv_skb), each answered
 *   by its own ACK or error. A datagram larger than SO_SNDBUF − 32 is refused with EMSGSIZE. The
 *   call is synchronous (the kernel does the work inside sendmsg); the answers arrive through
 *   `onMessage` on a later loop turn.
 * - Buffers are set with SO_RCVBUFFORCE / SO_SNDBUFFORCE (we run with CAP_NET_ADMIN), so they are
 *   not capped by rmem_max; the kernel doubles the value. Without the capability the addon falls
 *   back to SO_RCVBUF / SO_SNDBUF (capped at 2 × rmem_max / wmem_max).
 * - Received datagrams come in batches: one `onMessage` call may carry many datagrams back to back
 *   (each 4-byte aligned), i.e. a stream of netlink messages; every reader here splits messages.
 * - A receive-buffer overflow is an `onError('ENOBUFS')` and the socket goes on (the addon reads
 *   and clears sk_err). With the `netlink` package it used to abort the process, which is why the
 *   event socket once lived in a child process.
 * - The addon is context-aware: this module works in a worker_threads Worker.
 */
import { constants as osConstants } from 'node:os'
import { loadNfct, type NfctAddon, type NfctHandle, type NfctStats } from './nfct.js'

export const NETLINK_NETFILTER = 12

export type CtnlIoErrorCode =
  /** Socket creation, bind, buffer sizing or group membership failed. */
  | 'CTNL_OPEN'
  /** sendmsg() failed (EMSGSIZE, EPERM, …). */
  | 'CTNL_SEND'
  /** No answer within the bound. */
  | 'CTNL_TIMEOUT'
  /** The adapter was closed while the operation waited. */
  | 'CTNL_CLOSED'
  /** The kernel answered with an error (errno set). */
  | 'CTNL_KERNEL'

export const CTNL_IO_ERROR_CODES: readonly CtnlIoErrorCode[] = ['CTNL_OPEN', 'CTNL_SEND', 'CTNL_TIMEOUT', 'CTNL_CLOSED', 'CTNL_KERNEL']

export class CtnlIoError extends Error {
  override readonly name = 'CtnlIoError'
  readonly code: CtnlIoErrorCode
  /** Kernel or syscall errno name when there is one (e.g. `EPERM`). */
  readonly errno: string | undefined

  constructor (code: CtnlIoErrorCode, message: string, errno?: string) {
    super(`${code}: ${message}`)
    this.code = code
    this.errno = errno
  }
}

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]))

/** `17` → `EEXIST`; unknown numbers stay readable (`E1234`). */
export function errnoName (errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`
}

export interface NetfilterSocketOptions {
  /** Bytes for SO_RCVBUFFORCE (the kernel doubles it); 0 keeps the default (rmem_default). */
  recvBufferSize?: number
  /** Bytes for SO_SNDBUFFORCE, same rules; bounds the datagram size. 0 keeps the default. */
  sendBufferSize?: number
  /** nfnetlink multicast groups to join (NFNLGRP_*). */
  groups?: readonly number[]
  /**
   * Receive slot per datagram (recvmmsg); a larger datagram is dropped and reported as EMSGSIZE.
   * Default (and maximum) 32 KiB, which nothing the kernel sends can exceed.
   */
  recvSlotBytes?: number
  /** Receive batch buffer (one `onMessage` call at most); default 256 KiB. */
  recvBatchBytes?: number
}

/** The slice of a netlink socket the commit and dump engines use (a fake in unit tests). */
export interface NlSocket {
  /** Our netlink port id (nlmsg_pid of the events our requests cause). */
  readonly portId: number
  /** Effective receive buffer in bytes, as the kernel reports it. */
  readonly recvBufferSize: number
  /** Effective send buffer in bytes. */
  readonly sendBufferSize: number
  /**
   * One datagram holding every buffer. The bytes are taken before it returns (sendmsg() runs in the
   * call), so the caller may reuse the buffers at once; the promise is the outcome. Rejects with
   * CtnlIoError CTNL_SEND (or CTNL_CLOSED).
   */
  send: (msgs: readonly Buffer[]) => Promise<void>
  /** Received data: one or more whole datagrams, i.e. a stream of netlink messages. */
  onMessage: (handler: (buf: Buffer) => void) => void
  /**
   * Receive errors by errno name; `ENOBUFS`: the receive buffer overflowed and messages were lost;
   * `EMSGSIZE`: a datagram larger than the receive slot was dropped.
   */
  onError: (handler: (errno: string) => void) => void
  close: () => void
}

/** A real socket: the NlSocket plus what only the kernel can do. */
export interface NetfilterSocket extends NlSocket {
  /** Let the kernel drop messages whose nlmsg_pid is `portId` (0 removes the filter). */
  dropOwnPort: (portId: number) => void
  /** Join or leave one multicast group (NFNLGRP_*) while open. */
  setMembership: (group: number, join: boolean) => void
  /** Receive counters of the addon (zeros once closed). */
  stats: () => NfctStats
}

interface ErrnoLike { code?: unknown, message?: unknown }

function codeOf (err: unknown): string {
  const e = err as ErrnoLike
  return typeof e?.code === 'string' ? e.code : 'EIO'
}

function messageOf (err: unknown): string {
  return String((err as ErrnoLike)?.message ?? err)
}

const ZERO_STATS: NfctStats = { datagrams: 0, batches: 0, bytes: 0, enobufs: 0, errors: 0, truncated: 0, foreign: 0 }

/** The addon, or a CtnlIoError that says how to get it. */
function requireAddon (): NfctAddon {
  const loaded = loadNfct()
  if (loaded.addon !== null) return loaded.addon
  throw new CtnlIoError('CTNL_OPEN', `the nfct netlink addon is not available (${loaded.error}); \`npm ci\` builds it (node-gyp rebuild -C native/nfct)`, 'ENOENT')
}

/**
 * Open a NETLINK_NETFILTER socket in this thread's loop and this process's network namespace.
 * `addon` is for tests (a scripted fake); the default loads native/nfct.
 */
export function openNetfilterSocket (opts: NetfilterSocketOptions = {}, addon: NfctAddon = requireAddon()): NetfilterSocket {
  let opened
  try {
    opened = addon.open({
      groups: opts.groups ?? [],
      rcvbuf: opts.recvBufferSize ?? 0,
      sndbuf: opts.sendBufferSize ?? 0,
      ...(opts.recvSlotBytes === undefined ? {} : { slotBytes: opts.recvSlotBytes }),
      ...(opts.recvBatchBytes === undefined ? {} : { batchBytes: opts.recvBatchBytes })
    })
  } catch (err) {
    throw new CtnlIoError('CTNL_OPEN', `netlink socket: ${messageOf(err)}`, codeOf(err))
  }
  const handle: NfctHandle = opened.handle
  const messageHandlers: Array<(buf: Buffer) => void> = []
  const errorHandlers: Array<(errno: string) => void> = []
  let closed = false
  try {
    addon.start(handle,
      (buf) => { for (const h of messageHandlers) h(buf) },
      (errno) => { for (const h of errorHandlers) h(errno) })
  } catch (err) {
    addon.close(handle)
    throw new CtnlIoError('CTNL_OPEN', `netlink socket: ${messageOf(err)}`, codeOf(err))
  }
  return {
    portId: opened.portId,
    recvBufferSize: opened.rcvbuf,
    sendBufferSize: opened.sndbuf,
    send: async (msgs) => {
      if (closed) throw new CtnlIoError('CTNL_CLOSED', 'socket closed')
      try {
        addon.send(handle, msgs)
      } catch (err) {
        throw new CtnlIoError('CTNL_SEND', `sendmsg: ${messageOf(err)}`, codeOf(err))
      }
    },
    onMessage: (h) => { messageHandlers.push(h) },
    onError: (h) => { errorHandlers.push(h) },
    dropOwnPort: (portId) => {
      try {
        addon.setOwnPortFilter(handle, portId)
      } catch (err) {
        throw new CtnlIoError('CTNL_OPEN', `socket filter: ${messageOf(err)}`, codeOf(err))
      }
    },
    setMembership: (group, join) => {
      try {
        addon.setMembership(handle, group, join)
      } catch (err) {
        throw new CtnlIoError('CTNL_OPEN', `group ${group} membership: ${messageOf(err)}`, codeOf(err))
      }
    },
    stats: () => closed ? { ...ZERO_STATS } : addon.stats(handle),
    close: () => {
      if (closed) return
      closed = true
      addon.close(handle)
    }
  }
}
