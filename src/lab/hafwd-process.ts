/**
 * Start and stop hafwd inside a lab namespace. Only the process started here is ever signalled,
 * by its PID.
 */
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const HAFWD = fileURLToPath(new URL('../main/hafwd-bin.js', import.meta.url))

export interface HafwdProcess {
  readonly pid: number
  readonly logFile: string
  readonly proc: ResultPromise
  /** Signal and wait for exit; resolves with the exit code (null when killed by a signal). */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export function startHafwd (ns: string, configText: string, dir: string, name: string): HafwdProcess {
  mkdirSync(dir, { recursive: true })
  const configFile = join(dir, `${name}.yaml`)
  const logFile = join(dir, `${name}.log`)
  writeFileSync(configFile, configText)
  const proc = execa('ip', ['netns', 'exec', ns, process.execPath, HAFWD, '-c', configFile], {
    reject: false,
    stdin: 'ignore',
    stdout: { file: logFile, append: true },
    stderr: { file: logFile, append: true }
  })
  const pid = proc.pid
  if (pid === undefined) throw new Error(`cannot start hafwd in ${ns}`)
  return {
    pid,
    logFile,
    proc,
    stop: async (signal = 'SIGTERM') => {
      // `ip netns exec` execs the command, so this PID is hafwd itself.
      if (proc.exitCode === undefined || proc.exitCode === null) proc.kill(signal)
      const r = await proc
      return r.exitCode ?? null
    }
  }
}
