/**
 * ConntrackControl over ctnetlink: three netlink sockets, as spec §5.7 recommends.
 *
 * - commit: create/update/delete/get/setTimeout/flush, batched (./ctnetlink-commit.ts). Its port id
 *   is what the kernel stamps on the events our changes cause.
 * - dump: full or per-family table dumps (./ctnetlink-dump.ts).
 * - events: NFNLGRP_CONNTRACK_NEW/UPDATE/DESTROY in a supervised child process
 *   (./ctnetlink-events.ts); events whose nlmsg_pid is our commit port id are dropped (conntrackd's
 *   origin check, spec §4.2, §5.4), a lost-events condition is reported through onOverrun and
 *   listening goes on.
 *
 * All three are opened in the network namespace of this process.
 */
import { decodeCtnlMessage } from '../codec/ctnetlink.js'
import { splitMessages } from '../codec/netlink.js'
import type { Flow, FlowFamily } from '../core/conntrack/flow.js'
import type { ApplyResult, ConntrackControl, ConntrackEvent, CtMutation, OverrunInfo } from './conntrack-port.js'
import { Committer, type CommitOptions, type CommitStats } from './ctnetlink-commit.js'
import { Dumper, type DumpStats } from './ctnetlink-dump.js'
import { EventListener, type ListenerStats, type OverrunReason } from './ctnetlink-events.js'
import { CtnlIoError, openNetfilterSocket, type NlSocket } from './ctnetlink-socket.js'

export interface CtnetlinkOptions {
  /**
   * SO_RCVBUF request for the event socket. The kernel doubles it and caps it at 2 × rmem_max
   * (4 MiB here → 8 MiB). Default 4 MiB, like conntrackd's NetlinkBufferSizeMaxGrowth order of size.
   */
  eventRecvBufferSize?: number
  /** SO_RCVBUF request for the commit socket; bounds how many requests are unanswered at once. Default 4 MiB. */
  commitRecvBufferSize?: number
  /** SO_SNDBUF request for the commit socket; bounds the datagram size. Default 1 MiB. */
  commitSendBufferSize?: number
  /** Batching and reply timeout of the commit socket. */
  commit?: CommitOptions
  /** A dump fails after this long without data. Default 5000 ms. */
  dumpIdleTimeoutMs?: number
  /** false: no event listener (a tool that only commits or dumps). Default true. */
  events?: boolean
}

export interface CtnetlinkStats {
  commitPortId: number
  dumpPortId: number
  /** Events delivered to handlers. */
  events: number
  /** Events dropped because our own commit socket caused them. */
  ownEvents: number
  /** Event messages that did not decode (counted, skipped). */
  eventDecodeErrors: number
  overruns: number
  commit: CommitStats
  /** Requests the commit socket may have unanswered at once. */
  commitWindow: number
  dump: DumpStats
  listener: ListenerStats | undefined
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
    private listener: EventListener | undefined
  ) {}

  /** Open the sockets (and start the event listener unless `events: false`). */
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
      const listener = new EventListener(
        { recvBufferSize: opts.eventRecvBufferSize ?? 4 * MiB },
        (buf) => { self.onEventData(buf) },
        (reason) => { self.reportOverrun(reason) }
      )
      self.listener = listener
      try {
        await listener.start()
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
    this.listener?.close()
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
      listener: this.listener === undefined ? undefined : { ...this.listener.stats }
    }
  }

  private onEventData (buf: Buffer): void {
    if (this.closed) return
    let msgs
    try {
      msgs = splitMessages(buf)
    } catch {
      this.counters.eventDecodeErrors++
      return
    }
    const own = this.commitSock.portId
    for (const m of msgs) {
      // spec §5.4: nlmsg_pid is the port id of the socket whose request caused the event
      if (m.header.pid === own && own !== 0) { this.counters.ownEvents++; continue }
      let decoded
      try {
        decoded = decodeCtnlMessage(m, buf)
      } catch {
        this.counters.eventDecodeErrors++
        continue
      }
      if (decoded.kind === 'overrun') { this.reportOverrun('enobufs'); continue }
      if (decoded.kind !== 'conntrack') continue
      this.counters.events++
      const e: ConntrackEvent = { event: decoded.event, flow: decoded.flow }
      for (const h of this.eventHandlers) h(e)
    }
  }

  private reportOverrun (reason: OverrunReason): void {
    if (this.closed) return
    this.counters.overruns++
    const info: OverrunInfo = { count: this.counters.overruns, reason }
    for (const h of this.overrunHandlers) h(info)
  }
}

/** Open the ctnetlink adapter in this process's network namespace. */
export async function openCtnetlink (opts: CtnetlinkOptions = {}): Promise<CtnetlinkConntrack> {
  return await CtnetlinkConntrack.open(opts)
}
