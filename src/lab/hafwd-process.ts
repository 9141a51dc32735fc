/**
 * Start and stop hafwd inside a lab namespace. Only the process started here is ever signalled,
 * by its PID.
 */
import { HAFWD_ENV, HAFWD_NODE_FLAGS } from '../main/node-flags.js'
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (the nearest folder with package.json), from src/ or dist/ alike. */
export function repoRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the hafw repository root')
    dir = up
  }
  return dir
}

/** The built daemon (npm run build: the bundle in dist/daemon); tests and the lab run what users run. */
export function hafwdEntry (): string {
  const entry = join(repoRoot(), 'dist', 'daemon', 'hafwd-bin.js')
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build`)
  return entry
}

export interface HafwdProcess {
  readonly pid: number
  readonly logFile: string
  readonly configFile: string
  readonly proc: ResultPromise
  /** Send a signal without waiting (e.g. SIGHUP to reload). */
  signal: (signal: NodeJS.Signals) => void
  /** Signal and wait for exit; resolves with the exit code (null when killed by a signal). */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/**
 * Extra node flags for every hafwd the lab and the benches start, from HAFW_LAB_NODE_FLAGS
 * (space-separated), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a bench's daemons
 * (each thread writes its own profile at exit).
 */
function labNodeFlags (): string[] {
  return (process.env.HAFW_LAB_NODE_FLAGS ?? '').split(' ').filter(f => f !== '')
}

export function startHafwd (ns: string, configText: string, dir: string, name: string): HafwdProcess {
  mkdirSync(dir, { recursive: true })
  const configFile = join(dir, `${name}.yaml`)
  const logFile = join(dir, `${name}.log`)
  writeFileSync(configFile, configText)
  const proc = execa('ip', ['netns', 'exec', ns, process.execPath, ...HAFWD_NODE_FLAGS, ...labNodeFlags(), hafwdEntry(), '-c', configFile], {
    reject: false,
    env: HAFWD_ENV,
    stdin: 'ignore',
    stdout: { file: logFile, append: true },
    stderr: { file: logFile, append: true }
  })
  const pid = proc.pid
  if (pid === undefined) throw new Error(`cannot start hafwd in ${ns}`)
  return {
    pid,
    logFile,
    configFile,
    proc,
    signal: (signal) => { proc.kill(signal) },
    stop: async (signal = 'SIGTERM') => {
      // `ip netns exec` execs the command, so this PID is hafwd itself.
      if (proc.exitCode === undefined || proc.exitCode === null) proc.kill(signal)
      const r = await proc
      return r.exitCode ?? null
    }
  }
}
