/**
 * Load a configuration file in a short-lived thread (./config-worker.ts) and return the
 * normalized model, or every issue with its key path and line. Used by hafwd at start and by
 * reload (hafwctl reload, SIGHUP); `hafwd --check-config` loads in-process, it exits right after.
 *
 * The thread costs ~50 ms per load; it saves the daemon ~6 MiB of heap for its whole life (zod,
 * yaml and the schema are never loaded on the VRRP thread: test/arch/daemon-imports.test.ts).
 */
import { Worker } from 'node:worker_threads'
import type { ConfigIssue } from '../config/issue.js'
import type { Model } from '../config/normalize.js'

export type ModelResult =
  | { readonly ok: true, readonly model: Model }
  | { readonly ok: false, readonly issues: ConfigIssue[] }

/** A load that has not answered by then (a stuck file system) is given up: nothing is applied. */
export const CONFIG_LOAD_TIMEOUT_MS = 30_000

export interface ConfigLoadOptions {
  readonly timeoutMs?: number
  /** The thread's module (default: the built ./config-worker.js); tests run the sources through a shim, or a module that misbehaves. */
  readonly entry?: URL
}

/** Never rejects: a thread that fails, exits without an answer or times out is one issue. */
export async function loadConfigInWorker (path: string, opts: ConfigLoadOptions = {}): Promise<ModelResult> {
  const entry = opts.entry ?? new URL('./config-worker.js', import.meta.url)
  const timeoutMs = opts.timeoutMs ?? CONFIG_LOAD_TIMEOUT_MS
  return await new Promise<ModelResult>((resolve) => {
    let done = false
    let timer: NodeJS.Timeout | undefined
    const finish = (r: ModelResult): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve(r)
    }
    const failed = (why: string): void => { finish({ ok: false, issues: [{ path: '', message: `the configuration could not be checked: ${why}` }] }) }
    let worker: Worker
    try {
      worker = new Worker(entry, { name: 'hafwd-config', workerData: { path }, stdout: false, stderr: false })
    } catch (err) {
      failed(`cannot start the configuration thread: ${(err as Error).message}`)
      return
    }
    timer = setTimeout(() => {
      failed(`no answer within ${timeoutMs} ms`)
      void worker.terminate()
    }, timeoutMs)
    worker.once('message', (m: ModelResult) => { finish(m) })
    worker.once('error', (err: Error) => { failed(err.message) })
    worker.once('exit', (code) => { failed(`the configuration thread exited (code ${code}) without an answer`) })
  })
}
