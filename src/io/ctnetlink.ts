/**
 * ConntrackControl over ctnetlink: three netlink sockets, as spec §5.7 recommends.
 *
 * - commit: create/update/delete/get/setTimeout/flush, batched (./ctnetlink-commit.ts). Its port id
 *   is what the kernel stamps on the events our changes cause.
 * - dump: full or per-family table dumps (./ctnetlink-dump.ts).
 * - events: NFNLGRP_CONNTRACK_NEW/UPDATE/DESTROY on a socket in this same thread
 *   (./ctnetlink-events.ts); events whose nlmsg_pid is our commit port id are dropped (conntrackd's
 *   origin check, spec §4.2, §5.4): in the kernel by a BPF filter, and again here as a belt. A
 *   lost-events condition (ENOBUFS, NLMSG_OVERRUN) is reported through onOverrun and listening goes on.
 *
 * All three are opened in the network namespace of this process, on the loop of the thread that
 * calls `open` (the nfct addon works in a worker_threads Worker).
 */
import { decodeCtnlMessage } from '../codec/ctnetlink.js'
import { IPCTNL_MSG, NFNL_SUBSYS_CTNETLINK } from '../codec/ctnetlink-attrs.js'
import { decodeNlMsgHeader, NFGENMSG_LEN, NLMSG_HDRLEN, NlMsgType, NlmF, splitMessages } from '../codec/netlink.js'
import type { Flow, FlowFamily } from '../core/conntrack/flow.js'
import { EV_DESTROY, EV_NEW, EV_UPDATE, EventBatchBuilder, type KernelEventBatch, type RecordBatch } from '../core/conntrack/record-batch.js'
import type { ApplyResult, ConntrackControl, ConntrackEvent, CtMutation, OverrunInfo } from './conntrack-port.js'
import { Committer, type CommitOptions, type CommitStats } from './ctnetlink-commit.js'
import { Dumper, type DumpStats } from './ctnetlink-dump.js'
import { openEventSocket, DEFAULT_EVENT_RCVBUF, type EventSocket, type EventSocketStats } from './ctnetlink-events.js'
import { CtnlIoError, openNetfilterSocket, type NlSocket } from './ctnetlink-socket.js'

export interface CtnetlinkOptions {
  /**
   * SO_RCVBUFFORCE value for the event socket (the kernel doubles it). Default DEFAULT_EVENT_RCVBUF
   * (64 MiB → 128 MiB effective; why: ./ctnetlink-events.ts).
   */
  eventRecvBufferSize?: number
  /** SO_RCVBUFFORCE value for the commit socket; bounds how many requests are unanswered at once. Default 4 MiB. */
  commitRecvBufferSize?: number
  /** SO_SNDBUFFORCE value for the commit socket; bounds the datagram size. Default 1 MiB. */
  commitSendBufferSize?: number
  /** Batching and reply timeout of the commit socket. */
  commit?: CommitOptions
  /** A dump fails after this long without data. Default 5000 ms. */
  dumpIdleTimeoutMs?: number
  /** false: no event socket (a tool that only commits or dumps). Default true. */
  events?: boolean
}

export interface CtnetlinkStats {
  commitPortId: number
  dumpPortId: number
  /** Events delivered to handlers. */
  events: number
  /** Events dropped here because our own commit socket caused them (the kernel filter drops them first; stays 0 unless that filter is missing). */
  ownEvents: number
  /** Event messages that did not decode (counted, skipped). */
  eventDecodeErrors: number
  overruns: number
  commit: CommitStats
  /** Requests the commit socket may have unanswered at once. */
  commitWindow: number
  dump: DumpStats
  /** The event socket (undefined with `events: false`). */
  eventSocket: EventSocketStats | undefined
}

const MiB = 1024 * 1024

export class CtnetlinkConntrack implements ConntrackControl {
  private readonly eventHandlers: Array<(e: ConntrackEvent) => void> = []
  private readonly overrunHandlers: Array<(i: OverrunInfo) => void> = []
  private readonly recordHandlers: Array<(b: KernelEventBatch) => void> = []
  private readonly eventBatch = new EventBatchBuilder()
  private counters = { events: 0, ownEvents: 0, eventDecodeErrors: 0, overruns: 0 }
  private closed = false

  private constructor (
    private readonly commitSock: NlSocket,
    private readonly dumpSock: NlSocket,
    private readonly committer: Committer,
    private readonly dumper: Dumper,
    private eventSock: EventSocket | undefined
  ) {}

  /** Open the sockets (the event socket too unless `events: false`). */
  static async open (opts: CtnetlinkOptions = {}): Promise<CtnetlinkConntrack> {
    const commitSock = openNetfilterSocket({
      recvBufferSize: opts.commitRecvBufferSize ?? 4 * MiB,
      sendBufferSize: opts.commitSendBufferSize ?? MiB
    })
    let dumpSock: NlSocket
    try {
      dumpSock = openNetfilterSocket({})
    } catch (err) {
      commitSock.close()
      throw err
    }
    const self = new CtnetlinkConntrack(
      commitSock, dumpSock,
      new Committer(commitSock, opts.commit),
      new Dumper(dumpSock, opts.dumpIdleTimeoutMs === undefined ? {} : { idleTimeoutMs: opts.dumpIdleTimeoutMs }),
      undefined
    )
    if (opts.events !== false) {
      try {
        self.eventSock = openEventSocket(
          { recvBufferSize: opts.eventRecvBufferSize ?? DEFAULT_EVENT_RCVBUF, ownPortId: commitSock.portId },
          (buf) => { self.onEventData(buf) },
          () => { self.reportOverrun() }
        )
      } catch (err) {
        await self.close()
        throw err
      }
    }
    return self
  }

  async dump (family?: FlowFamily): Promise<Flow[]> {
    return await this.dumper.dump(family)
  }

  async dumpChunks (onChunk: (batch: RecordBatch) => void, family?: FlowFamily): Promise<number> {
    return await this.dumper.dumpChunks(onChunk, family)
  }

  async apply (requests: readonly CtMutation[]): Promise<ApplyResult[]> {
    return await this.committer.submit(requests)
  }

  async flush (): Promise<void> {
    const [r] = await this.committer.submit([{ op: 'flush' }])
    if (r !== undefined && !r.ok) throw new CtnlIoError(r.errno === 'ETIMEDOUT' ? 'CTNL_TIMEOUT' : r.errno === 'ECLOSED' ? 'CTNL_CLOSED' : 'CTNL_KERNEL', `flush: ${r.errno}`, r.errno)
  }

  onEvent (handler: (event: ConntrackEvent) => void): void {
    this.eventHandlers.push(handler)
  }

  onOverrun (handler: (info: OverrunInfo) => void): void {
    this.overrunHandlers.push(handler)
  }

  listenNew (on: boolean): void {
    this.eventSock?.listenNew(on)
  }

  /**
   * Events as packed records, a receive batch at a time (the sender's byte path). Once a handler is
   * registered, `onEvent` handlers get only the events the byte path declines, in order with the
   * batches (a batch is handed over before a declined event that follows it).
   */
  onEventRecords (handler: (batch: KernelEventBatch) => void): void {
    this.recordHandlers.push(handler)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.eventSock?.close()
    this.committer.close()
    this.dumper.close()
    this.commitSock.close()
    this.dumpSock.close()
  }

  stats (): CtnetlinkStats {
    return {
      commitPortId: this.commitSock.portId,
      dumpPortId: this.dumpSock.portId,
      ...this.counters,
      commit: { ...this.committer.stats },
      commitWindow: this.committer.window,
      dump: { ...this.dumper.stats },
      eventSocket: this.eventSock?.stats()
    }
  }

  private onEventData (buf: Buffer): void {
    if (this.closed) return
    const onEvent = (e: ConntrackEvent): void => { for (const h of this.eventHandlers) h(e) }
    const onOverrun = (): void => { this.reportOverrun() }
    if (this.recordHandlers.length === 0) {
      decodeEventBatch(buf, this.commitSock.portId, this.counters, onEvent, onOverrun)
      return
    }
    decodeEventRecords(buf, this.commitSock.portId, this.counters, this.eventBatch, (b) => { for (const h of this.recordHandlers) h(b) }, onEvent, onOverrun)
  }

  private reportOverrun (): void {
    if (this.closed) return
    this.counters.overruns++
    const info: OverrunInfo = { count: this.counters.overruns, reason: 'enobufs' }
    for (const h of this.overrunHandlers) h(info)
  }
}

/** Open the ctnetlink adapter in this process's network namespace. */
export async function openCtnetlink (opts: CtnetlinkOptions = {}): Promise<CtnetlinkConntrack> {
  return await CtnetlinkConntrack.open(opts)
}

const CT_MSG_NEW = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG.CT_NEW
const CT_MSG_DELETE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG.CT_DELETE
const NLM_F_CREATE_EXCL = NlmF.CREATE | NlmF.EXCL

/** Whether the netlink messages of `buf` frame (splitMessages's checks, without building them). */
function frames (buf: Buffer): boolean {
  let o = 0
  while (o < buf.length) {
    if (buf.length - o < NLMSG_HDRLEN) return false
    const len = buf.readUInt32LE(o)
    if (len < NLMSG_HDRLEN || o + len > buf.length) return false
    o += (len + 3) & ~3
  }
  return true
}

/**
 * decodeEventBatch on the byte path: each conntrack event is packed into `builder` (no Flow, no
 * object per event) and the batch goes to `onRecords`; an event the byte path declines is decoded by
 * the Flow decoder and goes to `onEvent`, after the records before it (the order of one entry's
 * events is kept). Same framing rule, own-port rule, counters and overrun handling as decodeEventBatch.
 */
export function decodeEventRecords (
  buf: Buffer, ownPortId: number, counters: EventDecodeCounters, builder: EventBatchBuilder,
  onRecords: (batch: KernelEventBatch) => void, onEvent: (e: ConntrackEvent) => void, onOverrun: () => void
): void {
  if (!frames(buf)) {
    counters.eventDecodeErrors++
    return
  }
  const flush = (): void => { if (builder.size > 0) onRecords(builder.take()) }
  for (let o = 0; o < buf.length;) {
    const len = buf.readUInt32LE(o)
    const at = o
    o += (len + 3) & ~3
    if (ownPortId !== 0 && buf.readUInt32LE(at + 12) === ownPortId) { counters.ownEvents++; continue }
    const type = buf.readUInt16LE(at + 4)
    if ((type === CT_MSG_NEW || type === CT_MSG_DELETE) && len >= NLMSG_HDRLEN + NFGENMSG_LEN) {
      const ev = type === CT_MSG_DELETE ? EV_DESTROY : (buf.readUInt16LE(at + 6) & NLM_F_CREATE_EXCL) !== 0 ? EV_NEW : EV_UPDATE
      if (builder.add(buf, at + NLMSG_HDRLEN + NFGENMSG_LEN, at + len, buf[at + NLMSG_HDRLEN] as number, ev)) {
        counters.events++
        continue
      }
    }
    if (type === NlMsgType.OVERRUN) { flush(); onOverrun(); continue }
    let decoded
    try {
      decoded = decodeCtnlMessage({ header: decodeNlMsgHeader(buf, at), payload: buf.subarray(at + NLMSG_HDRLEN, at + len), offset: at }, buf)
    } catch {
      counters.eventDecodeErrors++
      continue
    }
    if (decoded.kind !== 'conntrack') continue
    flush()
    counters.events++
    onEvent({ event: decoded.event, flow: decoded.flow })
  }
  flush()
}

/** What decodeEventBatch counts (the adapter's event counters). */
export interface EventDecodeCounters { events: number, ownEvents: number, eventDecodeErrors: number }

/**
 * One batch of event datagrams (as the nfct addon hands them over: 4-byte aligned, concatenated)
 * → `onEvent` per conntrack event, in order. Messages caused by `ownPortId` (spec §5.4: nlmsg_pid
 * is the port id of the socket whose request caused the event) are dropped; an NLMSG_OVERRUN calls
 * `onOverrun`; a message that does not decode is counted and skipped.
 */
export function decodeEventBatch (buf: Buffer, ownPortId: number, counters: EventDecodeCounters, onEvent: (e: ConntrackEvent) => void, onOverrun: () => void): void {
  let msgs
  try {
    msgs = splitMessages(buf)
  } catch {
    counters.eventDecodeErrors++
    return
  }
  for (const m of msgs) {
    if (m.header.pid === ownPortId && ownPortId !== 0) { counters.ownEvents++; continue }
    let decoded
    try {
      decoded = decodeCtnlMessage(m, buf)
    } catch {
      counters.eventDecodeErrors++
      continue
    }
    if (decoded.kind === 'overrun') { onOverrun(); continue }
    if (decoded.kind !== 'conntrack') continue
    counters.events++
    onEvent({ event: decoded.event, flow: decoded.flow })
  }
}
