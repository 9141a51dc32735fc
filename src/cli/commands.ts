/**
 * hafwctl subcommands: one control connection, one request (or a subscription for --watch),
 * output through the injected writers so tests run them without a terminal.
 */
import { ControlClient, ControlClientError } from '../control/client.js'
import { DEFAULT_COMMIT_WAIT_MS } from '../control/protocol.js'
import type { ControlEvent, RequestBody, RouterPlanView, ServerMessage, Status } from '../control/protocol.js'
import type { Command } from './args.js'
import { applyEvent, EXIT, exitCodeOf, health } from './health.js'
import { renderCounters, renderEvent, renderState, renderVrrp } from './render.js'
import { renderConntrack, renderSync } from './render-sync.js'

export interface CliIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  /** Resolves on Ctrl-C (SIGINT) or SIGTERM: ends --watch. */
  readonly interrupted: Promise<void>
}

/** A connection that failed: busy (exit 5, hafwd runs and said "later") or unreachable (exit 4). */
function unreachable (io: CliIo, err: unknown): number {
  if (!(err instanceof ControlClientError)) throw err
  io.err(`hafwctl: ${err.message}\n`)
  return err.code === 'busy' ? EXIT.busy : EXIT.unreachable
}

/** Commands: hafwd refusing one (invalid file, conntrack off, already running) is exit 1, with the config issues listed. */
function refused (io: CliIo, err: unknown): number {
  if (!(err instanceof ControlClientError) || err.code !== 'server' || err.serverCode === null) return unreachable(io, err)
  if (err.serverCode === 'rateLimited') { io.err(`hafwctl: ${err.message}\n`); return EXIT.busy }
  io.err(`hafwctl: ${err.message}\n`)
  for (const i of err.issues) {
    const where = i.line === undefined ? '' : ` (line ${i.line}${i.column === undefined ? '' : `, column ${i.column}`})`
    io.err(`  ${i.path === '' ? '(file)' : i.path}${where}: ${i.message}\n`)
  }
  return EXIT.refused
}

/** The request of each command that is one request and one reply. */
function commandRequest (cmd: Command): RequestBody | null {
  switch (cmd.name) {
    case 'reload': return cmd.dryRun ? { type: 'reload', dryRun: true } : { type: 'reload' }
    case 'maintenance': return { type: 'maintenance', on: cmd.arg === 'on' }
    case 'commit': return { type: 'commit', waitMs: DEFAULT_COMMIT_WAIT_MS }
    case 'flush': return { type: 'flush', caches: cmd.arg === 'internal' || cmd.arg === 'external' ? cmd.arg : 'both' }
    case 'resync': return { type: 'resync' }
    case 'bulk': return { type: 'bulk' }
    case 'requestResync': return { type: 'requestResync' }
    default: return null
  }
}

/** A reload (or its dry run) router by router: restart and the keys why, in place and what. */
export function reloadPlanText (file: string, routers: readonly RouterPlanView[], notes: readonly string[], dryRun: boolean): string {
  const moved = routers.filter(r => r.change !== 'same')
  const lines = [dryRun
    ? `dry run of ${file}: valid; nothing applied. ${moved.length === 0 ? 'No router would change.' : 'Plan:'}`
    : `reloaded ${file}: ${moved.length === 0 ? 'no router changed' : `${moved.length} router(s) changed`}`]
  const verb = (r: RouterPlanView): string => {
    switch (r.change) {
      case 'restart': return `restart${dryRun ? 's' : 'ed'} (${r.restart.join(', ')} changed)${r.inPlace.length > 0 ? `; also ${r.inPlace.join('; ')}` : ''}`
      case 'inPlace': return `in place, no restart: ${r.inPlace.length > 0 ? r.inPlace.join('; ') : 'settings'}`
      case 'added': return dryRun ? 'added (would start as BACKUP)' : 'added'
      case 'removed': return dryRun ? 'removed (would leave: priority 0 if MASTER, VIPs removed)' : 'removed'
      default: return r.change
    }
  }
  for (const r of moved) lines.push(`  ${r.id}: ${verb(r)}`)
  const same = routers.length - moved.length
  if (same > 0) lines.push(`  ${same} router(s) unchanged`)
  for (const note of notes) lines.push(`note: ${note}`)
  return lines.join('\n') + '\n'
}

function commandText (m: ServerMessage): string {
  switch (m.type) {
    case 'reloaded': {
      if (m.routers !== undefined) return reloadPlanText(m.file, m.routers, m.notes, m.dryRun === true)
      const moved = m.changes.filter(c => c.change !== 'same')
      const lines = [`reloaded ${m.file}: ${moved.length === 0 ? 'no router changed' : moved.map(c => `${c.id} ${c.change}`).join(', ')}`]
      const same = m.changes.length - moved.length
      if (same > 0 && moved.length > 0) lines.push(`${same} router(s) unchanged`)
      for (const note of m.notes) lines.push(`note: ${note}`)
      return lines.join('\n') + '\n'
    }
    case 'maintenance':
      return m.on
        ? `maintenance ${m.changed ? 'on' : 'already on'}: every router of this node is held in FAULT, the peer takes over\n`
        : `maintenance ${m.changed ? 'off' : 'already off'}: routers back in service\n`
    case 'done':
      return `${m.message}\n`
    default:
      return `${m.type}\n`
  }
}

export async function runCommand (cmd: Command, socket: string, io: CliIo): Promise<number> {
  let client: ControlClient
  try {
    client = await ControlClient.connect({ socket }, { timeoutMs: cmd.timeoutMs })
  } catch (err) {
    return unreachable(io, err)
  }
  try {
    switch (cmd.name) {
      case 'state':
        return cmd.watch ? await watch(client, cmd.json, io) : await state(client, cmd.json, io)
      case 'showVrrp': {
        const s = await client.status()
        io.out(cmd.json ? `${JSON.stringify(s.routers, null, 2)}\n` : renderVrrp(s))
        return 0
      }
      case 'counters': {
        const c = await client.counters()
        io.out(cmd.json ? `${JSON.stringify(c, null, 2)}\n` : renderCounters(c))
        return 0
      }
      case 'conntrack': {
        const cache = cmd.arg === 'external' ? 'external' : 'internal'
        const entries = await client.dump(cache)
        io.out(cmd.json ? `${JSON.stringify(entries, null, 2)}\n` : renderConntrack(cache, entries))
        return 0
      }
      case 'showSync': {
        const m = await client.request('stats')
        if (m.type !== 'stats') throw new ControlClientError('protocol', `expected a stats reply, got ${m.type}`)
        io.out(cmd.json ? `${JSON.stringify({ conntrack: m.conntrack, counters: m.counters }, null, 2)}\n` : renderSync(m.conntrack, m.counters))
        return 0
      }
      case 'help':
      case 'checkConfig':
        return 0
      default: {
        const req = commandRequest(cmd)
        if (req === null) return 0
        // A commit waits for the kernel up to DEFAULT_COMMIT_WAIT_MS: give it that long.
        const m = await client.request(req, req.type === 'commit' ? Math.max(cmd.timeoutMs, DEFAULT_COMMIT_WAIT_MS + 5000) : Math.max(cmd.timeoutMs, 30_000))
        io.out(cmd.json ? `${JSON.stringify(m, null, 2)}\n` : commandText(m))
        return 0
      }
    }
  } catch (err) {
    return cmd.name === 'state' || cmd.name === 'showVrrp' || cmd.name === 'counters' ? unreachable(io, err) : refused(io, err)
  } finally {
    await client.close()
  }
}

async function state (client: ControlClient, json: boolean, io: CliIo): Promise<number> {
  const s = await client.status()
  io.out(json ? `${JSON.stringify(s, null, 2)}\n` : renderState(s))
  return exitCodeOf(health(s))
}

/**
 * Subscribe first, then take the snapshot: the server answers in order, so the events that
 * arrive before the status reply are already in the snapshot and are not printed again. Ends on
 * Ctrl-C with the exit code of the latest state, or with 4 when hafwd goes away.
 * With --json: the snapshot, then each event, one JSON document per line.
 */
async function watch (client: ControlClient, json: boolean, io: CliIo): Promise<number> {
  let current: Status | null = null
  const onEvent = (e: ControlEvent): void => {
    if (current === null) return
    current = applyEvent(current, e)
    io.out(json ? `${JSON.stringify(e)}\n` : renderEvent(e))
  }
  const closed = new Promise<ControlClientError>(resolve => { client.onClose(resolve) })
  await client.subscribe(onEvent)
  const s = await client.status()
  current = s
  io.out(json ? `${JSON.stringify(s)}\n` : `${renderState(s)}\nwatching for changes (Ctrl-C to stop)\n`)
  const end = await Promise.race([io.interrupted.then(() => null), closed])
  if (end !== null) return unreachable(io, end)
  return exitCodeOf(health(current))
}
