/**
 * Table dumps on their own socket (spec §5.3 "Dump", §5.7 "separate sockets").
 *
 * CT_GET with REQUEST|DUMP; the kernel answers CT_NEW messages flagged MULTI, several per datagram,
 * closed by NLMSG_DONE (or an NLMSG_ERROR). The kernel fills the next datagram only when we have read
 * the previous ones, so a dump cannot overflow the socket. One dump at a time per socket (the kernel
 * answers EBUSY to a second concurrent dump), so dumps are queued.
 *
 * A message that does not decode is counted and skipped: one odd entry must not cost a resync.
 *
 * Two ways to take a dump: `dump` collects every entry into one array of Flows (the control API's
 * views, tools); `dumpChunks` hands the entries of each receive batch to a callback as packed
 * records and keeps none (the daemon's resyncs: 250k decoded flows held until the dump ends made
 * every scavenge copy them, and a Flow per entry, four address strings each, was most of a dump's
 * JS time; core/conntrack/ctnl-record.ts packs the attributes in place, and what it declines is
 * decoded as a Flow beside the records).
 */
import { encodeRequest, decodeCtnlMessage } from '../codec/ctnetlink.js'
import { IPCTNL_MSG, NFNL_SUBSYS_CTNETLINK } from '../codec/ctnetlink-attrs.js'
import { decodeNlMsgHeader, NFGENMSG_LEN, NLMSG_HDRLEN, splitMessages, type NlMessage } from '../codec/netlink.js'
import { nlAlign } from '../codec/nlattr.js'
import type { Flow, FlowFamily } from '../core/conntrack/flow.js'
import { RecordBatchBuilder, type RecordBatch } from '../core/conntrack/record-batch.js'
import { CtnlIoError, errnoName, type NlSocket } from './ctnetlink-socket.js'

export interface DumpOptions {
  /** Reject when the kernel sends nothing for this long during a dump. Default 5000 ms. */
  idleTimeoutMs?: number
}

export interface DumpStats { dumps: number, entries: number, decodeErrors: number }

/** What one datagram of a dump held: entries taken, and whether it ended the dump. */
interface Chunked { readonly entries: number, readonly end: 'done' | Error | null }

/** nlmsg_type of a dump entry (CT_NEW with NLM_F_MULTI). */
const CT_NEW = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG.CT_NEW

/** Where a running dump's entries go: Flows (dump) or packed records (dumpChunks). */
type Sink = { readonly kind: 'flows', readonly onChunk: (flows: Flow[]) => void } | { readonly kind: 'records', readonly onChunk: (batch: RecordBatch) => void }

interface Running {
  readonly seq: number
  /** Entries of one receive batch, in order. */
  readonly sink: Sink
  count: number
  readonly resolve: (count: number) => void
  readonly reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class Dumper {
  private running: Running | undefined
  private chain: Promise<unknown> = Promise.resolve()
  private seq = 0x40000000
  private closed = false
  private readonly idleTimeoutMs: number
  readonly stats: DumpStats = { dumps: 0, entries: 0, decodeErrors: 0 }

  constructor (private readonly sock: NlSocket, opts: DumpOptions = {}) {
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 5000
    sock.onMessage((buf) => { this.onData(buf) })
  }

  /** Every entry of `family` (undefined = AF_UNSPEC, every family). */
  async dump (family?: FlowFamily): Promise<Flow[]> {
    const all: Flow[] = []
    await this.queue(family, { kind: 'flows', onChunk: (flows) => { for (const f of flows) all.push(f) } })
    return all
  }

  /**
   * Every entry of `family`, handed over a receive batch at a time as packed records (`onChunk` is
   * not called with an empty batch); resolves with the number of entries when the kernel's
   * NLMSG_DONE arrives. A throwing `onChunk` fails the dump.
   */
  async dumpChunks (onChunk: (batch: RecordBatch) => void, family?: FlowFamily): Promise<number> {
    return await this.queue(family, { kind: 'records', onChunk })
  }

  private async queue (family: FlowFamily | undefined, sink: Sink): Promise<number> {
    const run = this.chain.then(async () => await this.start(family, sink))
    this.chain = run.catch(() => undefined)
    return await run
  }

  close (): void {
    this.closed = true
    const r = this.running
    if (r !== undefined) {
      clearTimeout(r.timer)
      this.running = undefined
      r.reject(new CtnlIoError('CTNL_CLOSED', 'closed during a dump'))
    }
  }

  private async start (family: FlowFamily | undefined, sink: Sink): Promise<number> {
    if (this.closed) throw new CtnlIoError('CTNL_CLOSED', 'dump on a closed adapter')
    this.seq = (this.seq + 1) >>> 0
    const seq = this.seq
    const req = encodeRequest(family === undefined ? { op: 'dump' } : { op: 'dump', family }, seq, 0)
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { this.fail(new CtnlIoError('CTNL_TIMEOUT', `dump: nothing from the kernel for ${this.idleTimeoutMs} ms`)) }, this.idleTimeoutMs)
      this.running = { seq, sink, count: 0, resolve, reject, timer }
    })
    this.stats.dumps++
    try {
      await this.sock.send([req])
    } catch (err) {
      this.fail(err as Error)
    }
    return await done
  }

  private readonly builder = new RecordBatchBuilder()
  private readonly chunk: Flow[] = []

  /** A datagram's entries of dump `seq` as Flows (into this.chunk); null when it does not frame. */
  private flows (buf: Buffer, seq: number): Chunked | null {
    let msgs
    try {
      msgs = splitMessages(buf)
    } catch {
      return null
    }
    let entries = 0
    for (const m of msgs) {
      if (m.header.seq !== seq) continue
      const d = this.decode(m, buf)
      if (d === null) continue
      if (d instanceof Error || d === 'done') return { entries, end: d }
      this.chunk.push(d)
      entries++
    }
    return { entries, end: null }
  }

  /**
   * A datagram's entries of dump `seq` into this.builder, packed in place; what the byte path
   * declines (and every other message) is decoded as before. Framing is checked for the whole
   * datagram first, as splitMessages does, so a datagram that does not frame yields nothing.
   */
  private records (buf: Buffer, seq: number): Chunked | null {
    for (let o = 0; o < buf.length;) {
      if (buf.length - o < NLMSG_HDRLEN) return null
      const len = buf.readUInt32LE(o)
      if (len < NLMSG_HDRLEN || o + len > buf.length) return null
      o += nlAlign(len)
    }
    let entries = 0
    for (let o = 0; o < buf.length; o += nlAlign(buf.readUInt32LE(o))) {
      const len = buf.readUInt32LE(o)
      if (buf.readUInt32LE(o + 8) !== seq) continue
      const type = buf.readUInt16LE(o + 4)
      if (type === CT_NEW && len >= NLMSG_HDRLEN + NFGENMSG_LEN &&
        this.builder.addCtnl(buf, o + NLMSG_HDRLEN + NFGENMSG_LEN, o + len, buf[o + NLMSG_HDRLEN] as number)) {
        entries++
        continue
      }
      const d = this.decode({ header: decodeNlMsgHeader(buf, o), payload: buf.subarray(o + NLMSG_HDRLEN, o + len), offset: o }, buf)
      if (d === null) continue
      if (d instanceof Error || d === 'done') return { entries, end: d }
      this.builder.addFlow(d)
      entries++
    }
    return { entries, end: null }
  }

  /** One message of the dump: an entry, its end ('done' or the kernel's error), or null (skip; a bad entry is counted). */
  private decode (m: NlMessage, buf: Buffer): Flow | 'done' | Error | null {
    let decoded
    try {
      decoded = decodeCtnlMessage(m, buf)
    } catch {
      this.stats.decodeErrors++
      return null
    }
    if (decoded.kind === 'conntrack') return decoded.flow
    if (decoded.kind === 'done') return 'done'
    if (decoded.kind === 'error' && decoded.errno !== 0) {
      return new CtnlIoError('CTNL_KERNEL', `dump refused: ${errnoName(decoded.errno)}`, errnoName(decoded.errno))
    }
    return null
  }

  private fail (err: Error): void {
    const r = this.running
    if (r === undefined) return
    clearTimeout(r.timer)
    this.running = undefined
    r.reject(err)
  }

  private onData (buf: Buffer): void {
    const r = this.running
    if (r === undefined) return
    r.timer.refresh()
    const got = r.sink.kind === 'records' ? this.records(buf, r.seq) : this.flows(buf, r.seq)
    if (got === null) {
      this.stats.decodeErrors++ // the datagram does not frame
      return
    }
    const { entries, end } = got
    if (entries > 0) {
      r.count += entries
      this.stats.entries += entries
      try {
        if (r.sink.kind === 'records') r.sink.onChunk(this.builder.take())
        else r.sink.onChunk(this.chunk.splice(0))
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)))
        return
      }
    }
    if (end === 'done') {
      clearTimeout(r.timer)
      this.running = undefined
      r.resolve(r.count)
    } else if (end !== null) {
      this.fail(end)
    }
  }
}
