/**
 * hafwctl command line → a Command, or a usage error sentence. Options may come before or after
 * the command words.
 */
import { DEFAULT_TIMEOUT_MS } from '../control/client.js'

export const DEFAULT_SOCKET = '/run/hafw/hafwd.sock'

export type CommandName = 'state' | 'showVrrp' | 'counters' | 'help'

export interface Command {
  readonly name: CommandName
  readonly json: boolean
  readonly watch: boolean
  /** -s: socket path; null: from -c, else DEFAULT_SOCKET. */
  readonly socket: string | null
  /** -c: config file whose control.socket is used. */
  readonly config: string | null
  readonly timeoutMs: number
}

export function parseArgs (argv: readonly string[]): Command | string {
  let json = false
  let watch = false
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
      case '-h': case '--help': help = true; break
      case '--json': json = true; break
      case '-w': case '--watch': watch = true; break
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
  const base = { json, watch, socket, config, timeoutMs }
  if (help || words.length === 0 || (words.length === 1 && words[0] === 'help')) return { ...base, name: 'help' }
  const line = words.join(' ')
  let name: CommandName
  if (line === 'state') name = 'state'
  else if (line === 'show vrrp') name = 'showVrrp'
  else if (line === 'counters') name = 'counters'
  else return `unknown command "${line}"`
  if (watch && name !== 'state') return '--watch goes with state only'
  return { ...base, name }
}
