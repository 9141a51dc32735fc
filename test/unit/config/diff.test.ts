import t from 'tap'
import { diffModels } from '../../../src/config/diff.js'
import { model, readRepoFile } from './helpers.js'

const example = readRepoFile('config/hafw.example.yaml')
const base = model(example)

/** The example with one textual edit, which must occur exactly once. */
function edited (from: string, to: string): ReturnType<typeof model> {
  const at = example.indexOf(from)
  if (at < 0 || example.indexOf(from, at + 1) >= 0) throw new Error(`edit target not unique: ${from}`)
  return model(example.replace(from, to))
}

t.test('identical models: noop, every router unchanged', async t => {
  const plan = diffModels(base, model(example))
  t.equal(plan.noop, true)
  t.same(plan.routers.unchanged, ['VI_IN/ipv4', 'VI_IN/ipv6', 'VI_OUT/ipv4', 'VI_OUT/ipv6'])
  t.same([plan.routers.added, plan.routers.removed, plan.routers.changed], [[], [], []])
  t.same(plan.syncGroups.unchanged, ['G_FW'])
  t.equal(plan.conntrack.changed, false)
  t.equal(plan.conntrack.transportChanged, false)
})

t.test('comments and key order do not matter', async t => {
  const reordered = example.replace(/^\s*#.*\n/gm, '').replace('      interface: eth0\n      vrid: 51\n', '      vrid: 51\n      interface: eth0\n')
  t.equal(diffModels(base, model(reordered)).noop, true)
})

t.test('VIP change: only the affected router, with the delta', async t => {
  const plan = diffModels(base, edited('        - 192.0.2.1/24\n', '        - 192.0.2.1/24\n        - 192.0.2.9/24\n'))
  t.equal(plan.noop, false)
  t.same(plan.routers.changed.map(c => [c.id, c.fields]), [['VI_OUT/ipv4', ['vips']]])
  t.same(plan.routers.changed[0]?.vipsAdded, [{ address: '192.0.2.9', prefix: 24, family: 'ipv4' }])
  t.same(plan.routers.changed[0]?.vipsRemoved, [])
  t.same(plan.routers.unchanged, ['VI_IN/ipv4', 'VI_IN/ipv6', 'VI_OUT/ipv6'])
  t.equal(plan.conntrack.changed, true, 'the VIP is also a derived conntrack ignore address')
  t.equal(plan.conntrack.transportChanged, false)
})

t.test('priority and interval changes: both families of the instance', async t => {
  const plan = diffModels(base, edited('      priority: 100\n      # 3 (RFC', '      priority: 110\n      # 3 (RFC'))
  t.same(plan.routers.changed.map(c => [c.id, c.fields]), [['VI_OUT/ipv4', ['priority']], ['VI_OUT/ipv6', ['priority']]])
  const interval = diffModels(base, edited('      advertInterval: 1s        # default 1s', '      advertInterval: 100ms'))
  t.same(interval.routers.changed.map(c => [c.id, c.fields]), [['VI_IN/ipv4', ['advertIntervalCs']], ['VI_IN/ipv6', ['advertIntervalCs']]])
})

// Whether a change restarts the router is the core's decision (core/reconfigure.ts classify,
// test/unit/core/reconfigure.test.ts): the plan only names the routers and fields.
t.test('VRID or interface change: the routers and fields', async t => {
  const vrid = diffModels(base, edited('      vrid: 52', '      vrid: 53'))
  t.same(vrid.routers.changed.map(c => [c.id, c.fields]), [['VI_IN/ipv4', ['vrid']], ['VI_IN/ipv6', ['vrid']]])
  t.same(vrid.routers.unchanged, ['VI_OUT/ipv4', 'VI_OUT/ipv6'])
  const iface = diffModels(base, edited('      interface: eth1', '      interface: eth3'))
  t.same(iface.routers.changed.map(c => [c.id, c.fields]), [['VI_IN/ipv4', ['interface']], ['VI_IN/ipv6', ['interface']]])
})

t.test('unicast on/off and peer list changes', async t => {
  const uni = example.replace('      # unicast:\n      #   peers: [192.0.2.3, "fe80::3"]\n', '      unicast:\n        peers: [192.0.2.3, "fe80::3"]\n')
  const withUnicast = model(uni)
  const on = diffModels(base, withUnicast)
  t.same(on.routers.changed.map(c => [c.id, c.fields]), [['VI_OUT/ipv4', ['unicastPeers']], ['VI_OUT/ipv6', ['unicastPeers']]])
  const peers = diffModels(withUnicast, model(uni.replace('peers: [192.0.2.3, "fe80::3"]', 'peers: [192.0.2.4, "fe80::3"]')))
  t.same(peers.routers.changed.map(c => [c.id, c.fields]), [['VI_OUT/ipv4', ['unicastPeers']]])
})

t.test('family added / removed, instance renamed: routers added and removed', async t => {
  const noV6 = diffModels(base, edited('        - fd00:1::1/64\n', ''))
  t.same(noV6.routers.removed.map(r => r.id), ['VI_IN/ipv6'])
  t.same(noV6.routers.added, [])
  t.same(noV6.syncGroups.changed.map(g => g.name), ['G_FW'])
  const back = diffModels(model(example.replace('        - fd00:1::1/64\n', '')), base)
  t.same(back.routers.added.map(r => r.id), ['VI_IN/ipv6'])

  const renamed = diffModels(base, model(example.replace('    VI_IN:\n', '    VI_INSIDE:\n').replace('members: [VI_OUT, VI_IN]', 'members: [VI_OUT, VI_INSIDE]')))
  t.same(renamed.routers.removed.map(r => r.id), ['VI_IN/ipv4', 'VI_IN/ipv6'])
  t.same(renamed.routers.added.map(r => r.id), ['VI_INSIDE/ipv4', 'VI_INSIDE/ipv6'])
  t.same(renamed.routers.unchanged, ['VI_OUT/ipv4', 'VI_OUT/ipv6'])
})

t.test('sync group removed: groups and member routers change in place', async t => {
  const plan = diffModels(base, edited('  syncGroups:\n    G_FW:\n      members: [VI_OUT, VI_IN]\n', ''))
  t.same(plan.syncGroups.removed.map(g => g.name), ['G_FW'])
  // Each dual-family instance now gets its implicit group.
  t.same(plan.syncGroups.added.map(g => g.name), ['instance:VI_IN', 'instance:VI_OUT'])
  t.same(plan.routers.changed.map(c => c.fields), [['syncGroup'], ['syncGroup'], ['syncGroup'], ['syncGroup']])
})

t.test('conntrack: transport vs in-place changes, on/off, other sections', async t => {
  const purge = diffModels(base, edited('  purgeTimeout: 60s', '  purgeTimeout: 30s'))
  t.equal(purge.conntrack.changed, true)
  t.equal(purge.conntrack.transportChanged, false)
  t.equal(purge.routers.unchanged.length, 4)
  const port = diffModels(base, edited('      port: 3780\n    # Multicast', '      port: 3781\n    # Multicast'))
  t.equal(port.conntrack.transportChanged, true)
  const off = diffModels(base, edited('  enabled: true\n  sync:', '  enabled: false\n  sync:'))
  t.equal(off.conntrack.next, null)
  t.equal(off.conntrack.transportChanged, true)
  const log = diffModels(base, edited('  level: info', '  level: debug'))
  t.same([log.log, log.node, log.control, log.metrics, log.noop], [true, false, false, false, false])
  t.equal(log.routers.unchanged.length, 4)
})
