/**
 * The file-system half of notify hook validation: the program of every hook (argv[0]) must exist,
 * be an executable regular file, and be safe to run as root. Impure (stat), so it runs from
 * load.ts, at start, on reload and in `hafwd --check-config`, never in the pure validate.ts.
 *
 * "Safe" follows keepalived's enable_script_security (keepalived.conf(5)): a script run as root
 * must not be replaceable by another user. Refused: the file, or any directory on its path,
 * writable by others; a file owned by another user than root or us. A world-writable directory
 * with the sticky bit (/tmp) is allowed only when the entry below it is owned by root or us: others
 * cannot rename or remove it there. keepalived only disables an unsafe script; hafw refuses the
 * file with the key path, since a transition silently missing its hook is worse than a refused start.
 */
import { realpathSync, statSync, type Stats } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { RawIssue } from './issue.js'
import type { Config, NotifyConfig } from './schema.js'

/** Mode bits: write for others, and the sticky bit (restricted deletion, as on /tmp). */
const WORLD_WRITABLE = 0o002
const STICKY = 0o1000

const HOOKS = ['master', 'backup', 'fault', 'stop', 'any'] as const

export interface HookFileOptions {
  /** stat that follows links (tests pass a fake). */
  readonly stat?: (path: string) => Stats
  /** Resolves symbolic links (tests pass a fake). */
  readonly realpath?: (path: string) => string
  /** The uid hafwd runs as; default: this process's. */
  readonly uid?: number
}

/** Every unusable or unsafe hook program of the file, with its key path (`…notify.master[0]`). */
export function checkHookFiles (config: Config, opts: HookFileOptions = {}): RawIssue[] {
  const issues: RawIssue[] = []
  const check = (notify: NotifyConfig | undefined, at: Array<string | number>): void => {
    if (notify === undefined) return
    for (const hook of HOOKS) {
      const program = notify[hook]?.[0]
      if (program === undefined) continue
      const message = hookProgramProblem(program, opts)
      if (message !== null) issues.push({ path: [...at, 'notify', hook, 0], message })
    }
  }
  for (const [name, inst] of Object.entries(config.vrrp.instances)) check(inst.notify, ['vrrp', 'instances', name])
  for (const [name, g] of Object.entries(config.vrrp.syncGroups)) check(g.notify, ['vrrp', 'syncGroups', name])
  return issues
}

/** Why this program cannot be a hook, or null when it can. */
export function hookProgramProblem (program: string, opts: HookFileOptions = {}): string | null {
  const real = opts.realpath ?? ((p: string) => realpathSync(p))
  let path: string
  try {
    path = real(resolve(program))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? `${program} does not exist` : `cannot check ${program}: ${code ?? String(err)}`
  }
  // A symbolic link: the directories holding the link matter as much as the target's.
  const viaLink = path === resolve(program) ? null : directoryProblem(resolve(program), program, opts)
  return viaLink ?? fileProblem(path, program, opts)
}

function fileProblem (path: string, program: string, opts: HookFileOptions): string | null {
  const stat = opts.stat ?? ((p: string) => statSync(p))
  const uid = opts.uid ?? (typeof process.getuid === 'function' ? process.getuid() : 0)
  let st: Stats
  try {
    st = stat(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? `${program} does not exist` : `cannot check ${program}: ${code ?? String(err)}`
  }
  if (!st.isFile()) return `${program} is not a regular file`
  if ((st.mode & 0o111) === 0) return `${program} is not executable (chmod +x)`
  const trusted = (owner: number): boolean => owner === 0 || owner === uid
  if (!trusted(st.uid)) return `unsafe: ${program} is owned by uid ${st.uid}, not root: that user could change what hafwd runs as root`
  if ((st.mode & WORLD_WRITABLE) !== 0) return `unsafe: ${program} is writable by every user (chmod o-w)`
  return directoryProblem(path, program, opts)
}

function directoryProblem (path: string, program: string, opts: HookFileOptions): string | null {
  const stat = opts.stat ?? ((p: string) => statSync(p))
  const uid = opts.uid ?? (typeof process.getuid === 'function' ? process.getuid() : 0)
  const trusted = (owner: number): boolean => owner === 0 || owner === uid
  // Walk up: a directory others can write lets them swap the entry below it.
  let below = path
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    let d: Stats
    try {
      d = stat(dir)
    } catch (err) {
      return `cannot check ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`
    }
    if ((d.mode & WORLD_WRITABLE) !== 0) {
      const sticky = (d.mode & STICKY) !== 0
      let belowOwner: number
      try { belowOwner = stat(below).uid } catch { belowOwner = -1 }
      if (!sticky || !trusted(belowOwner)) return `unsafe: ${dir} is writable by every user, so ${program} could be replaced (keepalived enable_script_security)`
    } else if (!trusted(d.uid)) {
      return `unsafe: ${dir} is owned by uid ${d.uid}, not root: that user could replace ${program}`
    }
    if (dir === dirname(dir)) return null
    below = dir
  }
}
