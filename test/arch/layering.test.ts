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
  t.same(violations("import type { X } from '../../runtime/conntrack.js'"), ['imports imperative layer ../../runtime/conntrack.js'], 'type-only imports of runtime count')
  t.same(violations("import type { CtMutation } from '../../io/conntrack-port.js'"), ['imports imperative layer ../../io/conntrack-port.js'], 'and of io')
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

// The simulations drive the code the daemon runs. A sim that re-implemented a step (the FTFW glue, a cache
// merge) would test its own copy: test/helpers/syncsim.ts once modelled the conntrack runtime by hand.
const CORE_STEPS = ['stepEngine', 'stepFtfw', 'stepBulk', 'applyKernelEvent', 'applyPeerUpdate', 'resyncFromDump', 'applyDelivery']

/** Names of core steps a test module defines itself instead of importing. */
function copiedSteps (src: string): string[] {
  return CORE_STEPS.filter(name => new RegExp(`(\\bfunction\\s+${name}\\b|\\b(const|let)\\s+${name}\\s*=|^\\s*(private|protected|public)\\s+${name}\\s*\\()`, 'm').test(src))
}

t.test('the sim checker catches a copied step', async t => {
  t.same(copiedSteps('export function applyDelivery (c) {}'), ['applyDelivery'])
  t.same(copiedSteps('  private stepFtfw (x) {'), ['stepFtfw'])
  t.same(copiedSteps("import { stepEngine } from '../../src/core/conntrack/engine.js'\nconst r = stepEngine(s, i, 0)"), [])
})

t.test('test/sim and its helpers drive the real engine, not copies', async t => {
  const files = [...walk(join(root, 'test/sim')), ...walk(join(root, 'test/helpers'))]
  for (const f of files) t.same(copiedSteps(readFileSync(f, 'utf8')), [], relative(root, f))
  const syncsim = readFileSync(join(root, 'test/helpers/syncsim.ts'), 'utf8')
  t.match(syncsim, /from '\.\.\/\.\.\/src\/core\/conntrack\/engine\.js'/, 'syncsim.ts imports the conntrack engine')
  for (const f of walk(join(root, 'test/sim'))) {
    const src = readFileSync(f, 'utf8')
    if (/\bSyncSim\b|stepFtfw/.test(src)) t.match(src, /helpers\/syncsim\.js|src\/core\/(conntrack\/engine|sync\/ftfw)\.js/, `${relative(root, f)} uses the real engine or FTFW`)
  }
})
