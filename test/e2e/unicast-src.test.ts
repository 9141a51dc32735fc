// Issue 12 (a): a hafwd pair with unicast VRRP (unicast.peers, checkSource on by default) and a
// third host on the inside LAN (the client namespace) that sends each firewall a well-formed
// priority-254 VRRPv3 advert for VI_IN from its own, non-peer address. Neither node may move;
// each counts the advert as rx.drop.notUnicastPeer. The control: the same advert with the
// peer's address as source does reach the master and preempts it, so the drop is the source
// check and nothing else.
import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { skipUnlessRoot, labFor, transitions } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import type { FwNode, Topology } from '../../src/lab/topology.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import type { HafwdProcess } from '../../src/lab/hafwd-process.js'
import { waitFor } from '../../src/lab/observe.js'
import { inject, ipv4Vrrp } from '../../src/lab/inject.js'
import { encodeAdvert } from '../../src/codec/vrrp.js'
import { ControlClient } from '../../src/control/client.js'

const skip = skipUnlessRoot()
const VI_IN_VRID = 52

/** The lab config with unicast adverts to the other firewall on each segment (IPv4 only). */
function unicastConfig (lab: Topology, fw: FwNode, sock: string): string {
  const other = lab.fw.find(f => f.name !== fw.name) as FwNode
  const text = hafwConfig(lab, fw, { advertInterval: '1s', ipv6: false, controlSocket: sock })
  const peers: Record<string, string> = { eth0: other.outside, eth1: other.inside }
  const out = text.replace(/( {6}interface: (eth[01])\n)/g, (_m, line: string, ifname: string) => `${line}      unicast:\n        peers: [${peers[ifname] as string}]\n`)
  if ((out.match(/unicast:/g) ?? []).length !== 2) throw new Error(`unicast peers not placed in the lab config:\n${text}`)
  return out
}

/** A valid VRRPv3 advert for VI_IN, priority 254, from `src` to `dst` (unicast, TTL 255). */
function advert254 (lab: Topology, src: string, dst: string): ReturnType<typeof ipv4Vrrp> {
  const payload = encodeAdvert({ version: 3, vrid: VI_IN_VRID, priority: 254, maxAdverIntCs: 100, addresses: [lab.vip.inside4] }, { family: 'ipv4', src, dst })
  return ipv4Vrrp('eth0', payload, { src, dst })
}

async function counters (sock: string): Promise<Readonly<Record<string, number>>> {
  const c = await ControlClient.connect({ socket: sock })
  try { return await c.counters() } finally { await c.close() }
}

t.test('unicast source check on a hafwd pair', { skip }, async t => {
  const lab = await labFor(t, 'us')
  const [fw1, fw2] = lab.fw
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-us-'))
  const procs: HafwdProcess[] = []
  t.teardown(async () => { for (const p of procs) await p.stop('SIGKILL').catch(() => null) })
  const socks = [join(dir, 'fw1.sock'), join(dir, 'fw2.sock')] as const
  const p1 = startHafwd(fw1.ns, unicastConfig(lab, fw1, socks[0]), dir, 'fw1')
  procs.push(p1)
  const p2 = startHafwd(fw2.ns, unicastConfig(lab, fw2, socks[1]), dir, 'fw2')
  procs.push(p2)
  // fw1 (100) master, fw2 (50) backup on both instances. On a loaded host fw2 may start first and
  // become master until fw1's first advert: wait until fw2's latest state on each router is backup.
  const lastStates = (file: string): string[] => [...new Map(transitions(file).map(x => [x.routerId, x.to])).values()]
  t.not(await waitFor(async () => transitions(p1.logFile).filter(x => x.to === 'master').length >= 2 &&
    lastStates(p2.logFile).length >= 2 && lastStates(p2.logFile).every(s => s === 'backup') &&
    lastStates(p1.logFile).every(s => s === 'master'), 15_000, 50), null, 'fw1 master, fw2 backup')

  const before = [transitions(p1.logFile).length, transitions(p2.logFile).length]
  const stranger = lab.client.v4
  await inject(lab.ns.client, [advert254(lab, stranger, fw1.inside), advert254(lab, stranger, fw2.inside)])
  const dropped = async (sock: string): Promise<number> => (await counters(sock))['rx.drop.notUnicastPeer'] ?? 0
  t.not(await waitFor(async () => (await dropped(socks[0])) === 1 && (await dropped(socks[1])) === 1, 5000, 50), null,
    'each node counts the stranger\'s advert as rx.drop.notUnicastPeer')
  t.equal(await dropped(socks[0]), 1)
  t.equal(await dropped(socks[1]), 1)
  t.same([transitions(p1.logFile).length, transitions(p2.logFile).length], before, 'no transition on either node')

  // Control: from the peer's address (spoofed by the same host) the advert reaches fw1's router
  // and a priority-254 advert preempts it (RFC 5798 §6.4.3): the path above was open but for the check.
  await inject(lab.ns.client, [advert254(lab, fw2.inside, fw1.inside)])
  t.not(await waitFor(async () => transitions(p1.logFile).slice(before[0]).some(x => x.routerId === 'VI_IN/ipv4' && x.to === 'backup'), 5000, 20), null,
    'the same advert from the peer address preempts fw1\'s VI_IN')
  t.equal(await dropped(socks[0]), 1, 'and was not counted as a drop')
})
