import { main } from './hafwctl.js'

const interrupted = new Promise<void>(resolve => {
  process.once('SIGINT', () => { resolve() })
  process.once('SIGTERM', () => { resolve() })
})

main(process.argv.slice(2), {
  out: (text) => { process.stdout.write(text) },
  err: (text) => { process.stderr.write(text) },
  interrupted
}).then((code) => {
  // Let stdout drain (a pipe to `head`, a large --json) before exiting.
  process.stdout.write('', () => { process.exit(code) })
}, (err: unknown) => {
  process.stderr.write(`hafwctl: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(70)
})
