/**
 * Client of the control API (hafwctl, tests): one WebSocket to hafwd's unix socket (or its
 * loopback TCP port with a token), requests matched to replies by id, pushed events to a listener.
 * Connection failures become ControlClientError with a code and a sentence a person can act on.
 */
import WebSocket from 'ws'
import { encodeMessage, PROTOCOL_VERSION } from './protocol.js'
import { parseServerMessage } from './server-messages.js'
import type { CacheName, ControlEvent, CtEntryView, ErrorCode, IssueView, RequestBody, RequestType, ServerMessage, Status } from './protocol.js'

export type ClientErrorCode =
  /** No socket file: the daemon is not running (or uses another socket). */
  | 'notRunning'
  /** The socket or port exists but nobody accepts on it. */
  | 'refused'
  /** The socket is not accessible to this user. */
  | 'permission'
  | 'timeout'
  /** The daemon refused the request (`serverCode` says why) or the upgrade (e.g. 401). */
  | 'server'
  /** The daemon sent something this client does not understand. */
  | 'protocol'
  /** The connection closed while a request was pending, or before it opened. */
  | 'closed'
  /**
   * hafwd runs but will not serve this client now: the connection limit is reached with every
   * client subscribed or busy (HTTP 503), the client went over its request budget (close 1008
   * rateLimited) or was evicted for room (close 1013). Try again; not "unreachable".
   */
  | 'busy'

export class ControlClientError extends Error {
  override readonly name = 'ControlClientError'
  constructor (readonly code: ClientErrorCode, message: string, readonly serverCode: ErrorCode | null = null, readonly issues: readonly IssueView[] = []) {
    super(message)
  }
}

export type ControlTarget =
  | { readonly socket: string }
  | { readonly url: string, readonly token?: string }

export interface ConnectOptions {
  /** Connection and per-request timeout. Default 3000 ms. */
  readonly timeoutMs?: number
}

/** Status replies grow with the number of routers; a generous bound still stops a runaway peer. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024

export const DEFAULT_TIMEOUT_MS = 3000

function describe (target: ControlTarget): string {
  return 'socket' in target ? target.socket : target.url
}

/** A connection error as a sentence for the operator. */
function connectError (target: ControlTarget, err: NodeJS.ErrnoException): ControlClientError {
  const where = describe(target)
  switch (err.code) {
    case 'ENOENT':
      return new ControlClientError('notRunning', `hafwd is not running (no control socket at ${where})`)
    case 'ECONNREFUSED':
      return 'socket' in target
        ? new ControlClientError('refused', `hafwd is not running (nothing listens on the control socket ${where})`)
        : new ControlClientError('refused', `hafwd is not running (nothing listens on ${where})`)
    case 'EACCES':
    case 'EPERM':
      return new ControlClientError('permission', `permission denied on ${where} (run as root)`)
    case 'ENOTSOCK':
      return new ControlClientError('notRunning', `${where} is not a socket`)
    default:
      return new ControlClientError('closed', `cannot connect to hafwd at ${where}: ${err.message}`)
  }
}

/** A request waiting for replies; `take` returns true when the reply it got was the last one. */
type Pending = { take: (m: ServerMessage) => boolean, reject: (e: Error) => void, timer: NodeJS.Timeout | undefined, arm: () => void }

export class ControlClient {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly eventListeners = new Set<(e: ControlEvent) => void>()
  private readonly closeListeners = new Set<(why: ControlClientError) => void>()
  private closedBy: ControlClientError | null = null

  private constructor (private readonly ws: WebSocket, private readonly where: string, private readonly timeoutMs: number) {
    ws.on('message', (data, isBinary) => { this.onMessage(data, isBinary) })
    ws.on('close', (code, reason) => {
      const text = reason.toString()
      const busy = code === 1013 || (code === 1008 && text === 'rateLimited')
      const why = new ControlClientError(busy ? 'busy' : 'closed', `hafwd closed the connection (${code}${text.length > 0 ? ` ${text}` : ''})`)
      this.closedBy = why
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(why) }
      this.pending.clear()
      for (const l of this.closeListeners) l(why)
    })
    ws.on('error', () => { /* reported through 'close' */ })
  }

  /** Open a connection; rejects with a ControlClientError that says what to do. */
  static async connect (target: ControlTarget, opts: ConnectOptions = {}): Promise<ControlClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const url = 'socket' in target ? `ws+unix:${target.socket}:/` : target.url
    const headers: Record<string, string> = {}
    if ('url' in target && target.token !== undefined) headers.Authorization = `Bearer ${target.token}`
    const ws = new WebSocket(url, { maxPayload: MAX_REPLY_BYTES, perMessageDeflate: false, handshakeTimeout: timeoutMs, headers })
    return await new Promise<ControlClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        done()
        ws.terminate()
        reject(new ControlClientError('timeout', `no answer from hafwd on ${describe(target)} within ${timeoutMs} ms`))
      }, timeoutMs)
      // Aborting a handshake makes ws emit 'error' once more: keep a listener for it.
      const done = (): void => { clearTimeout(timer); ws.removeAllListeners(); ws.on('error', () => {}) }
      ws.once('open', () => { done(); resolve(new ControlClient(ws, describe(target), timeoutMs)) })
      ws.once('unexpected-response', (_req, res) => {
        done()
        ws.terminate()
        const busy = res.statusCode === 503
        const http = `HTTP ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim()
        reject(busy
          ? new ControlClientError('busy', `hafwd is busy: every control connection is taken by a watcher or a running command (${http}); try again`)
          : new ControlClientError('server', `hafwd refused the connection on ${describe(target)}: ${http}`))
      })
      ws.once('error', (err: NodeJS.ErrnoException) => {
        done()
        reject(/timed out/i.test(err.message)
          ? new ControlClientError('timeout', `no answer from hafwd on ${describe(target)} within ${timeoutMs} ms`)
          : connectError(target, err))
      })
    })
  }

  private onMessage (data: WebSocket.RawData, isBinary: boolean): void {
    const text = isBinary ? '' : (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)).toString('utf8')
    const parsed = parseServerMessage(text)
    if (!parsed.ok) {
      // A message we cannot read fails every pending request: their replies may be lost in it.
      const err = new ControlClientError('protocol', parsed.message)
      for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(err) }
      this.pending.clear()
      return
    }
    const m = parsed.message
    if (m.type === 'event') {
      for (const l of this.eventListeners) l(m.event)
      return
    }
    const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined
    if (p === undefined) return
    clearTimeout(p.timer)
    if (m.type === 'error') {
      this.pending.delete(m.id as number)
      p.reject(new ControlClientError('server', `hafwd refused the request: ${m.message} (${m.code})`, m.code, m.issues ?? []))
      return
    }
    if (p.take(m)) this.pending.delete(m.id as number)
    else p.arm()
  }

  /**
   * Send one request and take its replies until `take` says the last one came (a stream); the
   * timeout applies to each reply. Rejects on an `error` reply, a timeout or a close.
   */
  private async exchange<T> (body: RequestBody, timeoutMs: number, take: (m: ServerMessage, done: (v: T) => void, fail: (e: Error) => void) => boolean): Promise<T> {
    if (this.closedBy !== null) throw this.closedBy
    const id = this.nextId++
    return await new Promise<T>((resolve, reject) => {
      const p: Pending = {
        take: (m) => take(m, resolve, (e) => { reject(e); p.take = () => true }),
        reject,
        timer: undefined,
        arm: () => {
          clearTimeout(p.timer)
          p.timer = setTimeout(() => {
            this.pending.delete(id)
            reject(new ControlClientError('timeout', `no answer from hafwd on ${this.where} within ${timeoutMs} ms`))
          }, timeoutMs)
        }
      }
      p.arm()
      this.pending.set(id, p)
      this.ws.send(encodeMessage({ v: PROTOCOL_VERSION, id, ...body }))
    })
  }

  /**
   * Send one request; resolves with its reply, rejects on an `error` reply, a timeout or a close.
   * `timeoutMs` overrides the connection's timeout (a commit may take longer than a status).
   */
  async request (req: RequestType | RequestBody, timeoutMs = this.timeoutMs): Promise<ServerMessage> {
    const body = (typeof req === 'string' ? { type: req } : req) as RequestBody
    return await this.exchange<ServerMessage>(body, timeoutMs, (m, done) => { done(m); return true })
  }

  /** A whole conntrack cache (the `dump` stream, reassembled in order). */
  async dump (cache: CacheName): Promise<CtEntryView[]> {
    const entries: CtEntryView[] = []
    let expected = 0
    return await this.exchange<CtEntryView[]>({ type: 'dump', cache }, this.timeoutMs, (m, done, fail) => {
      if (m.type !== 'dump' || m.chunk !== expected) {
        fail(new ControlClientError('protocol', `expected dump chunk ${expected}, got ${m.type === 'dump' ? `chunk ${m.chunk}` : m.type}`))
        return true
      }
      expected++
      entries.push(...m.entries)
      if (m.last) done(entries)
      return m.last
    })
  }

  async status (): Promise<Status> {
    const m = await this.request('status')
    if (m.type !== 'status') throw new ControlClientError('protocol', `expected a status reply, got ${m.type}`)
    return m.status
  }

  async counters (): Promise<Readonly<Record<string, number>>> {
    const m = await this.request('counters')
    if (m.type !== 'counters') throw new ControlClientError('protocol', `expected a counters reply, got ${m.type}`)
    return m.counters
  }

  /** Receive pushed events from now on. */
  async subscribe (listener: (e: ControlEvent) => void): Promise<void> {
    this.eventListeners.add(listener)
    const m = await this.request('subscribe')
    if (m.type !== 'subscribed') throw new ControlClientError('protocol', `expected a subscribed reply, got ${m.type}`)
  }

  /** Called once when the connection closes (daemon stopped, or close()). */
  onClose (listener: (why: ControlClientError) => void): void { this.closeListeners.add(listener) }

  async close (): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>(resolve => {
      this.ws.once('close', () => { resolve() })
      this.ws.close(1000)
      // Do not wait on a daemon that does not answer the closing handshake.
      setTimeout(() => { this.ws.terminate() }, 500).unref()
    })
  }
}
