/**
 * Batched ctnetlink requests on the commit socket: many messages per sendmsg(), each with its own
 * sequence number, each answer matched back to its entry by seq (spec §5.1, §5.3).
 *
 * Answers: only the LAST message of a datagram carries NLM_F_ACK. The kernel answers a message with
 * NLMSG_ERROR when it has NLM_F_ACK *or* when it fails (netlink_rcv_skb: `if (flags & NLM_F_ACK ||
 * err) netlink_ack(...)`), and it processes a datagram's messages in order inside sendmsg(), queueing
 * their answers in that order. So every failure arrives as its own error (matched by seq), and when
 * the answer for the last message arrives, every earlier message of that datagram without an error
 * has succeeded. One answer per datagram instead of one per entry (measured with the old `netlink`
 * package: 100k creates took 5 s with an ACK per entry; each answer cost recvmsg() calls and a JS
 * callback).
 *
 * Flow control: all answers of a datagram sit in our receive buffer before we read any. If they do
 * not fit, the kernel drops them and flags ENOBUFS: the socket survives (./ctnetlink-socket.ts), but
 * the dropped answers are gone and their entries could only end in ETIMEDOUT (outcome unknown). So
 * unanswered requests are bounded by a byte budget: each one
 * reserves `replyBudget` bytes of receive buffer (any of them may fail and echo its request; an ACK
 * skb costs ~790 bytes of rmem on 6.x, measured: 269 fit in 212992; error echoes and GET replies cost
 * more) until its datagram is answered.
 *
 * Timeouts: while answers are outstanding, `replyTimeoutMs` without any answer fails every
 * outstanding entry with ETIMEDOUT (outcome unknown) and frees its budget; a late answer is ignored.
 */
import { encodeRequestInto, MAX_REQUEST_BYTES } from '../codec/ctnetlink.js'
import { splitMessages, decodeNlError, NlMsgType, NlmF } from '../codec/netlink.js'
import { isCodecError } from '../codec/errors.js'
import type { ApplyResult, CtMutation } from './conntrack-port.js'
import { errnoName, type NlSocket } from './ctnetlink-socket.js'

export interface CommitOptions {
  /** Fail outstanding requests after this long without any answer. Default 5000 ms. */
  replyTimeoutMs?: number
  /** Largest datagram; also capped by the socket's send buffer. Default 128 KiB. */
  maxDatagramBytes?: number
  /** Receive-buffer bytes reserved per unanswered request. Default 1536 (GET: twice that). */
  replyBudget?: number
}

export interface CommitStats {
  sent: number
  datagrams: number
  acked: number
  failed: number
  timedOut: number
  /** Answers for no outstanding request (late after a timeout) or malformed. */
  stray: number
}

interface Batch {
  readonly results: ApplyResult[]
  remaining: number
  readonly resolve: (r: ApplyResult[]) => void
}

interface Entry {
  readonly req: CtMutation
  readonly batch: Batch
  readonly index: number
  readonly budget: number
}

/** One sent datagram: its entries in order; the last one carries NLM_F_ACK. */
interface Datagram { readonly entries: Sent[], lastSeq: number }

interface Sent extends Entry { readonly seq: number, datagram: Datagram | undefined }

const DEFAULT_REPLY_TIMEOUT_MS = 5000
const DEFAULT_MAX_DATAGRAM = 128 * 1024
const DEFAULT_REPLY_BUDGET = 1536
/** sendmsg refuses a datagram longer than sk_sndbuf − 32 (netlink_sendmsg). */
const SNDBUF_OVERHEAD = 32

export class Committer {
  private readonly queue: Entry[] = []
  private queueHead = 0
  private readonly outstanding = new Map<number, Sent>()
  private budgetInFlight = 0
  private seq = 0
  private timer: NodeJS.Timeout | undefined
  private pumpScheduled = false
  private closed = false
  private readonly capacity: number
  private readonly maxDatagram: number
  /** Where a datagram's requests are encoded (pump), reused; allocated at the first send. */
  private scratch: Buffer | undefined
  private readonly replyTimeoutMs: number
  private readonly replyBudget: number
  readonly stats: CommitStats = { sent: 0, datagrams: 0, acked: 0, failed: 0, timedOut: 0, stray: 0 }

  constructor (private readonly sock: NlSocket, opts: CommitOptions = {}) {
    this.replyTimeoutMs = opts.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS
    this.replyBudget = opts.replyBudget ?? DEFAULT_REPLY_BUDGET
    // keep one budget of slack: the kernel admits a message while rmem_alloc <= rcvbuf
    this.capacity = Math.max(this.replyBudget * 2, sock.recvBufferSize - this.replyBudget)
    this.maxDatagram = Math.max(1024, Math.min(opts.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM, sock.sendBufferSize - SNDBUF_OVERHEAD))
    sock.onMessage((buf) => { this.onAnswer(buf) })
  }

  /** Requests the kernel may have unanswered at once with this socket's buffer (for reports). */
  get window (): number {
    return Math.floor(this.capacity / this.replyBudget)
  }

  async submit (requests: readonly CtMutation[]): Promise<ApplyResult[]> {
    if (requests.length === 0) return []
    return await new Promise<ApplyResult[]>((resolve) => {
      const batch: Batch = { results: new Array<ApplyResult>(requests.length), remaining: requests.length, resolve }
      if (this.closed) {
        for (let i = 0; i < requests.length; i++) this.settle({ req: requests[i] as CtMutation, batch, index: i, budget: 0 }, { ok: false, errno: 'ECLOSED' })
        return
      }
      requests.forEach((req, index) => {
        this.queue.push({ req, batch, index, budget: req.op === 'get' ? this.replyBudget * 2 : this.replyBudget })
      })
      this.pump()
    })
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.disarm()
    for (const s of this.outstanding.values()) this.settle(s, { ok: false, errno: 'ECLOSED' })
    this.outstanding.clear()
    while (this.queueHead < this.queue.length) this.settle(this.queue[this.queueHead++] as Entry, { ok: false, errno: 'ECLOSED' })
  }

  private nextSeq (): number {
    this.seq = (this.seq + 1) >>> 0
    if (this.seq === 0) this.seq = 1
    return this.seq
  }

  /** Send as many queued requests as the reply budget allows, in datagrams of at most maxDatagram. */
  private pump (): void {
    this.pumpScheduled = false
    while (!this.closed && this.queueHead < this.queue.length) {
      // The datagram's requests are encoded back to back into this committer's scratch buffer (one
      // pass each, no Buffer per request), which has room for one more request past maxDatagram
      // (that one is then left for the next datagram).
      this.scratch ??= Buffer.allocUnsafe(this.maxDatagram + MAX_REQUEST_BYTES)
      const out = this.scratch
      const starts: number[] = []
      const sent: Sent[] = []
      // made first so every Sent gets its final shape at once (lastSeq is set before the send)
      const datagram: Datagram = { entries: sent, lastSeq: 0 }
      let bytes = 0
      while (this.queueHead < this.queue.length) {
        const e = this.queue[this.queueHead] as Entry
        if (this.budgetInFlight + e.budget > this.capacity && (this.outstanding.size > 0 || sent.length > 0)) break
        const seq = this.nextSeq()
        let end: number
        try {
          end = encodeRequestInto(e.req, seq, 0, out, bytes)
        } catch (err) {
          // never sent: the codec refuses it (e.g. a create without timeout)
          this.queueHead++
          this.settle(e, { ok: false, errno: isCodecError(err) ? err.code : 'EINVAL' })
          continue
        }
        if (end > this.maxDatagram && starts.length > 0) break
        this.queueHead++
        starts.push(bytes)
        bytes = end
        // an explicit literal, not a spread of `e`: this runs once per entry (100k per commit)
        const s: Sent = { req: e.req, batch: e.batch, index: e.index, budget: e.budget, seq, datagram }
        sent.push(s)
        this.outstanding.set(seq, s)
        this.budgetInFlight += e.budget
      }
      this.compactQueue()
      const last = sent[sent.length - 1]
      if (last === undefined) break
      // NLM_F_ACK on the last message only (see the header comment)
      for (let i = 0; i < starts.length - 1; i++) {
        const at = (starts[i] as number) + 6
        out.writeUInt16LE(out.readUInt16LE(at) & ~NlmF.ACK, at)
      }
      datagram.lastSeq = last.seq
      this.stats.sent += starts.length
      this.stats.datagrams++
      this.arm()
      // the socket takes the bytes before send returns (NlSocket.send): the scratch is free again
      this.sock.send([out.subarray(0, bytes)]).catch((err: unknown) => {
        const errno = (err as { errno?: string }).errno ?? 'EIO'
        for (const s of sent) {
          if (this.outstanding.delete(s.seq)) {
            this.budgetInFlight -= s.budget
            this.stats.failed++
            this.settle(s, { ok: false, errno })
          }
        }
        this.schedulePump()
      })
      if (this.budgetInFlight >= this.capacity) break
    }
  }

  /** Refill once per event-loop turn, after every answer read in that turn is settled. */
  private schedulePump (): void {
    if (this.pumpScheduled || this.closed) return
    this.pumpScheduled = true
    setImmediate(() => { this.pump() })
  }

  private compactQueue (): void {
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0
      this.queueHead = 0
    } else if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead)
      this.queueHead = 0
    }
  }

  private onAnswer (buf: Buffer): void {
    let msgs
    try { msgs = splitMessages(buf) } catch { this.stats.stray++; return }
    let progressed = false
    for (const m of msgs) {
      // a successful GET without NLM_F_ACK answers with the entry (CT_NEW): nothing to settle
      if (m.header.type !== NlMsgType.ERROR) continue
      let errno: number
      try { errno = decodeNlError(m).errno } catch { this.stats.stray++; continue }
      const s = this.outstanding.get(m.header.seq)
      if (s === undefined) { this.stats.stray++; continue }
      progressed = true
      this.release(s)
      if (errno === 0) {
        this.stats.acked++
        this.settle(s, { ok: true })
      } else {
        this.stats.failed++
        this.settle(s, { ok: false, errno: errnoName(errno) })
      }
      const d = s.datagram
      if (d !== undefined && d.lastSeq === s.seq) {
        // the datagram is done: every entry of it without an error succeeded
        for (const e of d.entries) {
          if (this.outstanding.get(e.seq) !== e) continue
          this.release(e)
          this.stats.acked++
          this.settle(e, { ok: true })
        }
      }
    }
    if (!progressed) return
    if (this.outstanding.size === 0) this.disarm()
    else this.arm()
    this.schedulePump()
  }

  private release (s: Sent): void {
    this.outstanding.delete(s.seq)
    this.budgetInFlight -= s.budget
  }

  private settle (e: Entry, r: ApplyResult): void {
    e.batch.results[e.index] = r
    if (--e.batch.remaining === 0) e.batch.resolve(e.batch.results)
  }

  private arm (): void {
    if (this.timer !== undefined) this.timer.refresh()
    else this.timer = setTimeout(() => { this.onTimeout() }, this.replyTimeoutMs)
  }

  private disarm (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private onTimeout (): void {
    this.timer = undefined
    for (const s of this.outstanding.values()) {
      this.stats.timedOut++
      this.settle(s, { ok: false, errno: 'ETIMEDOUT' })
    }
    this.outstanding.clear()
    this.budgetInFlight = 0
    this.schedulePump()
  }
}
