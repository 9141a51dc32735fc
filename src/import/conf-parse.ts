/**
 * Tokenizer and block parser shared by keepalived.conf and conntrackd.conf: both are lines of
 * words, `{ ... }` blocks, and comments to the end of the line (`#` in both, `!` too in
 * keepalived). Pure: included files are read through a callback the caller provides.
 *
 * A statement is the words of one line up to a brace or the end of the line; a statement
 * followed by `{` owns the statements up to the matching `}`. Both styles of the field are
 * accepted: `vrrp_instance VI_1 {` and the brace alone on the next line, as well as one-line
 * blocks such as `group { VI_1 VI_2 }` (one statement with two words inside the block).
 */

export interface ConfStmt {
  /** Words of the statement, quotes removed; words[0] is the keyword. */
  readonly words: readonly string[]
  /** Which words were written in double quotes (a quoted word may hold spaces). */
  readonly quoted: readonly boolean[]
  readonly file: string
  readonly line: number
  /** The statements inside `{ }`; null when the statement has no block. */
  children: ConfStmt[] | null
  /** An include whose files were read and spliced in after it. */
  includeResolved?: true
}

export interface ParseError {
  readonly file: string
  readonly line: number
  readonly message: string
}

export type ParseResult =
  | { readonly ok: true, readonly stmts: ConfStmt[] }
  | { readonly ok: false, readonly error: ParseError }

export interface IncludedFile {
  readonly file: string
  readonly text: string
}

export interface ParseOptions {
  /** Characters that start a comment outside quotes. */
  readonly commentChars: string
  /**
   * keepalived `include` (and variants): the caller resolves the pattern relative to the including
   * file and returns the files in order, or null when it cannot (the statement then stays, for
   * the translator to report). Absent: includes are left as statements.
   */
  readonly readInclude?: (pattern: string, fromFile: string) => readonly IncludedFile[] | null
}

/** keepalived's include keywords (keepalived.conf(5) "include FILENAME" and its checked variants). */
export const INCLUDE_KEYWORDS: ReadonlySet<string> = new Set(['include', 'includer', 'includem', 'includew', 'includeb', 'includea'])

/** Nested includes deeper than this are treated as a loop. */
const MAX_INCLUDE_DEPTH = 8

interface Token {
  readonly kind: 'word' | 'open' | 'close'
  readonly text: string
  readonly quoted: boolean
}

/** Split one line into words and braces; an unterminated quote is an error. */
function tokenizeLine (line: string, commentChars: string): Token[] | string {
  const tokens: Token[] = []
  let i = 0
  let word = ''
  let inWord = false
  const flush = (): void => {
    if (inWord) tokens.push({ kind: 'word', text: word, quoted: false })
    word = ''
    inWord = false
  }
  while (i < line.length) {
    const c = line[i] as string
    if (c === '"') {
      flush()
      const end = line.indexOf('"', i + 1)
      if (end < 0) return 'unterminated quoted string'
      tokens.push({ kind: 'word', text: line.slice(i + 1, end), quoted: true })
      i = end + 1
      continue
    }
    if (commentChars.includes(c)) break
    if (c === '{' || c === '}') {
      flush()
      tokens.push({ kind: c === '{' ? 'open' : 'close', text: c, quoted: false })
    } else if (c === ' ' || c === '\t' || c === '\r') {
      flush()
    } else {
      word += c
      inWord = true
    }
    i++
  }
  flush()
  return tokens
}

interface Frame {
  readonly list: ConfStmt[]
  /** The statement that opened this block (null for the file level). */
  readonly owner: ConfStmt | null
}

/** Parse a whole file (and, through readInclude, what it includes). */
export function parseConf (text: string, file: string, options: ParseOptions): ParseResult {
  return parseInto(text, file, options, 0)
}

function parseInto (text: string, file: string, options: ParseOptions, depth: number): ParseResult {
  const root: ConfStmt[] = []
  const stack: Frame[] = [{ list: root, owner: null }]
  const lines = text.split('\n')
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1
    const tokens = tokenizeLine(lines[n] as string, options.commentChars)
    if (typeof tokens === 'string') return { ok: false, error: { file, line: lineNo, message: tokens } }
    let words: string[] = []
    let quoted: boolean[] = []
    const top = (): Frame => stack[stack.length - 1] as Frame
    const endStatement = (): ConfStmt | null => {
      if (words.length === 0) return null
      const stmt: ConfStmt = { words, quoted, file, line: lineNo, children: null }
      words = []
      quoted = []
      top().list.push(stmt)
      return stmt
    }
    for (const tok of tokens) {
      if (tok.kind === 'word') {
        words.push(tok.text)
        quoted.push(tok.quoted)
      } else if (tok.kind === 'open') {
        let owner = endStatement()
        if (owner === null) {
          // Brace on its own line: it opens the block of the statement just before.
          const list = top().list
          const prev = list[list.length - 1]
          if (prev === undefined || prev.children !== null) {
            return { ok: false, error: { file, line: lineNo, message: '"{" without a keyword before it' } }
          }
          owner = prev
        }
        owner.children = []
        stack.push({ list: owner.children, owner })
      } else {
        endStatement()
        if (stack.length === 1) return { ok: false, error: { file, line: lineNo, message: 'unexpected "}" (no block is open)' } }
        stack.pop()
      }
    }
    const stmt = endStatement()
    if (stmt !== null && INCLUDE_KEYWORDS.has(stmt.words[0] as string) && stmt.words.length === 2 && options.readInclude !== undefined) {
      if (depth >= MAX_INCLUDE_DEPTH) return { ok: false, error: { file, line: lineNo, message: `includes nested deeper than ${MAX_INCLUDE_DEPTH} (a loop?)` } }
      const files = options.readInclude(stmt.words[1] as string, file)
      if (files !== null) {
        for (const inc of files) {
          const r = parseInto(inc.text, inc.file, options, depth + 1)
          if (!r.ok) return r
          // The included statements take the include's place, in the block it was written in.
          top().list.push(...r.stmts)
        }
        // The include line stays too, so that the file:line accounting sees it.
        stmt.includeResolved = true
      }
    }
  }
  if (stack.length > 1) {
    const open = stack[stack.length - 1]?.owner as ConfStmt
    return { ok: false, error: { file, line: open.line, message: `block "${open.words.join(' ')}" opened here is never closed (missing "}")` } }
  }
  return { ok: true, stmts: root }
}

/** Every statement of a tree, depth first, in file order. */
export function allStatements (stmts: readonly ConfStmt[]): ConfStmt[] {
  const out: ConfStmt[] = []
  const walk = (list: readonly ConfStmt[]): void => {
    for (const s of list) {
      out.push(s)
      if (s.children !== null) walk(s.children)
    }
  }
  walk(stmts)
  return out
}

/** The statement as an operator would recognise it in the file (shortened). */
export function stmtText (stmt: ConfStmt): string {
  const text = stmt.words.map((w, i) => stmt.quoted[i] === true ? `"${w}"` : w).join(' ') + (stmt.children !== null ? ' { ... }' : '')
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
