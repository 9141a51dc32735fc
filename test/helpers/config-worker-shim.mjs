// The configuration thread's sources (src/runtime/config-worker.ts) as a worker entry for the
// tests: a .ts entry fails to load in a worker on Node 20 (tsx's --import hooks are not carried
// into worker threads), so this plain module registers tsx in the thread first. The daemon runs
// the built dist/runtime/config-worker.js directly.
import { register } from 'tsx/esm/api'

register()
await import('../../src/runtime/config-worker.ts')
