// The commit engine on a scripted socket: NLM_F_ACK on the last message of each datagram only,
// errors matched by seq, the last answer settling the rest of its datagram, one result per request
// in request order, the receive-buffer budget bounding unanswered requests, datagram size, reply
// timeout, send failures and requests the codec refuses.
import t from 'tap'
import { Committer } from '../../../src/io/ctnetlink-commit.js'
import type { NlSocket } from '../../../src/io/ctnetlink-socket.js'
import { CtnlIoError } from '../../../src/io/ctnetlink-socket.js'
import { splitMessages, encodeNlMsg, NlMsgType, type NlMsgHeader } from '../../../src/codec/netlink.js'
import { tcpFlow } from '../../contract/conntrack.contract.js'

interface Script {
  sock: NlSocket
  datagrams: Buffer[][]
  /** Deliver a buffer as if the kernel sent it. */
  deliver: (buf: Buffer) => void
}

function scripted (opts: { rcvbuf?: number, sndbuf?: number, failSend?: string } = {}): Script {
  let handler: (b: Buffer) => void = () => {}
  const datagrams: Buffer[][] = []
  const sock: NlSocket = {
    portId: 4242,
    recvBufferSize: opts.rcvbuf ?? 1 << 20,
    sendBufferSize: opts.sndbuf ?? 1 << 20,
    send: async (msgs) => {
      if (opts.failSend !== undefined) throw new CtnlIoError('CTNL_SEND', 'scripted', opts.failSend)
      // one entry per message, whatever buffers carried them (the committer sends one per datagram)
      datagrams.push(msgs.flatMap(b => splitMessages(b).map(m => Buffer.from(b.subarray(m.offset, m.offset + m.header.len)))))
    },
    onMessage: (h) => { handler = h },
    onError: () => {},
    close: () => {}
  }
  return { sock, datagrams, deliver: (b) => { handler(b) } }
}

/** NLMSG_ERROR answering `req` (errno 0 = ACK), capped like the kernel's ACKs. */
function answer (req: Buffer, errno: number): Buffer {
  const [m] = splitMessages(req)
  const h = m?.header as NlMsgHeader
  const payload = Buffer.alloc(4 + 16)
  payload.writeInt32LE(-errno, 0)
  req.copy(payload, 4, 0, 16)
  return encodeNlMsg({ type: NlMsgType.ERROR, flags: 0x100, seq: h.seq, pid: 4242 }, payload)
}

const seqOf = (b: Buffer): number => b.readUInt32LE(8)
const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

const lastOf = (d: Buffer[] | undefined): Buffer => (d as Buffer[])[(d as Buffer[]).length - 1] as Buffer

t.test('errors settle their entry by seq; the last answer settles the rest; results keep request order', async t => {
  const s = scripted()
  const c = new Committer(s.sock)
  const p = c.submit([{ op: 'create', flow: tcpFlow(1) }, { op: 'create', flow: tcpFlow(2) }, { op: 'delete', flow: tcpFlow(3) }])
  await tick()
  t.equal(s.datagrams.length, 1, 'one datagram')
  const [a, b, d] = s.datagrams[0] as [Buffer, Buffer, Buffer]
  t.equal(new Set([seqOf(a), seqOf(b), seqOf(d)]).size, 3, 'own seq each')
  t.equal(a.readUInt16LE(6), 0x601, 'create without ACK: REQUEST|EXCL|CREATE')
  t.equal(d.readUInt16LE(6), 0x5, 'last message: REQUEST|ACK')
  // the kernel: b fails (EEXIST), d fails (ENOENT; it carries ACK, so that error is its answer)
  s.deliver(answer(b, 17))
  s.deliver(answer(d, 2))
  t.same(await p, [{ ok: true }, { ok: false, errno: 'EEXIST' }, { ok: false, errno: 'ENOENT' }])
  t.same(c.stats, { sent: 3, datagrams: 1, acked: 1, failed: 2, timedOut: 0, stray: 0 })
})

t.test('a successful GET in the middle answers with the entry only; skipped', async t => {
  const s = scripted()
  const c = new Committer(s.sock)
  const p = c.submit([{ op: 'get', flow: tcpFlow(1) }, { op: 'create', flow: tcpFlow(2) }])
  await tick()
  const [g, last] = s.datagrams[0] as [Buffer, Buffer]
  s.deliver(encodeNlMsg({ type: 0x100, flags: 0, seq: seqOf(g), pid: 4242 }, Buffer.alloc(4)))
  s.deliver(answer(last, 0))
  t.same(await p, [{ ok: true }, { ok: true }])
  t.equal(c.stats.stray, 0)
})

t.test('unanswered requests stay within the receive-buffer budget', async t => {
  const s = scripted({ rcvbuf: 1536 * 11 })
  const c = new Committer(s.sock, { replyBudget: 1536 })
  t.equal(c.window, 10, 'window = (rcvbuf − one budget) / budget')
  const p = c.submit(Array.from({ length: 25 }, (_, i) => ({ op: 'create' as const, flow: tcpFlow(i) })))
  await tick()
  t.same(s.datagrams.map(d => d.length), [10], 'only 10 sent before any answer')
  s.deliver(answer(lastOf(s.datagrams[0]), 0))
  await tick()
  t.same(s.datagrams.map(d => d.length), [10, 10], 'the answer frees the datagram\'s budget')
  s.deliver(answer(lastOf(s.datagrams[1]), 0))
  await tick()
  s.deliver(answer(lastOf(s.datagrams[2]), 0))
  const res = await p
  t.same(s.datagrams.map(d => d.length), [10, 10, 5])
  t.equal(res.filter(r => r.ok).length, 25)
})

t.test('datagrams are cut at maxDatagramBytes', async t => {
  const s = scripted()
  const c = new Committer(s.sock, { maxDatagramBytes: 1000 })
  const p = c.submit(Array.from({ length: 20 }, (_, i) => ({ op: 'create' as const, flow: tcpFlow(i) })))
  await tick()
  t.ok(s.datagrams.length > 1, `${s.datagrams.length} datagrams`)
  t.ok(s.datagrams.every(d => d.reduce((n, b) => n + b.length, 0) <= 1000), 'each within 1000 bytes')
  t.ok(s.datagrams.every(d => d.every((b, i) => ((b.readUInt16LE(6) & 4) !== 0) === (i === d.length - 1))), 'ACK on the last of each only')
  for (const d of s.datagrams) s.deliver(answer(lastOf(d), 0))
  t.equal((await p).length, 20)
})

t.test('no answer within replyTimeoutMs: ETIMEDOUT, late answers ignored, budget freed', async t => {
  const s = scripted()
  const c = new Committer(s.sock, { replyTimeoutMs: 30 })
  const res = await c.submit([{ op: 'create', flow: tcpFlow(1) }, { op: 'get', flow: tcpFlow(1) }])
  t.same(res, [{ ok: false, errno: 'ETIMEDOUT' }, { ok: false, errno: 'ETIMEDOUT' }])
  s.deliver(answer(lastOf(s.datagrams[0]), 0))
  t.equal(c.stats.stray, 1, 'late answer counted as stray')
  const p = c.submit([{ op: 'flush' }])
  await tick()
  s.deliver(answer(s.datagrams[1]?.[0] as Buffer, 0))
  t.same(await p, [{ ok: true }], 'works after a timeout')
})

t.test('a failed send fails its entries with the syscall errno; unencodable requests are never sent', async t => {
  const s = scripted({ failSend: 'EMSGSIZE' })
  const c = new Committer(s.sock)
  t.same(await c.submit([{ op: 'create', flow: tcpFlow(1) }, { op: 'create', flow: { ...tcpFlow(2), timeout: undefined } }]),
    [{ ok: false, errno: 'EMSGSIZE' }, { ok: false, errno: 'CT_ENCODE_NO_TIMEOUT' }])
})

t.test('close: everything waiting or queued ends with ECLOSED', async t => {
  const s = scripted({ rcvbuf: 1536 * 3 })
  const c = new Committer(s.sock, { replyBudget: 1536 })
  const p = c.submit(Array.from({ length: 5 }, (_, i) => ({ op: 'create' as const, flow: tcpFlow(i) })))
  await tick()
  c.close()
  t.same(await p, Array.from({ length: 5 }, () => ({ ok: false, errno: 'ECLOSED' })))
  t.same(await c.submit([{ op: 'flush' }]), [{ ok: false, errno: 'ECLOSED' }])
})
