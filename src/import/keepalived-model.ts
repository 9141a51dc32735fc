/**
 * Shapes shared by the keepalived translator's modules: the hafw output (the config file's input
 * form, see src/config/schema.ts), the intermediate records, and small parsing helpers.
 */
import type { Family } from '../codec/ip.js'
import { formatMs } from '../config/duration.js'
import type { ConfStmt } from './conf-parse.js'
import type { Ledger } from './ledger.js'
import type { RouteEntry, RouteOut, RuleEntry, RuleOut } from './keepalived-routes.js'

// ---------------------------------------------------------------------------------------------
// Output shape: the hafw config file's input form (see src/config/schema.ts)
// ---------------------------------------------------------------------------------------------

export type VipOut = string | { address: string, dev: string }
export interface TrackInterfaceOut { name: string, weight: number }
export interface TrackFileOut { path: string, weight: number }
export interface TrackScriptOut {
  name: string
  command: string[]
  interval: string
  timeout?: string
  weight: number
  rise: number
  fall: number
}

/** Notify hooks (keepalived notify_master/backup/fault/stop and notify): argv lists. */
export interface NotifyOut { master?: string[], backup?: string[], fault?: string[], stop?: string[], any?: string[] }

export interface InstanceOut {
  interface?: string
  vrid?: number
  priority: number
  version: 2 | 3
  advertInterval: string
  preempt: boolean
  preemptDelay?: string
  acceptMode: boolean
  virtualAddresses: VipOut[]
  unicast?: { peers: string[], checkSource?: boolean }
  sourceAddresses?: string[]
  authentication?: { type: 'pass', password: string }
  announce?: { delay?: string, repeat?: number, refresh?: string, refreshRepeat?: number }
  track?: { interfaces?: TrackInterfaceOut[], files?: TrackFileOut[], scripts?: TrackScriptOut[] }
  vmac?: true | { name: string }
  routes?: RouteOut[]
  rules?: RuleOut[]
  v3Ipv4ChecksumCompat?: boolean
  notify?: NotifyOut
}

export interface KeepalivedTranslation {
  readonly nodeName: string | null
  /** In file order. */
  readonly instances: ReadonlyMap<string, InstanceOut>
  readonly syncGroups: ReadonlyMap<string, { members: string[], notify?: NotifyOut }>
  /** Canonical text of every virtual address (for the conntrack filter). */
  readonly vips: readonly string[]
  /** Addresses known to be this node's own (unicast_src_ip / mcast_src_ip). */
  readonly localAddresses: readonly string[]
  /** Notify statements that drove conntrackd (dropped: hafwd does it in-process). */
  readonly conntrackdNotifies: readonly ConfStmt[]
}


// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/

/** keepalived names may hold characters hafw names do not (they end up in router ids and metrics). */
export function hafwName (name: string): string {
  if (NAME_RE.test(name)) return name
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.-]/, '_').slice(0, 64)
  return cleaned === '' ? '_' : cleaned
}

export function seconds (text: string | undefined): number | null {
  if (text === undefined || !/^[0-9]+(\.[0-9]+)?$/.test(text)) return null
  return Number(text)
}

export function integer (text: string | undefined): number | null {
  if (text === undefined || !/^-?[0-9]+$/.test(text)) return null
  return Number(text)
}

export function msText (s: number): string {
  return formatMs(Math.round(s * 1000))
}

export function isOn (word: string | undefined): boolean | null {
  if (word === undefined) return true
  const w = word.toLowerCase()
  if (['on', 'true', 'yes'].includes(w)) return true
  if (['off', 'false', 'no'].includes(w)) return false
  return null
}



// ---------------------------------------------------------------------------------------------
// Intermediate records
// ---------------------------------------------------------------------------------------------

export interface ScriptDef {
  readonly stmt: ConfStmt
  command: string[] | null
  viaShell: boolean
  intervalS: number
  timeoutS: number | null
  weight: number
  reverse: boolean
  rise: number
  fall: number
  used: boolean
}

export interface FileDef {
  readonly stmt: ConfStmt
  path: string | null
  weight: number
  used: boolean
}

/** One tracked object on an instance, with the statement it came from (for the weight rules). */
export type TrackRef =
  | { kind: 'interface', stmt: ConfStmt, name: string, weight: number, fromGroup: string | null }
  | { kind: 'script', stmt: ConfStmt, def: ScriptDef, weight: number, fromGroup: string | null }
  | { kind: 'file', stmt: ConfStmt, def: FileDef, weight: number, fromGroup: string | null }

export interface GroupRec {
  readonly stmt: ConfStmt
  readonly name: string
  readonly memberStmts: ConfStmt[]
  tracks: TrackRef[]
  trackingWeight: boolean
  /** Notify hooks translated from the group's notify_* lines (empty: none). */
  notify: NotifyOut
}

export interface InstanceRec {
  readonly stmt: ConfStmt
  readonly sourceName: string
  name: string
  out: InstanceOut
  /** Families of virtual_ipaddress (what keepalived advertises). */
  families: Set<Family>
  tracks: TrackRef[]
  stateMaster: boolean
  group: GroupRec | null
  /** Merged away into another instance. */
  mergedInto: string | null
  /** virtual_routes / virtual_rules entries, written by placeRoutes after the family merge. */
  routeEntries: RouteEntry[]
  ruleEntries: RuleEntry[]
}

export interface Globals {
  routerId: string | null
  version: 2 | 3 | null
  strict: boolean
  garpDelayS: number | null
  garpRepeat: number | null
  garpRefreshS: number | null
  garpRefreshRepeat: number | null
  scriptUser: ConfStmt | null
}


export interface Ctx {
  readonly g: Globals
  readonly scripts: Map<string, ScriptDef>
  readonly files: Map<string, FileDef>
  readonly ledger: Ledger
  readonly conntrackdGiven: boolean
  readonly conntrackdNotifies: ConfStmt[]
}
