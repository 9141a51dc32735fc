// Architecture decision 1: src/core and src/codec are pure. This test reads every module there and
// fails on node:* / builtin imports, imports of the imperative layers, clocks, timers, process
// access and module-level mutable state.
import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const BUILTINS = ['fs', 'path', 'os', 'net', 'dgram', 'child_process', 'events', 'crypto', 'timers', 'util', 'process', 'url', 'http', 'https', 'stream', 'worker_threads']

function walk (dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : []
  })
}

/** Every rule broken by one module's source text; exported logic kept here so it is tested below. */
function violations (src: string): string[] {
  const found: string[] = []
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
  const specs = [
    ...code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)
  ].map(m => m[1] as string)
  for (const spec of specs) {
    if (spec.startsWith('node:') || BUILTINS.includes(spec)) found.push(`imports ${spec}`)
    if (/(^|\/)(io|runtime|control|cli|main|config)\//.test(spec) && spec.startsWith('.')) found.push(`imports imperative layer ${spec}`)
    if (!spec.startsWith('.') && !spec.startsWith('node:') && !BUILTINS.includes(spec)) found.push(`imports package ${spec}`)
  }
  if (/\bDate\.now\b|\bnew Date\b|\bperformance\.|\bprocess\.hrtime/.test(code)) found.push('reads a clock')
  if (/\b(setTimeout|setInterval|setImmediate)\s*\(/.test(code)) found.push('arms a timer')
  if (/\bprocess\./.test(code)) found.push('touches process')
  if (/^let\s|^var\s/m.test(code)) found.push('module-level mutable binding')
  return found
}

t.test('the checker catches what it must (it can fail)', async t => {
  t.same(violations("import { readFileSync } from 'node:fs'"), ['imports node:fs'])
  t.same(violations("import { x } from '../io/ports.js'"), ['imports imperative layer ../io/ports.js'])
  t.same(violations('const n = Date.now()'), ['reads a clock'])
  t.same(violations('setTimeout(f, 1)'), ['arms a timer'])
  t.same(violations('let counter = 0'), ['module-level mutable binding'])
  t.same(violations("import { x } from './ip.js'\n// Date.now is not read here\nexport const y = 1"), [])
  t.same(violations("const label = { from: 'x' }\nconst m = `a from'b'`"), [], 'the word from in code is not an import')
  t.same(violations("export { a } from 'node:fs'"), ['imports node:fs'], 're-exports count')
  t.same(violations("const fs = await import('fs')"), ['imports fs'], 'dynamic imports count')
})

t.test('src/codec imports nothing from src/core (codecs are the lower layer)', async t => {
  for (const f of walk(join(root, 'src/codec'))) {
    const core = [...readFileSync(f, 'utf8').matchAll(/\bfrom\s*['"]([^'"]+)['"]/g)].map(m => m[1] as string).filter(s => /(^|\/)core\//.test(s))
    t.same(core, [], relative(root, f))
  }
})

t.test('src/core imports no imperative layer, directly or by re-export', async t => {
  for (const f of walk(join(root, 'src/core'))) {
    const bad = [...readFileSync(f, 'utf8').matchAll(/\bfrom\s*['"]([^'"]+)['"]/g)].map(m => m[1] as string).filter(s => /(^|\/)(io|runtime|control|cli|main|lab|bench)\//.test(s))
    t.same(bad, [], relative(root, f))
  }
})

for (const layer of ['src/core', 'src/codec']) {
  t.test(`${layer} is pure`, async t => {
    const files = walk(join(root, layer))
    t.ok(files.length > 0, `${layer} has modules`)
    for (const f of files) t.same(violations(readFileSync(f, 'utf8')), [], relative(root, f))
  })
}
