/**
 * vrrp_script / track_file definitions and the track_* blocks of instances and sync groups, with
 * keepalived's weight rules for sync group members and address owners.
 */
import { formatMs } from '../config/duration.js'
import { splitCommand } from './command.js'
import type { ConfStmt } from './conf-parse.js'
import type { Ledger } from './ledger.js'
import { hafwName, integer, seconds, type Ctx, type FileDef, type InstanceRec, type ScriptDef, type TrackFileOut, type TrackInterfaceOut, type TrackRef, type TrackScriptOut } from './keepalived-model.js'

// ---------------------------------------------------------------------------------------------
// vrrp_script / track_file definitions
// ---------------------------------------------------------------------------------------------

export function scriptDef (s: ConfStmt, ledger: Ledger): ScriptDef {
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

export function fileDef (s: ConfStmt, ledger: Ledger): FileDef {
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

export function trackBlock (s: ConfStmt, ctx: Ctx, fromGroup: string | null): TrackRef[] {
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
export function finishTracks (inst: InstanceRec, ctx: Ctx): void {
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
