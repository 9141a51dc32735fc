import t from 'tap'
import { validateConfigText } from '../../../src/config/validate.js'
import { formatIssue } from '../../../src/config/issue.js'
import { invalid, oneInstance, readRepoFile, valid } from './helpers.js'

t.test('the shipped example validates', async t => {
  const c = valid(readRepoFile('config/hafw.example.yaml'))
  t.equal(c.node.name, 'fw1')
  t.same(Object.keys(c.vrrp.instances), ['VI_OUT', 'VI_IN'])
  t.same(c.vrrp.syncGroups.G_FW?.members, ['VI_OUT', 'VI_IN'])
  t.equal(c.conntrack?.sync.transport, 'udp')
})

t.test('three-mistakes.yaml: exactly the three mistakes, with paths and lines', async t => {
  const issues = invalid(readRepoFile('test/fixtures/config/three-mistakes.yaml'))
  t.same(issues.map(i => [i.path, i.line, i.column]), [
    ['vrrp.instances.VI_OUT.priority', 13, 7],
    ['vrrp.instances.VI_IN.priorty', 21, 7],
    ['vrrp.syncGroups.G_FW.members[0]', 28, 11]
  ])
  t.match(issues[0]?.message, /1\.\.255 \(got 300\)/)
  t.match(issues[1]?.message, /unknown key \(did you mean priority\?\)/)
  t.match(issues[2]?.message, /unknown instance VI_DMZ/)
  t.equal(formatIssue('hafw.yaml', issues[0]!), 'hafw.yaml:13:7: vrrp.instances.VI_OUT.priority: must be an integer 1..255 (got 300)')
})

t.test('YAML syntax errors carry the line and stop validation', async t => {
  const issues = invalid('vrrp:\n  instances: [a, b\nlog: {}\n')
  t.equal(issues.length, 1)
  t.equal(issues[0]?.path, '')
  t.equal(issues[0]?.line, 3)
  t.match(issues[0]?.message, /^YAML syntax: /)
  t.notMatch(issues[0]?.message, /at line/)
  const dup = invalid('vrrp: {}\nvrrp: {}\n')
  t.equal(dup[0]?.line, 2)
  t.match(dup[0]?.message, /unique/)
})

t.test('empty file and non-mapping root', async t => {
  t.match(invalid('')[0]?.message, /empty/)
  t.match(invalid('# only a comment\n')[0]?.message, /empty/)
  const list = invalid('- a\n- b\n')
  t.equal(list[0]?.path, '')
  t.match(list[0]?.message, /mapping/)
})

t.test('JSON is YAML', async t => {
  const c = valid('{"vrrp": {"instances": {"VI_1": {"interface": "eth0", "vrid": 1, "virtualAddresses": ["192.0.2.1/24"]}}}}')
  t.equal(c.vrrp.instances.VI_1?.vrid, 1)
})

t.test('defaults', async t => {
  const c = valid(oneInstance())
  const i = c.vrrp.instances.VI_1!
  t.equal(c.node.name, undefined)
  t.equal(c.log.level, 'info')
  t.equal(c.control.socket, '/run/hafw/hafwd.sock')
  t.equal(c.control.tcp, undefined)
  t.equal(c.metrics, undefined)
  t.equal(c.conntrack, undefined)
  t.same(c.vrrp.syncGroups, {})
  t.equal(i.priority, 100)
  t.equal(i.version, 3)
  t.equal(i.advertInterval, 1000)
  t.equal(i.preempt, true)
  t.equal(i.preemptDelay, 0)
  t.equal(i.acceptMode, false)
  t.same(i.announce, { delay: 5000, repeat: 5, refresh: 0, refreshRepeat: 1 })
  t.same(i.track, { interfaces: [], files: [], scripts: [] })
  t.equal(i.v3Ipv4ChecksumCompat, false)
  t.same(i.virtualAddresses, [{ address: '192.0.2.1/24' }])

  const m = valid('metrics: {}\ncontrol: { tcp: { token: "0123456789abcdef" } }\n' + oneInstance())
  t.equal(m.metrics?.listen, '127.0.0.1:9781')
  t.equal(m.control.tcp?.listen, '127.0.0.1:9780')

  const ct = valid(oneInstance() + 'conntrack:\n  sync:\n    transport: multicast\n    interface: eth2\n    multicast: { interfaceAddress: 192.168.100.1 }\n').conntrack!
  t.equal(ct.enabled, true)
  t.same(ct.sync.multicast, { group: '225.0.0.50', port: 3780, interfaceAddress: '192.168.100.1' })
  t.same(ct.sync.ftfw, { resendQueueSize: 131072, ackWindowSize: 300, aliveInterval: 1000 })
  t.equal(ct.sync.checksum, true)
  t.equal(ct.commitBudget, 2000)
  t.equal(ct.purgeTimeout, 60_000)
  t.equal(ct.startupResyncTimeout, 5000)
  t.equal(ct.disableExternalCache, false)
  t.same(ct.filter.addresses.ignore, [])

  const tracked = valid(oneInstance(['track:', '  interfaces: [eth2, { name: eth3 }]', '  files: [{ path: /run/x }]', '  scripts: [{ name: s, command: [/bin/true] }]']))
  const tr = tracked.vrrp.instances.VI_1!.track
  t.same(tr.interfaces, [{ name: 'eth2', weight: 0 }, { name: 'eth3', weight: 0 }])
  t.same(tr.files, [{ path: '/run/x', weight: 1 }])
  t.same(tr.scripts, [{ name: 's', command: ['/bin/true'], interval: 1000, weight: 0, rise: 1, fall: 1 }])
})

t.test('durations: units and plain seconds become milliseconds', async t => {
  const cases: Array<[string, number]> = [['100ms', 100], ['1s', 1000], ['2.5s', 2500], ['1m', 60_000], ['3', 3000], ['0.02', 20], ['"4"', 4000], ['1.5', 1500]]
  for (const [text, ms] of cases) {
    const c = valid(oneInstance([`preemptDelay: ${text}`]))
    t.equal(c.vrrp.instances.VI_1?.preemptDelay, ms, text)
  }
  for (const bad of ['banana', '-1', '1 fortnight', '0.0001', 'true', '[1]']) {
    const issues = invalid(oneInstance([`preemptDelay: ${bad}`]))
    t.equal(issues.length, 1, bad)
    t.equal(issues[0]?.path, 'vrrp.instances.VI_1.preemptDelay', bad)
    t.equal(issues[0]?.line, 7, bad)
  }
  const range = invalid(oneInstance(['preemptDelay: 1001s']))
  t.match(range[0]?.message, /must be 0s\.\.1000s \(got "1001s"\)/)
})

t.test('unknown keys everywhere, with suggestions', async t => {
  const issues = invalid([
    'nodee: {}',
    'vrrp:',
    '  instances:',
    '    VI_1:',
    '      interface: eth0',
    '      vrid: 51',
    '      virtualAddresses: [{ address: 192.0.2.1/24, dve: eth1 }]',
    '      announce: { dealy: 1s }',
    '  syncGroup: {}',
    ''
  ].join('\n'))
  t.same(issues.map(i => [i.path, i.line, i.message]), [
    ['nodee', 1, 'unknown key (did you mean node?)'],
    ['vrrp.instances.VI_1.virtualAddresses[0].dve', 7, 'unknown key (did you mean dev?)'],
    ['vrrp.instances.VI_1.announce.dealy', 8, 'unknown key (did you mean delay?)'],
    ['vrrp.syncGroup', 9, 'unknown key (did you mean syncGroups?)']
  ])
})

t.test('missing keys are reported at the mapping that lacks them', async t => {
  const issues = invalid('vrrp:\n  instances:\n    VI_1:\n      vrid: 5\n      virtualAddresses: [192.0.2.1]\n')
  t.same(issues.map(i => [i.path, i.line, i.message]), [['vrrp.instances.VI_1.interface', 3, 'is required']])
  const root = invalid('log: { level: info }\n')
  t.same(root.map(i => [i.path, i.line, i.message]), [['vrrp', 1, 'is required']])
})

t.test('ranges and types', async t => {
  const cases: Array<[string[], string, RegExp]> = [
    [['priority: 0'], 'priority', /1\.\.255 \(got 0\)/],
    [['priority: 10.5'], 'priority', /integer/],
    [['priority: high'], 'priority', /\(got "high"\)/],
    [['version: 4'], 'version', /must be 2 or 3 \(got 4\)/],
    [['preempt: yes please'], 'preempt', /true or false/],
    [['advertInterval: 5ms'], 'advertInterval', /10ms\.\.255s/],
    [['advertInterval: 256'], 'advertInterval', /10ms\.\.255s/],
    [['track: { interfaces: [{ name: eth2, weight: 255 }] }'], 'track.interfaces[0].weight', /-254\.\.254 \(got 255\)/],
    [['track: { files: [{ path: relative/file }] }'], 'track.files[0].path', /absolute path/],
    [['track: { scripts: [{ name: s, command: [] }] }'], 'track.scripts[0].command', /program/],
    [['track: { interfaces: [7] }'], 'track.interfaces[0]', /interface name or \{ name, weight \}/],
    [['announce: { repeat: 0 }'], 'announce.repeat', /1\.\.100/]
  ]
  for (const [extra, path, message] of cases) {
    const what = extra.join('; ')
    const issues = invalid(oneInstance(extra))
    t.equal(issues.length, 1, what)
    t.equal(issues[0]?.path, `vrrp.instances.VI_1.${path}`, what)
    t.match(issues[0]?.message, message, what)
    t.equal(issues[0]?.line, 7, what)
  }
  const name = invalid('vrrp:\n  instances:\n    "bad name":\n      interface: eth0\n      vrid: 1\n      virtualAddresses: [192.0.2.1]\n')
  t.equal(name[0]?.path, 'vrrp.instances.bad name')
  t.match(name[0]?.message, /invalid name/)
  t.match(invalid(oneInstance([], ['192.0.2.1/24']).replace('"192.0.2.1/24"]', '"192.0.2.1/24", 5]'))[0]?.message, /address\/prefix/)
  t.match(invalid(oneInstance(['interface: eth0/1']).replace('      interface: eth0\n', ''))[0]?.message, /interface name/)
})

t.test('virtual addresses: prefix range, count ≥ 1, duplicates', async t => {
  const v4 = invalid(oneInstance([], ['192.0.2.1/33']))
  t.equal(v4[0]?.path, 'vrrp.instances.VI_1.virtualAddresses[0]')
  t.match(v4[0]?.message, /0\.\.32/)
  t.match(invalid(oneInstance([], ['2001:db8::1/129']))[0]?.message, /0\.\.128/)
  t.match(invalid(oneInstance([], ['192.0.2.300']))[0]?.message, /IP address/)
  const none = invalid(oneInstance([], []))
  t.equal(none[0]?.path, 'vrrp.instances.VI_1.virtualAddresses')
  t.match(none[0]?.message, /at least one/)
  const dup = invalid(oneInstance([], ['192.0.2.1/24', '192.0.2.1/32']))
  t.equal(dup[0]?.path, 'vrrp.instances.VI_1.virtualAddresses[1]')
  t.match(dup[0]?.message, /twice/)
})

t.test('control listens on loopback only; metrics on any address (the daemon warns off loopback)', async t => {
  const base = oneInstance()
  valid('metrics: { listen: "127.0.0.2:9000" }\n' + base)
  valid('metrics: { listen: "[::1]:9000" }\n' + base)
  for (const listen of ['0.0.0.0:9781', '192.0.2.1:9781', '[::]:9781', '[2001:db8::1]:9781']) {
    valid(`metrics: { listen: "${listen}" }\n` + base)
    const issues = invalid(`control: { tcp: { listen: "${listen}", token: "0123456789abcdef" } }\n` + base)
    t.equal(issues[0]?.path, 'control.tcp.listen', listen)
    t.match(issues[0]?.message, /loopback/, listen)
  }
  for (const listen of ['localhost:9781', '127.0.0.1', '127.0.0.1:0', '::1:9781']) {
    t.match(invalid(`metrics: { listen: "${listen}" }\n` + base)[0]?.message, /IP:PORT/, listen)
  }
  const tcp = invalid('control: { tcp: { listen: "10.0.0.1:1", token: "secretsecret" } }\n' + base)
  t.same(tcp.map(i => i.path), ['control.tcp.listen', 'control.tcp.token'])
  t.notMatch(tcp[1]?.message, /secretsecret/, 'secrets are not echoed')
})

t.test('all issues of a file are reported in one pass, sorted by line', async t => {
  const issues = invalid(oneInstance(['priority: 0', 'version: 2', 'advertInterval: 1.5s', 'authentication: { type: pass, password: "123456789" }'], ['192.0.2.1/24', '2001:db8::1/64']))
  t.same(issues.map(i => i.path), [
    'vrrp.instances.VI_1.virtualAddresses[1]',
    'vrrp.instances.VI_1.priority',
    'vrrp.instances.VI_1.advertInterval',
    'vrrp.instances.VI_1.authentication.password'
  ])
  t.notMatch(issues[3]?.message, /123456789/)
})

t.test('validateConfigText never throws on odd input', async t => {
  for (const text of ['null', '42', '"x"', '[]', '{}', 'a: !!binary AAAA', '&a [*a]', 'vrrp: { instances: [] }', 'vrrp: { instances: { X: 5 } }']) {
    t.doesNotThrow(() => validateConfigText(text), text)
    t.equal(validateConfigText(text).ok, false, text)
  }
})
