/** vrrp_instance → one hafw instance (before the IPv4/IPv6 merge), and notify scripts. */
import type { Family } from '../codec/ip.js'
import { isIPv6LinkLocal } from '../codec/ip.js'
import { formatMs } from '../config/duration.js'
import { parseAddress, parseCidr } from '../config/net.js'
import { callsConntrackd, splitCommand } from './command.js'
import type { ConfStmt } from './conf-parse.js'
import { INSTANCE_NO_EQUIVALENT } from './keepalived-tables.js'
import { trackBlock } from './keepalived-track.js'
import { virtualRoutes, virtualRules } from './keepalived-routes.js'
import { hafwName, integer, isOn, msText, seconds, type Ctx, type InstanceOut, type InstanceRec, type NotifyOut, type VipOut } from './keepalived-model.js'

// ---------------------------------------------------------------------------------------------
// Notify scripts
// ---------------------------------------------------------------------------------------------

/** keepalived notify keyword → hafw hook (keepalived.conf(5): notify_master, ..., and the generic notify). */
const NOTIFY_HOOKS: Readonly<Record<string, keyof NotifyOut>> = {
  notify_master: 'master',
  notify_backup: 'backup',
  notify_fault: 'fault',
  notify_stop: 'stop',
  notify: 'any'
}

/**
 * A notify_* line of an instance or sync group → a hook in `target` (written at `at`). keepalived
 * splits the script into words (quotes group them) and execs it without a shell; so does hafwd.
 * conntrackd's glue (primary-backup.sh, direct conntrackd calls) is dropped, never a hook: hafwd
 * does those steps in-process, in the right order.
 */
export function notify (s: ConfStmt, ctx: Ctx, owner: string, target: NotifyOut, at: string): void {
  const kw = s.words[0] as string
  const script = s.words[1]
  const hook = NOTIFY_HOOKS[kw]
  if (hook === undefined) {
    const known = INSTANCE_NO_EQUIVALENT[kw]
    if (known !== undefined) ctx.ledger[known[0]](s, `not translated: ${known[1]}`)
    else ctx.ledger.attention(s, `not translated: hafw has no ${kw}; hooks are notify master/backup/fault/stop/any (${owner})`)
    return
  }
  if (script === undefined) {
    ctx.ledger.note(s, 'no script given: nothing to translate')
    return
  }
  if (callsConntrackd(script)) {
    ctx.conntrackdNotifies.push(s)
    if (ctx.conntrackdGiven) {
      ctx.ledger.note(s, 'dropped: this script drives conntrackd; hafwd does the conntrack steps in-process, in the right order ' +
        '(to MASTER: commit the external cache before the VIPs go up, then flush, resync, bulk; to BACKUP: shorten timers, request resync; to FAULT: shorten timers)')
    } else {
      ctx.ledger.attention(s, 'dropped: this script drives conntrackd, which hafwd replaces in-process — but no conntrackd.conf was given (--conntrackd), so conntrack sync is OFF in the output')
    }
    return
  }
  const split = splitCommand(script)
  let argv = split.argv
  if (split.viaShell) {
    ctx.ledger.note(s, 'the command line uses shell syntax; hafwd runs argv without a shell, so it is written as ["/bin/sh", "-c", "..."]')
  } else if (!(argv[0] as string).startsWith('/')) {
    // keepalived looks a relative program up in PATH; hafwd wants an absolute path: keep the lookup through sh.
    argv = ['/bin/sh', '-c', script.trim()]
    ctx.ledger.attention(s, `${split.argv[0] ?? ''} is not an absolute path: written as ["/bin/sh", "-c", "..."] so PATH is searched as keepalived did; better write the program's absolute path`)
  }
  if (target[hook] !== undefined) ctx.ledger.note(s, `a second ${kw}: keepalived keeps the last one, so does hafw`)
  target[hook] = argv
  ctx.ledger.translated(s, `${at}.${hook}`)
  const user = s.words[2]
  if (user !== undefined && user !== 'root') {
    ctx.ledger.attention(s, `hafwd runs notify hooks as root, not as ${user}${s.words[3] !== undefined ? `:${s.words[3]}` : ''}: check that the script is safe to run as root`)
  }
  if (hook === 'any') ctx.ledger.note(s, `called, as by keepalived, with ${owner.startsWith('sync group') ? '"GROUP" NAME STATE 0' : '"INSTANCE" NAME STATE PRIORITY'} appended`)
}

// ---------------------------------------------------------------------------------------------
// vrrp_instance
// ---------------------------------------------------------------------------------------------

interface VipEntry { stmt: ConfStmt, out: VipOut, family: Family, canonical: string }

/**
 * keepalived fixes an instance's address family from the first statement that carries an address
 * (virtual_ipaddress entry, unicast_src_ip/mcast_src_ip, unicast_peer entry) or from native_ipv6,
 * in file order, and ignores every later address of the other family with a config error
 * (vrrp_data.c alloc_vrrp_vip: "address family must match VRRP instance ... - ignoring"). Returns
 * true when `family` is the instance's (fixing it if still open).
 */
type FamilyClaim = (family: Family) => boolean

function vipEntries (block: ConfStmt, iface: () => string | undefined, ctx: Ctx, excluded: boolean, claim: FamilyClaim | null): VipEntry[] {
  const { ledger } = ctx
  const entries: VipEntry[] = []
  for (const e of block.children ?? []) {
    const addr = e.words[0] as string
    const c = parseCidr(addr)
    if (!c.ok) {
      ledger.attention(e, `not an address/prefix hafw understands (${c.message}): not translated`)
      continue
    }
    // Excluded addresses are not advertised, so keepalived does not check their family (claim null).
    if (claim !== null && !claim(c.value.family)) {
      ledger.attention(e, `not translated: keepalived ignores this ${famName(c.value.family)} address (the instance is ${famName(c.value.family === 'ipv4' ? 'ipv6' : 'ipv4')}, fixed by its first address: "address family must match VRRP instance - ignoring"); put it in an instance of its own family`)
      continue
    }
    let dev: string | null = null
    const dropped: string[] = []
    const noted: string[] = []
    for (let i = 1; i < e.words.length; i++) {
      const w = e.words[i] as string
      const next = e.words[i + 1]
      if (w === 'dev' && next !== undefined) { dev = next; i++ } else if (w === 'label' && next !== undefined) { dropped.push(`label ${next}`); i++ } else if (w === 'brd' && next !== undefined) { noted.push(`brd ${next}`); i++ } else if (w === 'scope' && next !== undefined) {
        if (next !== 'global') dropped.push(`scope ${next}`)
        i++
      } else if ((w === 'peer' || w === 'preferred_lft' || w === 'track_group') && next !== undefined) { (w === 'preferred_lft' ? noted : dropped).push(`${w} ${next}`); i++ } else if (w === 'no_track') noted.push(w)
      else dropped.push(w)
    }
    const text = c.value.prefix === (c.value.family === 'ipv4' ? 32 : 128) && !addr.includes('/') ? c.value.address : `${c.value.address}/${c.value.prefix}`
    const out: VipOut = dev !== null && dev !== iface() ? { address: text, dev } : text
    ledger.translated(e, excluded ? 'virtualAddresses (from virtual_ipaddress_excluded)' : 'virtualAddresses')
    if (dropped.length > 0) ledger.attention(e, `not translated: ${dropped.join(', ')} (hafw adds the bare address${dev !== null ? ' on its dev' : ''}; scripts or monitoring relying on a label/alias name must change)`)
    if (noted.length > 0) ledger.note(e, `ignored: ${noted.join(', ')} (hafw lets the kernel choose)`)
    entries.push({ stmt: e, out, family: c.value.family, canonical: c.value.address })
  }
  return entries
}

function famName (f: Family): string {
  return f === 'ipv4' ? 'IPv4' : 'IPv6'
}

export function instance (s: ConfStmt, ctx: Ctx): InstanceRec {
  const { ledger, g } = ctx
  const sourceName = s.words[1] ?? 'VI'
  const rec: InstanceRec = {
    stmt: s,
    sourceName,
    name: sourceName,
    out: { priority: 100, version: 2, advertInterval: '1s', preempt: true, acceptMode: true, virtualAddresses: [] },
    families: new Set(),
    tracks: [],
    stateMaster: false,
    group: null,
    mergedInto: null,
    routeEntries: [],
    ruleEntries: []
  }
  ledger.translated(s, `vrrp.instances.${hafwName(sourceName)}`)
  const kids = s.children ?? []
  const find = (kw: string): ConfStmt | undefined => kids.find(k => k.words[0] === kw)
  const iface = (): string | undefined => find('interface')?.words[1]

  let version: 2 | 3 | null = null
  let versionStmt: ConfStmt | null = null
  // The instance's address family, fixed by the first address in file order (FamilyClaim).
  const fx: { family: Family | null } = { family: null }
  const claim: FamilyClaim = (f) => {
    fx.family ??= f
    return fx.family === f
  }
  let advert: { s: ConfStmt, v: number } | null = null
  let accept: { s: ConfStmt, v: boolean } | null = null
  let strict = g.strict
  let nopreempt: ConfStmt | null = null
  let preemptDelay: { s: ConfStmt, v: number } | null = null
  let stateStmt: ConfStmt | null = null
  let nativeV6: ConfStmt | null = null
  let auth: ConfStmt | null = null
  let checkSrc: ConfStmt | null = null
  let vmacStmt: ConfStmt | null = null
  let xmitBase: ConfStmt | null = null
  const vips: VipEntry[] = []
  const evips: VipEntry[] = []
  const peers: Array<{ s: ConfStmt, a: string, f: Family }> = []
  const sources: Array<{ s: ConfStmt, a: string, f: Family }> = []
  const announce: NonNullable<InstanceOut['announce']> = {}
  if (g.garpDelayS !== null) announce.delay = msText(g.garpDelayS)
  if (g.garpRepeat !== null) announce.repeat = g.garpRepeat
  if (g.garpRefreshS !== null) announce.refresh = msText(g.garpRefreshS)
  if (g.garpRefreshRepeat !== null) announce.refreshRepeat = g.garpRefreshRepeat

  for (const c of kids) {
    const kw = c.words[0] as string
    const v = c.words[1]
    switch (kw) {
      case 'interface':
        if (v !== undefined) { rec.out.interface = v; ledger.translated(c, 'interface') }
        break
      case 'virtual_router_id': {
        const n = integer(v)
        if (n === null || n < 1 || n > 255) ledger.attention(c, 'virtual_router_id must be 1..255: not translated')
        else { rec.out.vrid = n; ledger.translated(c, 'vrid') }
        break
      }
      case 'priority': {
        const n = integer(v)
        if (n === null || n < 1 || n > 255) ledger.attention(c, 'priority must be 1..255: default 100 used')
        else { rec.out.priority = n; ledger.translated(c, 'priority') }
        break
      }
      case 'advert_int': {
        const n = seconds(v)
        if (n === null || n <= 0) ledger.attention(c, 'advert_int must be a positive number of seconds: default 1s used')
        else advert = { s: c, v: n }
        break
      }
      case 'version': {
        const n = integer(v)
        if (n !== 2 && n !== 3) ledger.attention(c, 'version must be 2 or 3: ignored')
        else if (n === 2 && fx.family === 'ipv6') ledger.note(c, 'keepalived ignores version 2 once the instance is IPv6 ("conflicts with configured or deduced version"): VRRPv3 runs, as written')
        else { version = n; versionStmt = c }
        break
      }
      case 'state':
        stateStmt = c
        rec.stateMaster = v?.toUpperCase() === 'MASTER'
        break
      case 'nopreempt':
      case 'no_preempt':
        nopreempt = c
        break
      case 'preempt':
        ledger.translated(c, 'preempt: true (the default)')
        break
      case 'preempt_delay': {
        const n = seconds(v)
        if (n === null || n > 1000) ledger.attention(c, 'preempt_delay must be 0..1000 seconds: ignored')
        else preemptDelay = { s: c, v: n }
        break
      }
      case 'accept':
        accept = { s: c, v: true }
        break
      case 'no_accept':
        accept = { s: c, v: false }
        break
      case 'strict_mode': {
        const on = isOn(v)
        if (on === null) ledger.attention(c, 'strict_mode takes on/off: ignored')
        else { strict = on; ledger.note(c, 'strict mode only changes the accept-mode default here; hafw applies the RFC checks always') }
        break
      }
      case 'native_ipv6':
        if (fx.family === 'ipv4') ledger.attention(c, 'keepalived refuses native_ipv6 after IPv4 addresses ("Cannot specify native_ipv6 with IPv4 addresses"): ignored, the instance stays IPv4')
        else { nativeV6 = c; fx.family = 'ipv6'; version = 3; versionStmt = null }
        break
      case 'virtual_ipaddress':
        ledger.translated(c, 'virtualAddresses')
        vips.push(...vipEntries(c, iface, ctx, false, claim))
        break
      case 'virtual_ipaddress_excluded':
        ledger.translated(c, 'virtualAddresses')
        ledger.note(c, 'hafw has no excluded addresses: these are ordinary virtual addresses, carried in the adverts (at most 255 per family)')
        evips.push(...vipEntries(c, iface, ctx, true, null))
        break
      case 'unicast_src_ip':
      case 'mcast_src_ip': {
        const a = v === undefined ? null : parseAddress(v)
        if (a === null || !a.ok) ledger.attention(c, 'not an IP address: not translated')
        else if (!claim(a.value.family)) ledger.attention(c, 'keepalived skips a source address of the other family than the instance ("MUST be of the same family"): not translated')
        else sources.push({ s: c, a: a.value.address, f: a.value.family })
        break
      }
      case 'unicast_peer':
        ledger.translated(c, 'unicast.peers')
        for (const p of c.children ?? []) {
          const a = parseAddress(p.words[0] as string)
          if (!a.ok) { ledger.attention(p, 'not an IP address: not translated'); continue }
          if (!claim(a.value.family)) { ledger.attention(p, 'keepalived skips a peer of the other family than the instance ("MUST be of the same family"): not translated'); continue }
          peers.push({ s: p, a: a.value.address, f: a.value.family })
          ledger.translated(p, 'unicast.peers')
          if (p.words.length > 1) ledger.attention(p, `not translated: ${p.words.slice(1).join(' ')} (hafwd checks TTL 255 as RFC 5798 §5.1.1.3 requires)`)
        }
        break
      case 'check_unicast_src':
        checkSrc = c
        break
      case 'authentication':
        auth = c
        break
      case 'track_interface':
      case 'track_script':
      case 'track_file':
        rec.tracks.push(...trackBlock(c, ctx, null))
        break
      case 'garp_master_delay': {
        const n = seconds(v)
        if (n === null) ledger.attention(c, 'must be seconds: ignored')
        else { announce.delay = msText(n); ledger.translated(c, 'announce.delay') }
        break
      }
      case 'garp_master_repeat': {
        const n = integer(v)
        if (n === null || n < 1 || n > 100) ledger.attention(c, 'hafw allows 1..100: ignored')
        else { announce.repeat = n; ledger.translated(c, 'announce.repeat') }
        break
      }
      case 'garp_master_refresh': {
        const n = seconds(v)
        if (n === null) ledger.attention(c, 'must be seconds: ignored')
        else { announce.refresh = msText(n); ledger.translated(c, 'announce.refresh') }
        break
      }
      case 'garp_master_refresh_repeat': {
        const n = integer(v)
        if (n === null || n < 1 || n > 100) ledger.attention(c, 'hafw allows 1..100: ignored')
        else { announce.refreshRepeat = n; ledger.translated(c, 'announce.refreshRepeat') }
        break
      }
      case 'use_vmac':
        vmacStmt = c
        break
      case 'vmac_xmit_base':
        xmitBase = c
        break
      case 'virtual_routes':
        ledger.translated(c, 'routes')
        rec.routeEntries.push(...virtualRoutes(c, ctx))
        break
      case 'virtual_rules':
        ledger.translated(c, 'rules')
        rec.ruleEntries.push(...virtualRules(c, ctx))
        break
      case 'old_unicast_checksum':
        if (v === 'never') ledger.note(c, 'hafw never detects old checksums by itself: nothing to translate')
        else { rec.out.v3Ipv4ChecksumCompat = true; ledger.translated(c, 'v3Ipv4ChecksumCompat'); ledger.note(c, 'hafw does not auto-detect: it always uses the old checksum for VRRPv3 over IPv4') }
        break
      default:
        if (kw.startsWith('notify')) {
          const hooks = rec.out.notify ?? {}
          notify(c, ctx, `instance ${sourceName}`, hooks, 'notify')
          if (Object.keys(hooks).length > 0) rec.out.notify = hooks
        }
        else {
          const known = INSTANCE_NO_EQUIVALENT[kw]
          if (known !== undefined) {
            if (c.children !== null) ledger.wholeBlock(c, known[0], `not translated: ${known[1]}`)
            else ledger[known[0]](c, `not translated: ${known[1]}`)
          }
        }
    }
  }

  // Family and version (keepalived vrrp_complete_instance): one family per instance, IPv4 when no
  // address fixed it; an IPv6 instance without an explicit version runs v3 whatever vrrp_version
  // says; strict mode turns an explicit v2 on IPv6 into v3; without strict mode keepalived runs
  // its non-standard VRRPv2 over IPv6, which hafw does not speak (RFC 3768 is IPv4 only).
  const fam: Family = fx.family ?? 'ipv4'
  rec.families.add(fam)
  if (nativeV6 !== null) ledger.note(nativeV6, 'deprecated in keepalived; the family follows from the virtual addresses in hafw')
  const v6 = fam === 'ipv6'
  let ver: 2 | 3 = v6 ? (version ?? 3) : (version ?? g.version ?? 2)
  if (v6 && ver === 2) {
    ver = 3
    if (strict) ledger.note(versionStmt as ConfStmt, 'keepalived in strict mode runs IPv6 as VRRPv3 ("cannot use IPv6 with VRRP version 2; setting version 3"): version 3 written')
    else {
      ledger.attention(versionStmt as ConfStmt, 'keepalived runs this IPv6 instance as its non-standard VRRPv2 over IPv6; hafw speaks VRRPv3 for IPv6 only (RFC 3768 is IPv4 only): written as version 3 without authentication — ' +
        'a keepalived peer still on version 2 will not see these adverts and both sides become master; switch the keepalived peers to version 3 first')
    }
  } else if (versionStmt !== null) ledger.translated(versionStmt, 'version')
  rec.out.version = ver
  if (version === null && g.version === null && !v6) {
    ledger.note(s, 'keepalived\'s default VRRP version is 2: written as version: 2 (hafw\'s default is 3)')
  }

  // Advertisement interval: v2 whole seconds (RFC 3768 §5.3.7), v3 centiseconds (RFC 5798 §5.2.7).
  if (advert !== null) {
    let ms = advert.v * 1000
    if (ver === 2) {
      const whole = Math.min(255, Math.max(1, Math.round(advert.v)))
      if (whole * 1000 !== ms) ledger.attention(advert.s, `VRRPv2 adverts are whole seconds (RFC 3768 §5.3.7): written as ${whole}s`)
      else ledger.translated(advert.s, 'advertInterval')
      ms = whole * 1000
    } else {
      const cs = Math.min(4095, Math.max(1, Math.round(ms / 10)))
      if (cs * 10 !== ms) ledger.attention(advert.s, `VRRPv3 adverts are 10ms..40.95s in 10ms steps (RFC 5798 §5.2.7): written as ${formatMs(cs * 10)}`)
      else ledger.translated(advert.s, 'advertInterval')
      ms = cs * 10
    }
    rec.out.advertInterval = formatMs(ms)
  }

  // Initial state, preemption. keepalived clears nopreempt / preempt_delay with state MASTER.
  if (stateStmt !== null) {
    if (rec.stateMaster && rec.out.priority === 255) ledger.note(stateStmt, 'MASTER with priority 255: the address owner, which hafw makes master at once (RFC 5798 §6.4.1)')
    else ledger.note(stateStmt, 'informational only: hafw starts every non-owner router as BACKUP and elects by priority (RFC 5798 §6.4.1)')
  }
  if (nopreempt !== null) {
    if (rec.stateMaster) ledger.attention(nopreempt, 'keepalived ignores nopreempt with state MASTER (it logs "clearing"): written as preempt: true, which is what ran; set preempt: false if you want it (hafw honours it)')
    else { rec.out.preempt = false; ledger.translated(nopreempt, 'preempt: false') }
  }
  if (preemptDelay !== null) {
    if (rec.stateMaster) ledger.attention(preemptDelay.s, 'keepalived ignores preempt_delay with state MASTER: not translated')
    else if (!rec.out.preempt) ledger.note(preemptDelay.s, 'no effect with nopreempt: not written')
    else if (preemptDelay.v > 0) { rec.out.preemptDelay = msText(preemptDelay.v); ledger.translated(preemptDelay.s, 'preemptDelay') } else ledger.translated(preemptDelay.s, 'preemptDelay (0, the default)')
  }

  // Accept mode (keepalived vrrp_complete_instance): default on unless strict (owner: on).
  const owner = rec.out.priority === 255
  if (accept !== null) {
    if (accept.v && strict && !owner && ver === 2) {
      rec.out.acceptMode = false
      ledger.attention(accept.s, 'keepalived turns accept mode off for VRRPv2 in strict mode: written as acceptMode: false')
    } else {
      rec.out.acceptMode = accept.v
      ledger.translated(accept.s, 'acceptMode')
    }
  } else {
    rec.out.acceptMode = owner || !strict
    if (rec.out.acceptMode && !owner) ledger.note(s, 'keepalived enables accept mode by default (without vrrp_strict): written as acceptMode: true (hafw\'s default is false)')
  }

  // Virtual addresses: advertised ones, then the excluded ones of a family the version can carry.
  const seen = new Set<string>()
  for (const e of [...vips, ...evips]) {
    if (seen.has(e.canonical)) { ledger.note(e.stmt, 'listed twice: written once'); continue }
    if (ver === 2 && e.family === 'ipv6') { ledger.attention(e.stmt, 'an excluded IPv6 address on a VRRPv2 instance cannot be carried by hafw (it would need IPv6 adverts, and VRRPv2 is IPv4 only): not translated; put it in a version 3 instance'); continue }
    seen.add(e.canonical)
    rec.out.virtualAddresses.push(e.out)
  }
  if (evips.some(e => !rec.families.has(e.family) && !(ver === 2 && e.family === 'ipv6'))) {
    const fams = new Set(evips.map(e => e.family))
    for (const f of fams) {
      if (!rec.families.has(f) && !(ver === 2 && f === 'ipv6')) {
        ledger.note(evips.find(e => e.family === f)?.stmt as ConfStmt, `hafw runs a separate ${f === 'ipv4' ? 'IPv4' : 'IPv6'} virtual router (same VRID) for these excluded addresses, with its own adverts`)
      }
    }
  }

  // Unicast peers and source addresses.
  if (peers.length > 0) rec.out.unicast = { peers: [...new Set(peers.map(p => p.a))] }
  // keepalived check_unicast_src is hafw's unicast.checkSource, which is on by default.
  if (checkSrc !== null) {
    if (rec.out.unicast !== undefined) { rec.out.unicast.checkSource = true; ledger.translated(checkSrc, 'unicast.checkSource: true (the default)') } else ledger.note(checkSrc, 'no unicast_peer: nothing to check (multicast adverts are not filtered by source)')
  }
  const srcByFamily = new Map<Family, string>()
  for (const src of sources) {
    if (src.f === 'ipv6' && !isIPv6LinkLocal(src.a)) {
      ledger.attention(src.s, 'an IPv6 advert source must be link-local (RFC 5798 §5.1.2.1): not translated, hafwd uses the interface\'s link-local address')
    } else if (srcByFamily.has(src.f)) {
      ledger.attention(src.s, 'a second source address of the same family: not translated')
    } else {
      srcByFamily.set(src.f, src.a)
      ledger.translated(src.s, 'sourceAddresses')
    }
  }
  if (srcByFamily.size > 0) rec.out.sourceAddresses = [...srcByFamily.values()]

  // Authentication (VRRPv2 only; keepalived keeps the first 8 characters).
  if (auth !== null) authentication(auth, rec, ver, strict, ctx)

  if (Object.keys(announce).length > 0) rec.out.announce = announce
  if (vmacStmt !== null) useVmac(vmacStmt, xmitBase, rec, ctx)
  else if (xmitBase !== null) ledger.note(xmitBase, 'no use_vmac: nothing to translate')
  return rec
}

/**
 * keepalived `use_vmac [[name] NAME] [MAC] [netlink_notify_msg] [group G]` → `vmac`. hafw sends
 * and receives the adverts on the macvlan (keepalived without vmac_xmit_base), always with the
 * RFC 5798 §7.3 MAC (00-00-5E-00-01-{VRID} / 00-00-5E-00-02-{VRID}), for multicast instances.
 */
function useVmac (s: ConfStmt, xmitBase: ConfStmt | null, rec: InstanceRec, ctx: Ctx): void {
  const { ledger } = ctx
  if (rec.out.unicast !== undefined) { ledger.attention(s, 'not translated: hafw runs a virtual MAC with multicast adverts only (unicast adverts reach the parent interface; keepalived needs vmac_xmit_base for it, which hafw lacks)'); if (xmitBase !== null) ledger.note(xmitBase, 'see use_vmac'); return }
  const w = s.words.slice(1)
  let name: string | null = null
  const ignored: string[] = []
  const vrid = rec.out.vrid ?? 0
  const rfcMac = `00:00:5e:00:0${rec.families.has('ipv6') ? 2 : 1}:${vrid.toString(16).padStart(2, '0')}`
  for (let i = 0; i < w.length; i++) {
    const x = w[i] as string
    if (x === 'name' && w[i + 1] !== undefined) { name = w[i + 1] as string; i++ } else if (x === 'group' && w[i + 1] !== undefined) { ignored.push(`group ${w[i + 1] as string}`); i++ } else if (x === 'netlink_notify_msg') ignored.push(x)
    else if (/^([0-9a-f]{1,2}:){4,5}[0-9a-f]{1,2}$/i.test(x)) {
      const full = x.split(':').length === 5 ? `${x}:${vrid.toString(16)}` : x
      const norm = full.split(':').map(o => o.toLowerCase().padStart(2, '0')).join(':')
      if (norm !== rfcMac) ledger.attention(s, `MAC ${x} not translated: hafw always uses the RFC 5798 §7.3 virtual MAC ${rfcMac}`)
    } else if (name === null) name = x
    else ignored.push(x)
  }
  rec.out.vmac = name === null || name === `vrrp.${vrid}` ? true : { name }
  ledger.translated(s, 'vmac')
  if (ignored.length > 0) ledger.note(s, `ignored: ${ignored.join(', ')}`)
  if (xmitBase !== null) ledger.attention(xmitBase, 'not translated: hafw sends and receives the adverts on the virtual MAC interface (as keepalived without vmac_xmit_base); check that the peers accept adverts from the virtual MAC')
}

function authentication (auth: ConfStmt, rec: InstanceRec, ver: 2 | 3, strict: boolean, ctx: Ctx): void {
  const { ledger } = ctx
  const type = auth.children?.find(k => k.words[0] === 'auth_type')
  const pass = auth.children?.find(k => k.words[0] === 'auth_pass')
  // keepalived vrrp_complete_instance drops authentication in strict mode and for VRRPv3, so the
  // adverts that run carry none: leaving it out is what keepalived does.
  if (strict) {
    ledger.wholeBlock(auth, 'note', 'keepalived ignores authentication in strict mode ("Strict mode does not support authentication"): not written, as it ran')
    return
  }
  if (ver === 3) {
    ledger.wholeBlock(auth, 'note', 'VRRPv3 has no authentication (RFC 5798 §9); keepalived ignores it for v3 too ("VRRP version 3 does not support authentication"): not written, as it ran')
    return
  }
  if (type?.words[1]?.toUpperCase() !== 'PASS') {
    ledger.wholeBlock(auth, 'attention', `auth_type ${type?.words[1] ?? '(missing)'} is not supported by hafw (PASS only): not translated — the peers will not accept our adverts until both use the same`)
    return
  }
  const pw = pass?.words[1]
  if (pass === undefined || pw === undefined || pw === '') {
    ledger.wholeBlock(auth, 'attention', 'auth_pass missing: not translated')
    return
  }
  const password = pw.slice(0, 8)
  if (!/^[\x20-\x7e]{1,8}$/.test(password)) {
    ledger.wholeBlock(auth, 'attention', 'the password is not printable ASCII: not translated')
    return
  }
  ledger.translated(auth, 'authentication')
  ledger.translated(type as ConfStmt, 'authentication.type: pass')
  ledger.translated(pass, 'authentication.password')
  if (pw.length > 8) ledger.note(pass, `keepalived uses only the first 8 characters: written as "${password}"`)
  for (const k of auth.children ?? []) if (k !== type && k !== pass) ledger.attention(k, 'unknown authentication keyword: not translated')
  rec.out.authentication = { type: 'pass', password }
}
