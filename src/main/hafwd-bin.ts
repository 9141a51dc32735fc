import { main } from './hafwd.js'

main(process.argv.slice(2)).then((code) => { process.exit(code) }, (err: unknown) => {
  process.stderr.write(`hafwd: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(70)
})
