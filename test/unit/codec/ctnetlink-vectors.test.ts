// Every netlink message the kernel sent in the captures decodes, and matches what libnetfilter_conntrack
// (the conntrack CLI's text output, parsed by test/fixtures/captures/ctnetlink/extract.mjs) made of it.
import t, { type Test } from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import {
  decodeCtnl, decodeCtnlMessage, type CtFlowMessage, type CtnlMessage
} from '../../../src/codec/ctnetlink.js'
import { splitMessages, NlmF } from '../../../src/codec/netlink.js'
import { IPS, TCP_STATES, SCTP_STATES, flowKey, type Flow, type FlowTuple } from '../../../src/core/conntrack/flow.js'

interface ExpectTuple { src: string, dst: string, sport?: number, dport?: number, type?: number, code?: number, icmpId?: number }
interface Expect {
  event?: 'new' | 'update' | 'destroy'
  family: 'ipv4' | 'ipv6'
  l4proto: number
  timeout: number
  state?: string
  seenReply: boolean
  assured: boolean
  mark?: number
  zone?: number
  id: number
  pid?: number
  userspace?: boolean
  orig: ExpectTuple
  reply: ExpectTuple
}
interface VectorMessage { call: number, dir: 'tx' | 'rx', hex: string, text?: string, expect?: Expect }
interface VectorFile { source: string, kernel: string, messages: VectorMessage[] }

const dir = new URL('../../fixtures/vectors/ctnetlink/', import.meta.url)
const vectors = new Map<string, VectorFile>()
for (const f of readdirSync(dir).filter(f => f.endsWith('.json')).sort()) {
  vectors.set(f.replace(/\.json$/, ''), JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as VectorFile)
}
const vec = (name: string): VectorFile => {
  const v = vectors.get(name)
  if (v === undefined) throw new Error(`no vector ${name}`)
  return v
}
const rx = (name: string): CtnlMessage[] =>
  vec(name).messages.filter(m => m.dir === 'rx').flatMap(m => decodeCtnl(Buffer.from(m.hex, 'hex')))
const flows = (name: string): CtFlowMessage[] => rx(name).filter((m): m is CtFlowMessage => m.kind === 'conntrack')

function checkTuple (t: Test, got: FlowTuple, want: ExpectTuple, l4proto: number, what: string): void {
  t.equal(got.src, want.src, `${what} src`)
  t.equal(got.dst, want.dst, `${what} dst`)
  t.equal(got.l4proto, l4proto, `${what} l4proto`)
  if (want.type !== undefined) {
    t.equal(got.icmpType, want.type, `${what} icmp type`)
    t.equal(got.icmpCode, want.code, `${what} icmp code`)
    t.equal(got.icmpId, want.icmpId, `${what} icmp id`)
  } else {
    // the CLI prints 0 for protocols whose tuple has no ports (generic, e.g. DCCP here)
    t.equal(got.sport ?? 0, want.sport, `${what} sport`)
    t.equal(got.dport ?? 0, want.dport, `${what} dport`)
  }
}

function stateName (flow: Flow): string | undefined {
  if (flow.tcp?.state !== undefined) return TCP_STATES[flow.tcp.state]
  if (flow.sctp?.state !== undefined) return SCTP_STATES[flow.sctp.state]
  return undefined
}

t.test('every captured kernel message decodes', async t => {
  let n = 0
  for (const [name, v] of vectors) {
    for (const m of v.messages) {
      if (m.dir !== 'rx') continue
      const buf = Buffer.from(m.hex, 'hex')
      const out = decodeCtnl(buf)
      t.equal(out.length, 1, `${name}: one message per vector entry`)
      t.not(out[0]?.kind, 'other', `${name}: known kind`)
      n++
    }
  }
  t.ok(n >= 90, `${n} kernel messages`)
})

t.test('decoded flows match the conntrack CLI (libnetfilter_conntrack) decode', async t => {
  let checked = 0
  for (const [name, v] of vectors) {
    for (const m of v.messages) {
      if (m.expect === undefined) continue
      const e = m.expect
      const [msg] = decodeCtnl(Buffer.from(m.hex, 'hex'))
      if (msg?.kind !== 'conntrack') { t.fail(`${name}: ${m.text ?? ''} not a conntrack message`); continue }
      await t.test(`${name}: ${m.text ?? ''}`.slice(0, 150), async t => {
        const f = msg.flow
        if (e.event !== undefined) t.equal(msg.event, e.event, 'event')
        t.equal(f.family, e.family, 'family')
        checkTuple(t, f.orig, e.orig, e.l4proto, 'orig')
        checkTuple(t, f.reply, e.reply, e.l4proto, 'reply')
        t.equal(f.timeout, e.timeout, 'timeout')
        t.equal(stateName(f), e.state, 'protocol state')
        t.equal(((f.status ?? 0) & IPS.SEEN_REPLY) !== 0, e.seenReply, 'SEEN_REPLY')
        t.equal(((f.status ?? 0) & IPS.ASSURED) !== 0, e.assured, 'ASSURED')
        t.equal(f.mark, e.mark, 'mark present exactly when the CLI printed it')
        t.equal(f.zone, e.zone, 'zone')
        t.equal(f.id, e.id, 'id')
        if (e.userspace === true) t.equal(msg.pid, e.pid, 'nlmsg_pid = port id of the requesting socket')
        else if (e.event !== undefined) t.equal(msg.pid, 0, 'packet-driven events have pid 0')
      })
      checked++
    }
  }
  t.equal(checked, 67, 'dump 8 + dump-ipv6 3 + events 55 + get 1 messages checked against the CLI')
})

t.test('NAT is derived from the reply tuple (SNAT and DNAT flows)', async t => {
  const dump = flows('dump')
  const snat = dump.find(m => m.flow.orig.sport === 33004)?.flow
  const dnat = dump.find(m => m.flow.orig.sport === 33005)?.flow
  t.same(snat?.nat, { src: { ip: '10.99.0.3', port: 41000 } })
  t.ok(((snat?.status ?? 0) & IPS.SRC_NAT) !== 0, 'kernel set SRC_NAT')
  t.same(dnat?.nat, { dst: { ip: '10.99.0.2', port: 7003 } })
  t.ok(((dnat?.status ?? 0) & IPS.DST_NAT) !== 0, 'kernel set DST_NAT')
  // null bindings: the NAT_DONE bits are set on every IPv4 entry, but nothing changed
  const plain = dump.find(m => m.flow.orig.sport === 33000)?.flow
  t.equal(((plain?.status ?? 0) & (IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)), IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)
  t.equal(plain?.nat, undefined)
  for (const m of dump) {
    if (m.flow.orig.sport !== 33004 && m.flow.orig.sport !== 33005) t.equal(m.flow.nat, undefined, flowKey(m.flow))
  }
})

t.test('dump replies: MULTI, full protoinfo, mark and use, then NLMSG_DONE', async t => {
  const all = rx('dump')
  t.equal(all.at(-1)?.kind, 'done')
  const dump = flows('dump')
  t.equal(dump.length, 8)
  for (const m of dump) {
    t.equal(m.event, 'update', 'libnetfilter_conntrack calls dump entries updates too')
    t.equal(m.flags, NlmF.MULTI)
    t.equal(m.flow.use, 1)
    t.type(m.flow.mark, 'number')
  }
  const tcp = dump.find(m => m.flow.orig.sport === 33000)?.flow
  t.same(tcp?.tcp, { state: 3, wscaleOrig: 10, wscaleReply: 10, flagsOrig: { flags: 0x2b, mask: 0 }, flagsReply: { flags: 0x2b, mask: 0 } })
  t.equal(tcp?.status, IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED | IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE)
  const v6 = flows('dump-ipv6')
  t.same(v6.map(m => m.flow.family), ['ipv6', 'ipv6', 'ipv6'])
  t.same(v6.map(m => m.flags), [0x22, 0x22, 0x22], 'MULTI|DUMP_FILTERED when a family was asked for')
  const icmp6 = v6.find(m => m.flow.orig.l4proto === 58)?.flow
  t.same(icmp6?.orig, { src: 'fd99::1', dst: 'fd99::2', l4proto: 58, icmpType: 128, icmpCode: 0, icmpId: icmp6?.orig.icmpId })
})

t.test('events: classification, partial protoinfo, destroy contents', async t => {
  const ev = flows('events')
  const news = ev.filter(m => m.event === 'new')
  t.ok(news.length >= 14)
  for (const m of news) t.equal(m.flags, NlmF.CREATE | NlmF.EXCL)
  for (const m of ev.filter(m => m.event === 'update')) t.equal(m.flags, 0)
  for (const m of ev) t.equal(m.seq, 0, 'events have seq 0')
  // UDP/ICMP updates carry no protoinfo; TCP ones carry the full TCP nest when it changed
  for (const m of ev.filter(m => m.event === 'update' && m.flow.orig.l4proto !== 6)) {
    t.equal(m.flow.tcp, undefined)
  }
  // destroy events: DYING set, TCP protoinfo holds only the state
  const destroys = ev.filter(m => m.event === 'destroy')
  t.ok(destroys.length >= 14)
  for (const m of destroys) t.ok(((m.flow.status ?? 0) & IPS.DYING) !== 0, 'DYING')
  const tcpDestroy = destroys.find(m => m.flow.orig.sport === 33000)?.flow
  t.same(tcpDestroy?.tcp, { state: 7 }, 'TIME_WAIT only')
  t.equal(tcpDestroy?.mark, 42)
  // same key across the lifetime of a flow
  const keys = new Set(ev.filter(m => m.flow.id === tcpDestroy?.id).map(m => flowKey(m.flow)))
  t.equal(keys.size, 1)
  // SCTP entry created by conntrack -I: vtags as the kernel stored them (the CLI sent them byte-swapped)
  const sctp = news.find(m => m.flow.orig.l4proto === 132)?.flow
  t.same(sctp?.sctp, { state: 4, vtagOrig: 0xd2040000, vtagReply: 0x2e160000 })
  t.same(sctp?.synproxy, { isn: 0, its: 0, tsoff: 0 }, 'userspace-created NEW events carry an empty synproxy nest')
  // zone
  const zoned = news.find(m => m.flow.zone !== undefined)?.flow
  t.equal(zoned?.zone, 7)
  t.equal(zoned?.orig.zone, undefined, 'CTA_ZONE only; no per-direction tuple zone')
  t.not(flowKey(zoned!), flowKey({ ...zoned!, zone: undefined }), 'zone is part of the key')
  // generic protocol (DCCP is not built into this kernel): no ports at all
  const dccp = news.find(m => m.flow.orig.l4proto === 33)?.flow
  t.same(dccp?.orig, { src: '192.0.2.13', dst: '198.51.100.14', l4proto: 33 })
  // a GRE tuple carries the keys in the port attributes
  const gre = news.find(m => m.flow.orig.l4proto === 47)?.flow
  t.same([gre?.orig.sport, gre?.orig.dport, gre?.reply.sport, gre?.reply.dport], [1, 2, 2, 1])
})

t.test('ACKs and errors', async t => {
  const last = (name: string): CtnlMessage | undefined => rx(name).at(-1)
  const ack = last('create-tcp')
  t.equal(ack?.kind, 'error')
  if (ack?.kind === 'error') {
    t.equal(ack.errno, 0, 'ACK')
    t.equal(ack.request.type, 0x0100)
    t.equal(ack.request.flags, 0x0605, 'REQUEST|ACK|EXCL|CREATE')
    t.equal(ack.request.seq, ack.seq)
  }
  const errnoOf = (name: string): number | undefined => { const m = last(name); return m?.kind === 'error' ? m.errno : undefined }
  t.equal(errnoOf('create-tcp-exist'), 17, 'EEXIST')
  t.equal(errnoOf('get-missing'), 2, 'ENOENT')
  t.equal(errnoOf('flush'), 0)
  const acked = (name: string): boolean => rx(name).some(m => m.kind === 'error' && m.errno === 0)
  t.ok(acked('delete'), 'delete ACKed')
  t.ok(acked('update-mark'), 'update ACKed')
  t.ok(acked('update-mark-nat'), 'update of a SNAT\'d flow ACKed (no NAT attributes sent)')
  const unspec = rx('update-mark-unspec').filter(m => m.kind === 'error')
  t.ok(unspec.some(m => m.kind === 'error' && m.errno === 95), 'EOPNOTSUPP for nfgen_family AF_UNSPEC on CT_NEW')
  // the capped ACK echoes only the request header; the error echoes the request in full
  const ackHex = vec('create-tcp').messages.find(m => m.dir === 'rx')!.hex
  const [ackMsg] = splitMessages(Buffer.from(ackHex, 'hex'))
  t.equal(ackMsg!.header.flags & NlmF.CAPPED, NlmF.CAPPED)
  t.equal(ackMsg!.payload.length, 20)
  const errHex = vec('create-tcp-exist').messages.filter(m => m.dir === 'rx').at(-1)!.hex
  const [errMsg] = splitMessages(Buffer.from(errHex, 'hex'))
  t.equal(errMsg!.payload.length, 4 + 180)
  t.equal(decodeCtnlMessage(errMsg!).kind, 'error')
})

t.test('get reply and update event after conntrack -U --mark', async t => {
  const [got] = flows('get')
  t.equal(got?.flow.mark, 7)
  t.equal(got?.flow.status, IPS.SEEN_REPLY | IPS.ASSURED | IPS.CONFIRMED)
  t.same(got?.flow.tcp?.flagsOrig, { flags: 0x0a, mask: 0 })
  const ev = flows('events').filter(m => m.flow.mark === 42 && m.pid !== 0 && m.event === 'update')
  t.equal(ev.length, 2, 'one event per updated flow, stamped with the updater port id')
})
