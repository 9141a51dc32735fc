/**
 * One NETLINK_NETFILTER socket (the `netlink` package's RawNetlinkSocket), plus the adapter's typed
 * error and errno naming.
 *
 * Facts about the package (v0.3, src/binding.cc) that shape the whole adapter:
 * - `send(buffers[])` is ONE sendmsg() with an iovec: the kernel sees one datagram holding every
 *   message and nfnetlink processes them in order inside that call (netlink_rcv_skb), each answered
 *   by its own ACK or error. A datagram larger than SO_SNDBUF − 32 is refused with EMSGSIZE.
 * - SO_RCVBUF goes through setsockopt (not SO_RCVBUFFORCE): the kernel doubles the value and caps it
 *   at 2 × net.core.rmem_max.
 * - When a receive buffer overflows the kernel sets sk_err = ENOBUFS, poll reports POLLERR, libuv
 *   hands the binding UV_EBADF, and the binding aborts the whole process while building its error
 *   (std::terminate, "Error in native callback"). There is no setsockopt to ask for
 *   NETLINK_NO_ENOBUFS. So a socket of the daemon must never overflow: the commit socket bounds its
 *   unanswered requests to what its buffer holds (./ctnetlink-commit.ts), dumps are paced by the
 *   kernel, and the event socket, which can always be flooded, lives in a child process
 *   (./ctnetlink-event-child.ts) whose death is reported as an overrun.
 */
import { RawNetlinkSocket } from 'netlink'
import { constants as osConstants } from 'node:os'

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
  /** The event listener process could not be started. */
  | 'CTNL_LISTENER'

export const CTNL_IO_ERROR_CODES: readonly CtnlIoErrorCode[] = ['CTNL_OPEN', 'CTNL_SEND', 'CTNL_TIMEOUT', 'CTNL_CLOSED', 'CTNL_KERNEL', 'CTNL_LISTENER']

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
  /** Bytes for SO_RCVBUF (the kernel doubles it, capped at 2 × rmem_max); 0 keeps the default. */
  recvBufferSize?: number
  /** Bytes for SO_SNDBUF, same rules; bounds the largest datagram. 0 keeps the default. */
  sendBufferSize?: number
  /** nfnetlink multicast groups to join (NFNLGRP_*). */
  groups?: readonly number[]
}

/** The slice of a netlink socket the commit and dump engines use (a fake in unit tests). */
export interface NlSocket {
  /** Our netlink port id (nlmsg_pid of the events our requests cause). */
  readonly portId: number
  /** Effective receive buffer in bytes, as the kernel reports it. */
  readonly recvBufferSize: number
  /** Effective send buffer in bytes. */
  readonly sendBufferSize: number
  /** One datagram holding every buffer. Rejects with CtnlIoError CTNL_SEND. */
  send: (msgs: readonly Buffer[]) => Promise<void>
  onMessage: (handler: (buf: Buffer) => void) => void
  /** Non-fatal socket errors reported by the package (e.g. a recvmsg errno). */
  onError: (handler: (errno: string) => void) => void
  close: () => void
}

interface ErrnoLike { code?: unknown, message?: unknown }

function codeOf (err: unknown): string {
  const e = err as ErrnoLike
  return typeof e?.code === 'string' ? e.code : 'EIO'
}

export function openNetfilterSocket (opts: NetfilterSocketOptions = {}): NlSocket {
  let raw: RawNetlinkSocket
  try {
    raw = new RawNetlinkSocket(NETLINK_NETFILTER, {
      recvBufferSize: opts.recvBufferSize ?? 0,
      sendBufferSize: opts.sendBufferSize ?? 0
    })
  } catch (err) {
    throw new CtnlIoError('CTNL_OPEN', `netlink socket: ${String((err as ErrnoLike).message)}`, codeOf(err))
  }
  try {
    for (const g of opts.groups ?? []) raw.addMembership(g)
  } catch (err) {
    raw.close()
    throw new CtnlIoError('CTNL_OPEN', `join nfnetlink group: ${String((err as ErrnoLike).message)}`, codeOf(err))
  }
  const messageHandlers: Array<(buf: Buffer) => void> = []
  const errorHandlers: Array<(errno: string) => void> = []
  raw.on('message', (buf: Buffer) => { for (const h of messageHandlers) h(buf) })
  // a truncated datagram cannot happen with message peeking (the package sizes the buffer first);
  // if it ever does, the parser will see a short message and count it
  raw.on('truncatedMessage', (buf: Buffer) => { for (const h of messageHandlers) h(buf) })
  // listening to 'error' also keeps EventEmitter from throwing it
  raw.on('error', (err) => { for (const h of errorHandlers) h(codeOf(err)) })
  let closed = false
  return {
    portId: raw.address().port,
    recvBufferSize: raw.getRecvBufferSize(),
    sendBufferSize: raw.getSendBufferSize(),
    send: async (msgs) => await new Promise<void>((resolve, reject) => {
      if (closed) { reject(new CtnlIoError('CTNL_CLOSED', 'socket closed')); return }
      raw.send(msgs as Buffer[], {}, (err) => {
        if (err === undefined) resolve()
        else reject(new CtnlIoError('CTNL_SEND', `sendmsg: ${String(err.message)}`, codeOf(err)))
      })
    }),
    onMessage: (h) => { messageHandlers.push(h) },
    onError: (h) => { errorHandlers.push(h) },
    close: () => {
      if (closed) return
      closed = true
      raw.close()
    }
  }
}
