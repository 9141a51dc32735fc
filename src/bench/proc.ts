/**
 * What the benches read from the command line and from /proc about the processes they started.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'

/** The value after `--name` on the command line; undefined when absent. */
export function arg (name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

/** Resident memory in MiB: all of it, file-backed pages (the node binary, libraries), anonymous. */
export interface TreeMemory { readonly total: number, readonly file: number, readonly anon: number }

/**
 * VmRSS of a process and its descendants (each task's `children`), split by /proc/PID/status's
 * RssFile and RssAnon + RssShmem; null when the process is gone. A child that exits while it is
 * read is left out.
 */
export function treeMemory (pid: number): TreeMemory | null {
  if (!existsSync(`/proc/${pid}/status`)) return null
  let total = 0; let file = 0; let anon = 0
  const walk = (p: number): void => {
    try {
      const text = readFileSync(`/proc/${p}/status`, 'utf8')
      const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0)
      total += kb('VmRSS'); file += kb('RssFile'); anon += kb('RssAnon') + kb('RssShmem')
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim()
        for (const c of children === '' ? [] : children.split(/\s+/)) walk(Number(c))
      }
    } catch { /* exited meanwhile */ }
  }
  walk(pid)
  return { total: total / 1024, file: file / 1024, anon: anon / 1024 }
}
