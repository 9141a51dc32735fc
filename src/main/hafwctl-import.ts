/**
 * `hafwctl import --keepalived keepalived.conf [--conntrackd conntrackd.conf] [-o out.yaml]`:
 * reads the files (and keepalived includes, relative to the including file), runs the pure
 * translator (src/import) and writes the hafw YAML — to the -o file or stdout — with the report as
 * its header comment; the report also goes to stderr. Exit 0: everything translated; 1: some
 * settings need attention (the file is still written); 2: a source file does not parse; 64: usage.
 *
 * Runnable on its own as `node dist/main/hafwctl-import.js ...` until hafwctl dispatches to it.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { IncludedFile } from '../import/conf-parse.js'
import { formatReport, importConfigs } from '../import/import.js'

export const IMPORT_USAGE = `usage: hafwctl import --keepalived FILE [--conntrackd FILE] [-o OUT.yaml]

Translates a keepalived.conf (and the conntrackd.conf of the same node) into a hafw
configuration. Every setting that is not translated, or translated with a change, is
listed with its file:line in the header of the output and on stderr.

  -k, --keepalived FILE   keepalived.conf of this node (required)
  -C, --conntrackd FILE   conntrackd.conf of this node (conntrack sync stays off without it)
  -o, --output FILE       write the YAML here (default: stdout)
  -h, --help

exit status: 0 everything translated, 1 some settings need attention (the file is still
written), 2 a source file does not parse (file:line on stderr), 64 usage error.
`

export interface ImportIo {
  out: (text: string) => void
  err: (text: string) => void
}

const defaultIo: ImportIo = {
  out: (text) => { process.stdout.write(text) },
  err: (text) => { process.stderr.write(text) }
}

interface ImportArgs {
  keepalived: string
  conntrackd: string | null
  output: string | null
}

function parseImportArgs (argv: readonly string[]): ImportArgs | 'help' | string {
  const args = argv[0] === 'import' ? argv.slice(1) : [...argv]
  let keepalived: string | null = null
  let conntrackd: string | null = null
  let output: string | null = null
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    const eq = a.indexOf('=')
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined]
    const value = (): string | null => {
      if (inline !== undefined) return inline
      const v = args[i + 1]
      if (v === undefined) return null
      i++
      return v
    }
    switch (flag) {
      case '-h': case '--help': return 'help'
      case '-k': case '--keepalived': keepalived = value(); if (keepalived === null) return `${flag} needs a file`; break
      case '-C': case '--conntrackd': conntrackd = value(); if (conntrackd === null) return `${flag} needs a file`; break
      case '-o': case '--output': output = value(); if (output === null) return `${flag} needs a file`; break
      default: return `unknown argument ${a}`
    }
  }
  if (keepalived === null) return '--keepalived FILE is required'
  return { keepalived, conntrackd, output }
}

/** Glob with * and ? in the last path component only (what keepalived include files use in practice). */
function readInclude (pattern: string, fromFile: string): IncludedFile[] | null {
  const full = isAbsolute(pattern) ? pattern : resolve(dirname(fromFile), pattern)
  try {
    if (!/[*?]/.test(basename(full))) return [{ file: full, text: readFileSync(full, 'utf8') }]
    if (/[*?[]/.test(dirname(full))) return null
    const re = new RegExp('^' + basename(full).replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$')
    return readdirSync(dirname(full)).filter(n => re.test(n)).sort().map(n => {
      const file = join(dirname(full), n)
      return { file, text: readFileSync(file, 'utf8') }
    })
  } catch {
    return null
  }
}

export async function runImport (argv: readonly string[], io: ImportIo = defaultIo): Promise<number> {
  const args = parseImportArgs(argv)
  if (args === 'help') {
    io.out(IMPORT_USAGE)
    return 0
  }
  if (typeof args === 'string') {
    io.err(`hafwctl import: ${args}\n${IMPORT_USAGE.split('\n')[0] ?? ''}\n`)
    return 64
  }
  const read = (path: string): string | null => {
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      io.err(`hafwctl import: cannot read ${path}: ${(err as Error).message}\n`)
      return null
    }
  }
  const ka = read(args.keepalived)
  if (ka === null) return 64
  const ct = args.conntrackd === null ? null : read(args.conntrackd)
  if (args.conntrackd !== null && ct === null) return 64

  const r = importConfigs({
    keepalived: { path: args.keepalived, text: ka },
    ...(args.conntrackd !== null && ct !== null ? { conntrackd: { path: args.conntrackd, text: ct } } : {}),
    readInclude
  })
  if (!r.ok) {
    io.err(`${r.error.file}:${r.error.line}: ${r.error.message}\nhafwctl import: nothing written\n`)
    return r.exitCode
  }
  if (args.output !== null) {
    try {
      writeFileSync(args.output, r.yaml, { mode: 0o600 })
    } catch (err) {
      io.err(`hafwctl import: cannot write ${args.output}: ${(err as Error).message}\n`)
      return 64
    }
  } else {
    io.out(r.yaml)
  }
  io.err(formatReport(r.items))
  const attention = r.items.filter(i => i.kind === 'attention').length
  io.err(`hafwctl import: ${args.output ?? 'stdout'}: ${attention === 0 ? 'every setting translated' : `${attention} setting(s) need attention`}, ${r.items.length - attention} note(s)\n`)
  return r.exitCode
}

/* c8 ignore start */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runImport(process.argv.slice(2)).then(code => {
    process.stdout.write('', () => { process.exit(code) })
  }, (err: unknown) => {
    process.stderr.write(`hafwctl import: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(70)
  })
}
/* c8 ignore stop */
