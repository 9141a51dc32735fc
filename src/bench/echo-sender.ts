/**
 * ICMP echo requests at a steady rate, whether or not anyone answers:
 *
 *   ip netns exec <ns> node dist/bench/echo-sender.js <IPv4 target> <every ms>
 *
 * iputils ping cannot do that: with no replies coming back its pacing turns into bursts and
 * ~8 ms holes, which is exactly when the failover benchmark needs a fine probe. Replies are not
 * read here (tcpdump stamps them in the kernel); this process only sends, on a schedule fixed at
 * start so timer jitter does not accumulate. Stops on SIGTERM/SIGINT.
 */
import raw from 'raw-socket'

const [target, everyArg] = process.argv.slice(2)
const everyMs = Number(everyArg)
if (target === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(target) || !(everyMs >= 0.5)) {
  process.stderr.write('usage: echo-sender <IPv4 target> <every ms ≥ 0.5>\n')
  process.exit(2)
}

// RFC 792 echo request: type 8, code 0, checksum, id, seq, data.
const packet = Buffer.alloc(8 + 56)
packet.writeUInt8(8, 0)
packet.writeUInt16BE(process.pid & 0xffff, 4)
packet.fill(0x61, 8)

/** RFC 1071 Internet checksum of the whole message (even length here). */
function checksum (b: Buffer): number {
  let sum = 0
  for (let i = 0; i < b.length; i += 2) sum += b.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

const sock = raw.createSocket({ addressFamily: raw.AddressFamily.IPv4, protocol: raw.Protocol.ICMP })
sock.pauseRecv()
sock.on('error', err => { process.stderr.write(`echo-sender: ${err.message}\n`) })

let seq = 0
let slot = 0
const start = performance.now()
let timer: NodeJS.Timeout | undefined
const tick = (): void => {
  packet.writeUInt16BE(seq & 0xffff, 6)
  packet.writeUInt16BE(0, 2)
  packet.writeUInt16BE(checksum(packet), 2)
  seq++
  // Unreachable targets are the normal case during a failover: ignore send errors.
  sock.send(packet, 0, packet.length, target, null, () => undefined)
  // Next slot of the fixed schedule; slots missed while the loop was late are skipped, not
  // sent in a burst.
  const now = performance.now()
  slot = Math.max(slot + 1, Math.ceil((now - start) / everyMs))
  timer = setTimeout(tick, Math.max(0, start + slot * everyMs - now))
}
tick()

const stop = (): void => {
  if (timer !== undefined) clearTimeout(timer)
  sock.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
