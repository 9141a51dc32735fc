/**
 * hafwctl subcommands: one control connection, one request (or a subscription for --watch),
 * output through the injected writers so tests run them without a terminal.
 */
import { ControlClient, ControlClientError } from '../control/client.js'
import type { ControlEvent, Status } from '../control/protocol.js'
import type { Command } from './args.js'
import { applyEvent, EXIT, exitCodeOf, health } from './health.js'
import { renderCounters, renderEvent, renderState, renderVrrp } from './render.js'

export interface CliIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  /** Resolves on Ctrl-C (SIGINT) or SIGTERM: ends --watch. */
  readonly interrupted: Promise<void>
}

function unreachable (io: CliIo, err: unknown): number {
  if (!(err instanceof ControlClientError)) throw err
  io.err(`hafwctl: ${err.message}\n`)
  return EXIT.unreachable
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
      case 'help':
        return 0
    }
  } catch (err) {
    return unreachable(io, err)
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
