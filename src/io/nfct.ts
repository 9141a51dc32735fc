/**
 * Loader of the nfct addon (native/nfct): NETLINK_NETFILTER sockets with batched receive, an
 * own-port BPF filter and ENOBUFS reported instead of fatal. Context-aware, so it loads in
 * worker_threads too. Built by `npm ci` (the package's install script); null when it is missing, so
 * the caller can say how to build it.
 */
import { createRequire } from 'node:module'
import { addonPath } from './addon-path.js'

/** An open socket, as the addon hands it to JS (opaque). */
export type NfctHandle = { readonly __nfct: unique symbol }

export interface NfctOpenOptions {
  /** nfnetlink multicast groups to join (NFNLGRP_*). */
  groups?: readonly number[]
  /** setsockopt value for SO_RCVBUFFORCE (SO_RCVBUF without CAP_NET_ADMIN); the kernel doubles it. 0: default. */
  rcvbuf?: number
  /** Same for SO_SNDBUFFORCE / SO_SNDBUF; bounds the largest datagram (sk_sndbuf − 32). */
  sndbuf?: number
  /** Bytes per receive batch (one JS callback). Default 256 KiB, at least one slot. */
  batchBytes?: number
  /** Bytes per datagram slot of recvmmsg (4 KiB..32 KiB, default 32 KiB); larger datagrams → EMSGSIZE. */
  slotBytes?: number
  /** Datagrams per receive batch. Default 1024. */
  batchDatagrams?: number
}

export interface NfctOpened {
  handle: NfctHandle
  /** The kernel-assigned netlink port id (nlmsg_pid of the events our requests cause). */
  portId: number
  /** Effective buffer sizes (getsockopt). */
  rcvbuf: number
  sndbuf: number
  /** Whether the *FORCE option was allowed (else the size is capped at 2 × rmem_max / wmem_max). */
  rcvbufForced: boolean
  sndbufForced: boolean
}

export interface NfctStats {
  datagrams: number
  /** JS callbacks (each carrying one or more datagrams). */
  batches: number
  bytes: number
  /** ENOBUFS reports: the receive buffer overflowed, messages were lost. */
  enobufs: number
  /** Other receive errors reported. */
  errors: number
  /** Datagrams dropped because they did not fit their slot (each also reported as EMSGSIZE). */
  truncated: number
  /** Datagrams from a sender other than the kernel, dropped. */
  foreign: number
}

/** Every function throws an Error whose `code` is the errno name (EBADF after close, EMSGSIZE, …). */
export interface NfctAddon {
  open: (opts?: NfctOpenOptions) => NfctOpened
  /** Start polling: `onData` gets batches of datagrams (4-byte aligned, concatenated); `onError` errno names. */
  start: (handle: NfctHandle, onData: (buf: Buffer) => void, onError: (errno: string) => void) => void
  /** One sendmsg() to the kernel holding every buffer; returns the bytes sent. */
  send: (handle: NfctHandle, buffers: readonly Buffer[]) => number
  /** Drop messages whose nlmsg_pid is `portId` in the kernel (classic BPF); 0 removes the filter. */
  setOwnPortFilter: (handle: NfctHandle, portId: number) => void
  /** Join (true) or leave (false) one multicast group; repeating either is not an error. */
  setMembership: (handle: NfctHandle, group: number, join: boolean) => void
  stats: (handle: NfctHandle) => NfctStats
  /** glibc malloc_trim(0) for the whole process; whether memory went back to the kernel. */
  mallocTrim: () => boolean
  /**
   * A copy of `buf` made as the receive path makes its batches (in C++, like the UDP socket's
   * datagrams): V8 gives such Buffers another hidden class than JavaScript-made ones, so the
   * warm-up (runtime/warm-up.ts) feeds these to compile the byte paths for what they really get.
   */
  copyBuffer: (buf: Buffer) => Buffer
  /** Idempotent. */
  close: (handle: NfctHandle) => void
}

/** native/nfct/build/Release/nfct.node above this module (src/io, dist/io, or a package's lib dir). */
export function nfctPath (): string | null {
  return addonPath('nfct')
}

/** The addon, or null with the reason when it is not built or does not load. */
export function loadNfct (): { addon: NfctAddon, error?: undefined } | { addon: null, error: string } {
  const path = nfctPath()
  if (path === null) return { addon: null, error: 'native/nfct/build/Release/nfct.node not found' }
  try {
    return { addon: createRequire(import.meta.url)(path) as NfctAddon }
  } catch (err) {
    return { addon: null, error: `${path}: ${err instanceof Error ? err.message : String(err)}` }
  }
}
