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
import { parseAddress, parseCidr } from '../config/net.js'
import { INCLUDE_KEYWORDS, type ConfStmt } from './conf-parse.js'
import { instance, notify } from './keepalived-instance.js'
import { hafwName, integer, seconds, type Ctx, type FileDef, type Globals, type GroupRec, type InstanceOut, type InstanceRec, type KeepalivedTranslation, type NotifyOut, type ScriptDef } from './keepalived-model.js'
import { GLOBAL_NO_EQUIVALENT, TOP_NO_EQUIVALENT } from './keepalived-tables.js'
import { fileDef, finishTracks, scriptDef, trackBlock } from './keepalived-track.js'
import { nameVmacs, placeRoutes } from './keepalived-routes.js'
import type { Ledger } from './ledger.js'

export type { InstanceOut, KeepalivedTranslation, TrackFileOut, TrackInterfaceOut, TrackScriptOut, VipOut } from './keepalived-model.js'

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
      groups.push({ stmt: s, name: hafwName(s.words[1] ?? 'G'), memberStmts: [], tracks: [], trackingWeight: false, notify: {} })
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
    const anyScript = instances.some(i => (i.out.track?.scripts?.length ?? 0) > 0 || i.out.notify !== undefined) || groups.some(grp => Object.keys(grp.notify).length > 0)
    if (anyScript) ledger.attention(g.scriptUser, 'hafwd runs track scripts and notify hooks as its own user (root), not as this user: check that the scripts are safe to run as root')
    else ledger.note(g.scriptUser, 'no track script or notify hook is translated, so the script user does not matter')
  }

  mergeFamilies(instances, ledger)
  placeRoutes(instances, ledger)
  nameVmacs(instances, ledger)

  const out = new Map<string, InstanceOut>()
  for (const inst of instances) if (inst.mergedInto === null) out.set(inst.name, inst.out)
  const syncGroups = new Map<string, { members: string[], notify?: NotifyOut }>()
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
    syncGroups.set(grp.name, Object.keys(grp.notify).length > 0 ? { members, notify: grp.notify } : { members })
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
      notify(s, ctx, `sync group ${grp.name}`, grp.notify, `vrrp.syncGroups.${grp.name}.notify`)
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
  if (v4.out.vmac !== undefined || v6.out.vmac !== undefined) return 'use_vmac: a virtual MAC belongs to one family (RFC 5798 §7.3), so hafw keeps one instance per family'
  if (comparable(v4.out) !== comparable(v6.out)) return 'their settings (priority, interval, preemption, tracking, ...) differ'
  return null
}
