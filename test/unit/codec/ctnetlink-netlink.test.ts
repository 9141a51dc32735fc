// nlmsghdr / nfgenmsg framing (src/codec/netlink.ts), with captured kernel bytes.
import t from 'tap'
import {
  splitMessages, decodeNlMsgHeader, decodeNlError, decodeNfGenMsg, encodeNlMsg, writeNfGenMsg, NlmF, NlMsgType, AF
} from '../../../src/codec/netlink.js'
import { ctMsgType, IPCTNL_MSG } from '../../../src/codec/ctnetlink-attrs.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
// from flush.strace: the request, and the kernel's capped ACK
const flushReq = hex('14000000 0201 0500 218e046b 00000000 00000000')
const flushAck = hex('24000000 0200 0001 218e046b 93200000 00000000 14000000 0201 0500 218e046b 00000000')

t.test('nlmsghdr is host order (little-endian)', async t => {
  t.same(decodeNlMsgHeader(flushReq), { len: 20, type: 0x0102, flags: 0x0005, seq: 0x6b048e21, pid: 0 })
  t.equal(ctMsgType(IPCTNL_MSG.CT_DELETE), 0x0102)
  t.equal(ctMsgType(IPCTNL_MSG.CT_GET), 0x0101)
  t.equal(NlmF.DUMP, NlmF.ROOT | NlmF.MATCH)
  t.equal(NlmF.REQUEST | NlmF.CREATE | NlmF.EXCL | NlmF.ACK, 0x0605)
  const again = encodeNlMsg({ type: 0x0102, flags: 5, seq: 0x6b048e21, pid: 0 }, Buffer.alloc(4))
  t.equal(again.toString('hex'), flushReq.toString('hex'))
})

t.test('NLMSG_ERROR: ACK capped to the request header; errno positive', async t => {
  const [m] = splitMessages(flushAck)
  t.equal(m?.header.type, NlMsgType.ERROR)
  t.equal(m?.header.flags, NlmF.CAPPED)
  t.equal(m?.header.pid, 0x2093, 'the kernel tells us our port id')
  t.same(decodeNlError(m!), { errno: 0, request: decodeNlMsgHeader(flushReq) })
  const eexist = Buffer.from(flushAck)
  eexist.writeInt32LE(-17, 16)
  t.equal(decodeNlError(splitMessages(eexist)[0]!).errno, 17)
})

t.test('split: several messages, alignment, views without copies', async t => {
  const odd = encodeNlMsg({ type: 0x0100, flags: 2, seq: 1, pid: 2 }, Buffer.from([2, 0, 0, 0, 9])) // len 21
  const done = encodeNlMsg({ type: NlMsgType.DONE, flags: 2, seq: 1, pid: 2 }, Buffer.alloc(4))
  const buf = Buffer.concat([odd, Buffer.alloc(3), done])
  const msgs = splitMessages(buf)
  t.same(msgs.map(m => [m.header.type, m.offset, m.payload.length]), [[0x0100, 0, 5], [3, 24, 4]])
  t.equal(msgs[0]?.payload.buffer, buf.buffer)
  t.same(splitMessages(odd).length, 1, 'final padding may be missing')
})

t.test('nfgenmsg: u8 family, u8 version, be16 res_id', async t => {
  t.same(decodeNfGenMsg(hex('0a000102')), { family: AF.INET6, version: 0, resId: 0x0102 })
  const b = Buffer.alloc(4)
  writeNfGenMsg(b, 0, { family: AF.INET, version: 1, resId: 0x0304 })
  t.equal(b.toString('hex'), '02010304')
})
