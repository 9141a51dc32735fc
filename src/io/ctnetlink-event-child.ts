/**
 * The ctnetlink event listener, run as a child process of the daemon (./ctnetlink-events.ts).
 *
 * Why a process: an event socket can always be flooded (a burst of connections, a commit of 100k
 * entries), and when its receive buffer overflows the `netlink` package aborts the process that owns
 * the socket (./ctnetlink-socket.ts). Here that costs only this listener; the parent sees the exit,
 * starts a new one and reports an overrun, which is what ENOBUFS means anyway (spec §5.5): events were
 * lost, the socket is otherwise fine, resync from a dump.
 *
 * Protocol on stdout, frames of [u32 LE length of (kind + body)][u8 kind][body]:
 *   1 READY   JSON {portId, recvBufferSize}   after the groups are joined
 *   2 DATA    one raw datagram from the socket (one or more netlink messages)
 *   3 OVERRUN JSON {errno}                    the socket reported ENOBUFS and lived on
 *   4 ERROR   JSON {errno}                    any other socket error
 * stdout is a pipe, written synchronously: when the parent is slow this process blocks and the
 * kernel's buffer takes the backlog, so memory stays bounded. The process exits when stdin closes
 * (the parent is gone).
 *
 * argv[2]: JSON {recvBufferSize?: number}.
 */
import { openNetfilterSocket } from './ctnetlink-socket.js'
import { ListenerFrame, encodeFrame } from './ctnetlink-frames.js'

/** NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY (spec §5.4). */
const CONNTRACK_GROUPS = [1, 2, 3] as const

const cfg = JSON.parse(process.argv[2] ?? '{}') as { recvBufferSize?: number }
const sock = openNetfilterSocket({ recvBufferSize: cfg.recvBufferSize ?? 0, groups: CONNTRACK_GROUPS })

let pending: Buffer[] = []
let flushing = false

function flush (): void {
  flushing = false
  if (pending.length === 0) return
  const out = pending.length === 1 ? pending[0] as Buffer : Buffer.concat(pending)
  pending = []
  process.stdout.write(out)
}

function push (frame: Buffer): void {
  pending.push(frame)
  // the package delivers up to 32 datagrams per poll wake-up; write them as one pipe write
  if (!flushing) { flushing = true; setImmediate(flush) }
}

sock.onMessage((buf) => { push(encodeFrame(ListenerFrame.DATA, buf)) })
sock.onError((errno) => {
  const kind = errno === 'ENOBUFS' ? ListenerFrame.OVERRUN : ListenerFrame.ERROR
  push(encodeFrame(kind, Buffer.from(JSON.stringify({ errno }))))
})
process.stdin.on('close', () => { sock.close(); process.exit(0) })
process.stdin.resume()
process.stdout.on('error', () => { process.exit(0) })
push(encodeFrame(ListenerFrame.READY, Buffer.from(JSON.stringify({ portId: sock.portId, recvBufferSize: sock.recvBufferSize }))))
