/**
 * Cross-key rules of an instance's `routes` and `rules` (keepalived virtual_routes /
 * virtual_rules): every address of one entry is of one family, and that family is one the
 * instance runs a virtual router for, since each entry moves with that router's VIPs. Like
 * cross-checks.ts this reads the parsed YAML and stays silent on keys the schema reports.
 */
import type { Family } from '../codec/ip.js'
import type { RawIssue } from './issue.js'
import { parseAddress, parseCidr } from './net.js'

type Path = Array<string | number>
type Obj = Readonly<Record<string, unknown>>

const FAMILY_TEXT: Readonly<Record<Family, string>> = { ipv4: 'IPv4', ipv6: 'IPv6' }

function isObj (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function familyOf (v: unknown, prefix: boolean): Family | null {
  if (typeof v !== 'string') return null
  const r = prefix ? parseCidr(v) : parseAddress(v)
  return r.ok ? r.value.family : null
}

/**
 * The family of one entry from its address keys (first one wins); a later key of the other
 * family is reported at its own path. null when no key gives one.
 */
function entryFamily (e: Obj, keys: ReadonlyArray<readonly [string, boolean]>, at: Path, issues: RawIssue[]): Family | null {
  let family: Family | null = null
  let first = ''
  for (const [key, prefix] of keys) {
    const f = familyOf(e[key], prefix)
    if (f === null) continue
    if (family === null) { family = f; first = key; continue }
    if (f !== family) issues.push({ path: [...at, key], message: `must be ${FAMILY_TEXT[family]} like ${first}` })
  }
  return family
}

/** `families`: the families of the instance's virtual addresses (empty when they are malformed: no family check then). */
export function checkRoutesAndRules (inst: Obj, at: Path, families: ReadonlySet<Family>, issues: RawIssue[]): void {
  const notRun = (family: Family, path: Path): void => {
    if (families.size > 0 && !families.has(family)) {
      issues.push({ path, message: `${FAMILY_TEXT[family]}, but the instance has no ${FAMILY_TEXT[family]} virtual address (it moves with that family's virtual router)` })
    }
  }
  if (Array.isArray(inst.routes)) {
    inst.routes.forEach((r: unknown, i) => {
      if (!isObj(r)) return
      const path = [...at, 'routes', i]
      const family = entryFamily(r, [['to', true], ['via', false], ['src', false]], path, issues)
      if (family !== null) notRun(family, [...path, 'to'])
      const type = r.type ?? 'unicast'
      if (type !== 'unicast' && r.via !== undefined) issues.push({ path: [...path, 'via'], message: `a ${String(type)} route has no gateway; remove via` })
    })
  }
  if (Array.isArray(inst.rules)) {
    inst.rules.forEach((r: unknown, i) => {
      if (!isObj(r)) return
      const path = [...at, 'rules', i]
      const family = entryFamily(r, [['from', true], ['to', true]], path, issues)
      if (family !== null) notRun(family, [...path, r.from !== undefined ? 'from' : 'to'])
      else if (r.from === undefined && r.to === undefined && families.size > 1) {
        issues.push({ path, message: 'the instance runs IPv4 and IPv6: give from or to so the rule has a family' })
      }
      if (r.fwmask !== undefined && r.fwmark === undefined) issues.push({ path: [...path, 'fwmask'], message: 'needs fwmark' })
    })
  }
}

/** vmac (keepalived use_vmac): single-family instances, multicast adverts; its name must not be another instance's. */
export function checkVmac (inst: Obj, at: Path, families: ReadonlySet<Family>, issues: RawIssue[], names: Map<string, string>, instance: string): void {
  const v = inst.vmac
  if (v === undefined || v === false) return
  // One macvlan has one MAC, and RFC 5798 §7.3 gives IPv4 and IPv6 different ones.
  if (families.size > 1) issues.push({ path: [...at, 'vmac'], message: 'a virtual MAC needs a single-family instance (RFC 5798 §7.3: IPv4 and IPv6 have different virtual MACs); split the IPv4 and IPv6 addresses into two instances' })
  // Adverts go out and come in on the macvlan; a unicast advert is addressed to the parent's MAC
  // and never reaches it (keepalived needs vmac_xmit_base there, which hafw does not have).
  if (inst.unicast !== undefined) issues.push({ path: [...at, 'vmac'], message: 'a virtual MAC works with multicast adverts only: unicast adverts reach the parent interface, not the macvlan' })
  const name = isObj(v) && typeof v.name === 'string' ? v.name : (typeof inst.vrid === 'number' ? `vrrp.${inst.vrid}` : null)
  if (name === null) return
  if (name === inst.interface) issues.push({ path: [...at, 'vmac'], message: `${name} is the instance interface; the macvlan needs a name of its own` })
  const other = names.get(name)
  if (other !== undefined) issues.push({ path: [...at, 'vmac'], message: `interface name ${name} is already the virtual MAC interface of instance ${other}` + (isObj(v) ? '' : ' (set vmac: { name })') })
  else names.set(name, instance)
}
