/**
 * A conntrack cache row (core/conntrack/cache.ts CacheDumpRow) as the control API sends it: plain
 * JSON (no binary labels, no internal key), the protocol state by name, NAT as conntrackd derives
 * it. Pure.
 */
import type { CacheDumpRow } from '../core/conntrack/cache.js'
import { deriveNat, SCTP_STATES, TCP_STATES } from '../core/conntrack/flow.js'
import type { Flow, FlowTuple } from '../core/conntrack/flow.js'
import type { CtEntryView, CtTupleView } from './protocol.js'

/** DCCP conntrack states (enum ct_dccp_states). */
const DCCP_STATES = ['NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID'] as const

function tupleView (t: FlowTuple): CtTupleView {
  const out: { -readonly [K in keyof CtTupleView]: CtTupleView[K] } = { src: t.src, dst: t.dst }
  if (t.sport !== undefined) out.sport = t.sport
  if (t.dport !== undefined) out.dport = t.dport
  if (t.icmpType !== undefined) out.icmpType = t.icmpType
  if (t.icmpCode !== undefined) out.icmpCode = t.icmpCode
  if (t.icmpId !== undefined) out.icmpId = t.icmpId
  return out
}

function stateName (f: Flow): string | undefined {
  const pick = (names: readonly string[], v: number | undefined): string | undefined => v === undefined ? undefined : (names[v] ?? String(v))
  return pick(TCP_STATES, f.tcp?.state) ?? pick(SCTP_STATES, f.sctp?.state) ?? pick(DCCP_STATES, f.dccp?.state)
}

export function ctEntryView (row: CacheDumpRow): CtEntryView {
  const f = row.flow
  const out: { -readonly [K in keyof CtEntryView]: CtEntryView[K] } = {
    family: f.family,
    proto: f.orig.l4proto,
    orig: tupleView(f.orig),
    reply: tupleView(f.reply),
    status: row.status,
    activeSinceS: row.activeSinceS,
    idleS: row.idleS
  }
  const state = stateName(f)
  if (state !== undefined) out.state = state
  if (f.timeout !== undefined) out.timeout = f.timeout
  if (f.mark !== undefined) out.mark = f.mark
  if (f.zone !== undefined) out.zone = f.zone
  if (f.status !== undefined) out.statusBits = f.status
  const nat = f.nat ?? (f.status === undefined ? undefined : deriveNat(f.orig, f.reply, f.status))
  if (nat !== undefined) out.nat = nat
  if (f.helper !== undefined) out.helper = f.helper
  return out
}
