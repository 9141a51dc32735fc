/**
 * Micro-benchmark of the ctnetlink codec, no I/O (the share of ct-commit's commit and dump that is ours):
 *
 *   node dist/bench/codec-speed.js [--n 100000] [--rounds 5]
 *
 * - parseIPv4 / formatIPv4 of N distinct addresses;
 * - encodeRequest of N creates (the ct-commit bench's flows: TCP ESTABLISHED, SEEN_REPLY|ASSURED,
 *   BE_LIBERAL flags, reply = inverse of orig) and encodingLength of the same;
 * - decoding a dump of N entries: the CT_NEW messages the kernel sent in the captured dumps
 *   (test/fixtures/vectors/ctnetlink/dump*.json, IPv4 and IPv6, TCP/UDP/ICMP, with counters, ids and
 *   NAT), repeated to N and packed into 16 KiB datagrams as a dump arrives; decoded the way the
 *   adapter's Dumper does (splitMessages, then decodeCtnlMessage per message) and with decodeCtnl.
 *
 * Each measurement runs `rounds` times after one warm-up round; the best and the median are printed
 * in ns per operation.
 */
import { benchFlow } from './synthetic.js'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { encodeRequest, encodingLength, decodeCtnl, decodeCtnlMessage, type CtRequest } from '../codec/ctnetlink.js'
import { splitMessages } from '../codec/netlink.js'
import { nlAlign } from '../codec/nlattr.js'
import { parseIPv4, formatIPv4 } from '../codec/ip.js'

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`)
  return v
}
const N = arg('n', 100_000)
const ROUNDS = arg('rounds', 5)


/** The captured kernel dump messages (CT_NEW), in capture order. */
function capturedDumpMessages (): Buffer[] {
  const dir = new URL('../../test/fixtures/vectors/ctnetlink/', import.meta.url)
  const out: Buffer[] = []
  for (const name of ['dump.json', 'dump-ipv6.json']) {
    const v = JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as { messages: Array<{ dir: string, hex: string }> }
    for (const m of v.messages) {
      if (m.dir !== 'rx') continue
      const b = Buffer.from(m.hex, 'hex')
      if (b.readUInt16LE(4) === 0x100) out.push(b) // (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW
    }
  }
  return out
}

/** N messages cycled from `msgs`, packed into datagrams of at most `max` bytes. */
function dumpDatagrams (msgs: Buffer[], n: number, max: number): Buffer[] {
  const out: Buffer[] = []
  let parts: Buffer[] = []
  let bytes = 0
  for (let i = 0; i < n; i++) {
    const m = msgs[i % msgs.length] as Buffer
    const len = nlAlign(m.length)
    if (bytes + len > max && parts.length > 0) { out.push(Buffer.concat(parts)); parts = []; bytes = 0 }
    parts.push(m.length === len ? m : Buffer.concat([m, Buffer.alloc(len - m.length)]))
    bytes += len
  }
  if (parts.length > 0) out.push(Buffer.concat(parts))
  return out
}

interface Result { name: string, ops: number, bestNs: number, medianNs: number }

function measure (name: string, ops: number, fn: () => void): Result {
  fn() // warm-up (JIT)
  const times: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now()
    fn()
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  const ns = (ms: number): number => ms * 1e6 / ops
  return { name, ops, bestNs: ns(times[0] as number), medianNs: ns(times[Math.floor(times.length / 2)] as number) }
}

let sink = 0
const results: Result[] = []

const addrs = Array.from({ length: N }, (_, i) => `10.${100 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`)
results.push(measure('parseIPv4', N, () => { for (const a of addrs) sink += (parseIPv4(a) as Uint8Array)[3] as number }))
const addrBytes = Buffer.alloc(4 * N)
addrs.forEach((a, i) => { addrBytes.set(parseIPv4(a) as Uint8Array, 4 * i) })
results.push(measure('formatIPv4', N, () => { for (let i = 0; i < N; i++) sink += formatIPv4(addrBytes, 4 * i).length }))

const reqs: CtRequest[] = Array.from({ length: N }, (_, i) => ({ op: 'create' as const, flow: benchFlow(i) }))
results.push(measure('encodeRequest (create)', N, () => { for (let i = 0; i < N; i++) sink += encodeRequest(reqs[i] as CtRequest, i + 1, 0).length }))
results.push(measure('encodingLength (create)', N, () => { for (const r of reqs) sink += encodingLength(r) }))

const captured = capturedDumpMessages()
const datagrams = dumpDatagrams(captured, N, 16384)
results.push(measure('dump decode: splitMessages + decodeCtnlMessage', N, () => {
  for (const d of datagrams) for (const m of splitMessages(d)) if (decodeCtnlMessage(m, d).kind === 'conntrack') sink++
}))
results.push(measure('dump decode: decodeCtnl', N, () => {
  for (const d of datagrams) sink += decodeCtnl(d).length
}))

console.log(`# codec-speed  node ${process.version}  N ${N}  rounds ${ROUNDS} (+1 warm-up)  dump: ${captured.length} captured messages cycled, ${datagrams.length} datagrams of ≤16 KiB`)
console.log('| operation | N | best ns/op | median ns/op | median total |')
console.log('|---|---|---|---|---|')
for (const r of results) {
  console.log(`| ${r.name} | ${r.ops} | ${r.bestNs.toFixed(0)} | ${r.medianNs.toFixed(0)} | ${(r.medianNs * r.ops / 1e6).toFixed(1)} ms |`)
}
if (sink === -1) console.log('') // keep the results alive
