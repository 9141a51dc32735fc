/**
 * YAML text → typed Config, or every problem of the file at once (architecture decision 8:
 * nothing is applied from an invalid file). Pure: the caller reads the file.
 *
 * Order: YAML syntax (nothing else can be trusted when it fails) → schema (types, ranges, unknown
 * keys, defaults) and cross-key rules, both on the same parsed data so that one run reports all.
 */
import { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { crossCheck } from './cross-checks.js'
import { closest, formatPath, type ConfigIssue, type RawIssue } from './issue.js'
import { locate } from './locate.js'
import { configSchema, knownKeysAt, type Config } from './schema.js'

export type ValidateResult =
  | { readonly ok: true, readonly config: Config }
  | { readonly ok: false, readonly issues: ConfigIssue[] }

type ZodIssue = z.core.$ZodIssue

export interface ValidateOptions {
  /**
   * Checks of the world outside the text (e.g. hook-files.ts: the hook programs), run on a file
   * the schema accepted; their issues are located in the file like the others. Default: none (pure).
   */
  readonly systemChecks?: (config: Config) => RawIssue[]
}

/** Parse and validate a configuration file's text. */
export function validateConfigText (text: string, opts: ValidateOptions = {}): ValidateResult {
  const lc = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map(e => ({
        path: '',
        ...(e.linePos === undefined ? {} : { line: e.linePos[0].line, column: e.linePos[0].col }),
        // prettyErrors appends " at line L, column C:" and a source excerpt; the location is ours to print.
        message: `YAML syntax: ${(e.message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '')}`
      }))
    }
  }
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    return { ok: false, issues: [{ path: '', line: 1, column: 1, message: `YAML: ${(err as Error).message}` }] }
  }
  if (data === null || data === undefined) {
    return { ok: false, issues: [{ path: '', line: 1, column: 1, message: 'the file is empty; at least vrrp.instances is required' }] }
  }

  const raw: RawIssue[] = []
  const parsed = configSchema.safeParse(data, { reportInput: true })
  if (!parsed.success) for (const issue of parsed.error.issues) raw.push(...fromZod(issue, []))
  raw.push(...crossCheck(data))
  if (parsed.success && opts.systemChecks !== undefined) raw.push(...opts.systemChecks(parsed.data))

  if (parsed.success && raw.length === 0) return { ok: true, config: parsed.data }

  const seen = new Set<string>()
  const issues: ConfigIssue[] = []
  for (const r of raw) {
    const pos = locate(doc, lc, r.path)
    const issue: ConfigIssue = { path: formatPath(r.path), ...(pos === null ? {} : { line: pos.line, column: pos.column }), message: r.message }
    const key = `${issue.path}\0${issue.message}`
    if (seen.has(key)) continue
    seen.add(key)
    issues.push(issue)
  }
  // code-point order, not localeCompare: the daemon validates its config, and ICU's data costs
  // ~8 MiB of RSS once touched (runtime/stats.ts)
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return { ok: false, issues }
}

/** Show a scalar the way it was probably written. */
function show (v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v)
}

function isScalarInput (v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v)
}

const SECRET_KEYS: ReadonlySet<string> = new Set(['password', 'token'])

const EXPECTED: Readonly<Record<string, string>> = {
  object: 'a mapping (key: value)',
  array: 'a list',
  record: 'a mapping of names',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  int: 'an integer'
}

/** One zod issue → operator-facing issues with absolute paths (unknown keys: one per key). */
function fromZod (issue: ZodIssue, prefix: ReadonlyArray<PropertyKey>): RawIssue[] {
  const path = [...prefix, ...issue.path].map(seg => typeof seg === 'number' ? seg : String(seg))
  const input: unknown = (issue as { input?: unknown }).input
  // Secrets are never echoed back into logs or terminals.
  const secret = SECRET_KEYS.has(String(path[path.length - 1]))
  const got = isScalarInput(input) && input !== undefined && !secret ? ` (got ${show(input)})` : ''
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(path)
      return issue.keys.map(k => {
        const hint = closest(k, known)
        return { path: [...path, k], message: `unknown key${hint === null ? '' : ` (did you mean ${hint}?)`}` }
      })
    }
    case 'invalid_type':
      if (input === undefined) return [{ path, message: 'is required' }]
      if (isDefaultMessage(issue.message)) return [{ path, message: `must be ${EXPECTED[issue.expected] ?? issue.expected}${got}` }]
      return [{ path, message: issue.message + got }]
    case 'invalid_value':
      if (isDefaultMessage(issue.message)) return [{ path, message: `must be one of ${issue.values.map(show).join(', ')}${got}` }]
      return [{ path, message: issue.message + got }]
    case 'invalid_key': {
      // A bad name in a record: the inner issue says why.
      const inner = issue.issues[0]
      return [{ path, message: `invalid name: ${inner?.message ?? issue.message}` }]
    }
    case 'invalid_union': {
      // A union whose branches all rejected the value at its root: use the union's own message.
      return [{ path, message: (isDefaultMessage(issue.message) ? 'has an invalid value' : issue.message) + got }]
    }
    case 'too_small':
    case 'too_big':
      if (isDefaultMessage(issue.message)) {
        const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum
        const which = issue.code === 'too_small' ? 'at least' : 'at most'
        const what = issue.origin === 'array' ? ' entries' : issue.origin === 'string' ? ' characters' : ''
        return [{ path, message: `must be ${which} ${String(bound)}${what}${got}` }]
      }
      return [{ path, message: issue.message + got }]
    default:
      return [{ path, message: issue.message + got }]
  }
}

/** zod's built-in English messages start like this; ours never do. */
function isDefaultMessage (message: string): boolean {
  return /^(Invalid|Too (big|small)|Unrecognized)/.test(message)
}
