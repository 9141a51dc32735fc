/**
 * hafwd: the daemon entry. Parses argv, loads and validates the config (nothing is applied from an
 * invalid file), starts the runtime, and owns the signals:
 *   SIGTERM / SIGINT  priority-0 adverts, VIPs removed, exit 0 (RFC 5798 §6.4.3 Shutdown);
 *   SIGHUP            reload (runtime/commands.ts, as `hafwctl reload`).
 */
import { formatIssues } from '../config/issue.js'
import { packageVersion } from '../control/source.js'
import { runProgram } from '../io/run-program.js'
import { loadConfigInWorker } from '../runtime/config-loader.js'
import { createLogger } from '../runtime/log.js'
import { startDaemon, StartupError } from '../runtime/daemon.js'

export const DEFAULT_CONFIG = '/etc/hafw/hafw.yaml'

const USAGE = `usage: hafwd [-c|--config FILE]        run the daemon (default ${DEFAULT_CONFIG})
       hafwd --check-config FILE [--print]
                                         validate FILE: one OK line (exit 0) or every error
                                         with its key path and line (exit 1); --print also
                                         prints the normalized model (JSON, secrets redacted)
       hafwd --version | --help`

interface Args { mode: 'run' | 'check' | 'help' | 'version', config: string, print: boolean }

export function parseArgs (argv: readonly string[]): Args | string {
  const args: Args = { mode: 'run', config: DEFAULT_CONFIG, print: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const value = (): string | undefined => argv[++i]
    if (a === '-h' || a === '--help') args.mode = 'help'
    else if (a === '-V' || a === '--version') args.mode = 'version'
    else if (a === '--print') args.print = true
    else if (a === '-c' || a === '--config') { const v = value(); if (v === undefined) return `${a} needs a file`; args.config = v }
    else if (a === '--check-config') { const v = value(); if (v === undefined) return `${a} needs a file`; args.mode = 'check'; args.config = v }
    else if (a.startsWith('--config=')) args.config = a.slice('--config='.length)
    else if (a.startsWith('--check-config=')) { args.mode = 'check'; args.config = a.slice('--check-config='.length) }
    else return `unknown argument: ${a}`
  }
  if (args.print && args.mode !== 'check') return '--print goes with --check-config'
  return args
}

/** `hafwd 0.1.0`: the package version, as `--version` prints it and the start line logs it. */
export function versionLine (): string {
  return `hafwd ${packageVersion()}`
}

export async function main (argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv)
  if (typeof args === 'string') { process.stderr.write(`hafwd: ${args}\n${USAGE}\n`); return 2 }
  if (args.mode === 'help') { process.stdout.write(`${USAGE}\n`); return 0 }
  if (args.mode === 'version') { process.stdout.write(`${versionLine()}\n`); return 0 }
  if (args.mode === 'check') {
    // One OK line by default (ExecStartPre output in the journal); the model only on request.
    // In-process: this run exits right after, so zod and yaml need no thread of their own.
    const { checkConfig } = await import('../config/load.js')
    const r = await checkConfig(args.config, { print: args.print, okLine: 'hafwd' })
    ;(r.exitCode === 0 ? process.stdout : process.stderr).write(r.output)
    return r.exitCode
  }
  const loaded = await loadConfigInWorker(args.config)
  if (!loaded.ok) {
    process.stderr.write(formatIssues(args.config, loaded.issues))
    process.stderr.write(`hafwd: ${loaded.issues.length} error(s) in ${args.config}; nothing applied\n`)
    return 1
  }
  const log = createLogger(loaded.model.log.level)
  log.info({ version: packageVersion(), config: args.config, pid: process.pid }, `starting ${versionLine()} with ${args.config}`)
  let daemon
  try {
    daemon = await startDaemon({ model: loaded.model, log, configPath: args.config })
  } catch (err) {
    if (err instanceof StartupError) {
      log.fatal({ err: err.message }, 'refusing to start')
      process.stderr.write(`hafwd: refusing to start: ${err.message}\n`)
      return 1
    }
    throw err
  }
  // systemd Type=notify: report readiness once the routers have started (NotifyAccess=all lets
  // the systemd-notify helper speak for us).
  if (process.env.NOTIFY_SOCKET !== undefined) {
    await runProgram('systemd-notify', ['--ready', `--pid=${process.pid}`], { timeoutMs: 5000 })
  }
  return await new Promise<number>((resolve) => {
    let stopping = false
    const stop = (signal: string): void => {
      if (stopping) return
      stopping = true
      log.info({ signal }, 'stopping: priority-0 adverts, removing VIPs')
      daemon.stop().then(() => { log.info('stopped'); resolve(0) }, (err: unknown) => { log.error({ err: String(err) }, 'stop failed'); resolve(1) })
    }
    // `on`, not `once`: a second SIGTERM during the stop must not find node's default handler
    // (exit at once, before the priority-0 adverts are out).
    process.on('SIGTERM', () => { stop('SIGTERM') })
    process.on('SIGINT', () => { stop('SIGINT') })
    // SIGHUP: reload as a diff, the same way as `hafwctl reload` (runtime/commands.ts: one at a
    // time, logged). An invalid file, or one that does not fit the system, is refused as a whole
    // and the running configuration stays.
    process.on('SIGHUP', () => {
      daemon.commands.reload().catch((err: unknown) => { log.debug({ err: String(err) }, 'SIGHUP reload not applied') })
    })
  })
}
