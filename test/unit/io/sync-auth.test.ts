// Authenticated sync (src/io/sync-auth.ts): the trailer, MAC ok / bad / reflected / rotated key, the key
// files, and the replay window behind it (the engine's, core/conntrack/engine-peer.ts) fed by real verdicts.
import t from 'tap'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AUTH_TRAILER_BYTES, authenticateSync, loadSyncKeys, openDatagram, sealDatagram } from '../../../src/io/sync-auth.js'
import type { SyncTransport } from '../../../src/io/ports.js'
import type { AuthVerdict } from '../../../src/core/conntrack/engine-types.js'

const K1 = Buffer.from('0123456789abcdef0123456789abcdef')
const K2 = Buffer.from('fedcba9876543210fedcba9876543210')
const A = '192.168.100.1'
const B = '192.168.100.2'
const payload = Buffer.from('an FTFW datagram, unchanged')

t.test('sealed by the peer with the current key: the payload and its counter', async t => {
  const d = sealDatagram(K1, B, 1_764_000_000_000_123, payload)
  t.equal(d.length, payload.length + AUTH_TRAILER_BYTES)
  t.same(d.subarray(0, payload.length), payload, 'the FTFW bytes are not touched')
  const r = openDatagram([K1], B, d)
  t.same(r.verdict, { ok: true, counter: 1_764_000_000_000_123, key: 0 })
  t.same(r.payload, payload)
})

t.test('refused: wrong key, flipped payload bit, flipped counter, reflected (other sender), too short', async t => {
  const d = sealDatagram(K1, B, 7, payload)
  t.same(openDatagram([K2], B, d).verdict, { ok: false, reason: 'authBadMac' })
  const flipped = Buffer.from(d); flipped[3] = (flipped[3] as number) ^ 1
  t.same(openDatagram([K1], B, flipped).verdict, { ok: false, reason: 'authBadMac' })
  const counter = Buffer.from(d); counter[payload.length + 7] = (counter[payload.length + 7] as number) ^ 1
  t.same(openDatagram([K1], B, counter).verdict, { ok: false, reason: 'authBadMac' }, 'the counter is covered')
  t.same(openDatagram([K1], A, d).verdict, { ok: false, reason: 'authBadMac' }, 'our own datagram sent back with another source does not verify')
  t.same(openDatagram([K1], B, Buffer.alloc(10)).verdict, { ok: false, reason: 'authMissing' }, 'an unauthenticated (conntrackd) datagram')
  t.same(openDatagram([K1], `::ffff:${B}`, d).verdict.ok, true, 'the sender as a dual-stack socket reports it')
})

t.test('key rotation: sends with the first key, accepts both, setKeys swaps them', async t => {
  // Two nodes over a fake link.
  type H = (d: Buffer, from: string, auth?: AuthVerdict) => void
  const wire = (self: string, to: () => H[]): SyncTransport & { handlers: H[] } => {
    const handlers: H[] = []
    return { handlers, send: async (d) => { for (const h of to()) h(Buffer.from(d), self) }, onDatagram: (h) => { handlers.push(h) }, close: async () => {} }
  }
  const rawA = wire(A, () => rawB.handlers)
  const rawB = wire(B, () => rawA.handlers)
  const a = authenticateSync(rawA, { keys: [K1], local: A, firstCounter: 1000 })
  const b = authenticateSync(rawB, { keys: [K1, K2], local: B, firstCounter: 5000 })
  const atA: Array<[string, AuthVerdict | undefined]> = []
  const atB: Array<[string, AuthVerdict | undefined]> = []
  a.onDatagram((d, _f, v) => { atA.push([d.toString(), v]) })
  b.onDatagram((d, _f, v) => { atB.push([d.toString(), v]) })
  await a.send(Buffer.from('x'))
  await b.send(Buffer.from('y'))
  t.same(atB, [['x', { ok: true, counter: 1000, key: 0 }]])
  t.same(atA, [['y', { ok: true, counter: 5000, key: 0 }]])
  // B moves to K2 first; A still only knows K1: refused until A reloads with both.
  b.setKeys([K2, K1])
  await b.send(Buffer.from('z'))
  t.same(atA[1], ['z', { ok: false, reason: 'authBadMac' }])
  a.setKeys([K1, K2])
  await b.send(Buffer.from('w'))
  t.same(atA[2], ['w', { ok: true, counter: 5002, key: 1 }], 'accepted with the second key, counter still rising')
  await a.send(Buffer.from('v'))
  t.same(atB[1], ['v', { ok: true, counter: 1001, key: 1 }], 'B still accepts the old key second')
  t.throws(() => { a.setKeys([]) }, /no key/)
})

t.test('key files: read without trailing whitespace; refused with the key path when readable by others, missing or short', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'hafw-key-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const good = join(dir, 'good.key')
  writeFileSync(good, 'c2VjcmV0LXN5bmMta2V5LWZvci1oYWZ3\n', { mode: 0o600 })
  chmodSync(good, 0o600)
  t.same(loadSyncKeys([good]).map(k => k.toString()), ['c2VjcmV0LXN5bmMta2V5LWZvci1oYWZ3'])
  const open = join(dir, 'open.key')
  writeFileSync(open, 'c2VjcmV0LXN5bmMta2V5LWZvci1oYWZ3\n')
  chmodSync(open, 0o644)
  t.throws(() => loadSyncKeys([good, open]), { message: `conntrack.sync.auth.keyFiles[1]: the key file ${open} is accessible to others (mode 0644); chmod 600 it` })
  t.throws(() => loadSyncKeys([join(dir, 'none.key')]), /^conntrack\.sync\.auth\.keyFiles\[0\]: cannot read the key file/)
  const short = join(dir, 'short.key')
  writeFileSync(short, 'tooshort\n', { mode: 0o600 })
  chmodSync(short, 0o600)
  t.throws(() => loadSyncKeys([short]), /keyFiles\[0\]: the key in .* is 8 bytes; at least 16/)
})
