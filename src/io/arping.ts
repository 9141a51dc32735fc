/**
 * Gratuitous ARP through iputils `arping` (Debian package iputils-arping), run by io/run-program.ts.
 *
 * `arping -U` sends unsolicited ARP requests whose sender and target are the VIP, which is what
 * updates neighbours' caches after a takeover (RFC 5798 §6.4.1 (o) / RFC 5227 §3 "ARP
 * Announcement"). Each call is bounded in time; failures are typed so the executor can count them
 * by reason instead of crashing.
 */
import { runProgram } from './run-program.js'

export type ArpingFailure = 'ARPING_NOT_INSTALLED' | 'ARPING_TIMEOUT' | 'ARPING_FAILED'

export class ArpingError extends Error {
  override readonly name = 'ArpingError'
  constructor (readonly code: ArpingFailure, message: string) { super(`${code}: ${message}`) }
}

export interface ArpingOptions {
  /** Path or name of the binary (default `arping`, found on PATH). */
  readonly binary?: string
  /** Gap between repeated packets in whole seconds (iputils `-i` takes integers only); default 1. */
  readonly intervalS?: number
  /** Abort the round (the VIP was removed): arping is killed, no further GARP leaves. */
  readonly signal?: AbortSignal
}

/** Argument vector for one announce round; exported so tests can check it without running arping. */
export function arpingArgs (ifname: string, address: string, count: number, intervalS: number): string[] {
  return ['-q', '-U', '-c', String(count), '-i', String(intervalS), '-I', ifname, '-s', address, address]
}

export async function garpWithArping (ifname: string, address: string, count: number, opts: ArpingOptions = {}): Promise<void> {
  const intervalS = Math.max(1, Math.round(opts.intervalS ?? 1))
  const timeoutMs = Math.ceil((count * intervalS + 2) * 1000)
  try {
    // The first packet leaves at once; arping then lingers one interval per further packet, so
    // the round runs in the background of the executor. Only a signal, a timeout, or a message on
    // stderr means failure: the exit status in -U mode says nothing about replies we never expect.
    const r = await runProgram(opts.binary ?? 'arping', arpingArgs(ifname, address, count, intervalS), { timeoutMs, stderr: 'capture', ...(opts.signal !== undefined ? { signal: opts.signal } : {}) })
    if (r.canceled) return
    if (r.timedOut) throw new ArpingError('ARPING_TIMEOUT', `arping for ${address} on ${ifname} took over ${timeoutMs} ms`)
    if (r.startError?.code === 'ENOENT') throw new ArpingError('ARPING_NOT_INSTALLED', 'arping not found (install iputils-arping)')
    if (r.startError !== undefined) throw new ArpingError('ARPING_FAILED', `arping cannot be run: ${r.startError.message}`)
    const stderr = r.stderr.trim()
    if (r.signal !== null || stderr !== '') throw new ArpingError('ARPING_FAILED', `arping ${address} on ${ifname}: ${stderr === '' ? `signal ${String(r.signal)}` : stderr}`)
  } catch (err) {
    if (err instanceof ArpingError) throw err
    throw new ArpingError('ARPING_FAILED', String(err))
  }
}

/** True when an arping binary that understands iputils options can be run. */
export async function arpingAvailable (binary = 'arping'): Promise<boolean> {
  const r = await runProgram(binary, ['-V'], { timeoutMs: 3000, stdout: 'capture', stderr: 'capture' })
  return r.exitCode === 0 && /iputils/.test(r.stdout + r.stderr)
}
