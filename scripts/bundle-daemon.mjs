#!/usr/bin/env node
// The daemon as it runs: dist/daemon/, one ES module bundle per thread (the VRRP thread's entry,
// the conntrack worker, the config worker) made by esbuild from what tsc left in dist/.
//
// Why (bench/conntrack-path.md, idle memory): every module a thread loads keeps its source text
// in that thread's heap for lazy compilation, and each thread loads its packages again. One
// bundle per thread, with whitespace dropped, keeps less text and fewer module records: the idle
// lab pair measured ~1–2 MiB lower per node. Identifiers are kept, so stack traces and error
// class names in the journal read as in the source. The CLI, the lab and the benches stay
// unbundled in dist/.
//
//   node scripts/bundle-daemon.mjs [--from DIR] [--outdir DIR] [--no-sourcemap]
//
// raw-socket and netlink stay packages (their native parts are found by path at run time); code
// shared by two threads goes to chunks, each thread loads only what its own imports reach.
import { build } from 'esbuild'
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'

function arg (name, fallback) {
  const i = process.argv.indexOf(name)
  return i === -1 ? fallback : process.argv[i + 1]
}

const from = resolve(arg('--from', 'dist'))
const outdir = resolve(arg('--outdir', join(from, 'daemon')))
const sourcemap = !process.argv.includes('--no-sourcemap')

rmSync(outdir, { recursive: true, force: true })
const result = await build({
  entryPoints: ['main/hafwd-bin.js', 'runtime/conntrack-worker.js', 'runtime/config-worker.js'].map(p => join(from, p)),
  // The workers are started as new URL('./conntrack-worker.js', import.meta.url) (and
  // config-worker.js) from a chunk in the same folder: entries keep their file names.
  entryNames: '[name]',
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['netlink', 'raw-socket'],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  sourcemap: sourcemap ? 'linked' : false,
  // The CommonJS packages inside (pino, ws) require node's built-in modules; an ES module bundle
  // has no require of its own.
  banner: { js: "import { createRequire as __hafwdCreateRequire } from 'node:module'; const require = __hafwdCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true
})
if (result.errors.length > 0) process.exit(1)
const outputs = Object.keys(result.metafile.outputs).filter(f => f.endsWith('.js'))
console.log(`bundle-daemon: ${outputs.length} files in ${outdir}`)
