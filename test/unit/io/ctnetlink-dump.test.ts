// The dumper over a scripted socket: a dump's receive batches handed over as chunks (dumpChunks),
// collected whole (dump), a bad message skipped, a kernel error failing the dump.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Dumper } from '../../../src/io/ctnetlink-dump.js'
import type { NlSocket } from '../../../src/io/ctnetlink-socket.js'
import { nlAlign } from '../../../src/codec/nlattr.js'
import { flowKey, type Flow } from '../../../src/core/conntrack/flow.js'
import { batchFlows, batchSize, type RecordBatch } from '../../../src/core/conntrack/record-batch.js'
import { decodeCtnl, encodeRequest, type CtFlowMessage } from '../../../src/codec/ctnetlink.js'

/** A dumped flow as a cache keeps it: the kernel's volatile use/counters dropped. */
const kept = (f: Flow): Flow => { const { use: _u, counters: _c, ...rest } = f; return rest }

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
  const chunks: RecordBatch[] = []
  const p = d.dumpChunks(b => { chunks.push(b) })
  await turn()
  const seq = sent[0] as number
  deliver(batch(captured.slice(0, 2), seq))
  deliver(batch(captured.slice(0, 1), seq + 1)) // another request's answer: ignored
  deliver(Buffer.concat([batch(captured.slice(2), seq), done(seq)]))
  t.equal(await p, captured.length)
  t.same(chunks.map(c => batchSize(c)), [2, captured.length - 2], 'two chunks, as the two batches')
  t.same(chunks.map(c => c.flows.length), [0, 0], 'every captured entry packed as a record')
  t.equal(d.stats.entries, captured.length)
  const whole = d.dump()
  await turn()
  const seq2 = sent[1] as number
  t.not(seq2, seq, 'a new sequence number per dump')
  deliver(batch(captured.slice(0, 2), seq2))
  deliver(Buffer.concat([batch(captured.slice(2), seq2), done(seq2)]))
  const flows = await whole
  const byKey = (fs: Flow[]): Flow[] => [...fs].sort((a, b) => flowKey(a) < flowKey(b) ? -1 : 1)
  t.same(byKey(flows.map(kept)), byKey(chunks.flatMap(c => batchFlows(c))), 'dump() collects the same entries, as Flows (a batch holds IPv4 records, then IPv6)')
  t.same(flows, decodeCtnl(Buffer.concat(captured.map(m => batch([m], 0)))).map(m => (m as CtFlowMessage).flow), 'as the Flow decoder makes them')
})

t.test('a message that does not decode is skipped and counted; a kernel error fails the dump after the chunks before it', async t => {
  const { sock, sent, deliver } = scripted()
  const d = new Dumper(sock)
  const got: Flow[] = []
  const p = d.dumpChunks(b => { got.push(...batchFlows(b)) })
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

t.test('dumpChunks: an entry the byte path declines travels as a Flow, a broken one is skipped and counted, the rest are records', async t => {
  const { sock, sent, deliver } = scripted()
  const d = new Dumper(sock)
  const chunks: RecordBatch[] = []
  const p = d.dumpChunks(b => { chunks.push(b) })
  await turn()
  const seq = sent[0] as number
  const helperFlow = { ...decodeCtnl(batch(captured.slice(0, 1), 0)).map(m => (m as CtFlowMessage).flow)[0] as Flow, helper: 'ftp', timeout: 100 }
  const withHelper = encodeRequest({ op: 'create', flow: helperFlow }, seq) // a CT_NEW carrying CTA_HELP
  const broken = Buffer.from(batch(captured.slice(1, 2), seq))
  broken.writeUInt16LE(99, 20 + 2) // its first attribute (CTA_TUPLE_ORIG) becomes an unknown one: no original tuple
  deliver(Buffer.concat([batch(captured.slice(0, 1), seq), batch([withHelper], seq), broken, batch(captured.slice(2, 3), seq), done(seq)]))
  t.equal(await p, 3, 'three entries')
  t.equal(d.stats.decodeErrors, 1, 'the broken one counted')
  const c = chunks[0] as RecordBatch
  t.equal(c.n4 + c.n6, 2, 'two packed records')
  t.equal(c.flows.length, 1, 'one Flow')
  t.equal(c.flows[0]?.helper, 'ftp', 'the declined entry keeps its helper')
})
