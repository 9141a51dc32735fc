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
import { splitMessages } from '../codec/netlink.js'
import type { Flow, FlowFamily } from '../core/conntrack/flow.js'
import type { RecordBatch } from '../core/conntrack/record-batch.js'
import type { ApplyResult, ConntrackControl, ConntrackEvent, CtMutation, OverrunInfo } from './conntrack-port.js'
import { Committer, type CommitOptions, type CommitStats } from './ctnetlink-commit.js'
import { Dumper, type DumpStats } from './ctnetlink-dump.js'
import { openEventSocket, DEFAULT_EVENT_RCVBUF, type EventSocket, type EventSocketStats } from './ctnetlink-events.js'
import { CtnlIoError, openNetfilterSocket, type NlSocket } from './ctnetlink-socket.js'

export interface CtnetlinkOptions {
  /**
   * SO_RCVBUFFORCE value for the event socket (the kernel doubles it). Default DEFAULT_EVENT_RCVBUF
   * (16 MiB → 32 MiB effective; why: ./ctnetlink-events.ts).
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
    decodeEventBatch(buf, this.commitSock.portId, this.counters, (e) => { for (const h of this.eventHandlers) h(e) }, () => { this.reportOverrun() })
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
