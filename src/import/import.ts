/**
 * keepalived.conf [+ conntrackd.conf] → hafw YAML, a report and an exit code. Pure: the caller reads
 * the files (and the included ones, through readInclude) and writes the result.
 *
 * Exit codes: 0 every setting translated (notes allowed), 1 some settings need attention (the
 * YAML is still produced), 2 a source file does not parse (no YAML).
 */
import { stringify } from 'yaml'
import { validateConfigText, type ValidateResult } from '../config/validate.js'
import { parseConf, type ConfStmt, type IncludedFile, type ParseError } from './conf-parse.js'
import { translateConntrackd } from './conntrackd.js'
import { translateKeepalived } from './keepalived.js'
import { Ledger, type ReportItem, type StatementOutcome } from './ledger.js'

export interface SourceFile {
  /** Shown in the report as given (e.g. /etc/keepalived/keepalived.conf). */
  readonly path: string
  readonly text: string
}

export interface ImportInput {
  readonly keepalived: SourceFile
  readonly conntrackd?: SourceFile
  /** Resolve a keepalived include pattern relative to the including file; null when it cannot. */
  readonly readInclude?: (pattern: string, fromFile: string) => readonly IncludedFile[] | null
}

export type ImportResult =
  | { readonly ok: false, readonly exitCode: 2, readonly error: ParseError }
  | {
    readonly ok: true
    readonly exitCode: 0 | 1
    /** The file to write: header comment (the report) + YAML. */
    readonly yaml: string
    /** The config object that was serialised. */
    readonly config: Record<string, unknown>
    /** Notes and attention items, attention first, each group in file order. */
    readonly items: readonly ReportItem[]
    /** Every source statement and what became of it. */
    readonly outcomes: readonly StatementOutcome[]
    /** validateConfigText of the YAML body. */
    readonly validation: ValidateResult
  }

export function importConfigs (input: ImportInput): ImportResult {
  const k = parseConf(input.keepalived.text, input.keepalived.path, {
    commentChars: '#!',
    ...(input.readInclude !== undefined ? { readInclude: input.readInclude } : {})
  })
  if (!k.ok) return { ok: false, exitCode: 2, error: k.error }
  let c: ConfStmt[] | null = null
  if (input.conntrackd !== undefined) {
    const r = parseConf(input.conntrackd.text, input.conntrackd.path, { commentChars: '#' })
    if (!r.ok) return { ok: false, exitCode: 2, error: r.error }
    c = r.stmts
  }

  const ledger = new Ledger()
  const ka = translateKeepalived(k.stmts, ledger, { conntrackdGiven: c !== null })
  const config: Record<string, unknown> = {}
  if (ka.nodeName !== null) config.node = { name: ka.nodeName }
  const vrrp: Record<string, unknown> = { instances: Object.fromEntries(ka.instances) }
  if (ka.syncGroups.size > 0) vrrp.syncGroups = Object.fromEntries(ka.syncGroups)
  config.vrrp = vrrp
  if (c !== null && input.conntrackd !== undefined) {
    config.conntrack = translateConntrackd(c, { vips: ka.vips, localAddresses: ka.localAddresses }, ledger, input.conntrackd.path)
  } else if (ka.conntrackdNotifies.length === 0) {
    ledger.fileNote(input.keepalived.path, 'note', '(conntrackd)', 'no conntrackd.conf given and no notify script drives conntrackd: conntrack sync stays off')
  }

  const { outcomes, items } = ledger.finish(c === null ? [k.stmts] : [k.stmts, c])
  const body = stringify(inOrder(config), { lineWidth: 0 })
  const validation = validateConfigText(body)
  const all: ReportItem[] = [...items]
  if (!validation.ok) {
    for (const issue of validation.issues) {
      all.push({ kind: 'attention', file: '(output)', line: issue.line ?? 0, setting: issue.path, message: `the generated file does not validate: ${issue.message} — complete it by hand` })
    }
  }
  const ordered = [...all.filter(i => i.kind === 'attention'), ...all.filter(i => i.kind === 'note')]
  const sources = [input.keepalived.path, ...(input.conntrackd !== undefined ? [input.conntrackd.path] : [])]
  return {
    ok: true,
    exitCode: ordered.some(i => i.kind === 'attention') ? 1 : 0,
    yaml: header(sources, ordered) + body,
    config,
    items: ordered,
    outcomes,
    validation
  }
}

/** Key order of the written file: the way hafw.example.yaml reads (identity first, details after). */
const KEY_ORDER: readonly string[] = [
  'node', 'name', 'path', 'vrrp', 'instances', 'syncGroups', 'members', 'conntrack', 'enabled', 'sync',
  'interface', 'vrid', 'priority', 'version', 'advertInterval', 'preempt', 'preemptDelay', 'acceptMode', 'virtualAddresses',
  'unicast', 'sourceAddresses', 'authentication', 'type', 'password', 'announce', 'delay', 'repeat', 'refresh', 'refreshRepeat',
  'track', 'interfaces', 'files', 'scripts', 'vmac', 'routes', 'rules', 'v3Ipv4ChecksumCompat', 'notify', 'master', 'backup', 'fault', 'stop', 'any',
  'from', 'to', 'via', 'dev', 'src', 'metric', 'table', 'fwmark', 'fwmask',
  'command', 'interval', 'timeout', 'weight', 'rise', 'fall',
  'transport', 'udp', 'multicast', 'address', 'peer', 'group', 'port', 'interfaceAddress', 'sndBuffer', 'rcvBuffer', 'checksum', 'ftfw',
  'commitBudget', 'purgeTimeout', 'startupResyncTimeout', 'disableExternalCache', 'filter', 'protocols', 'addresses', 'tcpStates'
]

/** A copy with object keys in KEY_ORDER (unknown keys and record names keep their place, after). */
function inOrder (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(inOrder)
  if (typeof v !== 'object' || v === null) return v
  const entries = Object.entries(v as Record<string, unknown>)
  const rank = (k: string): number => {
    const i = KEY_ORDER.indexOf(k)
    return i < 0 ? KEY_ORDER.length : i
  }
  // Records (instance and group names) keep file order: only sort when every key is known.
  const known = entries.every(([k]) => KEY_ORDER.includes(k))
  const sorted = known ? [...entries].sort((a, b) => rank(a[0]) - rank(b[0])) : entries
  return Object.fromEntries(sorted.map(([k, x]) => [k, inOrder(x)]))
}

/** Word-wrap a message to the header's width. */
function wrap (text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}

function where (i: ReportItem): string {
  return i.line > 0 ? `${i.file}:${i.line}` : i.file
}

function header (sources: readonly string[], items: readonly ReportItem[]): string {
  const attention = items.filter(i => i.kind === 'attention')
  const notes = items.filter(i => i.kind === 'note')
  const out: string[] = [
    '# hafw configuration written by `hafwctl import` from:',
    ...sources.map(s => `#   ${s}`),
    '#',
    attention.length === 0
      ? '# Every setting was translated.'
      : `# ${attention.length} setting(s) NEED ATTENTION: not translated, or changed in a way you must check.`,
    `# ${notes.length} note(s): translated with a change, or dropped because hafwd does it itself.`,
    '# Check the result with: hafwd --check-config FILE'
  ]
  const section = (title: string, list: readonly ReportItem[]): void => {
    if (list.length === 0) return
    out.push('#', `# ${title}`)
    for (const i of list) {
      out.push(`#   ${where(i)}: ${i.setting}`)
      for (const l of wrap(i.message, 92)) out.push(`#       ${l}`)
    }
  }
  section('NEEDS ATTENTION', attention)
  section('NOTES', notes)
  out.push('')
  return out.join('\n') + '\n'
}

/** The report as plain lines for a terminal (stderr). */
export function formatReport (items: readonly ReportItem[]): string {
  return items.map(i => `${where(i)}: ${i.kind === 'attention' ? 'ATTENTION' : 'note'}: ${i.setting}: ${i.message}\n`).join('')
}
