/**
 * Supervises the event listener process (./ctnetlink-event-child.ts): starts it, reads its frames,
 * and when it dies (an overflowed event socket aborts it, see ./ctnetlink-socket.ts) starts a new one
 * and reports an overrun once the new one has joined the groups, so a resync dump started from that
 * report cannot miss a change (events after the join are captured, the dump covers the rest).
 *
 * The child runs with the same node flags (so it also runs from TypeScript sources under a loader)
 * and core dumps off.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FrameReader, ListenerFrame } from './ctnetlink-frames.js'
import { CtnlIoError } from './ctnetlink-socket.js'
import type { OverrunInfo } from './conntrack-port.js'

export interface ListenerOptions {
  /** SO_RCVBUF request for the event socket (the kernel doubles it, capped at 2 × rmem_max). */
  recvBufferSize?: number
  /** How long a listener may take to join the groups. Default 15000 ms. */
  readyTimeoutMs?: number
}

export interface ListenerStats {
  /** Listener processes started (1 + restarts). */
  starts: number
  /** Event socket port id and effective buffer of the current listener. */
  portId: number
  recvBufferSize: number
  /** Last words of the last listener that died (stderr tail, exit code or signal). */
  lastExit: string
}

export type OverrunReason = OverrunInfo['reason']

const RESTART_BACKOFF_MIN_MS = 20
const RESTART_BACKOFF_MAX_MS = 5000
const STDERR_TAIL = 2048

const here = fileURLToPath(import.meta.url)
/** Same extension as this module: .js from dist, .ts when run from sources under a loader. */
const childPath = join(dirname(here), `ctnetlink-event-child${extname(here)}`)

/** Node flags for the child: keep loaders, drop test-runner instrumentation and debuggers. */
function childExecArgv (): string[] {
  return process.execArgv.filter(a => !a.startsWith('--inspect') && !a.includes('@tapjs/processinfo') && !a.includes('@tapjs/mock'))
}

export class EventListener {
  private child: ChildProcess | undefined
  private closed = false
  private everReady = false
  private backoff = RESTART_BACKOFF_MIN_MS
  private restartTimer: NodeJS.Timeout | undefined
  readonly stats: ListenerStats = { starts: 0, portId: 0, recvBufferSize: 0, lastExit: '' }

  constructor (
    private readonly opts: ListenerOptions,
    private readonly onData: (buf: Buffer) => void,
    private readonly onOverrun: (reason: OverrunReason) => void,
    private readonly onSocketError: (errno: string) => void = () => {}
  ) {}

  /** Start the first listener; resolves once it has joined the groups. */
  async start (): Promise<void> {
    await new Promise<void>((resolve, reject) => { this.spawnChild(resolve, reject) })
  }

  close (): void {
    this.closed = true
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer)
    const c = this.child
    this.child = undefined
    if (c !== undefined) {
      c.stdin?.end()
      c.kill('SIGTERM')
    }
  }

  private spawnChild (onReady?: () => void, onFail?: (err: Error) => void): void {
    const cfg = JSON.stringify({ recvBufferSize: this.opts.recvBufferSize ?? 0 })
    const env = { ...process.env }
    delete env.NODE_OPTIONS
    const child = spawn('/bin/sh', ['-c', 'ulimit -c 0; exec "$@"', 'sh', process.execPath, ...childExecArgv(), childPath, cfg], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env
    })
    this.child = child
    this.stats.starts++
    let ready = false
    let stderr = ''
    const readyTimer = setTimeout(() => {
      if (ready) return
      child.kill('SIGKILL')
      stderr += `\nno READY within ${this.opts.readyTimeoutMs ?? 15000} ms`
    }, this.opts.readyTimeoutMs ?? 15000)
    const reader = new FrameReader((kind, body) => {
      switch (kind) {
        case ListenerFrame.READY: {
          const info = JSON.parse(body.toString('utf8')) as { portId: number, recvBufferSize: number }
          this.stats.portId = info.portId
          this.stats.recvBufferSize = info.recvBufferSize
          ready = true
          clearTimeout(readyTimer)
          this.backoff = RESTART_BACKOFF_MIN_MS
          const restarted = this.everReady
          this.everReady = true
          if (onReady !== undefined) onReady()
          // a replacement: everything between the old listener's death and now is lost
          if (restarted) this.onOverrun('listener-restarted')
          break
        }
        case ListenerFrame.DATA:
          this.onData(body)
          break
        case ListenerFrame.OVERRUN:
          this.onOverrun('enobufs')
          break
        case ListenerFrame.ERROR:
          this.onSocketError((JSON.parse(body.toString('utf8')) as { errno: string }).errno)
          break
        default:
          break
      }
    })
    child.stdout?.on('data', (chunk: Buffer) => { reader.push(chunk) })
    child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL) })
    child.stdin?.on('error', () => {})
    child.on('error', (err) => { stderr += `\nspawn: ${err.message}` })
    child.on('close', (code, signal) => {
      clearTimeout(readyTimer)
      this.stats.lastExit = `${signal ?? `exit ${String(code)}`}: ${stderr.trim()}`
      if (this.child === child) this.child = undefined
      if (this.closed) return
      if (!ready && onFail !== undefined) {
        onFail(new CtnlIoError('CTNL_LISTENER', `event listener did not start (${this.stats.lastExit})`))
        return
      }
      const delay = ready ? RESTART_BACKOFF_MIN_MS : this.backoff
      if (!ready) this.backoff = Math.min(this.backoff * 2, RESTART_BACKOFF_MAX_MS)
      this.restartTimer = setTimeout(() => { this.restartTimer = undefined; if (!this.closed) this.spawnChild() }, delay)
    })
  }
}
