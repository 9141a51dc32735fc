/**
 * The configuration thread's entry (runtime/config-loader.ts starts one per load): read,
 * validate and normalize one file, post the result, end.
 *
 * Why a thread of its own: the validation needs zod and yaml, ~6 MiB of heap once loaded and
 * used, which an ES module graph can never give back. Loaded here, they go away with the thread's
 * isolate, so the daemon carries them only while it reads a file (start, reload, SIGHUP).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { loadConfigFile } from '../config/load.js'
import type { ModelResult } from './config-loader.js'

const { path } = workerData as { path: string }
const r = await loadConfigFile(path)
// The raw config is not sent: the daemon runs on the normalized model alone.
const result: ModelResult = r.ok ? { ok: true, model: r.model } : { ok: false, issues: r.issues }
parentPort?.postMessage(result)
