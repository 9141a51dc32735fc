/**
 * The control server (architecture decision 9: local only). A WebSocket on a unix socket, which
 * the file system protects (mode 0600, owned by the daemon's user, root in production), and
 * optionally on a loopback TCP port protected by a bearer token. It answers the requests of
 * protocol.ts and pushes transition events to subscribers.
 *
 * Nothing a client sends can change the daemon's state or stop it: every bad request gets an
 * `error` reply and the connection keeps serving. Limits: MAX_REQUEST_BYTES per request (error
 * reply above it), HARD_MAX_PAYLOAD per frame (the connection is closed above it, 1009), a
 * bounded number of clients, and a bounded send buffer per subscriber (a client that does not
 * read its events is disconnected instead of growing the daemon's memory).
 *
 * Issue 12 limits (control/limits.ts): a client that sends nothing for idleTimeoutMs and is not
 * subscribed is closed (1000 idle); each client has a request budget (token bucket; over it: a
 * `rateLimited` error, then close 1008 rateLimited); and when maxClients are connected, the
 * longest-idle client that holds nothing makes room (close 1013 evicted) so `hafwctl state`
 * always gets an answer — only a server full of watchers answers HTTP 503 (hafwctl exit 5).
 * Time comes from the injected timers (runtime clock by default), so tests use a fake clock.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { dirname } from 'node:path'
import pino from 'pino'
import { WebSocketServer, WebSocket } from 'ws'
import type { RawData } from 'ws'
import { isLoopback } from '../config/net.js'
import type { HostPort } from '../config/net.js'
import type { Logger } from '../runtime/log.js'
import { monotonicClock } from '../runtime/clock.js'
import { evictionCandidate, newBucket, takeToken } from './limits.js'
import type { Bucket, RequestBudget } from './limits.js'
import { DEFAULT_COMMIT_WAIT_MS, DUMP_CHUNK_ENTRIES, encodeMessage, errorReply, MAX_REQUEST_BYTES, parseRequest, PROTOCOL_VERSION } from './protocol.js'
import type { CacheName, ControlEvent, ReplyId, Request, ServerMessage } from './protocol.js'
import { CommandError } from './commands.js'
import type { CommandHandler } from './commands.js'
import type { StatusSource } from './source.js'

/** Frames above this close the connection (ws code 1009) instead of getting an error reply. */
export const HARD_MAX_PAYLOAD = 4 * MAX_REQUEST_BYTES
export const DEFAULT_MAX_CLIENTS = 64
/** Unsent bytes a subscriber may hold before it is disconnected as too slow. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000
/** 50 requests/s sustained, 200 at once: far above hafwctl and monitoring, far below a loop. */
export const DEFAULT_REQUEST_BUDGET: RequestBudget = { ratePerSecond: 50, burst: 200 }

/** The server's time: the runtime's monotonic clock and timers, or a fake in tests. */
export interface ControlTimers {
  readonly now: () => number
  readonly setTimeout: (f: () => void, ms: number) => unknown
  readonly clearTimeout: (handle: unknown) => void
}

const realTimers: ControlTimers = {
  now: monotonicClock,
  // Unref'd: an idle check never keeps the process alive.
  setTimeout: (f, ms) => setTimeout(f, ms).unref(),
  clearTimeout: (h) => { clearTimeout(h as NodeJS.Timeout) }
}

/** What the server keeps per connected client. */
interface ClientState {
  lastActive: number
  subscribed: boolean
  inFlight: number
  readonly bucket: Bucket
  idleTimer: unknown
}

/** How long close() waits for clients to finish the WebSocket closing handshake. */
const CLOSE_GRACE_MS = 500

export class ControlServerError extends Error {
  override readonly name = 'ControlServerError'
}

export interface ControlServerOptions {
  /** Path of the unix socket. */
  readonly socket: string
  /** Also listen on this loopback address; clients must present the token. */
  readonly tcp?: { readonly listen: HostPort, readonly token: string } | null
  readonly source: StatusSource
  /** The commands (reload, maintenance, conntrack); absent: every command answers `notAvailable`. */
  readonly commands?: CommandHandler
  readonly log?: Logger
  readonly maxClients?: number
  readonly maxBufferedBytes?: number
  /** Close clients idle (no request, no subscription) this long; 0 = never. Default 60 s. */
  readonly idleTimeoutMs?: number
  readonly requestBudget?: RequestBudget
  readonly timers?: ControlTimers
}

export interface ControlServer {
  readonly socketPath: string
  /** The TCP address actually bound (port 0 in the options picks a free port), or null. */
  readonly tcpAddress: AddressInfo | null
  clientCount: () => number
  /** Stop listening, close every connection (1001), remove the socket file. */
  close: () => Promise<void>
}

/**
 * A socket file left by a daemon that died is removed; a socket someone still serves is not
 * (a second hafwd on the same socket is refused), and nothing that is not a socket is touched.
 */
async function prepareSocketPath (path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 })
  let st
  try {
    st = lstatSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  if (!st.isSocket()) throw new ControlServerError(`${path} exists and is not a socket; refusing to replace it`)
  const inUse = await new Promise<boolean>((resolve, reject) => {
    const s = connect(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve(false)
      else reject(new ControlServerError(`cannot check the existing socket ${path}: ${err.message}`))
    })
  })
  if (inUse) throw new ControlServerError(`another process serves ${path} (is hafwd already running?)`)
  unlinkSync(path)
}

async function listen (server: Server, bind: () => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(err) }
    server.once('error', onError)
    server.once('listening', () => { server.off('error', onError); resolve() })
    bind()
  })
}

function digest (s: string): Buffer { return createHash('sha256').update(s).digest() }

/** Bearer token from the Authorization header or the `token` query parameter, compared in constant time. */
function authorized (req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization
  let token: string | null = null
  if (typeof header === 'string' && /^Bearer\s+/i.test(header)) token = header.replace(/^Bearer\s+/i, '').trim()
  if (token === null) {
    try {
      token = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token')
    } catch {
      token = null
    }
  }
  return token !== null && timingSafeEqual(digest(token), expected)
}

function refuseUpgrade (socket: Socket, status: string, body: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}

function plainHttp (_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'Upgrade' })
  res.end('hafwd control API: connect with a WebSocket (hafwctl)\n')
}

export async function startControlServer (opts: ControlServerOptions): Promise<ControlServer> {
  const log = opts.log ?? pino({ level: 'silent' })
  const maxClients = opts.maxClients ?? DEFAULT_MAX_CLIENTS
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const budget = opts.requestBudget ?? DEFAULT_REQUEST_BUDGET
  const timers = opts.timers ?? realTimers
  /** The connected clients: counted here, not by wss.clients, which keeps closing ones. */
  const clients = new Map<WebSocket, ClientState>()
  if (opts.tcp != null && !isLoopback(opts.tcp.listen.host)) {
    throw new ControlServerError(`control.tcp.listen ${opts.tcp.listen.host} is not a loopback address: the control plane is local only`)
  }
  const wss = new WebSocketServer({ noServer: true, maxPayload: HARD_MAX_PAYLOAD, perMessageDeflate: false, clientTracking: true })
  const subscribers = new Set<WebSocket>()

  const send = (ws: WebSocket, m: ServerMessage): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeMessage(m))
  }

  const onMessage = (ws: WebSocket, data: RawData, isBinary: boolean): void => {
    const c = clients.get(ws)
    if (c === undefined) return // evicted or closing: nothing more is answered
    const now = timers.now()
    // The budget counts every frame, garbage included: each one costs an answer.
    if (!takeToken(c.bucket, budget, now)) {
      log.warn({ ratePerSecond: budget.ratePerSecond, burst: budget.burst }, 'control client over its request budget: disconnected')
      send(ws, errorReply(null, 'rateLimited', `over the request budget (${budget.ratePerSecond}/s, burst ${budget.burst}): connection closed`))
      drop(ws, 1008, 'rateLimited')
      return
    }
    c.lastActive = now
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
    if (isBinary) {
      send(ws, errorReply(null, 'badJson', 'binary frames are not accepted: send JSON text'))
      return
    }
    // The size is checked before the bytes are decoded (protocol.ts check 1).
    const parsed = parseRequest(buf.length > MAX_REQUEST_BYTES ? '' : buf.toString('utf8'), buf.length)
    if (!parsed.ok) {
      log.debug({ code: parsed.reply.code, detail: parsed.reply.message }, 'control request refused')
      send(ws, parsed.reply)
      return
    }
    const { request } = parsed
    const id = request.id ?? null
    if (isCommand(request)) {
      // A client with a command in flight is neither idle nor evictable: its reply must arrive.
      c.inFlight++
      void runCommand(ws, request, id).finally(() => { c.inFlight--; c.lastActive = timers.now() })
      return
    }
    try {
      switch (request.type) {
        case 'status':
          send(ws, { v: PROTOCOL_VERSION, id, type: 'status', status: opts.source.status() })
          break
        case 'counters':
          send(ws, { v: PROTOCOL_VERSION, id, type: 'counters', counters: opts.source.counters() })
          break
        case 'subscribe':
          subscribers.add(ws)
          c.subscribed = true
          send(ws, { v: PROTOCOL_VERSION, id, type: 'subscribed' })
          break
        case 'unsubscribe':
          subscribers.delete(ws)
          c.subscribed = false
          send(ws, { v: PROTOCOL_VERSION, id, type: 'unsubscribed' })
          break
      }
    } catch (err) {
      log.error({ err: String(err), type: request.type }, 'control request failed')
      send(ws, errorReply(id, 'internal', `hafwd could not answer "${request.type}": ${err instanceof Error ? err.message : String(err)}`))
    }
  }

  const failed = (id: ReplyId, type: string, err: unknown): ServerMessage => {
    if (err instanceof CommandError) {
      log.info({ type, code: err.code, err: err.message }, 'control command refused')
      return errorReply(id, err.code, err.message, err.issues)
    }
    log.error({ err: String(err), type }, 'control command failed')
    return errorReply(id, 'internal', `hafwd could not carry out "${type}": ${err instanceof Error ? err.message : String(err)}`)
  }

  /** Commands run asynchronously; replies keep the request's id, so concurrent requests stay matched. */
  const runCommand = async (ws: WebSocket, request: Request, id: ReplyId): Promise<void> => {
    const h = opts.commands
    if (h === undefined) {
      send(ws, errorReply(id, 'notAvailable', `"${request.type}" is not available: this hafwd serves no commands`))
      return
    }
    const base = { v: PROTOCOL_VERSION, id } as const
    try {
      log.info({ type: request.type }, 'control command')
      switch (request.type) {
        case 'reload': {
          const r = await h.reload(request.dryRun === true ? { dryRun: true } : undefined)
          send(ws, { ...base, type: 'reloaded', file: r.file, changes: r.changes, notes: r.notes, ...(r.routers !== undefined ? { routers: r.routers } : {}), ...(r.dryRun === true ? { dryRun: true } : {}) })
          break
        }
        case 'maintenance': {
          const r = await h.maintenance(request.on)
          send(ws, { ...base, type: 'maintenance', on: r.on, changed: r.changed })
          break
        }
        case 'commit':
          send(ws, { ...base, type: 'done', command: 'commit', ...await h.commit(request.waitMs ?? DEFAULT_COMMIT_WAIT_MS) })
          break
        case 'flush':
          send(ws, { ...base, type: 'done', command: 'flush', ...await h.flush(request.caches ?? 'both') })
          break
        case 'resync':
        case 'bulk':
        case 'requestResync':
          send(ws, { ...base, type: 'done', command: request.type, ...await h[request.type]() })
          break
        case 'stats': {
          const r = h.stats()
          send(ws, { ...base, type: 'stats', conntrack: r.conntrack, counters: r.counters })
          break
        }
        case 'dump':
          await streamDump(ws, id, request.cache, await h.dump(request.cache))
          break
        default:
          break
      }
    } catch (err) {
      send(ws, failed(id, request.type, err))
    }
  }

  /**
   * A dump in chunks of DUMP_CHUNK_ENTRIES, yielding to the event loop between chunks (adverts
   * go on during a 100k-entry dump) and waiting while the client's send buffer is full, so a
   * slow reader costs a bounded amount of memory; a client that goes away ends the stream.
   */
  const streamDump = async (ws: WebSocket, id: ReplyId, cache: CacheName, entries: readonly unknown[]): Promise<void> => {
    const chunks = Math.max(1, Math.ceil(entries.length / DUMP_CHUNK_ENTRIES))
    for (let chunk = 0; chunk < chunks; chunk++) {
      while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > maxBuffered) await new Promise(resolve => setTimeout(resolve, 5))
      if (ws.readyState !== WebSocket.OPEN) return
      const slice = entries.slice(chunk * DUMP_CHUNK_ENTRIES, (chunk + 1) * DUMP_CHUNK_ENTRIES)
      send(ws, { v: PROTOCOL_VERSION, id, type: 'dump', cache, chunk, total: entries.length, last: chunk === chunks - 1, entries: slice as never })
      if (chunk < chunks - 1) await new Promise(resolve => setImmediate(resolve))
    }
  }

  const onEvent = (event: ControlEvent): void => {
    const text = encodeMessage({ v: PROTOCOL_VERSION, type: 'event', event })
    for (const ws of subscribers) {
      if (ws.readyState !== WebSocket.OPEN) continue
      if (ws.bufferedAmount > maxBuffered) {
        subscribers.delete(ws)
        log.warn({ buffered: ws.bufferedAmount }, 'control subscriber does not read its events: disconnected')
        ws.close(1008, 'tooSlow')
        continue
      }
      ws.send(text)
    }
  }
  const stopEvents = opts.source.onEvent(onEvent)

  /** Forget a client at once (it no longer counts against maxClients) and close it. */
  const drop = (ws: WebSocket, code: number, reason: string): void => {
    const c = clients.get(ws)
    if (c !== undefined) timers.clearTimeout(c.idleTimer)
    clients.delete(ws)
    subscribers.delete(ws)
    ws.close(code, reason)
  }

  /**
   * The idle check of one client, armed at connect and re-armed for what is left: a request
   * moves lastActive on without touching the timer. Subscribers and clients with a command in
   * flight are looked at again one period later.
   */
  const armIdle = (ws: WebSocket, c: ClientState, ms: number): void => {
    c.idleTimer = timers.setTimeout(() => {
      if (clients.get(ws) !== c) return
      const left = c.lastActive + idleMs - timers.now()
      if (c.subscribed || c.inFlight > 0) armIdle(ws, c, idleMs)
      else if (left > 0) armIdle(ws, c, left)
      else {
        log.debug({ idleMs }, 'idle control client closed')
        drop(ws, 1000, 'idle')
      }
    }, ms)
  }

  /** Room for one more client: true when below the limit or after evicting an idle one. */
  const makeRoom = (): boolean => {
    if (clients.size < maxClients) return true
    const victim = evictionCandidate([...clients].map(([ws, c]) => ({ client: ws, lastActive: c.lastActive, subscribed: c.subscribed, inFlight: c.inFlight })))
    if (victim === null) return false
    log.info({ maxClients }, 'control connection limit reached: the longest-idle client is closed to make room')
    drop(victim, 1013, 'evicted')
    return true
  }

  const accept = (transport: 'unix' | 'tcp', req: IncomingMessage, socket: Socket, head: Buffer): void => {
    if (!makeRoom()) {
      refuseUpgrade(socket, '503 Service Unavailable', `too many control clients (${maxClients}), all subscribed or busy\n`)
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const now = timers.now()
      const c: ClientState = { lastActive: now, subscribed: false, inFlight: 0, bucket: newBucket(budget, now), idleTimer: undefined }
      clients.set(ws, c)
      if (idleMs > 0) armIdle(ws, c, idleMs)
      log.debug({ transport, clients: clients.size }, 'control client connected')
      ws.on('message', (data, isBinary) => { onMessage(ws, data, isBinary) })
      ws.on('close', () => {
        subscribers.delete(ws)
        if (clients.get(ws) === c) { timers.clearTimeout(c.idleTimer); clients.delete(ws) }
      })
      // A client that breaks the WebSocket framing (e.g. a frame above HARD_MAX_PAYLOAD) is
      // closed by ws; the error is only logged.
      ws.on('error', (err) => { log.debug({ err: err.message }, 'control client error') })
    })
  }

  const servers: Server[] = []
  const closeAll = async (): Promise<void> => {
    stopEvents()
    for (const c of clients.values()) timers.clearTimeout(c.idleTimer)
    clients.clear()
    const closed = servers.map(async s => await new Promise<void>(resolve => { s.close(() => { resolve() }) }))
    const open = [...wss.clients]
    const gone = open.map(async ws => await new Promise<void>(resolve => {
      if (ws.readyState === WebSocket.CLOSED) resolve()
      else ws.once('close', () => { resolve() })
    }))
    for (const ws of open) ws.close(1001, 'hafwd stopping')
    // Clients that do not finish the closing handshake soon are cut.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(gone), new Promise<void>(resolve => { timer = setTimeout(resolve, CLOSE_GRACE_MS) })])
    clearTimeout(timer)
    for (const ws of open) ws.terminate()
    for (const s of servers) s.closeAllConnections()
    wss.close()
    await Promise.all(closed)
  }

  // Unix socket.
  const path = opts.socket
  const unixServer = createServer(plainHttp)
  unixServer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => { accept('unix', req, socket, head) })
  unixServer.on('clientError', (_err, socket) => { socket.destroy() })
  let socketId: { dev: number, ino: number } | null = null
  try {
    await prepareSocketPath(path)
    // The socket file is created by bind() with mode 0600 already (umask), then chmod'ed for
    // good measure: there is no instant at which another user may connect.
    await listen(unixServer, () => {
      const old = process.umask(0o177)
      try { unixServer.listen(path) } finally { process.umask(old) }
    })
    servers.push(unixServer)
    chmodSync(path, 0o600)
    const st = statSync(path)
    socketId = { dev: st.dev, ino: st.ino }
  } catch (err) {
    await closeAll()
    if (err instanceof ControlServerError) throw err
    throw new ControlServerError(`cannot listen on the control socket ${path}: ${err instanceof Error ? err.message : String(err)}`)
  }

  // Optional loopback TCP listener with a bearer token.
  let tcpAddress: AddressInfo | null = null
  if (opts.tcp != null) {
    const expected = digest(opts.tcp.token)
    const tcpServer = createServer(plainHttp)
    tcpServer.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (!authorized(req, expected)) {
        log.warn({ remote: socket.remoteAddress }, 'control TCP client without a valid token refused')
        refuseUpgrade(socket, '401 Unauthorized', 'a valid bearer token is required\n')
        return
      }
      accept('tcp', req, socket, head)
    })
    tcpServer.on('clientError', (_err, socket) => { socket.destroy() })
    const { host, port } = opts.tcp.listen
    try {
      await listen(tcpServer, () => { tcpServer.listen(port, host) })
      servers.push(tcpServer)
      tcpAddress = tcpServer.address() as AddressInfo
    } catch (err) {
      await closeAll()
      removeSocket(path, socketId)
      throw new ControlServerError(`cannot listen on ${host}:${port} for the control API: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  log.info({ socket: path, tcp: tcpAddress === null ? null : `${tcpAddress.address}:${tcpAddress.port}` }, 'control API listening')

  let closing: Promise<void> | null = null
  return {
    socketPath: path,
    tcpAddress,
    clientCount: () => clients.size,
    close: async () => {
      closing ??= (async () => {
        await closeAll()
        removeSocket(path, socketId)
      })()
      await closing
    }
  }
}

function isCommand (r: Request): boolean {
  return r.type !== 'status' && r.type !== 'counters' && r.type !== 'subscribe' && r.type !== 'unsubscribe'
}

/** Remove the socket file only if it is still the one this server created. */
function removeSocket (path: string, id: { dev: number, ino: number } | null): void {
  if (id === null) return
  try {
    const st = lstatSync(path)
    if (st.dev === id.dev && st.ino === id.ino) unlinkSync(path)
  } catch {
    // Already gone.
  }
}
