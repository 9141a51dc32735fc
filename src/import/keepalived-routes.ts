/**
 * keepalived virtual_routes / virtual_rules → hafw `routes` / `rules`, the common subset:
 *   routes: [blackhole|unreachable|prohibit|unicast] [to] PREFIX|default, src, via|gw, dev|oif,
 *           table, metric|priority|preference;
 *   rules:  from, to, table|lookup, priority|preference|pref, fwmark MARK[/MASK].
 * Anything else that changes where packets go (nexthop, or, onlink, encap, from on a route,
 * iif/oif/goto/actions on a rule, custom table names) leaves the whole entry out with an attention
 * item: a route written without it would route differently. Options that only tune a route (mtu,
 * realms, ...) are dropped from it with an attention item. no_track is a note: hafwd does not
 * watch routes, which is what no_track asks for.
 *
 * keepalived decides a family-less entry is IPv4 unless it says `inet6` ("If a route or rule
 * could apply to either IPv4 or IPv6 it will default to IPv4"). Entries are placed after the
 * IPv4/IPv6 merge (placeRoutes): hafw moves each entry with the virtual router of its family, so
 * an entry of a family the instance does not run is reported, not written.
 */
import type { Family } from '../codec/ip.js'
import { networkAddress, parseAddress, parseCidr } from '../config/net.js'
import type { ConfStmt } from './conf-parse.js'
import type { Ledger } from './ledger.js'
import type { Ctx, InstanceRec } from './keepalived-model.js'

export interface RouteOut {
  to: string
  via?: string
  dev?: string
  src?: string
  metric?: number
  table?: number | 'main' | 'local' | 'default'
  type?: 'unicast' | 'blackhole' | 'unreachable' | 'prohibit'
}

export interface RuleOut {
  from?: string
  to?: string
  table: number | 'main' | 'local' | 'default'
  priority?: number
  fwmark?: number
  fwmask?: number
}

export interface RouteEntry { readonly stmt: ConfStmt, readonly family: Family, readonly out: RouteOut }
export interface RuleEntry { readonly stmt: ConfStmt, readonly family: Family | null, readonly out: RuleOut }

const ROUTE_TYPES = new Set(['unicast', 'blackhole', 'unreachable', 'prohibit'])
const OTHER_TYPES = new Set(['throw', 'local', 'broadcast', 'anycast', 'multicast', 'nat'])
/** Route options that change where packets go: the route is not written without them. */
const ROUTE_FATAL = new Set(['nexthop', 'or', 'onlink', 'encap', 'from', 'vrf', 'via6', 'weight', 'nhid'])
/** Route options with one value that only tune the route: dropped, reported. */
const ROUTE_TUNING = new Set(['mtu', 'advmss', 'rtt', 'rttvar', 'reordering', 'window', 'cwnd', 'ssthresh', 'realms', 'rto_min',
  'initcwnd', 'initrwnd', 'hoplimit', 'tos', 'dsfield', 'features', 'quickack', 'congctl', 'pref', 'expires', 'fastopen_no_cookie',
  'ttl-propagate', 'scope', 'protocol', 'proto', 'track_group'])
const ROUTE_FLAGS = new Set(['add', 'append', 'prepend', 'pervasive', 'lock'])

type Table = RouteOut['table']

function table (w: string | undefined): Table | null {
  if (w === undefined) return null
  if (w === 'main' || w === 'local' || w === 'default') return w
  if (/^[0-9]+$/.test(w)) {
    const n = Number(w)
    return n >= 1 && n <= 4_294_967_295 ? n : null
  }
  return null
}

function u32 (w: string | undefined): number | null {
  if (w === undefined || !/^(0x[0-9a-f]+|[0-9]+)$/i.test(w)) return null
  const n = Number(w)
  return n <= 4_294_967_295 ? n : null
}

/** PREFIX text as hafw wants it (host bits cleared, prefix always written); null if not a prefix. */
function prefixText (w: string, family: Family | null): { text: string, family: Family, cleared: boolean } | null {
  if (w === 'default' || w === 'all') {
    const f = family ?? 'ipv4'
    return { text: f === 'ipv4' ? '0.0.0.0/0' : '::/0', family: f, cleared: false }
  }
  const c = parseCidr(w)
  if (!c.ok) return null
  const net = networkAddress(c.value)
  return { text: `${net}/${c.value.prefix}`, family: c.value.family, cleared: net !== c.value.address }
}

/** One virtual_routes entry; null (and an attention item) when it is not translated. */
function route (e: ConfStmt, ledger: Ledger): RouteEntry | null {
  const w = e.words
  const out: Partial<RouteOut> = {}
  let dst: string | null = null
  let forced: Family | null = null
  const dropped: string[] = []
  const noted: string[] = []
  const refuse = (why: string): null => { ledger.attention(e, `not translated: ${why}; add this route by other means or rewrite it in hafw's routes`); return null }
  const addrs: Array<[keyof RouteOut, string]> = []
  for (let i = 0; i < w.length; i++) {
    const k = w[i] as string
    const v = w[i + 1]
    if (ROUTE_TYPES.has(k)) { if (k !== 'unicast') out.type = k as RouteOut['type'] } else if (OTHER_TYPES.has(k)) return refuse(`route type ${k} (hafw: unicast, blackhole, unreachable, prohibit)`)
    else if (k === 'inet6') forced = 'ipv6'
    else if (k === 'inet') forced = 'ipv4'
    else if (k === 'to') { if (v === undefined) return refuse('to without a prefix'); dst = v; i++ } else if (k === 'src' || k === 'via' || k === 'gw') {
      if (v === undefined) return refuse(`${k} without an address`)
      let a = v
      if (a === 'inet' || a === 'inet6') { a = w[i + 2] ?? ''; i++ }
      addrs.push([k === 'src' ? 'src' : 'via', a]); i++
    } else if (k === 'dev' || k === 'oif') { if (v === undefined) return refuse(`${k} without a device`); out.dev = v; i++ } else if (k === 'table') {
      const t = table(v)
      if (t === null) return refuse(`table ${v ?? ''} (hafw takes a number or main/local/default; write the number of this /etc/iproute2/rt_tables name)`)
      out.table = t; i++
    } else if (k === 'metric' || k === 'priority' || k === 'preference') {
      const n = u32(v)
      if (n === null) return refuse(`${k} ${v ?? ''} is not a number`)
      out.metric = n; i++
    } else if (k === 'no_track') noted.push(k)
    else if (ROUTE_FATAL.has(k)) return refuse(`${k} (hafw writes a single next hop: via and/or dev)`)
    else if (ROUTE_TUNING.has(k)) { dropped.push(v === undefined ? k : `${k} ${v}`); i++ } else if (ROUTE_FLAGS.has(k)) noted.push(k)
    else if (dst === null && i === 0 || (dst === null && (parseCidr(k).ok || k === 'default'))) dst = k
    else return refuse(`unknown option ${k}`)
  }
  if (dst === null) return refuse('no destination')
  let family: Family | null = forced
  for (const [, a] of addrs) {
    const p = parseAddress(a)
    if (!p.ok) return refuse(`${a} is not an address`)
    family ??= p.value.family
  }
  const p = prefixText(dst, family)
  if (p === null) return refuse(`${dst} is not a prefix`)
  const o: RouteOut = { to: p.text }
  for (const [k, a] of addrs) o[k as 'via' | 'src'] = (parseAddress(a) as { value: { address: string } }).value.address
  if (out.dev !== undefined) o.dev = out.dev
  if (out.metric !== undefined) o.metric = out.metric
  if (out.table !== undefined) o.table = out.table
  if (out.type !== undefined) o.type = out.type
  if (o.type !== undefined && o.via !== undefined) return refuse(`a ${o.type} route with a gateway`)
  if (p.cleared) noted.push(`destination written as ${p.text} (host bits cleared, as the kernel stores it)`)
  if (dropped.length > 0) ledger.attention(e, `translated without ${dropped.join(', ')} (hafw sets only via, dev, src, metric, table, type)`)
  if (noted.length > 0) ledger.note(e, `ignored: ${noted.join(', ')} (hafw adds with prepend, as keepalived does by default, and does not watch routes)`)
  return { stmt: e, family: p.family, out: o }
}

/** One virtual_rules entry; null (and an attention item) when it is not translated. */
function rule (e: ConfStmt, ledger: Ledger): RuleEntry | null {
  const w = e.words
  const o: Partial<RuleOut> = {}
  let family: Family | null = null
  const noted: string[] = []
  const refuse = (why: string): null => { ledger.attention(e, `not translated: ${why}; add this rule by other means or rewrite it in hafw's rules`); return null }
  for (let i = 0; i < w.length; i++) {
    const k = w[i] as string
    const v = w[i + 1]
    if (k === 'inet6') family ??= 'ipv6'
    else if (k === 'inet') family ??= 'ipv4'
    else if (k === 'from' || k === 'to') {
      if (v === undefined) return refuse(`${k} without a prefix`)
      i++
      if (v === 'all') continue
      const p = prefixText(v, null)
      if (p === null) return refuse(`${v} is not a prefix`)
      if (family !== null && p.family !== family) return refuse('mixes IPv4 and IPv6')
      family = p.family
      o[k] = p.text
      if (p.cleared) noted.push(`${k} written as ${p.text} (host bits cleared)`)
    } else if (k === 'table' || k === 'lookup') {
      const t = table(v)
      if (t === null) return refuse(`table ${v ?? ''} (hafw takes a number or main/local/default; write the number of this /etc/iproute2/rt_tables name)`)
      o.table = t; i++
    } else if (k === 'priority' || k === 'preference' || k === 'pref' || k === 'prio') {
      const n = u32(v)
      if (n === null) return refuse(`${k} ${v ?? ''} is not a number`)
      o.priority = n; i++
    } else if (k === 'fwmark') {
      const [m, mask] = (v ?? '').split('/')
      const mark = u32(m)
      const fwmask = mask === undefined ? undefined : u32(mask)
      if (mark === null || fwmask === null) return refuse(`fwmark ${v ?? ''}`)
      o.fwmark = mark
      if (fwmask !== undefined && fwmask !== 0xffffffff) o.fwmask = fwmask
      i++
    } else if (k === 'no_track') noted.push(k)
    else return refuse(`${k} (hafw rules match from, to, fwmark and look up a table)`)
  }
  if (o.table === undefined) return refuse('no table (hafw rules look up a table; goto, nop and the drop actions are not translated)')
  if (noted.length > 0) ledger.note(e, `ignored: ${noted.join(', ')} (hafwd does not watch rules)`)
  return { stmt: e, family, out: o as RuleOut }
}

/** Each line of the block through `parse`; the ones it refused (reported in the ledger) left out. */
function entries<T> (block: ConfStmt, ctx: Ctx, parse: (e: ConfStmt, ledger: Ctx['ledger']) => T | null): T[] {
  return (block.children ?? []).map(e => parse(e, ctx.ledger)).filter((x): x is T => x !== null)
}

export function virtualRoutes (block: ConfStmt, ctx: Ctx): RouteEntry[] {
  return entries(block, ctx, route)
}

export function virtualRules (block: ConfStmt, ctx: Ctx): RuleEntry[] {
  return entries(block, ctx, rule)
}

const FAM: Readonly<Record<Family, string>> = { ipv4: 'IPv4', ipv6: 'IPv6' }

/**
 * After the IPv4/IPv6 merge: write each entry into the instance that now holds it, when that
 * instance runs the entry's family. A rule with neither from nor to (keepalived: IPv4 unless
 * inet6) gets an explicit `from: 0.0.0.0/0` or `::/0` when the instance runs both families, so
 * it stays with the router of its family.
 */
export function placeRoutes (instances: readonly InstanceRec[], ledger: Ledger): void {
  const byName = new Map(instances.map(i => [i.name, i]))
  for (const inst of instances) {
    const target = inst.mergedInto === null ? inst : (byName.get(inst.mergedInto) ?? inst)
    for (const r of inst.routeEntries) {
      if (!target.families.has(r.family)) {
        ledger.attention(r.stmt, `not translated: an ${FAM[r.family]} route, but ${target.name} has no ${FAM[r.family]} virtual address; hafw moves a route with the virtual router of its family — put it in an instance of that family`)
        continue
      }
      (target.out.routes ??= []).push(r.out)
      ledger.translated(r.stmt, `vrrp.instances.${target.name}.routes`)
    }
    for (const r of inst.ruleEntries) {
      const family = r.family ?? 'ipv4'
      if (!target.families.has(family)) {
        ledger.attention(r.stmt, `not translated: an ${FAM[family]} rule${r.family === null ? ' (keepalived\'s default family; add inet6 for IPv6)' : ''}, but ${target.name} has no ${FAM[family]} virtual address; put it in an instance of that family`)
        continue
      }
      const noPrefix = r.out.from === undefined && r.out.to === undefined
      const out = noPrefix && target.families.size > 1 ? { from: family === 'ipv4' ? '0.0.0.0/0' : '::/0', ...r.out } : r.out
      ;(target.out.rules ??= []).push(out)
      ledger.translated(r.stmt, `vrrp.instances.${target.name}.rules`)
    }
  }
}

/**
 * keepalived names a vmac vrrp.VRID and, for IPv6 when that name is taken, vrrp6.VRID
 * (vrrp.c create_vmac_name). hafw's default is vrrp.VRID for both, so an IPv6 instance whose
 * default would collide with an earlier instance's vmac gets vrrp6.VRID written out.
 */
export function nameVmacs (instances: readonly InstanceRec[], ledger: Ledger): void {
  const taken = new Set<string>()
  for (const inst of instances) {
    const v = inst.out.vmac
    if (inst.mergedInto !== null || v === undefined) continue
    let name = v === true ? `vrrp.${inst.out.vrid ?? 0}` : v.name
    if (taken.has(name) && v === true && inst.families.has('ipv6')) {
      name = `vrrp6.${inst.out.vrid ?? 0}`
      inst.out.vmac = { name }
      ledger.note(inst.stmt, `vmac named ${name}: vrrp.${inst.out.vrid ?? 0} is taken (keepalived makes the same choice)`)
    }
    taken.add(name)
  }
}
