// What the daemon's long-lived threads load. An ES module, once imported, stays in its isolate's
// heap for the life of the thread: a package the VRRP thread or the conntrack worker imports only
// to read the config once (zod, yaml) is carried for nothing. Those are loaded in the short-lived
// configuration thread (src/runtime/config-loader.ts) or by the CLI. execa is left out too: the
// daemon runs its few programs (arping, systemd-notify, notify scripts, trackers) through
// src/io/run-program.ts, and execa stays for the lab and the benches. This test walks the static
// imports (the ones evaluated at start; `import type` is erased, `await import()` is lazy) from
// each thread's entry and fails on a package or module outside its allowance.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** The specifiers a module imports at evaluation (value imports and re-exports, not types). */
export function staticImports (src: string): string[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
  const out: string[] = []
  for (const m of code.matchAll(/^\s*(import|export)\s+(type\s+)?([^;'"]*?)\bfrom\s*['"]([^'"]+)['"]/gm)) {
    if (m[2] !== undefined) continue
    out.push(m[4] as string)
  }
  for (const m of code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) out.push(m[1] as string)
  return out
}

interface Graph { readonly modules: ReadonlySet<string>, readonly packages: ReadonlyMap<string, string> }

/** Every module (repository-relative) and package (with the first module that imports it) reached from `entry`. */
function graph (entry: string): Graph {
  const modules = new Set<string>()
  const packages = new Map<string, string>()
  const visit = (file: string): void => {
    const rel = relative(root, file)
    if (modules.has(rel)) return
    modules.add(rel)
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) {
        const ts = resolve(dirname(file), spec).replace(/\.js$/, '.ts')
        if (!existsSync(ts)) throw new Error(`${rel}: cannot resolve ${spec}`)
        visit(ts)
      } else if (!spec.startsWith('node:') && !packages.has(spec)) packages.set(spec, rel)
    }
  }
  visit(join(root, entry))
  return { modules, packages }
}

t.test('the import scanner (it can fail)', async t => {
  t.same(staticImports("import { z } from 'zod'\nimport type { Config } from './schema.js'\nexport type { X } from './x.js'\nexport { y } from './y.js'\nimport './side.js'"), ['zod', './y.js', './side.js'])
  t.same(staticImports("const { checkConfig } = await import('../config/load.js')\n// import { z } from 'zod'"), [], 'lazy and commented imports are not loaded at start')
  t.same(staticImports("import { a, type B } from './mixed.js'"), ['./mixed.js'], 'a mixed import loads the module')
})

// The conntrack worker's runtime and engine: loaded by the VRRP thread, they would sit in its heap
// unused (a constant imported from runtime/conntrack.ts once pulled in all of them: 213 KiB of
// code). The VRRP thread talks to them through runtime/conntrack-protocol.ts only.
const WORKER_ONLY = ['src/runtime/conntrack.ts', 'src/core/conntrack/engine.ts', 'src/core/conntrack/cache.ts', 'src/core/sync/ftfw.ts', 'src/codec/conntrackd.ts', 'src/codec/ctnetlink-request.ts', 'src/io/ctnetlink.ts']

const CONFIG_ONLY = ['src/config/load.ts', 'src/config/validate.ts', 'src/config/schema.ts', 'src/config/locate.ts', 'src/control/server-messages.ts']

for (const [thread, entry, allowed] of [
  ['the daemon (VRRP thread)', 'src/main/hafwd-bin.ts', ['netlink/dist/rt/rt.js', 'netlink/dist/rt/structs.js', 'pino', 'raw-socket', 'ws']],
  ['the conntrack worker', 'src/runtime/conntrack-worker.ts', []]
] as const) {
  t.test(`${thread} loads no config-only code`, async t => {
    const g = graph(entry)
    t.ok(g.modules.size > 10, `${g.modules.size} modules reached`)
    const extra = [...g.packages].filter(([p]) => !(allowed as readonly string[]).includes(p)).map(([p, from]) => `${p} (imported by ${from})`)
    t.same(extra, [], 'packages outside the allowance (zod and yaml belong to the configuration thread)')
    t.same(CONFIG_ONLY.filter(m => g.modules.has(m)), [], 'modules of the configuration thread and the CLI')
  })
}

t.test('the VRRP thread loads none of the conntrack worker\'s engine', async t => {
  const g = graph('src/main/hafwd-bin.ts')
  t.same(WORKER_ONLY.filter(m => g.modules.has(m)), [], 'worker-only modules reached from the daemon\'s entry')
  t.same(WORKER_ONLY.filter(m => !graph('src/runtime/conntrack-worker.ts').modules.has(m)), [], 'the worker does load them (the list names real modules)')
})

t.test('the configuration thread does load the validator (the walk follows real imports)', async t => {
  const g = graph('src/runtime/config-worker.ts')
  t.ok(g.packages.has('zod') && g.packages.has('yaml'))
  t.ok(g.modules.has('src/config/schema.ts'))
})
