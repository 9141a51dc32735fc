/**
 * Rules that relate several keys, checked on the parsed YAML data rather than on the schema's
 * output so that they run even when some other part of the file is wrong: the operator sees every
 * problem in one pass. Each check reads only the keys it needs and stays silent when one of them is
 * malformed, since the schema already reports that key.
 */
import type { Family } from '../codec/ip.js'
import { parseDuration } from './duration.js'
import { closest, type RawIssue } from './issue.js'
import { parseAddress, parseCidr } from './net.js'
import { isIPv6LinkLocal } from '../codec/ip.js'
import { DEFAULT_ADVERT_INTERVAL_MS, DEFAULT_VRRP_VERSION } from './schema.js'
import { checkRoutesAndRules, checkVmac } from './route-checks.js'

type Path = Array<string | number>
type Obj = Readonly<Record<string, unknown>>

function isObj (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function entries (v: unknown): Array<[string, Obj]> {
  return isObj(v) ? Object.entries(v).filter((e): e is [string, Obj] => isObj(e[1])) : []
}

function list (v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

const FAMILY_TEXT: Readonly<Record<Family, string>> = { ipv4: 'IPv4', ipv6: 'IPv6' }

/** Address text of a virtual address entry (string or { address }). */
function vipText (v: unknown): string | null {
  if (typeof v === 'string') return v
  if (isObj(v) && typeof v.address === 'string') return v.address
  return null
}

/** All cross-key problems of a parsed file. */
export function crossCheck (data: unknown): RawIssue[] {
  const issues: RawIssue[] = []
  if (!isObj(data)) return issues
  const vrrp = data.vrrp
  if (isObj(vrrp)) {
    checkInstances(vrrp, issues)
    checkSyncGroups(vrrp, issues)
  }
  if (isObj(data.conntrack)) checkConntrack(data.conntrack, ['conntrack'], issues)
  return issues
}

function checkInstances (vrrp: Obj, issues: RawIssue[]): void {
  const base: Path = ['vrrp', 'instances']
  if (isObj(vrrp.instances) && Object.keys(vrrp.instances).length === 0) {
    issues.push({ path: base, message: 'must define at least one instance' })
  }
  /** "eth0 51 ipv4" → instance name, for RFC 5798 §5.2.3 uniqueness. */
  const routerOwner = new Map<string, string>()
  /** canonical VIP → instance name. */
  const vipOwner = new Map<string, string>()
  /** vmac interface name → instance name. */
  const vmacOwner = new Map<string, string>()
  for (const [name, inst] of entries(vrrp.instances)) {
    const at = [...base, name]
    const families = checkInstance(inst, at, issues)
    checkVmac(inst, at, new Set(families), issues, vmacOwner, name)
    const iface = inst.interface
    const vrid = inst.vrid
    if (typeof iface === 'string' && typeof vrid === 'number') {
      for (const family of families) {
        const key = `${iface} ${vrid} ${family}`
        const other = routerOwner.get(key)
        if (other !== undefined) {
          issues.push({ path: [...at, 'vrid'], message: `VRID ${vrid} on ${iface} for ${FAMILY_TEXT[family]} is already used by instance ${other} (RFC 5798 §5.2.3: one virtual router per VRID, interface and family)` })
        } else {
          routerOwner.set(key, name)
        }
      }
    }
    list(inst.virtualAddresses).forEach((v, i) => {
      const text = vipText(v)
      const c = text === null ? null : parseCidr(text)
      if (c === null || !c.ok) return
      const other = vipOwner.get(c.value.address)
      if (other !== undefined && other !== name) {
        issues.push({ path: [...at, 'virtualAddresses', i], message: `${c.value.address} is already a virtual address of instance ${other}` })
      } else {
        vipOwner.set(c.value.address, name)
      }
    })
  }
}

/** Per-instance rules; returns the address families the instance runs (one router each). */
function checkInstance (inst: Obj, at: Path, issues: RawIssue[]): Family[] {
  const version = inst.version === undefined ? DEFAULT_VRRP_VERSION : inst.version
  const families = new Map<Family, number>()
  const seen = new Set<string>()
  list(inst.virtualAddresses).forEach((v, i) => {
    const text = vipText(v)
    const c = text === null ? null : parseCidr(text)
    if (c === null || !c.ok) return
    const path = [...at, 'virtualAddresses', i]
    if (seen.has(c.value.address)) issues.push({ path, message: `${c.value.address} is listed twice` })
    seen.add(c.value.address)
    if (version === 2 && c.value.family === 'ipv6') {
      issues.push({ path, message: 'VRRPv2 carries IPv4 addresses only (RFC 3768); use version 3 for IPv6' })
    }
    families.set(c.value.family, (families.get(c.value.family) ?? 0) + 1)
  })
  for (const [family, count] of families) {
    // RFC 5798 §5.2.5: Count IPvX Addr is one octet.
    if (count > 255) issues.push({ path: [...at, 'virtualAddresses'], message: `at most 255 ${FAMILY_TEXT[family]} addresses fit in one advertisement (got ${count})` })
  }

  const interval = inst.advertInterval === undefined ? { ok: true as const, ms: DEFAULT_ADVERT_INTERVAL_MS } : parseDuration(inst.advertInterval)
  // Only intervals inside the schema's overall range get the version-specific rule (no double report).
  if (interval.ok && interval.ms >= 10 && interval.ms <= 255_000) {
    const path = [...at, 'advertInterval']
    if (version === 2 && interval.ms % 1000 !== 0) {
      issues.push({ path, message: 'VRRPv2 advertisement interval must be whole seconds 1..255 (RFC 3768 §5.3.7)' })
    } else if (version === 3 && interval.ms % 10 !== 0) {
      issues.push({ path, message: 'VRRPv3 advertisement interval must be a multiple of 10ms (RFC 5798 §5.2.7: centiseconds)' })
    } else if (version === 3 && interval.ms > 40_950) {
      issues.push({ path, message: 'VRRPv3 advertisement interval must be 10ms..40.95s (RFC 5798 §5.2.7: 12-bit centiseconds)' })
    }
  }

  if (inst.authentication !== undefined && version === 3) {
    issues.push({ path: [...at, 'authentication'], message: 'authentication exists only in VRRPv2 (RFC 5798 §9 removed it); remove it or set version: 2' })
  }

  if (isObj(inst.unicast) && families.size > 0) {
    const peerFamilies = new Set<Family>()
    list(inst.unicast.peers).forEach((p, i) => {
      if (typeof p !== 'string') return
      const a = parseAddress(p)
      if (!a.ok) return
      peerFamilies.add(a.value.family)
      if (!families.has(a.value.family)) {
        issues.push({ path: [...at, 'unicast', 'peers', i], message: `${FAMILY_TEXT[a.value.family]} peer, but the instance has no ${FAMILY_TEXT[a.value.family]} virtual address` })
      }
    })
    if (Array.isArray(inst.unicast.peers)) {
      for (const family of families.keys()) {
        if (!peerFamilies.has(family)) issues.push({ path: [...at, 'unicast', 'peers'], message: `no ${FAMILY_TEXT[family]} peer for the ${FAMILY_TEXT[family]} virtual addresses` })
      }
    }
  }

  const sourceFamilies = new Set<Family>()
  list(inst.sourceAddresses).forEach((s, i) => {
    if (typeof s !== 'string') return
    const a = parseAddress(s)
    if (!a.ok) return
    const path = [...at, 'sourceAddresses', i]
    if (sourceFamilies.has(a.value.family)) issues.push({ path, message: `a second ${FAMILY_TEXT[a.value.family]} source address` })
    sourceFamilies.add(a.value.family)
    if (families.size > 0 && !families.has(a.value.family)) {
      issues.push({ path, message: `${FAMILY_TEXT[a.value.family]} source address, but the instance has no ${FAMILY_TEXT[a.value.family]} virtual address` })
    }
    if (a.value.family === 'ipv6' && !isIPv6LinkLocal(a.value.address)) {
      issues.push({ path, message: 'an IPv6 source address must be link-local (RFC 5798 §5.1.2.1)' })
    }
  })

  checkTrack(inst, at, issues)
  checkRoutesAndRules(inst, at, new Set(families.keys()), issues)
  return [...families.keys()]
}

function checkTrack (inst: Obj, at: Path, issues: RawIssue[]): void {
  if (!isObj(inst.track)) return
  const track = inst.track
  const names = new Set<string>()
  list(track.scripts).forEach((s, i) => {
    if (!isObj(s)) return
    const path = [...at, 'track', 'scripts', i]
    if (typeof s.name === 'string') {
      if (names.has(s.name)) issues.push({ path: [...path, 'name'], message: `script name ${s.name} is used twice in this instance` })
      names.add(s.name)
    }
    if (s.timeout === undefined) return
    const interval = s.interval === undefined ? { ok: true as const, ms: 1000 } : parseDuration(s.interval)
    const timeout = parseDuration(s.timeout)
    if (interval.ok && timeout.ok && timeout.ms > interval.ms) {
      issues.push({ path: [...path, 'timeout'], message: 'must not be longer than the interval (a run must finish before the next one starts)' })
    }
  })
  // keepalived: "if the vrrp instance is the address owner, weight 0 must be set" — an owner's
  // priority is fixed at 255 (RFC 5798 §5.2.4).
  if (inst.priority === 255) {
    for (const kind of ['interfaces', 'files', 'scripts'] as const) {
      list(track[kind]).forEach((e, i) => {
        const w = isObj(e) ? e.weight : undefined
        const effective = w === undefined ? (kind === 'files' ? 1 : 0) : w
        if (typeof effective === 'number' && effective !== 0) {
          issues.push({ path: [...at, 'track', kind, i, ...(w === undefined ? [] : ['weight'])], message: 'the address owner (priority 255) cannot change priority; use weight 0 (FAULT on failure)' })
        }
      })
    }
  }
}

function checkSyncGroups (vrrp: Obj, issues: RawIssue[]): void {
  const instanceNames = isObj(vrrp.instances) ? Object.keys(vrrp.instances) : null
  const memberOf = new Map<string, string>()
  for (const [group, g] of entries(vrrp.syncGroups)) {
    const inGroup = new Set<string>()
    list(g.members).forEach((m, i) => {
      if (typeof m !== 'string') return
      const path = ['vrrp', 'syncGroups', group, 'members', i]
      if (instanceNames !== null && !instanceNames.includes(m)) {
        const hint = closest(m, instanceNames)
        issues.push({ path, message: `unknown instance ${m}${hint === null ? '' : ` (did you mean ${hint}?)`}` })
        return
      }
      if (inGroup.has(m)) {
        issues.push({ path, message: `${m} is listed twice` })
        return
      }
      inGroup.add(m)
      const other = memberOf.get(m)
      if (other !== undefined) {
        issues.push({ path, message: `${m} is already a member of sync group ${other} (an instance belongs to at most one group)` })
      } else {
        memberOf.set(m, group)
      }
    })
  }
}

function checkConntrack (ct: Obj, at: Path, issues: RawIssue[]): void {
  const sync = ct.sync
  if (isObj(sync)) {
    const t = sync.transport
    if ((t === 'udp' || t === 'multicast') && sync[t] === undefined) {
      issues.push({ path: [...at, 'sync'], message: `transport is ${t} but sync.${t} is missing` })
    }
    const other = t === 'udp' ? 'multicast' : t === 'multicast' ? 'udp' : null
    if (other !== null && sync[other] !== undefined) {
      issues.push({ path: [...at, 'sync', other], message: `transport is ${String(t)}; remove this section (conntrackd cannot mix UDP and multicast)` })
    }
    if (isObj(sync.udp) && typeof sync.udp.address === 'string' && typeof sync.udp.peer === 'string') {
      const a = parseAddress(sync.udp.address)
      const p = parseAddress(sync.udp.peer)
      if (a.ok && p.ok && a.value.family !== p.value.family) {
        issues.push({ path: [...at, 'sync', 'udp', 'peer'], message: `must be of the same family as sync.udp.address (${FAMILY_TEXT[a.value.family]})` })
      }
      if (a.ok && p.ok && a.value.address === p.value.address) {
        issues.push({ path: [...at, 'sync', 'udp', 'peer'], message: 'must differ from sync.udp.address' })
      }
    }
  }
  const filter = ct.filter
  if (isObj(filter)) {
    if (isObj(filter.protocols) && filter.protocols.accept !== undefined && filter.protocols.ignore !== undefined) {
      issues.push({ path: [...at, 'filter', 'protocols'], message: 'give either accept or ignore, not both' })
    }
    if (isObj(filter.tcpStates) && filter.tcpStates.accept !== undefined && filter.tcpStates.ignore !== undefined) {
      issues.push({ path: [...at, 'filter', 'tcpStates'], message: 'give either accept or ignore, not both' })
    }
  }
}
