// Issue 12 on the real kernel: an attacker on the sync link. A hafwd pair with authenticated UDP sync
// (conntrack.sync.auth); forged FTFW datagrams (a NEW ESTABLISHED entry from outside to inside, HELLO flag,
// sequence far ahead) are sent to fw2 from a non-peer address on the sync link, and from the peer's own
// address (spoofed), with no MAC and with a MAC under a wrong key. None reaches fw2's external cache nor its
// kernel table after a takeover; each is counted under its reason; the real peer's entries still replicate.
//
// The forger runs in fw1's namespace (the only other end of the sync veth), with an extra address
// 10.2.0.66 on eth2 for the non-peer case and fw1's own sync address for the spoofed case (another
// source port than hafwd's: conntrackd and hafwd never check it).
import t from 'tap'
import { execa } from 'execa'
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { skipUnlessRoot, labFor } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import { ControlClient } from '../../src/control/client.js'
import type { CtEntryView } from '../../src/control/protocol.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { clientReachesServer, waitFor } from '../../src/lab/observe.js'
import { nsExec } from '../../src/lab/sh.js'
import { writeCtMessage } from '../../src/codec/conntrackd.js'
import { flowToAttrs } from '../../src/core/conntrack/attrs-map.js'
import { IPS, invertTuple } from '../../src/core/conntrack/flow.js'
import type { Flow } from '../../src/core/conntrack/flow.js'
import { sealDatagram } from '../../src/io/sync-auth.js'

const skip = skipUnlessRoot()
const ROGUE = '10.2.0.66'
const FORGED_SPORT = 4444

/** The control API in-process (a hafwctl process per poll costs a second on a loaded machine). */
async function api<T> (sock: string, f: (c: ControlClient) => Promise<T>): Promise<T | null> {
  try {
    const c = await ControlClient.connect({ socket: sock })
    try { return await f(c) } finally { await c.close() }
  } catch { return null }
}
const role = async (sock: string): Promise<string | undefined> => (await api(sock, async c => await c.status()))?.role
const liveness = async (sock: string): Promise<string | undefined> =>
  ((await api(sock, async c => await c.status()))?.conntrack as { liveness?: { state: string } } | undefined)?.liveness?.state
const counters = async (sock: string): Promise<Readonly<Record<string, number>>> => (await api(sock, async c => await c.counters())) ?? {}
const external = async (sock: string): Promise<CtEntryView[]> => (await api(sock, async c => await c.dump('external'))) ?? []
const logOf = (p: HafwdProcess): string => existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8') : ''

/** The forged entry: the server "connected" to the client's ssh, ESTABLISHED — the ruleset never allows that NEW. */
function forgedDatagram (seq: number): Buffer {
  const orig = { src: '192.0.2.100', dst: '10.1.0.100', l4proto: 6, sport: FORGED_SPORT, dport: 22 }
  const flow: Flow = { family: 'ipv4', orig, reply: invertTuple(orig), status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED, timeout: 432000, tcp: { state: 3 } }
  const buf = Buffer.alloc(1500)
  const len = writeCtMessage(buf, 0, 'new', flowToAttrs(flow), seq, true, false)
  return Buffer.from(buf.subarray(0, len))
}

/** Send datagrams to fw2's sync port from `src`, inside `ns`. */
async function forge (ns: string, src: string, dst: string, datagrams: readonly Buffer[]): Promise<void> {
  const script = "const d=require('node:dgram');const l=JSON.parse(process.env.FORGE);const s=d.createSocket('udp4');" +
    "s.bind({address:process.env.SRC,port:0},()=>{let n=0;for(const h of l)s.send(Buffer.from(h,'hex'),3780,process.env.DST,()=>{if(++n===l.length)s.close()})})"
  await execa('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { env: { FORGE: JSON.stringify(datagrams.map(b => b.toString('hex'))), SRC: src, DST: dst }, timeout: 10_000 })
}

t.test('forged FTFW datagrams on the sync link reach neither the external cache nor the kernel', { skip }, async t => {
  const lab = await labFor(t, 'sf')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-sf-'))
  const key = join(dir, 'sync.key')
  writeFileSync(key, 'e2e-sync-key-0123456789abcdef\n', { mode: 0o600 })
  chmodSync(key, 0o600)
  const sock1 = join(dir, 'fw1.sock')
  const sock2 = join(dir, 'fw2.sock')
  const withAuth = (yaml: string): string => yaml.replace('      port: 3780\n', `      port: 3780\n    auth:\n      keyFiles: [${key}]\n`)
  const o = { conntrack: true, advertInterval: '100ms', startupResyncTimeout: '0' }
  const p1 = startHafwd(fw1.ns, withAuth(hafwConfig(lab, fw1, { ...o, controlSocket: sock1 })), dir, 'fw1')
  t.teardown(async () => { await p1.stop('SIGKILL').catch(() => null) })
  // fw1 first (the field's order), so the pair does not start with a split-second election race.
  t.not(await waitFor(async () => await role(sock1) === 'master', 10_000, 50), null, 'fw1 master alone')
  const p2 = startHafwd(fw2.ns, withAuth(hafwConfig(lab, fw2, { ...o, controlSocket: sock2 })), dir, 'fw2')
  t.teardown(async () => { await p2.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => await role(sock1) === 'master' && await role(sock2) === 'backup', 15_000, 100), null, 'fw1 master, fw2 backup')
  t.not(await waitFor(async () => await liveness(sock2) === 'heard', 10_000, 50), null, 'fw2 hears fw1 (authenticated)')

  // A real entry first: the peer's stream works.
  t.ok(await clientReachesServer(lab, 1), 'ping through fw1')
  const has = (es: CtEntryView[], proto: number, dport?: number): boolean => es.some(e => e.proto === proto && e.orig.src === lab.client.v4 && (dport === undefined || e.orig.dport === dport))
  t.not(await waitFor(async () => has(await external(sock2), 1), 5000, 50), null, 'the ping replicated to fw2')
  const before = await counters(sock2)

  // The forgeries.
  await nsExec(fw1.ns, 'ip', ['addr', 'add', `${ROGUE}/32`, 'dev', 'eth2'])
  const wrongKey = Buffer.from('not-the-cluster-key-0123456789')
  const plain = forgedDatagram(4_000_000_000)
  await forge(fw1.ns, ROGUE, fw2.sync, [plain, sealDatagram(wrongKey, ROGUE, Date.now() * 1000 + 1e9, plain)])
  await forge(fw1.ns, fw1.sync, fw2.sync, [plain, sealDatagram(wrongKey, fw1.sync, Date.now() * 1000 + 1e9, plain)])
  const delta = async (name: string): Promise<number> => ((await counters(sock2))[name] ?? 0) - (before[name] ?? 0)
  t.not(await waitFor(async () => await delta('sync.rx.drop.authBadMac') >= 2, 5000, 50), null, 'spoofed from the peer\'s address: refused by the MAC')
  t.equal(await delta('sync.rx.drop.syncSourceNotPeer'), 2, 'from a non-peer address: refused by the source check, MAC or not')
  t.equal(await delta('sync.rx.drop.authBadMac'), 2)

  // The real peer is unaffected: another flow replicates after the forgeries.
  await nsExec(lab.ns.client, 'bash', ['-c', 'echo x > /dev/udp/192.0.2.100/5353'], { allowFail: true })
  t.not(await waitFor(async () => has(await external(sock2), 17, 5353), 5000, 50), null, 'a new flow through fw1 still reaches fw2')
  t.notOk((await external(sock2)).some(e => e.orig.sport === FORGED_SPORT), 'no forged entry in fw2\'s external cache')
  t.equal(await liveness(sock2), 'heard', 'and fw1 is still heard')

  // Takeover: fw2 commits its external cache; the forged entry is not in the kernel.
  await p1.stop('SIGKILL')
  t.not(await waitFor(async () => await role(sock2) === 'master', 8000, 50), null, 'fw2 took over')
  t.not(await waitFor(async () => /external cache committed/.test(logOf(p2)), 5000, 50), null, 'fw2 committed')
  const kernel = await nsExec(fw2.ns, 'conntrack', ['-L'], { allowFail: true })
  t.match(kernel, /dst=192\.0\.2\.100 .*dport=5353/, 'the real UDP flow is in fw2\'s kernel table')
  t.notMatch(kernel, new RegExp(`sport=${FORGED_SPORT} `), 'the forged entry is not')
  t.not(await waitFor(async () => await liveness(sock2) === 'lost', 8000, 100), null, 'and fw2 reports the peer lost')
})
