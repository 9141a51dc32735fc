// Stages the runtime dependencies of the Debian package and writes its copyright file, in one
// process (a shell loop over 60 packages and thousands of files took a minute on a loaded box).
//   node packaging/deb/stage-modules.mjs REPO LIB NODE_ARCH NODE_LICENSE COPYRIGHT_OUT
// REPO: the npm ci'd working tree; LIB: the stage's usr/lib/hafw. The production tree is what
// `npm ls --omit=dev` lists, copied rather than installed again (no network, no second compile of
// raw-socket), without what only building or developing needs.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs'
import { basename, dirname, join, relative, sep } from 'node:path'

const [repo, lib, nodeArch, nodeLicense, copyrightOut] = process.argv.slice(2)
if (copyrightOut === undefined) {
  process.stderr.write('usage: stage-modules.mjs REPO LIB NODE_ARCH NODE_LICENSE COPYRIGHT_OUT\n')
  process.exit(2)
}

// Build-time only: type declarations and the addon header packages.
const BUILD_ONLY = new Set(['nan', 'node-addon-api'])
const isBuildOnly = (rel) => rel.split(sep).some((p, i, a) => p === '@types' || (a[i - 1] === 'node_modules' && BUILD_ONLY.has(p)))

// Directories (at a package's top level) and files no running program reads.
const DROP_DIRS = new Set(['test', 'tests', '__tests__', 'docs', 'doc', 'example', 'examples', 'benchmarks', 'bench', 'node_modules'])
// The C/C++ sources of a native module (src, deps next to its binding.gyp); elsewhere src/ may
// be the code itself (real-require's main is src/index.js).
const NATIVE_SOURCE_DIRS = new Set(['src', 'deps'])
const DROP_FILE = /(\.d\.[cm]?ts|\.ts|\.map|\.md|\.markdown|\.html|\.gyp|\.gypi|\.cc|\.c|\.h)$|^(Makefile|tsconfig.*\.json|binding\.gyp|LICEN[CS]E.*|license|COPYING.*)$/

function hasShebang (file) {
  const fd = openSync(file, 'r')
  try {
    const b = Buffer.alloc(2)
    return readSync(fd, b, 0, 2, 0) === 2 && b.toString() === '#!'
  } finally { closeSync(fd) }
}

function keep (src, pkgRoot) {
  const rel = relative(pkgRoot, src)
  if (rel === '') return true
  const parts = rel.split(sep)
  const name = parts[parts.length - 1]
  if (name.startsWith('.')) return false
  // A native module (binding.gyp): its build/ holds objects and Makefiles besides the addon;
  // elsewhere build/ may be the code itself (@opentelemetry/api's main is build/src/index.js).
  const native = existsSync(join(pkgRoot, 'binding.gyp'))
  const st = statSync(src)
  if (st.isDirectory()) {
    // node_modules: nested dependencies are listed (and copied) on their own.
    // Only at the package's top level: deeper, such names may be code (yaml/dist/doc).
    if (parts.length === 1 && DROP_DIRS.has(name)) return false
    if (parts.length === 1 && NATIVE_SOURCE_DIRS.has(name) && native) return false
    // Native builds: build/Release/*.node only; prebuilds of this architecture only.
    if (parts[0] === 'build' && native) return parts.length === 1 || (parts.length === 2 && name === 'Release')
    if (parts[0] === 'prebuilds' && parts.length === 2) return name === `linux-${nodeArch}`
    return true
  }
  if (parts[0] === 'build' && native) return parts.length === 3 && parts[1] === 'Release' && name.endsWith('.node')
  if (DROP_FILE.test(name)) return false
  // Command-line entry points (pino's, yaml's, which's, node-gyp-build's): hafwd runs none of
  // them, and their "#!/usr/bin/env node" names a node the package does not depend on.
  return !hasShebang(src)
}

const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo, encoding: 'utf8' })
  .split('\n').filter(p => p !== '' && p !== repo).map(p => relative(repo, p))
const packages = listed.filter(rel => !isBuildOnly(rel))
for (const rel of packages) {
  const from = join(repo, rel)
  cpSync(from, join(lib, rel), { recursive: true, filter: (src) => keep(src, from) })
}

// Empty directories left by the filter.
function pruneEmpty (dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmpty(join(dir, e.name))
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true })
}
pruneEmpty(join(lib, 'node_modules'))

// --- copyright (machine-readable format 1.0) ---
const LICENSE_OF = { MIT: 'Expat', ISC: 'ISC', 'Apache-2.0': 'Apache-2.0', 'BSD-3-Clause': 'BSD-3-clause' }
const indent = (text) => text.replace(/\s+$/, '').split('\n').map(l => l.trim() === '' ? ' .' : ` ${l}`).join('\n')
const copyrightLines = (dir, fallback) => {
  const f = existsSync(dir) ? readdirSync(dir).find(n => /^licen[cs]e/i.test(n)) : undefined
  const lines = f === undefined
    ? []
    : readFileSync(join(dir, f), 'utf8').split('\n').map(l => l.trim()).filter(l => /^copyright\s/i.test(l))
      .map(l => l.replace(/^copyright\s*/i, '').replace(/^\(c\)\s*/i, '')).slice(0, 3)
  return lines.length > 0 ? lines : [fallback]
}
const used = new Set(['Expat'])
const paragraphs = []
const own = copyrightLines(repo, 'the hafw authors')
paragraphs.push(['Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/', 'Upstream-Name: hafw'].join('\n'))
paragraphs.push(['Files: *', `Copyright: ${own.join('\n ')}`, 'License: Expat'].join('\n'))
paragraphs.push([
  'Files: usr/lib/hafw/node',
  'Copyright: Node.js contributors and the authors of the libraries it embeds',
  'License: Expat',
  `Comment: Node.js ${process.version}, bundled: the native addons are built against it.`,
  ' Its LICENSE follows, with the licenses of the libraries Node.js embeds',
  ' (V8, libuv, OpenSSL, ICU, zlib, llhttp, ...):',
  ' .',
  indent(readFileSync(nodeLicense, 'utf8'))
].join('\n'))
for (const rel of [...packages].sort()) {
  const pj = JSON.parse(readFileSync(join(repo, rel, 'package.json'), 'utf8'))
  const license = LICENSE_OF[typeof pj.license === 'string' ? pj.license : '']
  if (license === undefined) {
    process.stderr.write(`stage-modules: ${pj.name} is licensed ${JSON.stringify(pj.license)}: add its text to packaging/deb/licenses and LICENSE_OF\n`)
    process.exit(1)
  }
  used.add(license)
  paragraphs.push([`Files: usr/lib/hafw/${rel.split(sep).join('/')}/*`, `Copyright: ${copyrightLines(join(repo, rel), `the ${pj.name} authors`).join('\n ')}`, `License: ${license}`].join('\n'))
}
const licenses = join(dirname(new URL(import.meta.url).pathname), 'licenses')
for (const l of ['Expat', 'ISC', 'Apache-2.0', 'BSD-3-clause']) {
  if (used.has(l)) paragraphs.push(`License: ${l}\n${indent(readFileSync(join(licenses, l), 'utf8'))}`)
}
writeFileSync(copyrightOut, paragraphs.join('\n\n') + '\n')
process.stdout.write(`${packages.length} packages staged (${listed.length - packages.length} build-only left out): ${packages.map(p => basename(p)).join(' ')}\n`)
