/**
 * keepalived.conf (parsed by conf-parse.ts) → the `node` and `vrrp` sections of a hafw config, with
 * every statement marked in the ledger. Pure.
 *
 * It translates what keepalived 2.2 *does*, not only what the file says, where the two differ:
 * - VRRP version defaults to 2 (keepalived's vrrp_version default), IPv6 instances run version 3;
 * - accept mode defaults to on unless strict mode (keepalived vrrp_complete_instance), where hafw's
 *   default is off, so it is written explicitly;
 * - in a sync group without sync_group_tracking_weight, and for an address owner (priority 255),
 *   keepalived zeroes tracked-interface weights and ignores weighted track scripts/files;
 * - nopreempt and preempt_delay are cleared by keepalived when the initial state is MASTER.
 * Each of these is reported where it applies.
 */
import type { Family } from '../codec/ip.js'
import { isIPv6LinkLocal } from '../codec/ip.js'
import { formatMs } from '../config/duration.js'
import { parseAddress, parseCidr } from '../config/net.js'
import { callsConntrackd, splitCommand } from './command.js'
import { INCLUDE_KEYWORDS, type ConfStmt } from './conf-parse.js'
import type { Ledger } from './ledger.js'

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
  unicast?: { peers: string[] }
  sourceAddresses?: string[]
  authentication?: { type: 'pass', password: string }
  announce?: { delay?: string, repeat?: number, refresh?: string, refreshRepeat?: number }
  track?: { interfaces?: TrackInterfaceOut[], files?: TrackFileOut[], scripts?: TrackScriptOut[] }
  v3Ipv4ChecksumCompat?: boolean
}

export interface KeepalivedTranslation {
  readonly nodeName: string | null
  /** In file order. */
  readonly instances: ReadonlyMap<string, InstanceOut>
  readonly syncGroups: ReadonlyMap<string, { members: string[] }>
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

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/

/** keepalived names may hold characters hafw names do not (they end up in router ids and metrics). */
function hafwName (name: string): string {
  if (NAME_RE.test(name)) return name
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.-]/, '_').slice(0, 64)
  return cleaned === '' ? '_' : cleaned
}

function seconds (text: string | undefined): number | null {
  if (text === undefined || !/^[0-9]+(\.[0-9]+)?$/.test(text)) return null
  return Number(text)
}

function integer (text: string | undefined): number | null {
  if (text === undefined || !/^-?[0-9]+$/.test(text)) return null
  return Number(text)
}

function msText (s: number): string {
  return formatMs(Math.round(s * 1000))
}

function isOn (word: string | undefined): boolean | null {
  if (word === undefined) return true
  const w = word.toLowerCase()
  if (['on', 'true', 'yes'].includes(w)) return true
  if (['off', 'false', 'no'].includes(w)) return false
  return null
}


/** Settings with no hafw counterpart: keyword → [kind, why]. */
const GLOBAL_NO_EQUIVALENT: Readonly<Record<string, readonly ['note' | 'attention', string]>> = {
  notification_email: ['attention', 'hafw sends no e-mail; watch transitions with `hafwctl state --watch` or the metrics endpoint'],
  notification_email_from: ['attention', 'hafw sends no e-mail'],
  smtp_server: ['attention', 'hafw sends no e-mail'],
  smtp_connect_timeout: ['note', 'hafw sends no e-mail'],
  smtp_helo_name: ['note', 'hafw sends no e-mail'],
  smtp_alert: ['attention', 'hafw sends no e-mail'],
  smtp_alert_vrrp: ['attention', 'hafw sends no e-mail'],
  enable_script_security: ['note', 'hafwd runs track scripts without a shell, as its own user; check the scripts\' ownership and permissions yourself'],
  vrrp_skip_check_adv_addr: ['note', 'hafwd accepts adverts whose address list differs (counted and logged), as keepalived does with this option'],
  vrrp_mcast_group4: ['attention', 'hafw uses the RFC multicast group 224.0.0.18 only'],
  vrrp_mcast_group6: ['attention', 'hafw uses the RFC multicast group ff02::12 only'],
  vrrp_iptables: ['note', 'hafw does not manage firewall rules for accept mode; your ruleset decides what reaches the VIPs'],
  vrrp_ipsets: ['note', 'hafw does not manage ipsets'],
  vrrp_nftables: ['note', 'hafw does not manage firewall rules for accept mode'],
  max_auto_priority: ['note', 'hafwd does not use real-time scheduling'],
  vrrp_no_swap: ['note', 'no equivalent (hafwd is a Node.js process)'],
  vrrp_priority: ['note', 'no equivalent (process priority; set it with systemd Nice=)'],
  vrrp_rt_priority: ['note', 'no equivalent (hafwd does not use real-time scheduling)'],
  vrrp_garp_interval: ['attention', 'hafw has no pause between gratuitous ARPs of one round'],
  vrrp_gna_interval: ['attention', 'hafw has no pause between unsolicited NAs of one round'],
  vrrp_garp_lower_prio_delay: ['note', 'hafw does not re-announce on receiving a lower-priority advert'],
  vrrp_garp_lower_prio_repeat: ['note', 'hafw does not re-announce on receiving a lower-priority advert'],
  vrrp_lower_prio_no_advert: ['note', 'hafwd follows RFC 5798 §6.4.3 (no advert in answer to a lower priority)'],
  vrrp_higher_prio_send_advert: ['note', 'no equivalent'],
  vrrp_check_unicast_src: ['attention', 'hafwd does not restrict unicast adverts to the listed peers'],
  dynamic_interfaces: ['attention', 'hafwd expects the configured interfaces to exist'],
  lvs_id: ['note', 'LVS is not part of hafw'],
  lvs_sync_daemon: ['attention', 'LVS sync is not part of hafw'],
  enable_traps: ['attention', 'hafw has no SNMP; use the metrics endpoint'],
  enable_snmp_vrrp: ['attention', 'hafw has no SNMP; use the metrics endpoint'],
  enable_snmp_keepalived: ['attention', 'hafw has no SNMP'],
  enable_snmp_rfcv2: ['attention', 'hafw has no SNMP'],
  enable_snmp_rfcv3: ['attention', 'hafw has no SNMP'],
  enable_snmp_checker: ['note', 'no checker in hafw'],
  notify_fifo: ['attention', 'hafw has no notify FIFO; subscribe to the status API (hafwctl state --watch --json)'],
  notify_fifo_script: ['attention', 'hafw has no notify FIFO; subscribe to the status API'],
  vrrp_notify_fifo: ['attention', 'hafw has no notify FIFO; subscribe to the status API'],
  vrrp_notify_fifo_script: ['attention', 'hafw has no notify FIFO; subscribe to the status API'],
  vrrp_startup_delay: ['attention', 'hafw has no start-up delay (its start-up conntrack resync demotes priority instead)'],
  vrrp_min_garp: ['note', 'hafw sends its announce rounds as configured (announce.*)'],
  default_interface: ['attention', 'every hafw instance names its interface'],
  vrrp_netlink_cmd_rcv_bufs: ['note', 'not needed by hafwd'],
  vrrp_netlink_monitor_rcv_bufs: ['note', 'not needed by hafwd'],
  vrrp_rx_bufs_policy: ['note', 'not needed by hafwd'],
  vrrp_rx_bufs_multiplier: ['note', 'not needed by hafwd'],
  instance: ['note', 'keepalived instance name (-i); no equivalent'],
  net_namespace: ['attention', 'run hafwd inside the namespace instead (ip netns exec)'],
  use_pid_dir: ['note', 'no pid files'],
  linkbeat_use_polling: ['note', 'hafwd follows link state through rtnetlink'],
  checker_log_all_failures: ['note', 'no checker in hafw'],
  script_user: ['note', 'see track scripts']
}

const INSTANCE_NO_EQUIVALENT: Readonly<Record<string, readonly ['note' | 'attention', string]>> = {
  dont_track_primary: ['attention', 'hafwd always puts the instance in FAULT while its interface is down'],
  use_vmac: ['attention', 'hafw does not create VRRP virtual MAC (macvlan) interfaces; the VIPs answer with the interface MAC'],
  vmac_xmit_base: ['attention', 'no virtual MAC in hafw'],
  use_vmac_addr: ['attention', 'no virtual MAC in hafw'],
  use_ipvlan: ['attention', 'hafw does not create ipvlan interfaces'],
  vrf: ['attention', 'hafw does not bind to a VRF'],
  mcast_dst_ip: ['attention', 'hafw uses the RFC multicast groups 224.0.0.18 / ff02::12 only'],
  track_src_ip: ['attention', 'no equivalent: hafwd does not go to FAULT when the source address disappears'],
  check_unicast_src: ['attention', 'hafwd does not restrict unicast adverts to the listed peers'],
  unicast_fault_no_peer: ['note', 'hafw requires at least one peer in unicast mode'],
  unicast_ttl: ['attention', 'hafwd sends adverts with TTL/hop limit 255 (RFC 5798 §5.1.1.3)'],
  garp_lower_prio_delay: ['note', 'hafw does not re-announce on receiving a lower-priority advert'],
  garp_lower_prio_repeat: ['note', 'hafw does not re-announce on receiving a lower-priority advert'],
  garp_extra_if: ['attention', 'hafw announces on the interface of each VIP only'],
  garp_extra_if_vmac: ['attention', 'no virtual MAC in hafw'],
  down_timer_adverts: ['attention', 'hafwd uses the RFC Master_Down_Interval (3 adverts + skew)'],
  lower_prio_no_advert: ['note', 'hafwd follows RFC 5798 §6.4.3'],
  higher_prio_send_advert: ['note', 'no equivalent'],
  skip_check_adv_addr: ['note', 'hafwd accepts adverts whose address list differs (counted and logged)'],
  debug: ['note', 'use log.level'],
  smtp_alert: ['attention', 'hafw sends no e-mail'],
  notify_priority_changes: ['note', 'priority changes are in the status API and metrics'],
  kernel_rx_buf_size: ['note', 'not needed by hafwd'],
  linkbeat_use_polling: ['note', 'hafwd follows link state through rtnetlink'],
  promote_secondaries: ['attention', 'hafwd does not set promote_secondaries; set net.ipv4.conf.IF.promote_secondaries=1 yourself if the VIPs share a prefix with other addresses'],
  virtual_routes: ['attention', 'hafw does not add or remove routes on transitions'],
  virtual_rules: ['attention', 'hafw does not add or remove policy rules on transitions'],
  track_process: ['attention', 'hafw tracks interfaces, files and scripts only; use a track script (e.g. pidof)'],
  track_bfd: ['attention', 'hafw has no BFD'],
  lvs_sync_daemon_interface: ['attention', 'LVS sync is not part of hafw'],
  notify_master_rx_lower_pri: ['attention', 'hafw runs no notify scripts']
}

const TOP_NO_EQUIVALENT: Readonly<Record<string, string>> = {
  virtual_server: 'hafw does not do load balancing (IPVS)',
  virtual_server_group: 'hafw does not do load balancing (IPVS)',
  static_ipaddress: 'hafw does not manage static addresses; configure them in the OS network configuration',
  static_routes: 'hafw does not manage routes; configure them in the OS network configuration',
  static_rules: 'hafw does not manage policy rules',
  vrrp_track_process: 'hafw tracks interfaces, files and scripts only; use a track script (e.g. pidof)',
  garp_group: 'hafw has no pause between announcements',
  linkbeat_interfaces: 'hafwd follows link state through rtnetlink',
  bfd_instance: 'hafw has no BFD',
  net_namespace: 'run hafwd inside the namespace instead (ip netns exec)',
  track_group: 'hafw does not manage static addresses/routes'
}

// ---------------------------------------------------------------------------------------------
// Intermediate records
// ---------------------------------------------------------------------------------------------

interface ScriptDef {
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

interface FileDef {
  readonly stmt: ConfStmt
  path: string | null
  weight: number
  used: boolean
}

/** One tracked object on an instance, with the statement it came from (for the weight rules). */
type TrackRef =
  | { kind: 'interface', stmt: ConfStmt, name: string, weight: number, fromGroup: string | null }
  | { kind: 'script', stmt: ConfStmt, def: ScriptDef, weight: number, fromGroup: string | null }
  | { kind: 'file', stmt: ConfStmt, def: FileDef, weight: number, fromGroup: string | null }

interface GroupRec {
  readonly stmt: ConfStmt
  readonly name: string
  readonly memberStmts: ConfStmt[]
  tracks: TrackRef[]
  trackingWeight: boolean
}

interface InstanceRec {
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
}

interface Globals {
  routerId: string | null
  version: 2 | 3 | null
  strict: boolean
  garpDelayS: number | null
  garpRepeat: number | null
  garpRefreshS: number | null
  garpRefreshRepeat: number | null
  scriptUser: ConfStmt | null
}

// ---------------------------------------------------------------------------------------------
// The translator
// ---------------------------------------------------------------------------------------------

export function translateKeepalived (stmts: readonly ConfStmt[], ledger: Ledger, opts: { conntrackdGiven: boolean }): KeepalivedTranslation {
  const g: Globals = { routerId: null, version: null, strict: false, garpDelayS: null, garpRepeat: null, garpRefreshS: null, garpRefreshRepeat: null, scriptUser: null }
  const scripts = new Map<string, ScriptDef>()
  const files = new Map<string, FileDef>()
  const groups: GroupRec[] = []
  const instanceStmts: ConfStmt[] = []
  const conntrackdNotifies: ConfStmt[] = []

  // Definitions first: keepalived resolves names after reading the whole file.
  for (const s of stmts) {
    const kw = s.words[0] as string
    if (kw === 'global_defs' && s.children !== null) {
      ledger.translated(s, '(global defaults)')
      globalDefs(s.children, g, ledger)
    } else if (kw === 'vrrp_script' && s.children !== null) {
      scripts.set(s.words[1] ?? '', scriptDef(s, ledger))
    } else if ((kw === 'track_file' || kw === 'vrrp_track_file') && s.children !== null) {
      files.set(s.words[1] ?? '', fileDef(s, ledger))
    } else if (kw === 'vrrp_sync_group' && s.children !== null) {
      groups.push({ stmt: s, name: hafwName(s.words[1] ?? 'G'), memberStmts: [], tracks: [], trackingWeight: false })
    } else if (kw === 'vrrp_instance' && s.children !== null) {
      instanceStmts.push(s)
    } else if (INCLUDE_KEYWORDS.has(kw)) {
      if (s.includeResolved === true) ledger.translated(s, `(included ${s.words[1] ?? ''})`)
      else ledger.attention(s, 'include not resolved (file missing, unreadable or a pattern this importer cannot expand): its settings are not translated')
    } else if (kw.startsWith('@')) {
      ledger.attention(s, 'conditional configuration (@config-id) is not supported: rewrite the file for this node and import again')
    } else if (kw.startsWith('$')) {
      ledger.attention(s, 'parameter definitions/substitution are not supported: expand them and import again')
    } else if (TOP_NO_EQUIVALENT[kw] !== undefined) {
      ledger.wholeBlock(s, 'attention', `not translated: ${TOP_NO_EQUIVALENT[kw] as string}`)
    }
  }

  const ctx: Ctx = { g, scripts, files, ledger, conntrackdGiven: opts.conntrackdGiven, conntrackdNotifies }

  // Sync groups: members, tracking, notify scripts.
  for (const grp of groups) syncGroup(grp, ctx)

  // Instances.
  const instances: InstanceRec[] = instanceStmts.map(s => instance(s, ctx))
  const byName = new Map(instances.map(i => [i.sourceName, i]))
  for (const grp of groups) {
    for (const m of grp.memberStmts) {
      const name = m.words[0] as string
      const inst = byName.get(name)
      if (inst === undefined) {
        ledger.attention(m, `instance ${name} does not exist; keepalived ignores it too — dropped from the group`)
      } else if (inst.group !== null) {
        ledger.attention(m, `${name} is already in sync group ${inst.group.name}; an instance belongs to at most one group — dropped here`)
      } else {
        inst.group = grp
        ledger.translated(m, `vrrp.syncGroups.${grp.name}.members`)
      }
    }
  }
  // Names must be unique once cleaned.
  const taken = new Set<string>()
  for (const inst of instances) {
    let name = hafwName(inst.sourceName)
    for (let n = 2; taken.has(name); n++) name = `${hafwName(inst.sourceName).slice(0, 60)}_${n}`
    taken.add(name)
    if (name !== inst.sourceName) ledger.note(inst.stmt, `renamed to ${name} (hafw names are A-Z a-z 0-9 _ . - only)`)
    inst.name = name
  }

  for (const inst of instances) {
    for (const t of inst.group?.tracks ?? []) inst.tracks.push({ ...t })
    finishTracks(inst, ctx)
  }
  for (const [name, def] of scripts) {
    if (!def.used) ledger.note(def.stmt, `vrrp_script ${name} is not used by any instance (keepalived ignores it too)`)
  }
  for (const [name, def] of files) {
    if (!def.used) ledger.note(def.stmt, `track_file ${name} is not used by any instance (keepalived ignores it too)`)
  }
  if (g.scriptUser !== null) {
    const anyScript = instances.some(i => (i.out.track?.scripts?.length ?? 0) > 0)
    if (anyScript) ledger.attention(g.scriptUser, 'hafwd runs track scripts as its own user (root), not as this user: check that the scripts are safe to run as root')
    else ledger.note(g.scriptUser, 'no track script is translated, so the script user does not matter')
  }

  mergeFamilies(instances, ledger)

  const out = new Map<string, InstanceOut>()
  for (const inst of instances) if (inst.mergedInto === null) out.set(inst.name, inst.out)
  const syncGroups = new Map<string, { members: string[] }>()
  for (const grp of groups) {
    const members: string[] = []
    for (const inst of instances) {
      if (inst.group !== grp) continue
      const name = inst.mergedInto ?? inst.name
      if (!members.includes(name)) members.push(name)
    }
    if (members.length === 0) {
      ledger.attention(grp.stmt, 'sync group without existing members: not translated')
      continue
    }
    syncGroups.set(grp.name, { members })
  }

  const vips: string[] = []
  const localAddresses: string[] = []
  for (const inst of out.values()) {
    for (const v of inst.virtualAddresses) {
      const c = parseCidr(typeof v === 'string' ? v : v.address)
      if (c.ok) vips.push(c.value.address)
    }
    for (const a of inst.sourceAddresses ?? []) {
      const p = parseAddress(a)
      if (p.ok) localAddresses.push(p.value.address)
    }
  }

  return { nodeName: g.routerId, instances: out, syncGroups, vips, localAddresses, conntrackdNotifies }
}

interface Ctx {
  readonly g: Globals
  readonly scripts: Map<string, ScriptDef>
  readonly files: Map<string, FileDef>
  readonly ledger: Ledger
  readonly conntrackdGiven: boolean
  readonly conntrackdNotifies: ConfStmt[]
}

// ---------------------------------------------------------------------------------------------
// global_defs
// ---------------------------------------------------------------------------------------------

function globalDefs (children: readonly ConfStmt[], g: Globals, ledger: Ledger): void {
  for (const s of children) {
    const kw = s.words[0] as string
    const v = s.words[1]
    switch (kw) {
      case 'router_id': {
        if (v === undefined) break
        const name = hafwName(v)
        g.routerId = name
        ledger.translated(s, 'node.name')
        if (name !== v) ledger.note(s, `written as ${name} (hafw names are A-Z a-z 0-9 _ . - only)`)
        break
      }
      case 'vrrp_version': {
        const n = integer(v)
        if (n === 2 || n === 3) {
          g.version = n
          ledger.translated(s, 'vrrp.instances.*.version (default of every instance)')
        } else ledger.attention(s, 'vrrp_version must be 2 or 3: ignored')
        break
      }
      case 'vrrp_strict':
        g.strict = true
        ledger.note(s, 'strict mode: accept mode is off unless the instance is the address owner (translated per instance); the other strict checks are hafw\'s defaults (TTL 255, no IPv6 v2, ...)')
        break
      case 'vrrp_garp_master_delay':
        g.garpDelayS = numberOr(s, seconds(v), ledger, 'vrrp.instances.*.announce.delay', 'must be seconds')
        break
      case 'vrrp_garp_master_repeat':
        g.garpRepeat = numberOr(s, integer(v), ledger, 'vrrp.instances.*.announce.repeat', 'must be an integer')
        break
      case 'vrrp_garp_master_refresh':
        g.garpRefreshS = numberOr(s, seconds(v), ledger, 'vrrp.instances.*.announce.refresh', 'must be seconds')
        break
      case 'vrrp_garp_master_refresh_repeat':
        g.garpRefreshRepeat = numberOr(s, integer(v), ledger, 'vrrp.instances.*.announce.refreshRepeat', 'must be an integer')
        break
      case 'script_user':
        g.scriptUser = s
        break
      default: {
        const known = GLOBAL_NO_EQUIVALENT[kw]
        if (known !== undefined) {
          if (s.children !== null) ledger.wholeBlock(s, known[0], `not translated: ${known[1]}`)
          else ledger[known[0]](s, `not translated: ${known[1]}`)
        }
      }
    }
  }
}

function numberOr (s: ConfStmt, n: number | null, ledger: Ledger, target: string, what: string): number | null {
  if (n === null) {
    ledger.attention(s, `${what}: ignored`)
    return null
  }
  ledger.translated(s, target)
  return n
}

// ---------------------------------------------------------------------------------------------
// vrrp_script / track_file definitions
// ---------------------------------------------------------------------------------------------

function scriptDef (s: ConfStmt, ledger: Ledger): ScriptDef {
  const def: ScriptDef = { stmt: s, command: null, viaShell: false, intervalS: 1, timeoutS: null, weight: 0, reverse: false, rise: 1, fall: 1, used: false }
  ledger.translated(s, 'vrrp.instances.*.track.scripts[] (where tracked)')
  for (const c of s.children ?? []) {
    const kw = c.words[0] as string
    const v = c.words[1]
    switch (kw) {
      case 'script': {
        const line = c.words.slice(1).join(' ')
        const split = splitCommand(line)
        def.command = split.argv
        def.viaShell = split.viaShell
        ledger.translated(c, 'track.scripts[].command')
        if (split.viaShell) ledger.note(c, 'the command line uses shell syntax; hafwd runs argv without a shell, so it is written as ["/bin/sh", "-c", "..."]')
        break
      }
      case 'interval': {
        const n = seconds(v)
        if (n === null || n <= 0) ledger.attention(c, 'interval must be a positive number of seconds: default 1s used')
        else if (n < 0.1 || n > 3600) ledger.attention(c, 'hafw track script intervals are 100ms..1h: default 1s used')
        else { def.intervalS = n; ledger.translated(c, 'track.scripts[].interval') }
        break
      }
      case 'timeout': {
        const n = seconds(v)
        if (n === null || n <= 0) ledger.attention(c, 'timeout must be a positive number of seconds: ignored')
        else { def.timeoutS = n; ledger.translated(c, 'track.scripts[].timeout') }
        break
      }
      case 'weight': {
        const n = integer(v)
        if (n === null || n < -254 || n > 254) ledger.attention(c, 'weight must be an integer -254..254: 0 used')
        else {
          def.weight = n
          ledger.translated(c, 'track.scripts[].weight')
          if (c.words[2] === 'reverse') { def.reverse = true; ledger.attention(c, '"reverse" has no hafw equivalent: the script is not translated') }
        }
        break
      }
      case 'rise':
      case 'fall': {
        const n = integer(v)
        if (n === null || n < 1 || n > 1000) ledger.attention(c, `${kw} must be 1..1000: default 1 used`)
        else { def[kw] = n; ledger.translated(c, `track.scripts[].${kw}`) }
        break
      }
      case 'user':
        ledger.attention(c, 'hafwd runs track scripts as its own user (root); this user is not used')
        break
      case 'init_fail':
        ledger.note(c, 'hafw counts a check as OK until `fall` failures are seen; init_fail has no equivalent')
        break
      default:
        break
    }
  }
  return def
}

function fileDef (s: ConfStmt, ledger: Ledger): FileDef {
  const def: FileDef = { stmt: s, path: null, weight: 1, used: false }
  ledger.translated(s, 'vrrp.instances.*.track.files[] (where tracked)')
  for (const c of s.children ?? []) {
    const kw = c.words[0] as string
    if (kw === 'file' && c.words[1] !== undefined) {
      def.path = c.words[1]
      ledger.translated(c, 'track.files[].path')
    } else if (kw === 'weight') {
      const n = integer(c.words[1])
      if (n === null || n < -254 || n > 254) ledger.attention(c, 'weight must be -254..254: default 1 used')
      else { def.weight = n; ledger.translated(c, 'track.files[].weight') }
      if (c.words[2] === 'reverse') ledger.attention(c, '"reverse" has no hafw equivalent: ignored')
    } else if (kw === 'init_file') {
      ledger.attention(c, 'hafw does not create or initialise the tracked file; create it yourself')
    }
  }
  return def
}

// ---------------------------------------------------------------------------------------------
// Tracking (shared by instances and sync groups)
// ---------------------------------------------------------------------------------------------

function trackBlock (s: ConfStmt, ctx: Ctx, fromGroup: string | null): TrackRef[] {
  const kw = s.words[0] as string
  const refs: TrackRef[] = []
  ctx.ledger.translated(s, kw === 'track_interface' ? 'track.interfaces' : kw === 'track_script' ? 'track.scripts' : 'track.files')
  for (const e of s.children ?? []) {
    const words = e.words
    const name = words[0] as string
    let weight: number | null = null
    let reverse = false
    for (let i = 1; i < words.length; i++) {
      if (words[i] === 'weight') { weight = integer(words[i + 1]); i++ } else if (words[i] === 'reverse') reverse = true
      else if (words[i] === 'noreverse' || words[i] === 'no_reverse') reverse = false
    }
    if (words.includes('weight') && (weight === null || weight < -254 || weight > 254)) {
      ctx.ledger.attention(e, 'weight must be an integer -254..254: not translated')
      continue
    }
    if (reverse) {
      ctx.ledger.attention(e, '"reverse" has no hafw equivalent: not translated')
      continue
    }
    if (kw === 'track_interface') {
      refs.push({ kind: 'interface', stmt: e, name, weight: weight ?? 0, fromGroup })
    } else if (kw === 'track_script') {
      const def = ctx.scripts.get(name)
      if (def === undefined) { ctx.ledger.attention(e, `vrrp_script ${name} is not defined: not translated`); continue }
      if (def.reverse || def.command === null) { ctx.ledger.attention(e, `vrrp_script ${name} cannot be translated (see its definition)`); continue }
      refs.push({ kind: 'script', stmt: e, def, weight: weight ?? def.weight, fromGroup })
    } else {
      const def = ctx.files.get(name)
      if (def === undefined || def.path === null) { ctx.ledger.attention(e, `track_file ${name} is not defined (or has no file): not translated`); continue }
      refs.push({ kind: 'file', stmt: e, def, weight: weight ?? def.weight, fromGroup })
    }
  }
  return refs
}

/**
 * keepalived's weight rules (vrrp_complete_instance): in a sync group without
 * sync_group_tracking_weight, or as address owner, a weighted tracked interface counts as weight 0
 * (owner: not tracked), weighted scripts and files are ignored, a file with the default weight 1
 * gets weight 0. Group-level tracking keeps its weights (cleared only for an owner).
 */
function finishTracks (inst: InstanceRec, ctx: Ctx): void {
  const { ledger } = ctx
  const owner = inst.out.priority === 255
  const syncNoWeight = inst.group !== null && !inst.group.trackingWeight
  const interfaces: TrackInterfaceOut[] = []
  const files: TrackFileOut[] = []
  const scripts: TrackScriptOut[] = []
  const where = `vrrp.instances.${inst.name}.track`
  for (const t of inst.tracks) {
    let weight = t.weight
    const why = owner ? 'the address owner (priority 255)' : `sync group ${inst.group?.name ?? ''} (no sync_group_tracking_weight)`
    if (t.fromGroup !== null) {
      if (owner && weight !== 0) {
        ledger.attention(t.stmt, `weight ${weight} cleared to 0 for ${inst.name}, the address owner (keepalived does the same)`)
        weight = 0
      }
    } else if ((owner || syncNoWeight) && weight !== 0) {
      if (t.kind === 'interface') {
        if (owner) { ledger.attention(t.stmt, `keepalived does not track a weighted interface on ${why}: not translated`); continue }
        ledger.attention(t.stmt, `keepalived ignores this weight in ${why} and puts the instance in FAULT while the link is down: translated as weight 0 (set the weight back if you meant it; hafw honours it)`)
        weight = 0
      } else if (t.kind === 'file' && t.weight === 1 && t.def.weight === 1) {
        ledger.note(t.stmt, `keepalived uses weight 0 for a default-weight track file in ${why}: translated as weight 0`)
        weight = 0
      } else {
        ledger.attention(t.stmt, `keepalived ignores a weighted track ${t.kind} in ${why}: not translated (add it to track.${t.kind}s if you want it; hafw honours weights)`)
        continue
      }
    }
    if (t.kind === 'interface') {
      interfaces.push({ name: t.name, weight })
      ledger.translated(t.stmt, `${where}.interfaces${t.fromGroup !== null ? ` (from sync group ${t.fromGroup})` : ''}`)
    } else if (t.kind === 'file') {
      t.def.used = true
      files.push({ path: t.def.path as string, weight })
      ledger.translated(t.stmt, `${where}.files`)
    } else {
      const d = t.def
      d.used = true
      const name = hafwName(d.stmt.words[1] ?? 'check')
      if (scripts.some(s => s.name === name)) continue
      const intervalMs = Math.round(d.intervalS * 1000)
      const sc: TrackScriptOut = { name, command: d.command as string[], interval: formatMs(intervalMs), weight, rise: d.rise, fall: d.fall }
      if (d.timeoutS !== null) {
        const timeoutMs = Math.round(d.timeoutS * 1000)
        if (timeoutMs > intervalMs) {
          ledger.note(d.stmt, `timeout ${formatMs(timeoutMs)} is longer than the interval; hafw kills a run at the interval (written as timeout ${formatMs(intervalMs)})`)
          sc.timeout = formatMs(intervalMs)
        } else if (timeoutMs >= 100) sc.timeout = formatMs(timeoutMs)
      }
      scripts.push(sc)
      ledger.translated(t.stmt, `${where}.scripts`)
    }
  }
  if (interfaces.length + files.length + scripts.length > 0) {
    inst.out.track = {
      ...(interfaces.length > 0 ? { interfaces } : {}),
      ...(files.length > 0 ? { files } : {}),
      ...(scripts.length > 0 ? { scripts } : {})
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Notify scripts
// ---------------------------------------------------------------------------------------------

function notify (s: ConfStmt, ctx: Ctx, owner: string): void {
  const script = s.words[1]
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
  ctx.ledger.attention(s, `not translated: hafwd runs no notify scripts (${owner}); whatever "${script}" does on transitions must be done another way (watch \`hafwctl state --watch --json\`)`)
}

// ---------------------------------------------------------------------------------------------
// vrrp_sync_group
// ---------------------------------------------------------------------------------------------

function syncGroup (grp: GroupRec, ctx: Ctx): void {
  const { ledger } = ctx
  ledger.translated(grp.stmt, `vrrp.syncGroups.${grp.name}`)
  if (grp.name !== grp.stmt.words[1]) ledger.note(grp.stmt, `renamed to ${grp.name} (hafw names are A-Z a-z 0-9 _ . - only)`)
  for (const s of grp.stmt.children ?? []) {
    const kw = s.words[0] as string
    if (kw === 'group' && s.children !== null) {
      ledger.translated(s, `vrrp.syncGroups.${grp.name}.members`)
      // One-line blocks put several names in one statement: split them.
      for (const m of s.children) {
        if (m.words.length === 1) grp.memberStmts.push(m)
        else {
          for (const w of m.words) grp.memberStmts.push({ ...m, words: [w], quoted: [false] })
          ledger.translated(m, `vrrp.syncGroups.${grp.name}.members`)
        }
      }
    } else if (kw.startsWith('notify')) {
      notify(s, ctx, `sync group ${grp.name}`)
    } else if (kw === 'track_interface' || kw === 'track_script' || kw === 'track_file') {
      grp.tracks.push(...trackBlock(s, ctx, grp.name))
      ledger.note(s, 'hafw has no group-level tracking: copied onto every member instance')
    } else if (kw === 'sync_group_tracking_weight' || kw === 'global_tracking') {
      grp.trackingWeight = true
      ledger.note(s, 'member weights are kept (hafw always honours track weights)')
    } else if (kw === 'smtp_alert') {
      ledger.attention(s, 'not translated: hafw sends no e-mail')
    } else if (kw === 'notify_priority_changes') {
      ledger.note(s, 'priority changes are in the status API and metrics')
    } else if (kw === 'track_process' || kw === 'track_bfd') {
      ledger.wholeBlock(s, 'attention', 'not translated: hafw tracks interfaces, files and scripts only')
    }
  }
}

// ---------------------------------------------------------------------------------------------
// vrrp_instance
// ---------------------------------------------------------------------------------------------

interface VipEntry { stmt: ConfStmt, out: VipOut, family: Family, canonical: string }

function vipEntries (block: ConfStmt, iface: () => string | undefined, ctx: Ctx, excluded: boolean): VipEntry[] {
  const { ledger } = ctx
  const entries: VipEntry[] = []
  for (const e of block.children ?? []) {
    const addr = e.words[0] as string
    const c = parseCidr(addr)
    if (!c.ok) {
      ledger.attention(e, `not an address/prefix hafw understands (${c.message}): not translated`)
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

function instance (s: ConfStmt, ctx: Ctx): InstanceRec {
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
    mergedInto: null
  }
  ledger.translated(s, `vrrp.instances.${hafwName(sourceName)}`)
  const kids = s.children ?? []
  const find = (kw: string): ConfStmt | undefined => kids.find(k => k.words[0] === kw)
  const iface = (): string | undefined => find('interface')?.words[1]

  let version: 2 | 3 | null = null
  let versionStmt: ConfStmt | null = null
  let advert: { s: ConfStmt, v: number } | null = null
  let accept: { s: ConfStmt, v: boolean } | null = null
  let strict = g.strict
  let nopreempt: ConfStmt | null = null
  let preemptDelay: { s: ConfStmt, v: number } | null = null
  let stateStmt: ConfStmt | null = null
  let nativeV6: ConfStmt | null = null
  let auth: ConfStmt | null = null
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
        if (n === 2 || n === 3) { version = n; versionStmt = c } else ledger.attention(c, 'version must be 2 or 3: ignored')
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
        nativeV6 = c
        break
      case 'virtual_ipaddress':
        ledger.translated(c, 'virtualAddresses')
        vips.push(...vipEntries(c, iface, ctx, false))
        break
      case 'virtual_ipaddress_excluded':
        ledger.translated(c, 'virtualAddresses')
        ledger.note(c, 'hafw has no excluded addresses: these are ordinary virtual addresses, carried in the adverts (at most 255 per family)')
        evips.push(...vipEntries(c, iface, ctx, true))
        break
      case 'unicast_src_ip':
      case 'mcast_src_ip': {
        const a = v === undefined ? null : parseAddress(v)
        if (a === null || !a.ok) ledger.attention(c, 'not an IP address: not translated')
        else sources.push({ s: c, a: a.value.address, f: a.value.family })
        break
      }
      case 'unicast_peer':
        ledger.translated(c, 'unicast.peers')
        for (const p of c.children ?? []) {
          const a = parseAddress(p.words[0] as string)
          if (!a.ok) { ledger.attention(p, 'not an IP address: not translated'); continue }
          peers.push({ s: p, a: a.value.address, f: a.value.family })
          ledger.translated(p, 'unicast.peers')
          if (p.words.length > 1) ledger.attention(p, `not translated: ${p.words.slice(1).join(' ')} (hafwd checks TTL 255 as RFC 5798 §5.1.1.3 requires)`)
        }
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
      case 'old_unicast_checksum':
        if (v === 'never') ledger.note(c, 'hafw never detects old checksums by itself: nothing to translate')
        else { rec.out.v3Ipv4ChecksumCompat = true; ledger.translated(c, 'v3Ipv4ChecksumCompat'); ledger.note(c, 'hafw does not auto-detect: it always uses the old checksum for VRRPv3 over IPv4') }
        break
      default:
        if (kw.startsWith('notify')) notify(c, ctx, `instance ${sourceName}`)
        else {
          const known = INSTANCE_NO_EQUIVALENT[kw]
          if (known !== undefined) {
            if (c.children !== null) ledger.wholeBlock(c, known[0], `not translated: ${known[1]}`)
            else ledger[known[0]](c, `not translated: ${known[1]}`)
          }
        }
    }
  }

  // Families and version. keepalived: all of virtual_ipaddress is one family; IPv6 runs v3.
  for (const e of vips) rec.families.add(e.family)
  if (rec.families.size === 0 && nativeV6 !== null) rec.families.add('ipv6')
  if (nativeV6 !== null) ledger.note(nativeV6, 'deprecated in keepalived; the family follows from the virtual addresses in hafw')
  const v6 = rec.families.has('ipv6')
  let ver: 2 | 3 = version ?? g.version ?? 2
  if (v6 && ver === 2) {
    if (versionStmt !== null) ledger.note(versionStmt, 'IPv6 runs VRRPv3 (keepalived does the same): version 3 written')
    ver = 3
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
    if (ver === 2 && e.family === 'ipv6') { ledger.attention(e.stmt, 'an IPv6 address on a VRRPv2 instance cannot be carried by hafw (VRRPv2 is IPv4 only): not translated; put it in a version 3 instance'); continue }
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
  if (auth !== null) authentication(auth, rec, ver, ctx)

  if (Object.keys(announce).length > 0) rec.out.announce = announce
  return rec
}

function authentication (auth: ConfStmt, rec: InstanceRec, ver: 2 | 3, ctx: Ctx): void {
  const { ledger } = ctx
  const type = auth.children?.find(k => k.words[0] === 'auth_type')
  const pass = auth.children?.find(k => k.words[0] === 'auth_pass')
  if (ver === 3) {
    ledger.wholeBlock(auth, 'attention', 'VRRPv3 has no authentication (RFC 5798 §9); keepalived ignores it for v3 too: not translated')
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

// ---------------------------------------------------------------------------------------------
// VI_x + VI_x_V6 → one hafw instance (RFC 5798 §5.2: one router per family under one name)
// ---------------------------------------------------------------------------------------------

function comparable (o: InstanceOut): string {
  const { virtualAddresses: _v, unicast: _u, sourceAddresses: _s, ...rest } = o
  return JSON.stringify(rest)
}

function mergeFamilies (instances: InstanceRec[], ledger: Ledger): void {
  for (const a of instances) {
    if (a.mergedInto !== null || a.families.size !== 1) continue
    for (const b of instances) {
      if (b === a || b.mergedInto !== null || b.families.size !== 1) continue
      if (a.out.interface === undefined || a.out.vrid === undefined) continue
      if (b.out.interface !== a.out.interface || b.out.vrid !== a.out.vrid) continue
      const [fa] = a.families
      const [fb] = b.families
      if (fa === fb) continue
      // Each pair once: from its IPv4 side.
      if (fa !== 'ipv4') continue
      const [v4, v6] = [a, b]
      const why = mergeBlocker(v4, v6)
      if (why !== null) {
        ledger.note(v6.stmt, `same interface and VRID as ${v4.sourceName} but kept as a separate instance: ${why}`)
        continue
      }
      v4.out.virtualAddresses.push(...v6.out.virtualAddresses)
      if (v4.out.unicast !== undefined && v6.out.unicast !== undefined) v4.out.unicast.peers.push(...v6.out.unicast.peers)
      const src = [...(v4.out.sourceAddresses ?? []), ...(v6.out.sourceAddresses ?? [])]
      if (src.length > 0) v4.out.sourceAddresses = src
      v4.families.add('ipv6')
      v6.mergedInto = v4.name
      if (v4.group === null && v6.group !== null) {
        v4.group = v6.group
        ledger.note(v4.stmt, `joins sync group ${v6.group.name} through ${v6.sourceName}, merged into it`)
      } else if (v6.group === null && v4.group !== null) {
        ledger.note(v6.stmt, `now moves with sync group ${v4.group.name} as part of ${v4.name}`)
      }
      v6.group = v4.group
      ledger.note(v6.stmt, `merged into ${v4.name} (same interface ${v4.out.interface ?? ''} and VRID ${v4.out.vrid ?? ''}, other family): hafw runs ${v4.name}/ipv4 and ${v4.name}/ipv6 as two routers that always move together`)
      break
    }
  }
}

function mergeBlocker (v4: InstanceRec, v6: InstanceRec): string | null {
  if (v4.out.version !== v6.out.version) return `${v4.sourceName} runs VRRPv${v4.out.version} and ${v6.sourceName} VRRPv${v6.out.version}; one hafw instance has one version (set vrrp_version 3 to merge)`
  if ((v4.out.unicast === undefined) !== (v6.out.unicast === undefined)) return 'one is unicast and the other multicast'
  if (v4.group !== null && v6.group !== null && v4.group !== v6.group) return 'they are in different sync groups'
  if (comparable(v4.out) !== comparable(v6.out)) return 'their settings (priority, interval, preemption, tracking, ...) differ'
  return null
}
