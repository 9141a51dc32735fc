// The config modules are pure (no node:* imports, no clock), except load.ts, gen-schema.ts and hook-files.ts.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { repoFile } from './helpers.js'

// hook-files.ts stats the hook programs (run from load.ts only).
const IMPURE = new Set(['load.ts', 'gen-schema.ts', 'hook-files.ts'])

t.test('pure config modules import no node:* and read no clock', async t => {
  const dir = repoFile('src/config')
  const files = readdirSync(dir).filter(f => f.endsWith('.ts') && !IMPURE.has(f))
  t.ok(files.length >= 8, files.join(' '))
  for (const f of files) {
    const src = readFileSync(`${dir}/${f}`, 'utf8')
    t.notMatch(src, /from ['"](node:|fs|path|os)/, `${f}: no node imports`)
    t.notMatch(src, /Date\.now|new Date|performance\.|setTimeout|setInterval|process\./, `${f}: no clock, timers or process`)
  }
})
