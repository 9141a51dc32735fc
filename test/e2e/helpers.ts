// Shared e2e plumbing: root check, a lab topology per test file (unique prefix, removed at the
// end even on failure), log reading.
import { readFileSync, existsSync } from 'node:fs'
import { create, destroy, applyRuleset, topology } from '../../src/lab/topology.js'
import type { Topology } from '../../src/lab/topology.js'

export function skipUnlessRoot (): string | false {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'e2e tests need root (network namespaces, raw sockets)'
  return false
}

/** A fresh lab with the field ruleset; removed when the tap test `t` ends. */
export async function labFor (t: { teardown: (fn: () => unknown) => void }, name: string): Promise<Topology> {
  const topo = topology(`he${name}${process.pid % 10000}`)
  t.teardown(async () => { await destroy(topo) })
  await create(topo)
  await applyRuleset(topo)
  return topo
}

export interface LoggedTransition { routerId: string, from: string, to: string, reason: string, time: string }

/** The transitions hafwd logged, in order. */
export function transitions (logFile: string): LoggedTransition[] {
  if (!existsSync(logFile)) return []
  return readFileSync(logFile, 'utf8').split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
    .filter(r => typeof r.routerId === 'string' && typeof r.to === 'string' && typeof r.from === 'string')
    .map(r => ({ routerId: r.routerId as string, from: r.from as string, to: r.to as string, reason: String(r.reason), time: String(r.time) }))
}

export const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
