/**
 * What the failover benchmark sees from the network, stamped by the kernel (tcpdump), never read
 * from a daemon's log:
 *
 * - `vip`: echo replies from the inside VIP to a probe host. The probe's neighbour entry for the
 *   VIP is the Ethernet broadcast address, so every echo request reaches both firewalls and only
 *   the box that holds the VIP at that instant answers (a box without it drops a unicast IP packet
 *   that came as an L2 broadcast). The reply's source MAC says which box. This measures "the VIP
 *   answers on the backup" without waiting for the probe's ARP cache or a gratuitous ARP.
 * - `traffic`: echo replies from the server to the client, through the pair (DROP policy, SNAT):
 *   the client's ordinary ARP cache, so this includes the GARPs on both sides.
 * - `advert`: VRRP adverts on both LANs (captured on the switch), with VRID and priority.
 * - `addr`: the inside VIP appearing in the backup's `ip addr` (rtnetlink event via `ip monitor`,
 *   stamped on arrival here: userspace time, a little later than the kernel event).
 */
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { createInterface } from 'node:readline'
import { realNow } from './clock.js'

export type WireEvent =
  | { kind: 'vip', ts: number, mac: string, seq: number }
  | { kind: 'req', ts: number, seq: number }
  | { kind: 'traffic', ts: number, mac: string }
  | { kind: 'advert', ts: number, mac: string, router: string, prio: number }
  | { kind: 'addr', ts: number, ns: string }

const MAC = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/

/**
 * Parse one `tcpdump -n -e -tt` line. With `-i any` the line carries the interface and direction
 * before the MAC; the first MAC is the source in both layouts.
 */
export function parseTcpdumpLine (line: string, kind: 'vip' | 'traffic' | 'advert'): WireEvent | null {
  const ts = /^(\d+\.\d+) /.exec(line)
  const mac = MAC.exec(line)
  if (ts === null || mac === null) return null
  const at = Number(ts[1]) * 1000
  const src = mac[1] as string
  if (kind === 'vip') {
    // The probe's own requests are captured too: the gap before the first answered one is the
    // resolution of that round, and the reply's seq says which request it answers.
    const echo = /ICMP echo (request|reply), id \d+, seq (\d+)/.exec(line)
    if (echo === null) return null
    return echo[1] === 'request' ? { kind: 'req', ts: at, seq: Number(echo[2]) } : { kind, ts: at, mac: src, seq: Number(echo[2]) }
  }
  if (kind === 'traffic') return { kind, ts: at, mac: src }
  const vrrp = /vrid (\d+), prio (\d+)/.exec(line)
  if (vrrp === null) return null
  const family = /ethertype IPv6/.test(line) ? 'v6' : 'v4'
  return { kind, ts: at, mac: src, router: `${family}/${String(vrrp[1])}`, prio: Number(vrrp[2]) }
}

export interface Observer {
  /** Every event since the last `clear()`, in arrival order. */
  readonly events: WireEvent[]
  clear: () => void
  /** Stop the captures; returns tcpdump's closing statistics (packets dropped by the kernel…). */
  stop: () => Promise<string>
}

interface Stream { proc: ResultPromise, ready: Promise<void>, stderr: () => string }

/** tcpdump, line-buffered, kernel timestamps in µs; resolves `ready` once the capture is armed. */
function tcpdump (ns: string, ifname: string, filter: string, onLine: (l: string) => void): Stream {
  const proc = execa('ip', ['netns', 'exec', ns, 'tcpdump', '-i', ifname, '-n', '-e', '-tt', '-l', '-B', '16384',
    '--immediate-mode', '--time-stamp-precision=micro', filter], { reject: false, stdin: 'ignore', buffer: false })
  let err = ''
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`tcpdump in ${ns} did not start`)) }, 5000)
    proc.stderr?.on('data', (d: Buffer) => { err += d.toString(); if (err.includes('listening on')) { clearTimeout(timer); resolve() } })
    void proc.then(r => { clearTimeout(timer); reject(new Error(`tcpdump in ${ns} exited: ${String(r.exitCode)}`)) })
  })
  if (proc.stdout !== null) createInterface({ input: proc.stdout }).on('line', onLine)
  return { proc, ready, stderr: () => `${ns} ${ifname}: ${err.trim()}` }
}

export interface ObserverSpec {
  readonly probeNs: string
  readonly clientNs: string
  readonly switchNs: string
  readonly backupNs: string
  readonly server: string
  readonly insideVip: string
}

export async function startObserver (s: ObserverSpec): Promise<Observer> {
  const events: WireEvent[] = []
  const push = (e: WireEvent | null): void => { if (e !== null) events.push(e) }
  const streams: Stream[] = [
    tcpdump(s.probeNs, 'eth0', 'icmp[icmptype] = icmp-echoreply or icmp[icmptype] = icmp-echo', l => { push(parseTcpdumpLine(l, 'vip')) }),
    tcpdump(s.clientNs, 'eth0', `icmp[icmptype] = icmp-echoreply and src host ${s.server}`, l => { push(parseTcpdumpLine(l, 'traffic')) }),
    // On the switch every bridge port sees each advert once; duplicates do not matter here.
    tcpdump(s.switchNs, 'any', 'ip proto 112 or ip6 proto 112', l => { push(parseTcpdumpLine(l, 'advert')) })
  ]
  const mon = execa('ip', ['-n', s.backupNs, 'monitor', 'address'], { reject: false, stdin: 'ignore', buffer: false })
  const vipAdded = new RegExp(`^\\d+: eth1\\s+inet ${s.insideVip.replace(/\./g, '\\.')}/`)
  if (mon.stdout !== null) {
    createInterface({ input: mon.stdout }).on('line', l => {
      if (vipAdded.test(l)) events.push({ kind: 'addr', ts: realNow(), ns: s.backupNs })
    })
  }
  await Promise.all(streams.map(async x => { await x.ready }))
  const procs: ResultPromise[] = [...streams.map(x => x.proc), mon]
  return {
    events,
    clear: () => { events.length = 0 },
    stop: async () => {
      for (const p of procs) if (p.exitCode === null || p.exitCode === undefined) p.kill('SIGTERM')
      await Promise.all(procs.map(async p => { await p }))
      return streams.map(x => x.stderr()).join('\n')
    }
  }
}
