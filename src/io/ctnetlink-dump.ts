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
 * Two ways to take a dump: `dump` collects every entry into one array (the control API's views,
 * tools); `dumpChunks` hands the entries of each receive batch to a callback and keeps none (the
 * daemon's resyncs: 250k decoded flows held until the dump ends made every scavenge copy them, and
 * the conntrack thread spent seconds in GC; chunks die young).
 */
import { encodeRequest, decodeCtnlMessage } from '../codec/ctnetlink.js'
import { splitMessages } from '../codec/netlink.js'
import type { Flow, FlowFamily } from '../core/conntrack/flow.js'
import { CtnlIoError, errnoName, type NlSocket } from './ctnetlink-socket.js'

export interface DumpOptions {
  /** Reject when the kernel sends nothing for this long during a dump. Default 5000 ms. */
  idleTimeoutMs?: number
}

export interface DumpStats { dumps: number, entries: number, decodeErrors: number }

interface Running {
  readonly seq: number
  /** Entries of one receive batch, in order. */
  readonly onChunk: (flows: Flow[]) => void
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
    await this.dumpChunks((flows) => { for (const f of flows) all.push(f) }, family)
    return all
  }

  /**
   * Every entry of `family`, handed over a receive batch at a time (`onChunk` is not called with
   * an empty array); resolves with the number of entries when the kernel's NLMSG_DONE arrives.
   * A throwing `onChunk` fails the dump.
   */
  async dumpChunks (onChunk: (flows: Flow[]) => void, family?: FlowFamily): Promise<number> {
    const run = this.chain.then(async () => await this.start(family, onChunk))
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

  private async start (family: FlowFamily | undefined, onChunk: (flows: Flow[]) => void): Promise<number> {
    if (this.closed) throw new CtnlIoError('CTNL_CLOSED', 'dump on a closed adapter')
    this.seq = (this.seq + 1) >>> 0
    const seq = this.seq
    const req = encodeRequest(family === undefined ? { op: 'dump' } : { op: 'dump', family }, seq, 0)
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { this.fail(new CtnlIoError('CTNL_TIMEOUT', `dump: nothing from the kernel for ${this.idleTimeoutMs} ms`)) }, this.idleTimeoutMs)
      this.running = { seq, onChunk, count: 0, resolve, reject, timer }
    })
    this.stats.dumps++
    try {
      await this.sock.send([req])
    } catch (err) {
      this.fail(err as Error)
    }
    return await done
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
    let msgs
    try {
      msgs = splitMessages(buf)
    } catch {
      this.stats.decodeErrors++
      return
    }
    const chunk: Flow[] = []
    let end: 'done' | Error | null = null
    for (const m of msgs) {
      if (m.header.seq !== r.seq) continue
      let decoded
      try {
        decoded = decodeCtnlMessage(m, buf)
      } catch {
        this.stats.decodeErrors++
        continue
      }
      if (decoded.kind === 'conntrack') {
        chunk.push(decoded.flow)
        this.stats.entries++
      } else if (decoded.kind === 'done') {
        end = 'done'
        break
      } else if (decoded.kind === 'error' && decoded.errno !== 0) {
        end = new CtnlIoError('CTNL_KERNEL', `dump refused: ${errnoName(decoded.errno)}`, errnoName(decoded.errno))
        break
      }
    }
    if (chunk.length > 0) {
      r.count += chunk.length
      try {
        r.onChunk(chunk)
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
