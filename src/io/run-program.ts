/**
 * Run a program without a shell, bounded in time, and say how it ended. The daemon runs three
 * kinds: iputils `arping` for gratuitous ARP (io/arping.ts), the notify hooks (runtime/notify.ts)
 * and the track scripts (runtime/trackers.ts); plus `systemd-notify --ready` once.
 *
 * Why not execa (the architecture's first choice): loading execa and its dependencies cost the
 * daemon ~5 MiB of resident memory for the whole of its life (measured: a bare node that runs
 * one program is 53.8 MiB with execa, 43.7 MiB with node:child_process), and the daemon uses
 * none of what it adds beyond this file: argv without a shell, a timeout that kills (then
 * SIGKILL after a grace), cancellation, the start error, a bounded capture of the output. The
 * lab and the benches, short-lived tools, keep execa.
 *
 * Never rejects: every way a program can end is a field of the result.
 */
import { spawn } from 'node:child_process'
import type { Readable } from 'node:stream'

export interface RunOptions {
  /** Kill the program after this long (killSignal, then SIGKILL after forceKillAfterMs). */
  readonly timeoutMs?: number
  readonly killSignal?: NodeJS.Signals
  /** Grace between killSignal and SIGKILL, for a timeout or a cancel (default 5000 ms). */
  readonly forceKillAfterMs?: number
  /** Cancel: the program is killed as on a timeout; the result says `canceled`. */
  readonly signal?: AbortSignal
  /** Added to the daemon's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** 'ignore' (default) or 'capture'; a capture keeps the last maxCaptureChars characters. */
  readonly stdout?: 'ignore' | 'capture'
  readonly stderr?: 'ignore' | 'capture'
  readonly maxCaptureChars?: number
}

export interface RunResult {
  /** null when the program ended by a signal or never started. */
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly timedOut: boolean
  readonly canceled: boolean
  /** The program could not be started (its errno code: ENOENT, EACCES, ...). */
  readonly startError?: { readonly code: string, readonly message: string }
  readonly stdout: string
  readonly stderr: string
}

export const DEFAULT_FORCE_KILL_AFTER_MS = 5000
export const DEFAULT_MAX_CAPTURE_CHARS = 64 * 1024

/** The tail of a stream's text: a chatty program is never killed nor buffered whole for its output. */
function tailOf (stream: Readable | null, max: number): () => string {
  let text = ''
  if (stream === null) return () => text
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => { text = text.length + chunk.length > max ? (text + chunk).slice(-max) : text + chunk })
  return () => text
}

export async function runProgram (file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const max = opts.maxCaptureChars ?? DEFAULT_MAX_CAPTURE_CHARS
  return await new Promise<RunResult>((resolve) => {
    let timedOut = false
    let canceled = false
    let startError: { code: string, message: string } | undefined
    let timer: NodeJS.Timeout | undefined
    let forceTimer: NodeJS.Timeout | undefined
    const child = spawn(file, args, {
      shell: false,
      stdio: ['ignore', opts.stdout === 'capture' ? 'pipe' : 'ignore', opts.stderr === 'capture' ? 'pipe' : 'ignore'],
      ...(opts.env !== undefined ? { env: { ...process.env, ...opts.env } } : {})
    })
    const stdout = tailOf(child.stdout, max)
    const stderr = tailOf(child.stderr, max)
    const kill = (): void => {
      child.kill(opts.killSignal ?? 'SIGTERM')
      forceTimer ??= setTimeout(() => { child.kill('SIGKILL') }, opts.forceKillAfterMs ?? DEFAULT_FORCE_KILL_AFTER_MS)
    }
    const onAbort = (): void => { canceled = true; kill() }
    const done = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer)
      clearTimeout(forceTimer)
      opts.signal?.removeEventListener('abort', onAbort)
      resolve({ exitCode, signal, timedOut, canceled, ...(startError !== undefined ? { startError } : {}), stdout: stdout(), stderr: stderr() })
    }
    // 'error' without a pid: the program never started; 'close' may not follow, so end here.
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return
      startError = { code: err.code ?? 'UNKNOWN', message: err.message }
      done(null, null)
    })
    if (child.pid === undefined) return
    // 'close', not 'exit': the output streams are read to their end first.
    child.once('close', (code, signal) => { done(code, signal) })
    if (opts.timeoutMs !== undefined) timer = setTimeout(() => { timedOut = true; kill() }, opts.timeoutMs)
    if (opts.signal !== undefined) {
      if (opts.signal.aborted) onAbort()
      else opts.signal.addEventListener('abort', onAbort, { once: true })
    }
  })
}
