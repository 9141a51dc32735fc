/**
 * The impure edge of the config area: read the file, then hand the text to the pure modules.
 * Used by `hafwd` at start-up, on reload, and by `hafwd --check-config FILE`.
 */
import { readFile } from 'node:fs/promises'
import { checkHookFiles } from './hook-files.js'
import { formatIssues, type ConfigIssue } from './issue.js'
import { normalize, type Model } from './normalize.js'
import type { Config } from './schema.js'
import { validateConfigText } from './validate.js'

export { formatIssue, formatIssues, type ConfigIssue } from './issue.js'

export type LoadResult =
  | { readonly ok: true, readonly model: Model, readonly config: Config }
  | { readonly ok: false, readonly issues: ConfigIssue[] }

/** Read, validate and normalize a configuration file. Never throws for a bad or missing file. */
export async function loadConfigFile (path: string): Promise<LoadResult> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    return { ok: false, issues: [{ path: '', message: `cannot read the file: ${e.code ?? ''}${e.code === undefined ? '' : ' '}${e.message}`.trim() }] }
  }
  // The hook programs are checked on the system (exists, executable, not writable by others).
  const r = validateConfigText(text, { systemChecks: config => checkHookFiles(config) })
  if (!r.ok) return r
  return { ok: true, model: normalize(r.config), config: r.config }
}

/** Keys whose values never appear in `--check-config` output. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['password', 'token'])

export interface CheckOptions {
  /** Print the normalized model (default true; `hafwd --check-config` only with --print). */
  readonly print?: boolean
  /** Add one line `<okLine>: FILE OK (4 routers, 1 sync group, conntrack sync on)` after it. */
  readonly okLine?: string
}

/**
 * `hafwd --check-config FILE`: exit 0 and the normalized model as JSON (secrets redacted), or
 * exit 1 and every issue as `FILE:LINE:COL: path: message`.
 */
export async function checkConfig (path: string, opts: CheckOptions = {}): Promise<{ exitCode: number, output: string }> {
  const r = await loadConfigFile(path)
  if (!r.ok) return { exitCode: 1, output: formatIssues(path, r.issues) }
  const ok = opts.okLine === undefined ? '' : `${opts.okLine}: ${path} OK (${modelSummary(r.model)})\n`
  if (opts.print === false) return { exitCode: 0, output: ok }
  const json = JSON.stringify(r.model, (key, value: unknown) => SECRET_KEYS.has(key) && typeof value === 'string' ? '<redacted>' : value, 2)
  return { exitCode: 0, output: json + '\n' + ok }
}

/** One line for `hafwd --check-config`: "4 routers, 1 sync group, conntrack sync on". */
export function modelSummary (m: Model): string {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
  const groups = m.syncGroups.filter(g => !g.implicit).length
  const parts = [plural(m.routers.length, 'router'), plural(groups, 'sync group'), `conntrack sync ${m.conntrack === null ? 'off' : 'on'}`]
  if (m.metrics !== null) parts.push(`metrics on ${m.metrics.listen.family === 'ipv6' ? `[${m.metrics.listen.host}]` : m.metrics.listen.host}:${m.metrics.listen.port}`)
  return parts.join(', ')
}
