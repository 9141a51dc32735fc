/**
 * Small process helpers for the lab, the e2e tests and the benchmarks: run a command (in a
 * namespace), fail loudly with its stderr.
 */
import { execa } from 'execa'

export async function sh (cmd: string, args: readonly string[], opts: { allowFail?: boolean, timeoutMs?: number } = {}): Promise<string> {
  const r = await execa(cmd, args, { reject: false, timeout: opts.timeoutMs ?? 20_000 })
  if (r.exitCode !== 0 && opts.allowFail !== true) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${String(r.exitCode)}): ${String(r.stderr).trim()}`)
  }
  return String(r.stdout)
}

/** Run `cmd args` inside network namespace `ns`. */
export async function nsExec (ns: string, cmd: string, args: readonly string[], opts: { allowFail?: boolean, timeoutMs?: number } = {}): Promise<string> {
  return await sh('ip', ['netns', 'exec', ns, cmd, ...args], opts)
}
