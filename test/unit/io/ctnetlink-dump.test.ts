// The dumper over a scripted socket: a dump's receive batches handed over as chunks (dumpChunks),
// collected whole (dump), a bad message skipped, a kernel error failing the dump.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Dumper } from '../../../src/io/ctnetlink-dump.js'
import type { NlSocket } from '../../../src/io/ctnetlink-socket.js'
import { nlAlign } from '../../../src/codec/nlattr.js'
import type { Flow } from '../../../src/core/conntrack/flow.js'

/** The CT_NEW messages of the captured kernel dump (test/fixtures/vectors/ctnetlink/dump.json). */
const captured: Buffer[] = (JSON.parse(readFileSync(new URL('../../fixtures/vectors/ctnetlink/dump.json', import.meta.url), 'utf8')) as { messages: Array<{ dir: string, hex: string }> })
  .messages.filter(m => m.dir === 'rx').map(m => Buffer.from(m.hex, 'hex')).filter(b => b.readUInt16LE(4) === 0x100)

/** A batch of messages carrying `seq`, as one receive hands them over. */
function batch (msgs: Buffer[], seq: number): Buffer {
  return Buffer.concat(msgs.map(m => {
    const b = Buffer.concat([m, Buffer.alloc(nlAlign(m.length) - m.length)])
    b.writeUInt32LE(seq, 8)
    return b
  }))
}

function done (seq: number): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt32LE(20, 0)
  b.writeUInt16LE(3, 4) // NLMSG_DONE
  b.writeUInt16LE(2, 6) // NLM_F_MULTI
  b.writeUInt32LE(seq, 8)
  return b
}

function scripted (): { sock: NlSocket, sent: number[], deliver: (b: Buffer) => void } {
  let handler: ((b: Buffer) => void) | null = null
  const sent: number[] = []
  const sock: NlSocket = {
    portId: 77,
    recvBufferSize: 1 << 20,
    sendBufferSize: 1 << 20,
    send: async (msgs) => { for (const m of msgs) sent.push(m.readUInt32LE(8)) },
    onMessage: (h) => { handler = h },
    onError: () => {},
    close: () => {}
  }
  return { sock, sent, deliver: (b) => { handler?.(b) } }
}

const turn = async (): Promise<void> => { await new Promise<void>(resolve => { setImmediate(resolve) }) }

t.test('dumpChunks: one chunk per receive batch, in order, none kept; resolves with the count at NLMSG_DONE', async t => {
  t.ok(captured.length >= 4, `${captured.length} captured entries`)
  const { sock, sent, deliver } = scripted()
  const d = new Dumper(sock)
  const chunks: Flow[][] = []
  const p = d.dumpChunks(flows => { chunks.push(flows) })
  await turn()
  const seq = sent[0] as number
  deliver(batch(captured.slice(0, 2), seq))
  deliver(batch(captured.slice(0, 1), seq + 1)) // another request's answer: ignored
  deliver(Buffer.concat([batch(captured.slice(2), seq), done(seq)]))
  t.equal(await p, captured.length)
  t.same(chunks.map(c => c.length), [2, captured.length - 2], 'two chunks, as the two batches')
  t.equal(d.stats.entries, captured.length)
  const whole = d.dump()
  await turn()
  const seq2 = sent[1] as number
  t.not(seq2, seq, 'a new sequence number per dump')
  deliver(batch(captured.slice(0, 2), seq2))
  deliver(Buffer.concat([batch(captured.slice(2), seq2), done(seq2)]))
  t.same(await whole, chunks.flat(), 'dump() collects the same entries')
})

t.test('a message that does not decode is skipped and counted; a kernel error fails the dump after the chunks before it', async t => {
  const { sock, sent, deliver } = scripted()
  const d = new Dumper(sock)
  const got: Flow[] = []
  const p = d.dumpChunks(flows => { got.push(...flows) })
  await turn()
  const seq = sent[0] as number
  const bad = batch(captured.slice(0, 1), seq)
  bad.writeUInt32LE(bad.length + 64, 0) // nlmsg_len beyond the datagram
  deliver(bad)
  t.equal(d.stats.decodeErrors, 1)
  deliver(batch(captured.slice(0, 1), seq))
  const err = Buffer.alloc(36)
  err.writeUInt32LE(36, 0)
  err.writeUInt16LE(2, 4) // NLMSG_ERROR
  err.writeUInt32LE(seq, 8)
  err.writeInt32LE(-16, 16) // -EBUSY
  err.writeUInt32LE(16, 20)
  deliver(err)
  await t.rejects(p, { code: 'CTNL_KERNEL' })
  t.equal(got.length, 1, 'the chunk before the error was handed over')
})
