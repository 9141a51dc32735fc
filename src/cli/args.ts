/**
 * hafwctl command line → a Command, or a usage error sentence. Options may come before or after
 * the command words.
 */
import { DEFAULT_TIMEOUT_MS } from '../control/client.js'

export const DEFAULT_SOCKET = '/run/hafw/hafwd.sock'

export type CommandName =
  | 'state' | 'showVrrp' | 'counters' | 'help'
  | 'reload' | 'maintenance' | 'commit' | 'flush' | 'resync' | 'bulk' | 'requestResync'
  | 'conntrack' | 'showSync' | 'checkConfig'

export interface Command {
  readonly name: CommandName
  /**
   * The command's argument: maintenance 'on'|'off'; flush 'internal'|'external'|'both';
   * conntrack 'internal'|'external'; check-config the file. null for the others.
   */
  readonly arg: string | null
  readonly json: boolean
  readonly watch: boolean
  /** reload --dry-run: validate and print the plan, apply nothing. */
  readonly dryRun: boolean
  /** -s: socket path; null: from -c, else DEFAULT_SOCKET. */
  readonly socket: string | null
  /** -c: config file whose control.socket is used. */
  readonly config: string | null
  readonly timeoutMs: number
}

export function parseArgs (argv: readonly string[]): Command | string {
  let json = false
  let watch = false
  let dryRun = false
  let socket: string | null = null
  let config: string | null = null
  let timeoutMs = DEFAULT_TIMEOUT_MS
  let help = false
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const eq = a.startsWith('--') ? a.indexOf('=') : -1
    const flag = eq > 0 ? a.slice(0, eq) : a
    const inline = eq > 0 ? a.slice(eq + 1) : undefined
    const value = (): string | null => {
      const v = inline ?? argv[++i]
      return v === undefined || v === '' ? null : v
    }
    switch (flag) {
      case '--': words.push(...argv.slice(i + 1)); i = argv.length; break
      case '-h': case '--help': help = true; break
      case '--json': json = true; break
      case '-w': case '--watch': watch = true; break
      case '-n': case '--dry-run': dryRun = true; break
      case '-s': case '--socket': {
        const v = value()
        if (v === null) return `${flag} needs a socket path`
        socket = v
        break
      }
      case '-c': case '--config': {
        const v = value()
        if (v === null) return `${flag} needs a config file`
        config = v
        break
      }
      case '-t': case '--timeout': {
        const v = value()
        const ms = v === null ? NaN : Number(v)
        if (!Number.isInteger(ms) || ms <= 0) return `${flag} needs a positive number of milliseconds`
        timeoutMs = ms
        break
      }
      default:
        if (a.startsWith('-')) return `unknown option ${a}`
        words.push(a)
    }
  }
  if (socket !== null && config !== null) return '-s and -c are exclusive: give the socket, or the config file that names it'
  const base = { json, watch, dryRun, socket, config, timeoutMs, arg: null }
  if (help || words.length === 0 || (words.length === 1 && words[0] === 'help')) return { ...base, name: 'help' }
  const cmd = command(words)
  if (typeof cmd === 'string') return cmd
  if (watch && cmd.name !== 'state') return '--watch goes with state only'
  if (dryRun && cmd.name !== 'reload') return '--dry-run goes with reload only'
  return { ...base, ...cmd }
}

/** Command words without an argument. */
const PLAIN: Readonly<Record<string, CommandName>> = {
  state: 'state',
  'show vrrp': 'showVrrp',
  'show sync': 'showSync',
  counters: 'counters',
  reload: 'reload',
  commit: 'commit',
  flush: 'flush',
  resync: 'resync',
  bulk: 'bulk',
  'request-resync': 'requestResync'
}

function command (words: readonly string[]): { name: CommandName, arg: string | null } | string {
  const line = words.join(' ')
  const plain = PLAIN[line]
  if (plain !== undefined) return { name: plain, arg: plain === 'flush' ? 'both' : null }
  const [first, second, ...rest] = words
  if (first === 'check-config' && second === undefined) return 'check-config needs a file'
  if (second === undefined || rest.length > 0) return `unknown command "${line}"`
  switch (first) {
    case 'maintenance':
      return second === 'on' || second === 'off' ? { name: 'maintenance', arg: second } : 'maintenance takes on or off'
    case 'flush':
      return second === 'internal' || second === 'external' || second === 'both' ? { name: 'flush', arg: second } : 'flush takes internal, external or both (default both)'
    case 'conntrack':
      return second === 'internal' || second === 'external' ? { name: 'conntrack', arg: second } : 'conntrack takes internal or external'
    case 'check-config':
      return { name: 'checkConfig', arg: second }
    default:
      return `unknown command "${line}"`
  }
}
