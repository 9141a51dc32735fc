// Shared by the import tests: run the importer on fixtures and check its output end to end.
import { readFileSync } from 'node:fs'
import { normalize, type Model, type RouterModel } from '../../../src/config/normalize.js'
import { validateConfigText } from '../../../src/config/validate.js'
import { allStatements, parseConf } from '../../../src/import/conf-parse.js'
import { importConfigs, type ImportResult } from '../../../src/import/import.js'

export const fixturePath = (name: string): string => new URL(`../../fixtures/import/${name}`, import.meta.url).pathname

export const fixture = (name: string): string => readFileSync(fixturePath(name), 'utf8')

export type Imported = Extract<ImportResult, { ok: true }>

/** Import a fixture pair (names without the .keepalived.conf / .conntrackd.conf suffix). */
export function importFixture (base: string, withConntrackd: boolean): Imported {
  const r = importConfigs({
    keepalived: { path: `${base}.keepalived.conf`, text: fixture(`${base}.keepalived.conf`) },
    ...(withConntrackd ? { conntrackd: { path: `${base}.conntrackd.conf`, text: fixture(`${base}.conntrackd.conf`) } } : {})
  })
  if (!r.ok) throw new Error(`parse error ${r.error.file}:${r.error.line}: ${r.error.message}`)
  return r
}

export function importText (keepalived: string, conntrackd?: string): ImportResult {
  return importConfigs({
    keepalived: { path: 'k.conf', text: keepalived },
    ...(conntrackd !== undefined ? { conntrackd: { path: 'c.conf', text: conntrackd } } : {})
  })
}

/** The whole written file (header included) through the real validator and normalize. */
export function modelOf (r: Imported): Model {
  const v = validateConfigText(r.yaml)
  if (!v.ok) throw new Error('output does not validate:\n' + v.issues.map(i => `${i.line ?? '?'}: ${i.path}: ${i.message}`).join('\n') + '\n' + r.yaml)
  return normalize(v.config)
}

export function router (m: Model, id: string): RouterModel {
  const r = m.routers.find(x => x.id === id)
  if (r === undefined) throw new Error(`no router ${id}; have ${m.routers.map(x => x.id).join(', ')}`)
  return r
}

/**
 * Every statement of the source files, counted independently of the importer (a fresh parse), as
 * "file:line words": the counting test checks each one is either translated or reported.
 */
export function sourceStatements (files: ReadonlyArray<{ path: string, text: string, comments: string }>): string[] {
  const out: string[] = []
  for (const f of files) {
    const r = parseConf(f.text, f.path, { commentChars: f.comments })
    if (!r.ok) throw new Error(r.error.message)
    for (const s of allStatements(r.stmts)) out.push(`${s.file}:${s.line} ${s.words.join(' ')}`)
  }
  return out
}
