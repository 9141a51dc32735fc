// The reload plan an operator reads (hafwctl reload [--dry-run]): from two real models (the
// config-side diff) and the core's verdict on the assembled routers (core/reconfigure.ts), each
// router's line says restart + the config keys why, or in place + what changes.
import t from 'tap'
import { diffModels } from '../../../src/config/diff.js'
import { assemble } from '../../../src/runtime/assemble.js'
import { createNode, stepNode } from '../../../src/core/node.js'
import { reconfigureNode } from '../../../src/core/reconfigure.js'
import { planLines, routerPlans } from '../../../src/runtime/reload-plan.js'
import type { Model } from '../../../src/config/normalize.js'
import type { AddressInfo, LinkInfo } from '../../../src/io/ports.js'
import { model, oneInstance } from '../config/helpers.js'

const links = ['eth0', 'eth1', 'eth2', 'eth3'].map((ifname, i) => ({ ifname, index: i + 2, up: true })) as unknown as LinkInfo[]
const addrs = [
  { ifname: 'eth0', family: 'ipv4', address: '192.0.2.10', prefix: 24, scope: 0 },
  { ifname: 'eth1', family: 'ipv4', address: '198.51.100.10', prefix: 24, scope: 0 }
] as unknown as AddressInfo[]

/** Run the old model's node to Master, then ask the core about the new one, as the daemon's dry run does. */
function plan (oldText: string, newText: string): ReturnType<typeof routerPlans> {
  const old: Model = model(oldText)
  const next: Model = model(newText)
  const a = assemble(old, links, addrs)
  let node = createNode(a.routers, a.groups)
  node = stepNode(node, { kind: 'all', input: { kind: 'startup' } }, 0).node
  node = stepNode(node, { kind: 'timeout' }, 10_000).node
  const b = assemble(next, links, addrs)
  return routerPlans(diffModels(old, next), reconfigureNode(node, b.routers, b.groups, 10_100))
}

const script = ['track:', '  interfaces: [{ name: eth2, weight: -20 }]', '  scripts:', '    - { name: chk, command: [/bin/true], weight: -30 }']

t.test('tracks and VIPs added, priority changed: in place, each change named', async t => {
  const p = plan(oneInstance(), oneInstance(['priority: 90', ...script], ['192.0.2.1/24', '192.0.2.2/24']))
  t.same(p, [{
    id: 'VI_1/ipv4',
    change: 'inPlace',
    restart: [],
    inPlace: ['priority 100 -> 90', 'virtualAddresses +192.0.2.2/24', 'track +if:eth2 (weight -20) +script:chk (weight -30)']
  }])
  t.same(planLines(p), ['VI_1/ipv4: in place, no restart: priority 100 -> 90; virtualAddresses +192.0.2.2/24; track +if:eth2 (weight -20) +script:chk (weight -30)'])
})

t.test('a track removed and one reweighted', async t => {
  const p = plan(oneInstance(script), oneInstance(['track:', '  interfaces: [{ name: eth2, weight: -50 }]']))
  t.same(p[0]?.inPlace, ['track if:eth2 weight -20 -> -50 -script:chk'])
  t.equal(p[0]?.change, 'inPlace')
})

t.test('a VRID change restarts, with the key that forces it', async t => {
  const p = plan(oneInstance(), oneInstance(['priority: 90']).replace('vrid: 51', 'vrid: 61'))
  t.same(p, [{ id: 'VI_1/ipv4', change: 'restart', restart: ['vrrp.instances.VI_1.vrid'], inPlace: ['priority 100 -> 90'] }])
  t.same(planLines(p), ['VI_1/ipv4: restart (vrrp.instances.VI_1.vrid changed); also priority 100 -> 90'])
})

t.test('an interface change restarts; nothing changed says so', async t => {
  const moved = plan(oneInstance(), oneInstance().replace('interface: eth0', 'interface: eth1').replace('192.0.2.1/24', '198.51.100.1/24'))
  t.same(moved[0]?.restart, ['vrrp.instances.VI_1.interface', 'vrrp.instances.VI_1.sourceAddresses'], 'a new interface also means a new advert source')
  const same = plan(oneInstance(), oneInstance())
  t.same(same, [{ id: 'VI_1/ipv4', change: 'same', restart: [], inPlace: [] }])
  t.same(planLines(same), [])
})
