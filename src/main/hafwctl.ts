/**
 * hafwctl: the command line client of hafwd's control API (architecture decision 9). argv →
 * one request over the unix socket → text for a person (or --json) and an exit code for scripts.
 */
import { parseArgs, DEFAULT_SOCKET } from '../cli/args.js'
import type { Command } from '../cli/args.js'
import { runCommand } from '../cli/commands.js'
import type { CliIo } from '../cli/commands.js'
import { EXIT } from '../cli/health.js'
import { DEFAULT_TIMEOUT_MS } from '../control/client.js'
import { packageVersion } from '../control/source.js'

export type { CliIo }

export const USAGE = `usage: hafwctl [-s SOCKET | -c CONFIG] [-t MS] COMMAND

commands:
  state [--json] [--watch]  this node at a glance: sync groups and routers (state, priority,
                            master, advert interval, VIPs, last transition), faults, drops.
                            --json prints the raw status snapshot; --watch then prints one line
                            per state change until Ctrl-C (with --json: one JSON per line).
                            With conntrack on, a line sums up the sync: peer, cache sizes,
                            startup bulk state, last commit.
  show vrrp [--json]        every VRRP router in detail, with all its counters
  show sync [--json]        conntrack sync: FTFW peer, sequence numbers, ACK/NACK/RESYNC
                            counters, bulk state, last commit and its duration, cache sizes
  counters [--json]         the daemon's runtime counters (frames, drops by reason, effects)
  conntrack internal|external [--json]
                            the internal cache (this node's kernel table, as replicated) or
                            the external cache (the peer's), one line per entry: protocol,
                            state, original tuple, timeout, NAT, mark, age (conntrackd -i/-e)

  reload [--dry-run]        re-read hafwd's configuration file and apply it as a diff
                            (untouched routers keep their state; priority, VIPs, tracking
                            change in place; interface/VRID/version/source restart); an
                            invalid file is refused with each problem's key path and line,
                            and nothing is applied. --dry-run (-n): validate and print the
                            plan (which routers restart and why, what changes in place),
                            apply nothing
  maintenance on|off        on: every router of this node leaves service (FAULT; a MASTER
                            sends priority 0 so the peer takes over at once) and stays out
                            until "maintenance off"
  commit                    commit the external cache into the kernel (conntrackd -c)
  flush [internal|external] flush a conntrack cache, both by default (conntrackd -f)
  resync                    resync the internal cache from the kernel table (conntrackd -R)
  bulk                      send the whole internal cache to the peer (conntrackd -B)
  request-resync            ask the peer for its whole table (conntrackd -n)
  import --keepalived FILE [--conntrackd FILE] [-o OUT]
                            write an equivalent hafw config from keepalived.conf (and
                            conntrackd.conf), with a file:line report of what was not
                            translated as is (exit 0 all translated, 1 needs attention, 2 parse
                            error)
  check-config FILE         validate FILE as hafwd does (hafwd --check-config): the normalized
                            model, or each problem as FILE:LINE:COL: key.path: message
  help                      this text

options:
  -s, --socket PATH   control socket of hafwd (default ${DEFAULT_SOCKET})
  -c, --config FILE   use the control.socket of this hafwd config file
  -t, --timeout MS    give up on an unresponsive hafwd after MS ms (default ${DEFAULT_TIMEOUT_MS})
  -h, --help
  -V, --version       print "hafwctl VERSION" and exit 0

exit status of state (for health checks; with --watch, of the last state seen):
  0   every sync group and router of this node is MASTER
  1   all are BACKUP, none in FAULT
  2   at least one is in FAULT (so is every router while maintenance is on)
  3   mixed: some MASTER and some BACKUP, or not started yet
  4   hafwd unreachable: not running, permission denied (run as root), no answer
  5   hafwd busy: it runs but refused this client now (HTTP 503: every control connection
      is held by a watcher or a running command; or over the request budget); try again
  64  usage error (bad arguments, or an invalid -c config file)
other commands: 0 done, 1 refused by hafwd (invalid file, conntrack off, ...) or an invalid
check-config FILE, 4 unreachable, 5 busy, 64 usage.
`

async function socketOf (cmd: Command, io: CliIo): Promise<string | null> {
  if (cmd.socket !== null) return cmd.socket
  if (cmd.config === null) return DEFAULT_SOCKET
  const { formatIssues, loadConfigFile } = await import('../config/load.js')
  const loaded = await loadConfigFile(cmd.config)
  if (loaded.ok) return loaded.model.control.socket
  io.err(formatIssues(cmd.config, loaded.issues))
  io.err(`hafwctl: cannot take control.socket from ${cmd.config}: the file is not a valid hafwd configuration\n`)
  return null
}

export async function main (argv: readonly string[], io: CliIo): Promise<number> {
  // `hafwctl import …` needs no daemon: migration from keepalived.conf + conntrackd.conf.
  // The config validator (zod schema) and the importer are loaded only by the commands that use
  // them: they were two thirds of every hafwctl start-up (~0.3 s), and `hafwctl state` needs
  // neither.
  if (argv[0] === 'import') {
    const { runImport } = await import('./hafwctl-import.js')
    return await runImport(argv, { out: (s) => { io.out(s) }, err: (s) => { io.err(s) } })
  }
  if (argv.includes('--version') || argv.includes('-V')) {
    io.out(`hafwctl ${packageVersion()}\n`)
    return 0
  }
  const cmd = parseArgs(argv)
  if (typeof cmd === 'string') {
    io.err(`hafwctl: ${cmd}\n${USAGE.split('\n')[0] ?? ''}\nhafwctl --help for the commands and exit codes\n`)
    return EXIT.usage
  }
  if (cmd.name === 'help') {
    io.out(USAGE)
    return 0
  }
  if (cmd.name === 'checkConfig') {
    const { checkConfig } = await import('../config/load.js')
    const r = await checkConfig(cmd.arg ?? '')
    ;(r.exitCode === 0 ? io.out : io.err)(r.output)
    return r.exitCode
  }
  const socket = await socketOf(cmd, io)
  if (socket === null) return EXIT.usage
  return await runCommand(cmd, socket, io)
}
