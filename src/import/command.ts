/**
 * keepalived script lines → argv. keepalived 2.x runs a `script` by splitting it into words and
 * exec'ing the program directly; hafwd does the same (no shell). A line that needs a shell
 * (pipes, redirections, variables, globbing, `&&`, ...) only worked in keepalived because of an
 * explicit shell or a shell fallback, so it becomes ["/bin/sh", "-c", line] and is reported.
 */

/** Characters that only mean something to a shell. */
const SHELL_SYNTAX = /[|&;<>$`*?()[\]{}~\\]|^\s*[A-Za-z_][A-Za-z0-9_]*=/

export interface SplitCommand {
  readonly argv: string[]
  /** true: the line needs a shell and argv is ["/bin/sh", "-c", line]. */
  readonly viaShell: boolean
}

/** Split a command line into words; single and double quotes group words (no escapes). */
export function splitCommand (line: string): SplitCommand {
  const text = line.trim()
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: string | null = null
  for (const c of text) {
    if (quote !== null) {
      if (c === quote) quote = null
      else word += c
      continue
    }
    if (c === '\'' || c === '"') {
      quote = c
      inWord = true
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) words.push(word)
  // An unbalanced quote or shell syntax outside quotes: leave the whole line to a shell.
  const unquoted = text.replace(/'[^']*'|"[^"]*"/g, '')
  if (quote !== null || SHELL_SYNTAX.test(unquoted) || words.length === 0) {
    return { argv: ['/bin/sh', '-c', text], viaShell: true }
  }
  return { argv: words, viaShell: false }
}

/** conntrackd client options that primary-backup.sh uses (commit, flush, resync, bulk, request resync, shorten timers). */
const CONNTRACKD_ACTION = /(^|\s)-[cfRBnt](\s|$)/

/**
 * true when a notify script is conntrackd's glue: the shipped primary-backup.sh (any path) or a
 * direct `conntrackd ... -c|-f|-R|-B|-n|-t` call.
 */
export function callsConntrackd (line: string): boolean {
  if (/(^|\/|\s)primary-backup\.sh(\s|$)/.test(line)) return true
  return /(^|\/|\s)conntrackd(\s|$)/.test(line) && CONNTRACKD_ACTION.test(line)
}
