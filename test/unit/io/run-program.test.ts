// io/run-program.ts on real processes: argv without a shell, the environment, exit codes and
// signals, the timeout and cancel kills (SIGKILL after the grace for a program that ignores the
// first signal), a program that cannot start, and the bounded capture of the output. The timers
// here are the module's own (it kills real processes), set to tens of milliseconds.
import t from 'tap'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runProgram } from '../../../src/io/run-program.js'

const dir = mkdtempSync(join(tmpdir(), 'hafw-run-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

t.test('argv reaches the program as it is, with the added environment; output captured', async t => {
  const r = await runProgram('/bin/sh', ['-c', 'printf "%s|" "$@"; printf "$HAFW_X"; echo err >&2', 'sh', '$HOME', 'a b', '*'], { env: { HAFW_X: 'x1' }, stdout: 'capture', stderr: 'capture' })
  t.same(r, { exitCode: 0, signal: null, timedOut: false, canceled: false, stdout: '$HOME|a b|*|x1', stderr: 'err\n' })
  const quiet = await runProgram('/bin/sh', ['-c', 'echo out; echo err >&2'])
  t.same([quiet.stdout, quiet.stderr], ['', ''], 'output is ignored unless captured')
  t.ok(typeof process.env.PATH === 'string' && (await runProgram('/bin/sh', ['-c', 'printf "$PATH"'], { env: { A: '1' }, stdout: 'capture' })).stdout === process.env.PATH, 'the daemon environment is kept')
})

t.test('exit codes and signals', async t => {
  t.equal((await runProgram('/bin/sh', ['-c', 'exit 3'])).exitCode, 3)
  const killed = await runProgram('/bin/sh', ['-c', 'kill -USR1 $$'])
  t.same([killed.exitCode, killed.signal, killed.timedOut], [null, 'SIGUSR1', false])
})

t.test('a timeout kills the program; SIGKILL after the grace when it ignores SIGTERM', async t => {
  const t0 = Date.now()
  const slow = await runProgram('/bin/sleep', ['30'], { timeoutMs: 50 })
  t.same([slow.timedOut, slow.signal, slow.exitCode], [true, 'SIGTERM', null])
  const stubborn = await runProgram('/bin/sh', ['-c', 'trap "" TERM; sleep 30 & wait; sleep 30'], { timeoutMs: 50, forceKillAfterMs: 50 })
  t.same([stubborn.timedOut, stubborn.signal], [true, 'SIGKILL'], 'the force kill ends it')
  t.ok(Date.now() - t0 < 10_000, 'neither waited for its sleep')
})

t.test('cancel: before or during the run', async t => {
  const ac = new AbortController()
  const p = runProgram('/bin/sleep', ['30'], { signal: ac.signal })
  setImmediate(() => { ac.abort() })
  t.match(await p, { canceled: true, timedOut: false, signal: 'SIGTERM' })
  t.match(await runProgram('/bin/sleep', ['30'], { signal: AbortSignal.abort() }), { canceled: true, signal: 'SIGTERM' }, 'an aborted signal kills at once')
  t.match(await runProgram('/bin/true', [], { signal: new AbortController().signal }), { canceled: false, exitCode: 0 })
})

t.test('a program that cannot start is a start error, not a rejection', async t => {
  const missing = await runProgram(join(dir, 'nope'), [])
  t.match(missing, { exitCode: null, signal: null, startError: { code: 'ENOENT' } })
  const plain = join(dir, 'not-executable')
  writeFileSync(plain, '#!/bin/sh\n')
  chmodSync(plain, 0o644)
  t.match(await runProgram(plain, []), { startError: { code: 'EACCES' } })
})

t.test('the capture keeps the tail of a chatty program', async t => {
  const r = await runProgram('/bin/sh', ['-c', 'head -c 300000 /dev/zero | tr "\\0" x >&2; echo last >&2'], { stderr: 'capture', maxCaptureChars: 100 })
  t.equal(r.exitCode, 0, 'not killed for its output')
  t.equal(r.stderr.length, 100)
  t.ok(r.stderr.endsWith('xlast\n'))
})
