// Round trip of meaning against keepalived itself: `keepalived --config-test` (2.2.7) reads each
// field fixture and reports what it ignores ("address family must match VRRP instance ... -
// ignoring", "VRRP version 3 does not support authentication"). The imported hafw model must run
// exactly what keepalived runs: the same VIPs per (interface, VRID, family), PASS auth and VRRPv2
// where keepalived kept it, and a file:line report of every address keepalived ignored.
import t from 'tap'
import type { Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseCidr } from '../../../src/config/net.js'
import { allStatements, parseConf, type ConfStmt } from '../../../src/import/conf-parse.js'
import { fixture, importFixture, modelOf } from './helpers.js'

const probe = spawnSync('keepalived', ['--version'], { encoding: 'utf8' })
// keepalived checks that the instances' interfaces exist (and then stops before completing the
// instances): rename the fixtures' interfaces to one this machine has, keeping every line in place.
const iface = (() => {
  try {
    const names = readdirSync('/sys/class/net').filter(n => n !== 'lo').sort()
    return names.find(n => n.startsWith('eth')) ?? names[0] ?? null
  } catch { return null }
})()
const skip = probe.error !== undefined ? 'keepalived is not installed' : iface === null ? 'no network interface besides lo' : false

const FIXTURES = ['classic-fw1', 'mcast-fw2', 'ipv6-split', 'v2-auth-track', 'dualstack-v2']
const IFNAME = /\b(eth[0-9]+|ens[0-9]+|enp[0-9]+s[0-9]+)\b/g

interface KeepalivedView {
  /** Lines keepalived reported "address family must match ... - ignoring" for. */
  familyIgnored: Set<number>
  /** Instances whose authentication keepalived dropped because they run VRRPv3. */
  v3AuthIgnored: Set<string>
  /** Lines where keepalived truncated auth_pass. */
  truncated: Set<number>
  output: string
}

function keepalivedView (t: Test, base: string): KeepalivedView {
  const file = join(t.testdir(), `${base}.conf`)
  writeFileSync(file, fixture(`${base}.keepalived.conf`).replace(IFNAME, iface as string))
  const r = spawnSync('keepalived', ['--config-test', '-f', file], { encoding: 'utf8' })
  const output = `${r.stdout}${r.stderr}`
  const view: KeepalivedView = { familyIgnored: new Set(), v3AuthIgnored: new Set(), truncated: new Set(), output }
  for (const line of output.split('\n')) {
    const at = /^\((.+): Line ([0-9]+)\) (.*)$/.exec(line)
    if (at !== null && at[1] === file) {
      if (/address family must match VRRP instance .* - ignoring/.test(at[3] as string)) view.familyIgnored.add(Number(at[2]))
      if (/Truncating auth_pass to 8 characters/.test(at[3] as string)) view.truncated.add(Number(at[2]))
    }
    const inst = /^\(([^)]+)\) VRRP version 3 does not support authentication/.exec(line)
    if (inst !== null) view.v3AuthIgnored.add(inst[1] as string)
  }
  return view
}

const kids = (s: ConfStmt, kw: string): ConfStmt[] => (s.children ?? []).filter(c => c.words[0] === kw)

for (const base of FIXTURES) {
  t.test(`${base}: the hafw model runs what keepalived --config-test says keepalived runs`, { skip }, async t => {
    const k = keepalivedView(t, base)
    t.notMatch(k.output, /Non-existent interface|Unknown interface/, 'keepalived completed the instances')
    const r = importFixture(base, false)
    const m = modelOf(r)
    const name = `${base}.keepalived.conf`
    const parsed = parseConf(fixture(name), name, { commentChars: '#!' })
    if (!parsed.ok) { t.fail(parsed.error.message); return }
    const allVips = new Set(m.routers.flatMap(x => x.vips.map(v => v.address)))

    for (const inst of parsed.stmts.filter(s => s.words[0] === 'vrrp_instance')) {
      const iname = inst.words[1] as string
      const ifName = kids(inst, 'interface')[0]?.words[1]
      const vrid = Number(kids(inst, 'virtual_router_id')[0]?.words[1])
      const entries = kids(inst, 'virtual_ipaddress').flatMap(b => b.children ?? [])
      const kept = entries.filter(e => !k.familyIgnored.has(e.line))
      const ignored = entries.filter(e => k.familyIgnored.has(e.line))
      const addr = (e: ConfStmt): { address: string, family: 'ipv4' | 'ipv6' } => {
        const c = parseCidr(e.words[0] as string)
        if (!c.ok) throw new Error(c.message)
        return c.value
      }
      const family = kept[0] === undefined ? 'ipv4' : addr(kept[0]).family
      const router = m.routers.find(x => x.interface === ifName && x.vrid === vrid && x.family === family)
      if (router === undefined) { t.fail(`${iname}: no hafw router on ${ifName ?? '?'} VRID ${vrid} ${family}`); continue }
      t.same(kept.map(e => addr(e).address).filter(a => !router.vips.some(v => v.address === a)), [], `${iname}: every VIP keepalived runs is on ${router.id}`)
      for (const e of ignored) {
        t.notOk(allVips.has(addr(e).address), `${iname}: ${addr(e).address} (ignored by keepalived) is not written`)
        t.ok(r.items.some(i => i.kind === 'attention' && i.file === name && i.line === e.line), `${iname}: ${name}:${e.line} reported`)
      }
      const auth = kids(inst, 'authentication')[0]
      if (auth === undefined) continue
      if (k.v3AuthIgnored.has(iname)) {
        t.equal(router.version, 3, `${iname}: VRRPv3, as keepalived runs it`)
        t.equal(router.authentication, null, `${iname}: no authentication, as keepalived runs it`)
      } else {
        const pass = kids(auth, 'auth_pass')[0]
        t.equal(router.version, 2, `${iname}: keepalived kept its authentication, so it runs VRRPv2`)
        t.same(router.authentication, { type: 'pass', password: (pass?.words[1] ?? '').slice(0, 8) }, `${iname}: PASS kept`)
        if (pass !== undefined && k.truncated.has(pass.line)) {
          t.ok(r.items.some(i => i.line === pass.line && /first 8 characters/.test(i.message)), `${iname}: truncation reported`)
        }
      }
    }
    // Nothing keepalived ignored went unreported (also outside vrrp_instance blocks).
    const lines = new Set(allStatements(parsed.stmts).map(s => s.line))
    for (const l of k.familyIgnored) t.ok(lines.has(l) && r.items.some(i => i.file === name && i.line === l), `${name}:${l} in the report`)
  })
}

t.test('the oracle sees the mixed-family fixture\'s problems at all (so the checks above are not empty)', { skip }, async t => {
  const k = keepalivedView(t, 'dualstack-v2')
  t.same([...k.familyIgnored].sort((a, b) => a - b), [26, 42, 43, 59])
  t.same([...k.v3AuthIgnored], ['VI_DMZ'])
})
