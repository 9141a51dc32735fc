/**
 * Configuration problems, as reported to the operator: the key path, where it is in the file,
 * and what is wrong. `hafwd --check-config` prints them as `FILE:LINE:COL: path: message`.
 */

export interface ConfigIssue {
  /** Dotted key path, list indexes in brackets: `vrrp.instances.VI_OUT.virtualAddresses[1]`; '' for the file itself. */
  readonly path: string
  /** 1-based line of the offending node (for a missing key: of the mapping that lacks it). */
  readonly line?: number
  /** 1-based column of that node. */
  readonly column?: number
  readonly message: string
}

/** A problem found on the parsed data, before it is located in the file. */
export interface RawIssue {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

/** `vrrp.instances.VI_OUT.virtualAddresses[1]` */
export function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? String(seg) : `.${String(seg)}`
  }
  return out
}

/** One line per issue: `FILE:LINE:COL: path: message` (missing parts are left out). */
export function formatIssue (file: string, issue: ConfigIssue): string {
  let where = file
  if (issue.line !== undefined) where += `:${issue.line}`
  if (issue.line !== undefined && issue.column !== undefined) where += `:${issue.column}`
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`
}

/** All issues, one per line, with a trailing newline. */
export function formatIssues (file: string, issues: readonly ConfigIssue[]): string {
  return issues.map(i => formatIssue(file, i) + '\n').join('')
}

/** Closest candidate within a small edit distance, for "did you mean ...?" hints. */
export function closest (word: string, candidates: readonly string[]): string | null {
  let best: string | null = null
  let bestDist = Infinity
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestDist) { best = c; bestDist = d }
  }
  // Short words are within reach of anything; only hint when the typo is small relative to the word.
  const limit = word.length < 3 ? 0 : Math.max(1, Math.min(3, Math.floor(word.length / 3)))
  return best !== null && bestDist <= limit ? best : null
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("priorty"). */
function editDistance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1)
      ;(d[i] as number[])[j] = v
    }
  }
  return at(a.length, b.length)
}
