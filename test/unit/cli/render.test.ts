// hafwctl output: snapshots from the real core → the exact text a person reads; health verdicts
// and exit codes; format helpers.
import t from 'tap'
import { formatDuration, formatIntervalCs, table } from '../../../src/cli/format.js'
import { applyEvent, EXIT, exitCodeOf, health } from '../../../src/cli/health.js'
import { renderCounters, renderEvent, renderState, renderVrrp } from '../../../src/cli/render.js'
import type { Status } from '../../../src/control/protocol.js'
import { allBackup, allMaster, pairNode, statusFrom, step } from '../control/fixtures.js'
import { createNode } from '../../../src/core/node.js'
import { routerConfig } from '../../helpers/netsim.js'

t.test('state: all MASTER, with drops and failed effects', async t => {
  const { node, now } = allMaster()
  const s = statusFrom(node, now + 65_000, { counters: { 'rx.frames': 10, 'rx.drop.badChecksum': 2, 'rx.drop.badTtl': 0, 'effect.garp.failed': 1, 'effect.garp.ok': 4, 'rx.drop.unknownRouter': 1, 'rx.drop.ownAdvert': 3 } })
  t.equal(renderState(s), `fw1  pid 4242  up 1m08s  hafwd 0.1.0  MASTER

NAME           IF/VRID  STATE   PRIO     MASTER  ADVERT  VIPS                          LAST TRANSITION
G_FW           -        MASTER  -        -       -       -                             master (allWantMaster) 1m05s ago
  VI_OUT/ipv4  eth0/51  MASTER  100/100  self    1s      198.51.100.1/24               master (masterDown) 1m05s ago
  VI_IN/ipv4   eth1/52  MASTER  100/100  self    1s      10.1.0.1/24,10.9.0.1/32@eth3  master (masterDown) 1m05s ago
VI_MGMT/ipv4   eth2/53  MASTER  100/100  self    100ms   10.2.0.1/24                   master (masterDown) 1m08s ago

faults: none
drops: node badChecksum=2 unknownRouter=1
failed effects: garp=1
`)
  t.equal(exitCodeOf(health(s)), 0)
})

t.test('state: all BACKUP shows the master as last heard', async t => {
  const { node, now } = allBackup()
  const s = statusFrom(node, now)
  t.equal(renderState(s), `fw1  pid 4242  up 1.5s  hafwd 0.1.0  BACKUP

NAME           IF/VRID  STATE   PRIO     MASTER              ADVERT  VIPS                          LAST TRANSITION
G_FW           -        BACKUP  -        -                   -       -                             backup (memberWantsBackup) 1.5s ago
  VI_OUT/ipv4  eth0/51  BACKUP  100/100  198.51.100.3 (200)  1s      198.51.100.1/24               backup (startup) 1.5s ago
  VI_IN/ipv4   eth1/52  BACKUP  100/100  10.1.0.3 (200)      1s      10.1.0.1/24,10.9.0.1/32@eth3  backup (startup) 1.5s ago
VI_MGMT/ipv4   eth2/53  BACKUP  100/100  10.2.0.3 (200)      100ms   10.2.0.1/24                   backup (startup) 1.5s ago

faults: none
drops: none
`)
  t.equal(exitCodeOf(health(s)), 1)
})

t.test('state: a link down pulls the group to FAULT; faults listed; per-router drops', async t => {
  const { node, now } = allMaster()
  let n = step(node, { kind: 'interface', ifname: 'eth1', up: false }, now + 100)
  // An advert to a router in FAULT is dropped and counted on that router.
  n = step(n, { kind: 'router', routerId: 'VI_IN/ipv4', input: { kind: 'advert', src: '10.1.0.3', priority: 50, adverIntervalCs: 100, addresses: [] } }, now + 150)
  const s = statusFrom(n, now + 200)
  const text = renderState(s)
  t.match(text, /^fw1 .* FAULT\n/)
  t.match(text, /\nG_FW +- +FAULT .* fault \(memberFault\) 100ms ago\n/)
  t.match(text, /\n {2}VI_IN\/ipv4 +eth1\/52 +FAULT +100\/100 +- .* fault \(interfaceDown\) 100ms ago\n/)
  t.match(text, /\n {2}VI_OUT\/ipv4 .* FAULT .* fault \(syncGroup\) 100ms ago\n/)
  t.match(text, /\nVI_MGMT\/ipv4 .* MASTER /)
  t.match(text, /\nfaults: VI_IN\/ipv4 interface:eth1\n/)
  t.match(text, /\ndrops: VI_IN\/ipv4 inFault=1\n/)
  t.equal(exitCodeOf(health(s)), 2)
})

t.test('health verdicts and exit codes', async t => {
  const { node, now } = allMaster()
  const master = statusFrom(node, now)
  const b = allBackup()
  const backup = statusFrom(b.node, b.now)
  t.equal(health(master), 'MASTER')
  t.equal(health(backup), 'BACKUP')
  const mixed = { ...master, routers: master.routers.map(r => r.id === 'VI_MGMT/ipv4' ? { ...r, state: 'backup' as const } : r) }
  t.equal(health(mixed), 'MIXED', 'one backup among masters')
  t.equal(health(statusFrom(pairNode(), 0)), 'MIXED', 'not started yet')
  t.equal(health({ routers: [], groups: [] }), 'MIXED', 'nothing configured is not healthy')
  const faultInMixed = { ...mixed, groups: mixed.groups.map(g => ({ ...g, state: 'fault' as const })) }
  t.equal(health(faultInMixed), 'FAULT', 'any FAULT wins')
  t.same([exitCodeOf('MASTER'), exitCodeOf('BACKUP'), exitCodeOf('FAULT'), exitCodeOf('MIXED')], [0, 1, 2, 3])
  t.same(EXIT, { master: 0, backup: 1, fault: 2, mixed: 3, unreachable: 4, busy: 5, usage: 64, refused: 1 })
})

t.test('applyEvent keeps the verdict current during --watch', async t => {
  const b = allBackup()
  let s: Status = statusFrom(b.node, b.now)
  const time = '2025-01-01T00:00:05.000Z'
  for (const id of ['VI_OUT/ipv4', 'VI_IN/ipv4']) s = applyEvent(s, { kind: 'transition', routerId: id, from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 5000, time })
  t.equal(health(s), 'MIXED', 'group still backup, VI_MGMT still backup')
  s = applyEvent(s, { kind: 'groupTransition', group: 'G_FW', from: 'backup', to: 'master', reason: 'allWantMaster', member: null, at: 5000, time })
  s = applyEvent(s, { kind: 'transition', routerId: 'VI_MGMT/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 5000, time })
  t.equal(health(s), 'MASTER')
  t.same(s.routers.find(r => r.id === 'VI_IN/ipv4')?.lastTransition, { routerId: 'VI_IN/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 5000 })
  t.same(s.groups[0]?.members.map(m => m.state), ['master', 'master'])
  t.equal(s.groups[0]?.transitions, 2)
})

t.test('show vrrp: every field and counter of each router', async t => {
  const { node, now } = allBackup()
  const text = renderVrrp(statusFrom(node, now))
  t.match(text, `VI_IN/ipv4  eth1 VRID 52 VRRPv3 IPv4
  state             BACKUP, sync group G_FW
  priority          100 effective, 100 configured
  primary address   10.1.0.2
  advert interval   1s
  interface         up
  virtual addresses 10.1.0.1/24 10.9.0.1/32@eth3
  faults            none
  tracking          none
  master            10.1.0.3 priority 200, interval 1s, heard 1.0s ago
  last transition   initialize -> backup (startup) at priority 100, 1.5s ago
  next timer        in 2.6s
  counters
    transitions            1
    adverts received       1
    adverts sent           0
    priority 0 received    0
    priority 0 sent        0
    address list mismatch  1
`)
  t.match(text, /VI_MGMT\/ipv4 .*\n[\s\S]*next timer +due now\n/, 'a deadline already passed')
  const m = allMaster()
  const ms = renderVrrp(statusFrom(step(m.node, { kind: 'router', routerId: 'VI_OUT/ipv4', input: { kind: 'advert', src: '198.51.100.3', priority: 50, adverIntervalCs: 100, addresses: [] } }, m.now), m.now))
  t.match(ms, /VI_OUT\/ipv4 [\s\S]*master +self\n[\s\S]*drop lowerPriorityAsMaster +1\n/, 'non-zero drops listed by reason')
  t.equal(renderVrrp(statusFrom(createEmpty(), 0)).split('\n')[2], 'no VRRP router configured')
})

function createEmpty (): ReturnType<typeof pairNode> {
  return { routers: {}, order: [], groups: {} }
}

t.test('counters and events', async t => {
  t.equal(renderCounters({ 'rx.frames': 12, 'effect.vipAdd.ok': 2 }), 'COUNTER           VALUE\neffect.vipAdd.ok  2\nrx.frames         12\n')
  t.equal(renderCounters({}), 'no counter yet\n')
  t.equal(renderEvent({ kind: 'transition', routerId: 'VI_IN/ipv4', from: 'backup', to: 'master', reason: 'masterDown', priority: 100, at: 1, time: '2025-01-01T00:00:05.000Z' }),
    '2025-01-01T00:00:05.000Z  VI_IN/ipv4  backup -> master  (masterDown, priority 100)\n')
  t.equal(renderEvent({ kind: 'groupTransition', group: 'G_FW', from: 'master', to: 'fault', reason: 'memberFault', member: 'VI_IN/ipv4', at: 1, time: '2025-01-01T00:00:05.000Z' }),
    '2025-01-01T00:00:05.000Z  group G_FW  master -> fault  (memberFault, VI_IN/ipv4)\n')
})

t.test('format helpers', async t => {
  t.same([0, 850, 1000, 4290, 42_900, 192_000, 7_380_000, 360_000_000, -5].map(formatDuration), ['0ms', '850ms', '1.0s', '4.2s', '42s', '3m12s', '2h03m', '4d04h', '0ms'])
  t.same([100, 10, 150, 300, 5].map(formatIntervalCs), ['1s', '100ms', '1.5s', '3s', '50ms'])
  t.same(table(['A', 'BB'], [['xxx', 'y'], ['z', '']]), ['A    BB', 'xxx  y', 'z'])
})

t.test('tracking visible: state line with the cause of a priority change, show vrrp track section, priority event', async t => {
  const cfg = routerConfig({
    id: 'VI_T/ipv4',
    ifname: 'eth0',
    vrid: 60,
    primaryAddress: '198.51.100.2',
    track: { 'if:eth2': -60, 'script:chk': 10, 'file:/run/stop': 0 },
    fileWeights: { '/run/prio': -5 }
  })
  let node = step(createNode([cfg], []), { kind: 'all', input: { kind: 'startup' } }, 0)
  t.equal(renderState(statusFrom(node, 0)).split('\n').find(l => l.startsWith('tracking:')), 'tracking: VI_T/ipv4 100->110 (script:chk up +10)',
    'a positive weight while up moves the priority too')
  node = step(node, { kind: 'track', name: 'if:eth2', up: false }, 10)
  node = step(node, { kind: 'router', routerId: 'VI_T/ipv4', input: { kind: 'priorityOffset', source: 'file:/run/prio', offset: -15 } }, 20)
  node = step(node, { kind: 'router', routerId: 'VI_T/ipv4', input: { kind: 'priorityOffset', source: 'bulkSync', offset: -20 } }, 30)
  const s = statusFrom(node, 40)
  t.equal(s.routers[0]?.effectivePriority, 100 - 60 + 10 - 15 - 20)
  t.equal(renderState(s).split('\n').find(l => l.startsWith('tracking:')),
    'tracking: VI_T/ipv4 100->15 (if:eth2 DOWN -60, script:chk up +10, file:/run/prio value 3 -15, bulkSync -20)')
  const vrrp = renderVrrp(s)
  t.match(vrrp, `  tracking
    OBJECT          KIND       STATE    WEIGHT            PRIORITY
    if:eth2         interface  DOWN     weight -60        -60
    script:chk      script     up       weight +10        +10
    file:/run/stop  file       up       weight 0 (fault)  0
    file:/run/prio  file       value 3  weight -5         -15
    bulkSync        offset     -        -                 -20
`)
  const faulty = statusFrom(step(node, { kind: 'track', name: 'file:/run/stop', up: false }, 50), 50)
  t.match(renderVrrp(faulty), /file:\/run\/stop +file +DOWN +weight 0 \(fault\) +FAULT/)
  t.match(renderState(faulty), /faults: VI_T\/ipv4 track:file:\/run\/stop/)
  t.equal(renderEvent({ kind: 'priority', routerId: 'VI_T/ipv4', from: 110, to: 50, cause: 'if:eth2 down, weight -60', at: 10, time: '2025-01-01T00:00:05.000Z' }),
    '2025-01-01T00:00:05.000Z  VI_T/ipv4  priority 110 -> 50  (if:eth2 down, weight -60)\n')
  const watched = applyEvent(s, { kind: 'priority', routerId: 'VI_T/ipv4', from: 15, to: 35, cause: 'bulkSync cleared', at: 60, time: 'x' })
  t.equal(watched.routers[0]?.effectivePriority, 35, '--watch follows priority events')
})
