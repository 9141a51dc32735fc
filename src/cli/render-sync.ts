/**
 * hafwctl's conntrack output: `conntrack internal|external` (one line per entry, like conntrackd
 * -i / -e), `show sync` (the FTFW peer, sequence numbers, ACK/NACK/RESYNC counters, bulk state,
 * commits, cache sizes) and the one-line sync summary of `state`. Pure.
 *
 * The daemon sends the conntrack status as the runtime builds it (runtime/conntrack.ts
 * ConntrackStatus, plus the peer); it is read here through a loose schema, so a daemon with more
 * fields still renders and a missing part reads as unknown instead of crashing.
 */
import { z } from 'zod'
import type { CtEntryView, CtTupleView } from '../control/protocol.js'
import { formatDuration, formatMs, table } from './format.js'

const n = z.number()
const cacheStats = z.looseObject({ active: n, created: n.optional(), updated: n.optional(), destroyed: n.optional(), flushed: n.optional(), filtered: n.optional() })
const ftfwCounters = z.looseObject({
  txData: n, rxData: n, txAck: n, rxAck: n, txNack: n, rxNack: n, txResync: n, rxResync: n,
  txRetransmits: n, lost: n, gaps: n, peerRestarts: n, txDatagrams: n, rxDatagrams: n, txAlive: n.optional(), rxAlive: n.optional()
})
const lastCommit = z.looseObject({ entries: n, ok: n, failed: n, ms: n, withinBudget: z.boolean() })
export const syncViewSchema = z.looseObject({
  internal: cacheStats,
  external: cacheStats,
  sync: z.looseObject({
    nextSeq: n,
    hello: z.string(),
    lastSeqReceived: n.nullable(),
    txQueued: n,
    resendQueued: n,
    nacksOutstanding: n,
    resyncDeferred: z.boolean().optional(),
    counters: ftfwCounters
  }),
  bulk: z.string(),
  commit: z.looseObject({ running: z.boolean(), ok: n.optional(), remaining: n.optional() }).nullable(),
  lastCommit: lastCommit.nullable(),
  purgePending: z.boolean(),
  liveness: z.looseObject({ state: z.string(), heardAt: n.nullable().optional(), lostAfterMs: n.optional() }).optional(),
  peer: z.looseObject({ transport: z.string(), address: z.string(), local: z.string().optional(), port: n, interface: z.string().optional() }).nullable().optional()
})
export type SyncView = z.infer<typeof syncViewSchema>

export function readSyncView (conntrack: unknown): SyncView | null {
  const r = syncViewSchema.safeParse(conntrack)
  return r.success ? r.data : null
}

/**
 * heard / lost / not heard. A daemon that reports liveness (issue 12) is believed: `lost` when nothing passed
 * the source/MAC checks for 3 ALIVE intervals. An older one only says whether a message was ever accepted.
 */
function peerState (v: SyncView): 'heard' | 'lost' | 'not heard' {
  const l = v.liveness?.state
  if (l === 'heard' || l === 'lost') return l
  if (l !== undefined) return 'not heard'
  return v.sync.lastSeqReceived !== null ? 'heard' : 'not heard'
}

function peerText (v: SyncView): string {
  const p = peerState(v)
  if (p === 'heard') return 'heard'
  if (p === 'lost') return `LOST (nothing for ${v.liveness?.lostAfterMs !== undefined ? formatDuration(v.liveness.lostAfterMs) : '3 ALIVE intervals'})`
  return 'NOT HEARD'
}

function commitText (v: SyncView): string {
  if (v.commit?.running === true) return `running (${v.commit.ok ?? 0} done, ${v.commit.remaining ?? '?'} left)`
  const c = v.lastCommit
  if (c === null) return 'none yet'
  return `${c.ok}/${c.entries} entries in ${formatMs(c.ms)}${c.failed > 0 ? `, ${c.failed} failed` : ''}${c.withinBudget ? '' : ' (over budget)'}`
}

/** One line for `hafwctl state` when conntrack is on. */
export function syncLine (conntrack: unknown): string {
  const v = readSyncView(conntrack)
  if (v === null) return 'sync: status not readable'
  return `sync: peer ${peerState(v)} · internal ${v.internal.active} · external ${v.external.active} · bulk ${v.bulk} · last commit ${commitText(v)}`
}

/** `hafwctl show sync`. */
export function renderSync (conntrack: unknown, counters: Readonly<Record<string, number>> = {}): string {
  const v = readSyncView(conntrack)
  if (v === null) return 'sync: the daemon sent a conntrack status this hafwctl cannot read (use --json)\n'
  const s = v.sync
  const c = s.counters
  const field = (name: string, value: string): string => `  ${name.padEnd(20)}${value}`
  const peer = v.peer == null ? 'unknown' : `${v.peer.transport} ${v.peer.address} port ${v.peer.port}${v.peer.local !== undefined ? ` from ${v.peer.local}` : ''}${v.peer.interface !== undefined ? ` on ${v.peer.interface}` : ''}`
  const out = [
    'conntrack sync (FTFW)',
    field('peer', `${peer}, ${peerText(v)} (hello ${s.hello})`),
    field('sequence', `next ${s.nextSeq}, last received ${s.lastSeqReceived ?? 'none'}`),
    field('queues', `tx ${s.txQueued}, resend ${s.resendQueued}, NACKs outstanding ${s.nacksOutstanding}${s.resyncDeferred === true ? ', RESYNC deferred until the peer is heard' : ''}`),
    field('bulk (startup)', v.bulk),
    field('last commit', commitText(v)),
    field('purge pending', v.purgePending ? 'yes (kernel entries purged after PurgeTimeout)' : 'no'),
    '',
    'caches'
  ]
  const cacheRow = (name: string, x: SyncView['internal']): string[] =>
    [name, String(x.active), String(x.created ?? 0), String(x.updated ?? 0), String(x.destroyed ?? 0), String(x.flushed ?? 0), String(x.filtered ?? 0)]
  out.push(...table(['', 'ACTIVE', 'CREATED', 'UPDATED', 'DESTROYED', 'FLUSHED', 'FILTERED'], [cacheRow('internal', v.internal), cacheRow('external', v.external)]).map(l => `  ${l}`))
  out.push('', 'messages')
  out.push(...table(['', 'SENT', 'RECEIVED'], [
    ['data', String(c.txData), String(c.rxData)],
    ['ack', String(c.txAck), String(c.rxAck)],
    ['nack', String(c.txNack), String(c.rxNack)],
    ['resync', String(c.txResync), String(c.rxResync)],
    ['alive', String(c.txAlive ?? 0), String(c.rxAlive ?? 0)],
    ['datagrams', String(c.txDatagrams), String(c.rxDatagrams)]
  ]).map(l => `  ${l}`))
  out.push(field('retransmitted', String(c.txRetransmits)), field('lost (gaps)', `${c.lost} (${c.gaps})`), field('peer restarts', String(c.peerRestarts)))
  const drops = Object.entries(counters).filter(([k, x]) => x > 0 && (k.startsWith('sync.rx.drop.') || k.startsWith('sync.tx.error') || k.startsWith('ct.external.refused.') || k.startsWith('ct.commit.refused.')))
  if (drops.length > 0) out.push(field('errors', drops.map(([k, x]) => `${k.replace(/^sync\.|^ct\./, '')}=${x}`).join(' ')))
  return out.join('\n') + '\n'
}

const PROTO_NAMES: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' }

function host (family: 'ipv4' | 'ipv6', address: string, port: number | undefined): string {
  if (port === undefined) return address
  return family === 'ipv6' ? `[${address}]:${port}` : `${address}:${port}`
}

function tupleText (family: 'ipv4' | 'ipv6', t: CtTupleView): string {
  const base = `${host(family, t.src, t.sport)} -> ${host(family, t.dst, t.dport)}`
  if (t.icmpType === undefined) return base
  return `${base} type ${t.icmpType} code ${t.icmpCode ?? 0} id ${t.icmpId ?? 0}`
}

function natText (e: CtEntryView): string {
  const parts: string[] = []
  const b = (kind: string, x: { ip?: string, port?: number } | undefined): void => {
    if (x === undefined) return
    parts.push(`${kind} ${x.ip !== undefined ? host(e.family, x.ip, x.port) : `port ${x.port ?? '?'}`}`)
  }
  b('snat', e.nat?.src)
  b('dnat', e.nat?.dst)
  return parts.length === 0 ? '-' : parts.join(', ')
}

/** `hafwctl conntrack internal|external`: one line per entry. */
export function renderConntrack (cache: 'internal' | 'external', entries: readonly CtEntryView[]): string {
  if (entries.length === 0) return `the ${cache} cache is empty\n`
  const rows = entries.map(e => [
    PROTO_NAMES[e.proto] ?? String(e.proto),
    e.state ?? '-',
    tupleText(e.family, e.orig),
    e.timeout === undefined ? '-' : `${e.timeout}s`,
    natText(e),
    e.mark === undefined || e.mark === 0 ? '-' : `0x${e.mark.toString(16)}`,
    formatDuration(e.activeSinceS * 1000)
  ])
  const lines = table(['PROTO', 'STATE', 'ORIGINAL', 'TIMEOUT', 'NAT', 'MARK', 'ACTIVE'], rows)
  return `${lines.join('\n')}\n${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} in the ${cache} cache\n`
}
