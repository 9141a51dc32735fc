import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { HAFWD_ENV, HAFWD_NODE_FLAGS } from '../../../src/main/node-flags.js'
import { repoRoot } from '../../../src/lab/hafwd-process.js'

// Every launcher of the daemon gives node the same flags (src/main/node-flags.ts).
const read = (p: string): string => readFileSync(join(repoRoot(), p), 'utf8')

t.test('bin/hafwd runs node with the daemon flags', async t => {
  const shebang = read('bin/hafwd').split('\n')[0] ?? ''
  const env = Object.entries(HAFWD_ENV).map(([k, v]) => `${k}=${v}`).join(' ')
  t.equal(shebang, `#!/usr/bin/env -S ${env} node ${HAFWD_NODE_FLAGS.join(' ')}`)
})

t.test('the package shim runs the bundled node with the daemon flags, hafwctl without', async t => {
  const build = read('packaging/deb/build.sh')
  t.match(build, `[ "$cmd" = hafwd ] && flags="${HAFWD_NODE_FLAGS.join(' ')} "`)
  for (const [k, v] of Object.entries(HAFWD_ENV)) t.match(build, `[ "$cmd" = hafwd ] && env="export ${k}=${v}"`)
  t.match(build, 'exec "\\$here/../lib/hafw/node" $flags"\\$here/../lib/hafw/dist/$dir/$cmd-bin.js"')
  t.match(build, '[ "$cmd" = hafwd ] && dir=daemon', 'the daemon runs from its bundle (scripts/bundle-daemon.mjs), hafwctl from dist/main')
})

t.test('bin/hafwd, the lab and the package run the same daemon entry: the bundle', async t => {
  t.equal(read('bin/hafwd').split('\n')[1], "import '../dist/daemon/hafwd-bin.js'")
  t.match(read('src/lab/hafwd-process.ts'), "join(repoRoot(), 'dist', 'daemon', 'hafwd-bin.js')")
  t.match(read('package.json'), '"build": "tsc -p tsconfig.json && node scripts/bundle-daemon.mjs"')
})

t.test('the lab and the tests start hafwd with the same flags (plus HAFW_LAB_NODE_FLAGS, empty unless set for profiling)', async t => {
  t.match(read('src/lab/hafwd-process.ts'), 'process.execPath, ...HAFWD_NODE_FLAGS, ...labNodeFlags(), hafwdEntry()')
  t.match(read('src/lab/hafwd-process.ts'), 'env: HAFWD_ENV,')
})
