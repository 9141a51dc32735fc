/**
 * Long-lived sessions through the firewall pair, for the field's acceptance test and the lab:
 *
 *   node dist/lab/sessions.js serve PORT                       (in the server namespace)
 *   node dist/lab/sessions.js run HOST PORT N DURATION_MS      (in the client namespace)
 *
 * `run` opens N TCP connections and a UDP flow per connection; every 50 ms each sends a line and
 * the server echoes it. At the end it prints one JSON line: per protocol, how many sessions
 * survived and, separately, the longest echo gap seen. A session survived when it never saw an
 * error or reset and its echoes had resumed before the end (an echo within the last
 * RESUMED_MS): a stall during a takeover is not a broken session — at 1 s adverts the takeover
 * alone takes ~3.6 s and TCP's retransmission back-off can stretch the stall to twice that — but
 * a session whose packets the new master drops never echoes again. The caller runs it long
 * enough for the slowest takeover plus that back-off (see `sessionDurationMs`). Bounded in count
 * and time; it only talks to HOST, an address inside the lab's namespaces.
 */
import { createServer, connect } from 'node:net'
import type { Socket } from 'node:net'
import { createSocket } from 'node:dgram'

export const TICK_MS = 50
/** A session whose last echo is older than this at the end has not resumed: counted as broken. */
export const RESUMED_MS = 1000

/**
 * How long to run sessions across one takeover that starts `killAfterMs` into the run, at VRRP
 * advert interval `advertMs`: the backup's Master_Down_Interval (3 × interval + skew < 4 ×
 * interval, RFC 5798 §6.1) plus the commit before the VIPs (`commitMs`, a lab's few hundred
 * entries take tens of ms) bounds the outage O; TCP's exponential
 * retransmission back-off (RTO from 200 ms, doubling) sends its next segment at most 2·O + 200 ms
 * after the loss; then a margin for RESUMED_MS and the echoes to show.
 */
export function sessionDurationMs (killAfterMs: number, advertMs: number, commitMs = 500): number {
  const outage = 4 * advertMs + commitMs
  return Math.ceil(killAfterMs + 2 * outage + 200 + RESUMED_MS + 2000)
}

export interface SessionReport {
  readonly tcp: { readonly total: number, readonly survived: number, readonly errors: number, readonly maxGapMs: number }
  readonly udp: { readonly total: number, readonly survived: number, readonly maxGapMs: number }
}

function serve (port: number): void {
  createServer(sock => {
    sock.on('data', d => { sock.write(d) })
    sock.on('error', () => { sock.destroy() })
  }).listen(port)
  const udp = createSocket('udp4')
  udp.on('message', (msg, rinfo) => { udp.send(msg, rinfo.port, rinfo.address) })
  udp.bind(port)
}

async function run (host: string, port: number, n: number, durationMs: number): Promise<SessionReport> {
  const start = performance.now()
  const tcp = Array.from({ length: n }, () => ({ last: start, maxGap: 0, error: false, sock: null as Socket | null }))
  const udp = Array.from({ length: n }, () => ({ last: start, maxGap: 0 }))
  await Promise.all(tcp.map(async s => await new Promise<void>((resolve) => {
    const sock = connect({ host, port }, () => { resolve() })
    s.sock = sock
    sock.setNoDelay(true)
    sock.on('data', () => { const now = performance.now(); s.maxGap = Math.max(s.maxGap, now - s.last); s.last = now })
    sock.on('error', () => { s.error = true; resolve() })
    sock.on('close', () => { s.error = true })
  })))
  const udpSocks = udp.map(u => {
    const sock = createSocket('udp4')
    sock.on('message', () => { const now = performance.now(); u.maxGap = Math.max(u.maxGap, now - u.last); u.last = now })
    sock.on('error', () => { /* counted as a gap */ })
    return sock
  })
  const tick = setInterval(() => {
    for (const s of tcp) if (s.sock !== null && !s.error) s.sock.write('x')
    for (const u of udpSocks) u.send('x', port, host)
  }, TICK_MS)
  await new Promise(resolve => setTimeout(resolve, durationMs))
  clearInterval(tick)
  const end = performance.now()
  const gap = (s: { last: number, maxGap: number }): number => Math.max(s.maxGap, end - s.last)
  const report: SessionReport = {
    tcp: {
      total: n,
      survived: tcp.filter(s => !s.error && end - s.last < RESUMED_MS).length,
      errors: tcp.filter(s => s.error).length,
      maxGapMs: Math.round(Math.max(...tcp.map(gap)))
    },
    udp: { total: n, survived: udp.filter(u => end - u.last < RESUMED_MS).length, maxGapMs: Math.round(Math.max(...udp.map(gap))) }
  }
  // Close like an application does: FIN, then read what is still in flight. Destroying a socket
  // with unread echoes makes the kernel send RST (conntrack CLOSE, gone in 10 s) instead of FIN
  // (TIME_WAIT), and tests that follow the close through the firewalls would see either.
  for (const s of tcp) s.sock?.end()
  await new Promise(resolve => setTimeout(resolve, 500))
  for (const s of tcp) s.sock?.destroy()
  for (const u of udpSocks) u.close()
  return report
}

const [cmd, ...args] = process.argv.slice(2)
if (cmd === 'serve') serve(Number(args[0]))
else if (cmd === 'run') {
  const [host, port, n, ms] = args
  run(host as string, Number(port), Math.min(1000, Number(n)), Math.min(600_000, Number(ms))).then(r => {
    process.stdout.write(`${JSON.stringify(r)}\n`)
    process.exit(0)
  }, (err: unknown) => { process.stderr.write(String(err)); process.exit(1) })
}
