/**
 * hafwctl's human output. Pure: a Status (and the daemon's `now` inside it) in, text out, so
 * the same snapshot always renders the same screen.
 */
import type { GroupSnapshot } from '../core/node.js'
import { ROUTER_DROP_REASONS } from '../core/vrrp/drops.js'
import type { ControlEvent, RouterStatus, Status, VipStatus } from '../control/protocol.js'
import { formatDuration, formatIntervalCs, formatMs, table } from './format.js'
import { health } from './health.js'
import { syncLine } from './render-sync.js'

/** At most this many VIPs in the state table; `show vrrp` lists them all. */
const MAX_VIPS_IN_TABLE = 3

const up = (s: string): string => s.toUpperCase()

function vipText (v: VipStatus): string {
  return `${v.address}/${v.prefix}${v.dev === null ? '' : `@${v.dev}`}`
}

function vipsCell (vips: readonly VipStatus[]): string {
  if (vips.length === 0) return '-'
  const shown = vips.slice(0, MAX_VIPS_IN_TABLE).map(vipText).join(',')
  return vips.length > MAX_VIPS_IN_TABLE ? `${shown} +${vips.length - MAX_VIPS_IN_TABLE}` : shown
}

function ago (now: number, at: number): string { return `${formatDuration(now - at)} ago` }

function masterCell (r: RouterStatus): string {
  if (r.state === 'master') return 'self'
  if (r.lastMaster === null) return '-'
  return `${r.lastMaster.address} (${r.lastMaster.priority})`
}

function routerRow (r: RouterStatus, now: number, indent: string): string[] {
  const t = r.lastTransition
  return [
    `${indent}${r.id}`,
    `${r.ifname}/${r.vrid}`,
    up(r.state),
    `${r.effectivePriority}/${r.configuredPriority}`,
    masterCell(r),
    formatIntervalCs(r.advertIntervalCs),
    vipsCell(r.vips),
    t === null ? '-' : `${t.to} (${t.reason}) ${ago(now, t.at)}`
  ]
}

function groupRow (g: GroupSnapshot, now: number): string[] {
  const t = g.lastTransition
  return [g.name, '-', up(g.state), '-', '-', '-', '-', t === null ? '-' : `${t.to} (${t.reason}) ${ago(now, t.at)}`]
}

export function headerLine (s: Status): string {
  return `${s.node}  pid ${s.pid}  up ${formatDuration(s.uptimeMs)}  hafwd ${s.version}  ${health(s)}`
}

/** Drops worth a look: node-wide ones (wire checks before a router is found, core drops no router owns), and each router's. */
function dropsLine (s: Status): string {
  const parts: string[] = []
  const routerReasons = new Set<string>(ROUTER_DROP_REASONS)
  const node = Object.entries(s.counters).filter(([k, v]) => v > 0 && k.startsWith('rx.drop.') && !routerReasons.has(k.slice('rx.drop.'.length))).map(([k, v]) => `${k.slice('rx.drop.'.length)}=${v}`)
  if (node.length > 0) parts.push(`node ${node.join(' ')}`)
  for (const r of s.routers) {
    const d = Object.entries(r.counters.drops).filter(([, v]) => (v ?? 0) > 0).map(([k, v]) => `${k}=${v ?? 0}`)
    if (d.length > 0) parts.push(`${r.id} ${d.join(' ')}`)
  }
  return `drops: ${parts.length === 0 ? 'none' : parts.join(' · ')}`
}

/** How late the loops ran (runtime/loop-delay.ts): the VRRP thread's is what its advert timers suffered. */
function loopLine (s: Status): string | null {
  const d = s.loopDelay
  if (d === undefined) return null
  const one = (name: string, l: NonNullable<typeof d.conntrack>): string => `${name} ${formatMs(l.recentMaxMs)} (worst ${formatMs(l.worstMs)})`
  return `loop delay: ${one('vrrp', d.vrrp)}${d.conntrack !== null ? ` · ${one('conntrack', d.conntrack)}` : ''}`
}

function failedLine (s: Status): string | null {
  const failed = Object.entries(s.counters).filter(([k, v]) => v > 0 && /^effect\..+\.failed$/.test(k)).map(([k, v]) => `${k.slice('effect.'.length, -'.failed'.length)}=${v}`)
  return failed.length === 0 ? null : `failed effects: ${failed.join(' ')}`
}

const signed = (n: number): string => n > 0 ? `+${n}` : String(n)

/** A tracked object's state in a word: up / DOWN, or a weighted file's value. */
function trackState (t: RouterStatus['track'][number]): string {
  if (t.up === null) return t.value === null ? 'not read' : `value ${t.value}`
  return t.up ? 'up' : 'DOWN'
}

/**
 * `tracking:` in `hafwctl state`: for each router whose effective priority is not its configured
 * one, or that has a tracked object down, what moved it; else a count of what is tracked
 * (no line when nothing is tracked).
 */
function trackingLine (s: Status): string | null {
  const parts: string[] = []
  let objects = 0
  for (const r of s.routers) {
    const track = r.track ?? []
    objects += track.length
    const moved = track.filter(t => t.contribution !== 0 || t.up === false)
    const offsets = Object.entries(r.offsets ?? {}).filter(([, v]) => v !== 0)
    if (moved.length === 0 && offsets.length === 0 && r.effectivePriority === r.configuredPriority) continue
    const why = [
      ...moved.map(t => `${t.name} ${trackState(t)}${t.fault ? ' (fault)' : ` ${signed(t.contribution)}`}`),
      ...offsets.map(([k, v]) => `${k} ${signed(v)}`)
    ]
    parts.push(`${r.id} ${r.configuredPriority}->${r.effectivePriority}${why.length > 0 ? ` (${why.join(', ')})` : ''}`)
  }
  if (parts.length > 0) return `tracking: ${parts.join(' · ')}`
  return objects === 0 ? null : `tracking: ${objects} object(s), all up, no priority change`
}

/** `hafwctl state`: one screen read at a glance. */
export function renderState (s: Status): string {
  const rows: string[][] = []
  const grouped = new Set<string>()
  for (const g of s.groups) {
    rows.push(groupRow(g, s.now))
    for (const m of g.members) {
      const r = s.routers.find(x => x.id === m.id)
      if (r === undefined) continue
      grouped.add(r.id)
      rows.push(routerRow(r, s.now, '  '))
    }
  }
  for (const r of s.routers) if (!grouped.has(r.id)) rows.push(routerRow(r, s.now, ''))
  const lines = [headerLine(s), '']
  if (rows.length === 0) lines.push('no VRRP router configured')
  else lines.push(...table(['NAME', 'IF/VRID', 'STATE', 'PRIO', 'MASTER', 'ADVERT', 'VIPS', 'LAST TRANSITION'], rows))
  lines.push('')
  const faults = s.routers.filter(r => r.faults.length > 0).map(r => `${r.id} ${r.faults.join(' ')}`)
  lines.push(`faults: ${faults.length === 0 ? 'none' : faults.join(' · ')}`)
  const tracking = trackingLine(s)
  if (tracking !== null) lines.push(tracking)
  lines.push(dropsLine(s))
  if (s.maintenance === true) lines.push('maintenance: ON (every router held in FAULT; hafwctl maintenance off to return)')
  if (s.conntrack !== undefined) lines.push(syncLine(s.conntrack))
  const loops = loopLine(s)
  if (loops !== null) lines.push(loops)
  const failed = failedLine(s)
  if (failed !== null) lines.push(failed)
  return lines.join('\n') + '\n'
}

/** `hafwctl show vrrp`: every router in detail, with all its counters. */
export function renderVrrp (s: Status): string {
  const out: string[] = [headerLine(s)]
  if (s.routers.length === 0) out.push('', 'no VRRP router configured')
  for (const r of s.routers) {
    const field = (name: string, value: string): string => `  ${name.padEnd(18)}${value}`
    const t = r.lastTransition
    const m = r.lastMaster
    const interval = r.masterAdverIntervalCs === r.advertIntervalCs
      ? formatIntervalCs(r.advertIntervalCs)
      : `${formatIntervalCs(r.advertIntervalCs)} (master's ${formatIntervalCs(r.masterAdverIntervalCs)})`
    out.push('', `${r.id}  ${r.ifname} VRID ${r.vrid} VRRPv${r.version} ${r.family === 'ipv4' ? 'IPv4' : 'IPv6'}`)
    out.push(field('state', `${up(r.state)}${r.want !== r.state ? ` (wants ${up(r.want)})` : ''}${r.syncGroup === null ? '' : `, sync group ${r.syncGroup}`}`))
    out.push(field('priority', `${r.effectivePriority} effective, ${r.configuredPriority} configured`))
    out.push(field('primary address', r.primaryAddress))
    out.push(field('advert interval', interval))
    out.push(field('interface', r.interfaceUp ? 'up' : 'DOWN'))
    out.push(field('virtual addresses', r.vips.length === 0 ? 'none' : r.vips.map(vipText).join(' ')))
    out.push(field('faults', r.faults.length === 0 ? 'none' : r.faults.join(' ')))
    const track = r.track ?? []
    const offsets = Object.entries(r.offsets ?? {})
    if (track.length === 0 && offsets.length === 0) out.push(field('tracking', 'none'))
    else {
      const trows = [
        ...track.map(t => [t.name, t.kind, trackState(t), t.weight === 0 ? 'weight 0 (fault)' : `weight ${signed(t.weight)}`, t.fault ? 'FAULT' : signed(t.contribution)]),
        ...offsets.map(([k, v]) => [k, 'offset', '-', '-', signed(v)])
      ]
      out.push('  tracking', ...table(['OBJECT', 'KIND', 'STATE', 'WEIGHT', 'PRIORITY'], trows).map(l => `    ${l}`))
    }
    out.push(field('master', r.state === 'master'
      ? 'self'
      : m === null ? 'none heard' : `${m.address} priority ${m.priority}, interval ${formatIntervalCs(m.adverIntervalCs)}, heard ${ago(s.now, m.at)}`))
    out.push(field('last transition', t === null ? 'none' : `${t.from} -> ${t.to} (${t.reason}) at priority ${t.priority}, ${ago(s.now, t.at)}`))
    out.push(field('next timer', r.deadline === null ? 'none' : r.deadline <= s.now ? 'due now' : `in ${formatDuration(r.deadline - s.now)}`))
    const c = r.counters
    const rows: string[][] = [
      ['transitions', String(c.transitions)],
      ['adverts received', String(c.advertsReceived)],
      ['adverts sent', String(c.advertsSent)],
      ['priority 0 received', String(c.priorityZeroReceived)],
      ['priority 0 sent', String(c.priorityZeroSent)],
      ['address list mismatch', String(c.addressListMismatch)],
      ...Object.entries(c.drops).filter(([, v]) => (v ?? 0) > 0).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [`drop ${k}`, String(v ?? 0)])
    ]
    out.push('  counters', ...table(['', ''], rows).slice(1).map(l => `    ${l}`))
  }
  return out.join('\n') + '\n'
}

/** `hafwctl counters`: the runtime counters, one per line. */
export function renderCounters (counters: Readonly<Record<string, number>>): string {
  const rows = Object.entries(counters).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, String(v)])
  if (rows.length === 0) return 'no counter yet\n'
  return table(['COUNTER', 'VALUE'], rows).join('\n') + '\n'
}

/** `hafwctl state --watch`: one line per pushed event. */
export function renderEvent (e: ControlEvent): string {
  if (e.kind === 'transition') return `${e.time}  ${e.routerId}  ${e.from} -> ${e.to}  (${e.reason}, priority ${e.priority})\n`
  if (e.kind === 'role') return `${e.time}  node role  ${e.from} -> ${e.to}${e.reason !== undefined ? `  (${e.reason})` : ''}\n`
  if (e.kind === 'bulk') return `${e.time}  startup resync  ${e.from} -> ${e.to}  (${e.reason})\n`
  if (e.kind === 'maintenance') return `${e.time}  maintenance ${e.on ? 'on' : 'off'}\n`
  if (e.kind === 'peer') return `${e.time}  sync peer  ${e.from} -> ${e.to}\n`
  if (e.kind === 'priority') return `${e.time}  ${e.routerId}  priority ${e.from} -> ${e.to}  (${e.cause})\n`
  return `${e.time}  group ${e.group}  ${e.from} -> ${e.to}  (${e.reason}${e.member === null ? '' : `, ${e.member}`})\n`
}
