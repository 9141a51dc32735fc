// The NETLINK_NETFILTER socket wrapper on a scripted addon (every path without a kernel), and the
// real addon's argument checks and handle lifecycle (a socket is opened and closed, nothing sent).
import t from 'tap'
import { openNetfilterSocket, CtnlIoError } from '../../../src/io/ctnetlink-socket.js'
import { openEventSocket, newGroupLeaveSafe, CONNTRACK_GROUPS, DEFAULT_EVENT_RCVBUF } from '../../../src/io/ctnetlink-events.js'
import { loadNfct, type NfctAddon, type NfctHandle, type NfctOpenOptions, type NfctStats } from '../../../src/io/nfct.js'

const errnoError = (code: string, message: string): Error => Object.assign(new Error(message), { code })

interface Fake {
  addon: NfctAddon
  opened: NfctOpenOptions[]
  sent: Buffer[][]
  filters: number[]
  memberships: Array<[number, boolean]>
  closes: number
  data: (buf: Buffer) => void
  error: (errno: string) => void
}

function fakeAddon (opts: { failOpen?: string, failSend?: string, failFilter?: string, failMembership?: string } = {}): Fake {
  const handle = {} as NfctHandle
  const stats: NfctStats = { datagrams: 3, batches: 1, bytes: 300, enobufs: 0, errors: 0, truncated: 0, foreign: 0 }
  const f: Fake = {
    opened: [],
    sent: [],
    filters: [],
    memberships: [],
    closes: 0,
    data: () => {},
    error: () => {},
    addon: {
      open: (o) => {
        if (opts.failOpen !== undefined) throw errnoError(opts.failOpen, 'socket(AF_NETLINK, NETLINK_NETFILTER): nope')
        f.opened.push(o ?? {})
        return { handle, portId: 777, rcvbuf: 2 * (o?.rcvbuf ?? 106496), sndbuf: 2 * (o?.sndbuf ?? 106496), rcvbufForced: true, sndbufForced: true }
      },
      start: (_h, onData, onError) => { f.data = onData; f.error = onError },
      send: (_h, bufs) => {
        if (opts.failSend !== undefined) throw errnoError(opts.failSend, 'sendmsg: nope')
        f.sent.push([...bufs])
        return bufs.reduce((n, b) => n + b.length, 0)
      },
      setOwnPortFilter: (_h, port) => {
        if (opts.failFilter !== undefined) throw errnoError(opts.failFilter, 'SO_ATTACH_FILTER: nope')
        f.filters.push(port)
      },
      setMembership: (_h, group, join) => {
        if (opts.failMembership !== undefined) throw errnoError(opts.failMembership, 'NETLINK_DROP_MEMBERSHIP: nope')
        f.memberships.push([group, join])
      },
      stats: () => ({ ...stats }),
      mallocTrim: () => false,
      copyBuffer: (b) => Buffer.from(b),
      close: () => { f.closes++ }
    }
  }
  return f
}

t.test('open passes the options, reports port id and effective buffers', async t => {
  const f = fakeAddon()
  const s = openNetfilterSocket({ recvBufferSize: 1000, sendBufferSize: 2000, groups: [1, 2] }, f.addon)
  t.same(f.opened, [{ groups: [1, 2], rcvbuf: 1000, sndbuf: 2000 }])
  t.equal(s.portId, 777)
  t.equal(s.recvBufferSize, 2000)
  t.equal(s.sendBufferSize, 4000)
})

t.test('every handler sees every batch and every error', async t => {
  const f = fakeAddon()
  const s = openNetfilterSocket({}, f.addon)
  const got: string[] = []
  s.onMessage(b => { got.push(`a:${b.toString()}`) })
  s.onMessage(b => { got.push(`b:${b.toString()}`) })
  s.onError(e => { got.push(`err:${e}`) })
  f.data(Buffer.from('x'))
  f.error('ENOBUFS')
  t.same(got, ['a:x', 'b:x', 'err:ENOBUFS'])
})

t.test('send: one call per datagram; failures are CTNL_SEND with the errno; closed is CTNL_CLOSED', async t => {
  const f = fakeAddon()
  const s = openNetfilterSocket({}, f.addon)
  await s.send([Buffer.from('a'), Buffer.from('b')])
  t.same(f.sent.map(d => d.map(b => b.toString())), [['a', 'b']])
  const bad = openNetfilterSocket({}, fakeAddon({ failSend: 'EMSGSIZE' }).addon)
  await t.rejects(bad.send([Buffer.from('a')]), { name: 'CtnlIoError', code: 'CTNL_SEND', errno: 'EMSGSIZE' })
  s.close()
  s.close()
  t.equal(f.closes, 1, 'close is idempotent')
  await t.rejects(s.send([Buffer.from('a')]), { code: 'CTNL_CLOSED' })
  t.same(s.stats(), { datagrams: 0, batches: 0, bytes: 0, enobufs: 0, errors: 0, truncated: 0, foreign: 0 }, 'zeros once closed')
})

t.test('open failures are CTNL_OPEN with the errno', async t => {
  t.throws(() => openNetfilterSocket({}, fakeAddon({ failOpen: 'EPERM' }).addon), { name: 'CtnlIoError', code: 'CTNL_OPEN', errno: 'EPERM' })
})

t.test('event socket: groups, default buffer, own-port filter, ENOBUFS → overrun, others → onError', async t => {
  const f = fakeAddon()
  const events: Buffer[] = []
  let overruns = 0
  const errors: string[] = []
  const ev = openEventSocket({ ownPortId: 4242, addon: f.addon }, b => { events.push(b) }, () => { overruns++ }, e => { errors.push(e) })
  t.same(f.opened, [{ groups: CONNTRACK_GROUPS, rcvbuf: DEFAULT_EVENT_RCVBUF, sndbuf: 0, slotBytes: 8192, batchBytes: 1048576 }])
  t.same(f.filters, [4242], 'the commit port is filtered')
  f.data(Buffer.from('e'))
  f.error('ENOBUFS')
  f.error('EMSGSIZE')
  f.error('EIO')
  t.equal(events.length, 1)
  t.equal(overruns, 2, 'ENOBUFS and a dropped oversized event both mean lost events')
  t.same(errors, ['EIO'])
  t.match(ev.stats(), { portId: 777, recvBufferSize: 2 * DEFAULT_EVENT_RCVBUF, ownPortFilter: true, newEvents: true, datagrams: 3, batches: 1 })
  ev.listenNew(true)
  t.same(f.memberships, [], 'already in the NEW group: nothing to do')
  ev.listenNew(false)
  ev.listenNew(false)
  t.same(f.memberships, [[1, false]], 'leaves NFNLGRP_CONNTRACK_NEW once')
  t.match(ev.stats(), { newEvents: false })
  ev.listenNew(true)
  t.same(f.memberships, [[1, false], [1, true]], 'and joins it again')
  t.match(ev.stats(), { newEvents: true })
  ev.close()
  t.equal(f.closes, 1)

  const g = fakeAddon({ failFilter: 'EINVAL' })
  t.throws(() => openEventSocket({ ownPortId: 1, addon: g.addon }, () => {}, () => {}), { code: 'CTNL_OPEN', errno: 'EINVAL' })
  t.equal(g.closes, 1, 'a socket whose filter failed is closed')
  const h = fakeAddon()
  openEventSocket({ ownPortId: 0, addon: h.addon }, () => {}, () => {}).close()
  t.same(h.filters, [], 'port 0: no filter')

  const old = fakeAddon()
  const oev = openEventSocket({ ownPortId: 1, addon: old.addon, kernelRelease: '5.19.2-1-amd64' }, () => {}, () => {})
  oev.listenNew(false)
  t.same(old.memberships, [], '5.19.0-3: the group is kept')
  t.match(oev.stats(), { newEvents: true })
  oev.close()
  t.equal(newGroupLeaveSafe('6.1.0-28-amd64'), true)
  t.equal(newGroupLeaveSafe('6.18.44-fc-v1272'), true)
  t.equal(newGroupLeaveSafe('5.19.4'), true)
  t.equal(newGroupLeaveSafe('5.19'), false)
  t.equal(newGroupLeaveSafe('5.10.0-30-amd64'), true, 'before 5.19 events never depended on listeners')
  t.equal(newGroupLeaveSafe('weird'), false)

  const m = fakeAddon({ failMembership: 'EPERM' })
  const mev = openEventSocket({ ownPortId: 1, addon: m.addon }, () => {}, () => {})
  t.throws(() => { mev.listenNew(false) }, { code: 'CTNL_OPEN', errno: 'EPERM' }, 'a refused membership change is a CtnlIoError with the errno')
  t.match(mev.stats(), { newEvents: true }, 'and the state stays what the kernel has')
  mev.close()
})

// ------------------------------------------------------------------------------------------------
// The real addon (built by npm ci). Opening a netfilter socket needs no privilege; nothing is sent.

const loaded = loadNfct()
t.test('the real addon: argument checks and handle lifecycle', { skip: loaded.addon === null ? `addon not built: ${loaded.error}` : false }, async t => {
  const nfct = loaded.addon as NfctAddon
  const o = nfct.open({})
  t.ok(o.portId > 0, `kernel-assigned port id ${o.portId}`)
  t.ok(o.rcvbuf > 0 && o.sndbuf > 0, 'effective buffers reported')
  t.throws(() => { nfct.send({} as NfctHandle, []) }, TypeError, 'a foreign object is not a handle')
  t.throws(() => { nfct.close(42 as unknown as NfctHandle) }, TypeError)
  t.throws(() => { nfct.start(o.handle, 1 as unknown as () => void, () => {}) }, TypeError, 'callbacks must be functions')
  t.throws(() => { nfct.send(o.handle, ['x' as unknown as Buffer]) }, TypeError, 'only Buffers are sent')
  t.throws(() => nfct.open({ groups: [0] }), TypeError, 'group 0 is refused')
  t.throws(() => nfct.open({ rcvbuf: -1 }), TypeError, 'a negative size is refused')
  t.throws(() => { nfct.setOwnPortFilter(o.handle, 2 ** 32) }, TypeError, 'port ids are u32')
  t.throws(() => { nfct.setMembership(o.handle, 0, true) }, TypeError, 'group 0 is refused')
  t.throws(() => { nfct.setMembership(o.handle, 1, 'yes' as unknown as boolean) }, TypeError, 'join is a boolean')
  // nfnetlink lets only CAP_NET_ADMIN join its groups (no NL_CFG_F_NONROOT_RECV): as root only
  if (process.getuid?.() === 0) {
    nfct.setMembership(o.handle, 1, false)
    t.pass('leaving a group the socket is not in is not an error')
    nfct.setMembership(o.handle, 1, true)
    nfct.setMembership(o.handle, 1, true)
    nfct.setMembership(o.handle, 1, false)
    t.pass('joining twice, then leaving')
  }
  t.equal(nfct.send(o.handle, []), 0, 'nothing to send: nothing sent')
  t.same(nfct.stats(o.handle), { datagrams: 0, batches: 0, bytes: 0, enobufs: 0, errors: 0, truncated: 0, foreign: 0 })
  nfct.close(o.handle)
  nfct.close(o.handle)
  t.throws(() => { nfct.send(o.handle, [Buffer.alloc(16)]) }, { code: 'EBADF' }, 'after close: EBADF, not a stale fd')
  t.throws(() => { nfct.setOwnPortFilter(o.handle, 1) }, { code: 'EBADF' })
  t.throws(() => { nfct.setMembership(o.handle, 1, true) }, { code: 'EBADF' })
  t.type(nfct.mallocTrim(), 'boolean', 'mallocTrim needs no socket')
  const src = Buffer.from([1, 2, 3, 250])
  const copy = nfct.copyBuffer(src)
  t.ok(Buffer.isBuffer(copy) && copy.equals(src) && copy.buffer !== src.buffer, 'copyBuffer: a Buffer with the same bytes, its own memory')
  t.equal(nfct.copyBuffer(Buffer.alloc(0)).length, 0, 'copyBuffer of an empty Buffer')
  t.throws(() => { nfct.copyBuffer('abc' as unknown as Buffer) }, TypeError, 'copyBuffer of a string: TypeError, not a crash')
  // let libuv finish the close before the next test
  await new Promise(resolve => setImmediate(resolve))
  t.throws(() => { nfct.stats(o.handle) }, { code: 'EBADF' }, 'and still after the socket memory is gone')
  t.ok(CtnlIoError !== undefined)
})
