/**
 * FTFW transmit and resend queues (specs/conntrackd-ftfw.md §3.4, §3.5; `src/sync-ftfw.c`, `src/queue_tx.c`).
 *
 * - The tx queue is FIFO and drained whole by each transmit round. It holds flow objects and control messages.
 * - A flow has at most one node (one per key), on the tx queue or on the resend queue: a new change of a
 *   flow that is waiting for transmission merges into its node in place; one that was sent and not yet
 *   acknowledged is moved from the resend queue back to the tx tail. So repeated changes coalesce.
 * - The resend queue holds what was sent and may be NACKed: objects and ACK/NACK/RESYNC (never ALIVE), in
 *   transmission order, which is sequence order (each transmission takes the next sequence number). It is bounded;
 *   when full, the oldest entry is dropped.
 *
 * For O(1) work per message the queues are mutable; they live inside an FtfwState owned by its caller.
 */
import { readCtAttrs } from '../../codec/conntrackd-ct.js'
import { ResendQueue } from './resend.js'
import { seqAfter, seqBefore, type Seq } from './seq.js'
import type { CtAttrs, CtEvent, FtfwLocalChange } from './types.js'

export type CtlKind = 'ack' | 'nack' | 'resync' | 'alive'

interface NodeBase {
  /** Where the node is now. */
  where: 'tx' | 'rs'
  /** Sequence number of its last transmission (meaningful while on the resend queue). */
  seq: Seq
  /** Its place on the resend queue (resend.ts), -1 elsewhere. */
  slot: number
  /** Times transmitted so far (> 0 at transmit time means a retransmission). */
  sent: number
}

/**
 * One flow (one queue node per object, §3.5). The message type is decided at transmit time from `event`.
 * Its content is either `attrs` (encoded at transmit time) or `body`, the NTA attributes already encoded
 * (the sender's byte path: core/conntrack/record-attrs.ts), never both.
 */
export interface ObjectNode extends NodeBase {
  readonly type: 'obj'
  readonly key: string
  event: CtEvent
  attrs: CtAttrs | null
  body: Uint8Array | null
}

/** A control message; ACK/NACK keep their range across retransmissions (RESYNC: 0, 0; ALIVE: unused). */
export interface CtlNode extends NodeBase {
  readonly type: 'ctl'
  readonly kind: CtlKind
  readonly from: Seq
  readonly to: Seq
}

export type QueueNode = ObjectNode | CtlNode

export interface Queues {
  /** FIFO, drained whole by each transmit round. */
  tx: QueueNode[]
  /** Resend queue, in insertion (= transmission = sequence) order. */
  readonly rs: ResendQueue<QueueNode>
  /** Flow key → its node, while it is on either queue. */
  readonly objects: Map<string, ObjectNode>
  /** NACKs on either queue: re-requests the peer has not acknowledged yet (few: one per gap). */
  readonly nacks: Set<CtlNode>
}

export function createQueues (): Queues {
  return { tx: [], rs: new ResendQueue(), objects: new Map(), nacks: new Set() }
}

/** What a node carries: the event and either attributes or an encoded body. */
export interface Payload {
  readonly event: CtEvent
  readonly attrs: CtAttrs | null
  readonly body: Uint8Array | null
}

/**
 * The type a flow is sent as after a further change (one node per object, §1.7, §3.5):
 * - NEW wins over a later UPD: the peer has not been told about the flow yet (or its NEW is unacknowledged), and
 *   NEW replaces whatever the peer holds for the tuple, which is right for a flow it may have never seen;
 * - DEL wins over everything before it (the flow is gone);
 * - NEW after DEL is a new flow with a reused tuple; UPD after DEL likewise (its NEW event was not seen);
 * - otherwise the later event.
 * Attributes: NEW replaces (a new flow), UPD and DEL merge over the last known state, so a DEL that carries only
 * the tuple still travels with the last full state as conntrackd's does (§1.7); a flow reborn after a DEL
 * starts from its new attributes only. A body is the entry's whole state (the cache's merged record, as
 * conntrackd sends its cache object), so merging a body over anything gives that body; attributes merged over
 * a body are merged over its decoded attributes.
 */
export function coalesce (prev: Payload, next: Payload): Payload {
  if (next.event === 'new') return { event: 'new', attrs: next.attrs, body: next.body }
  if (prev.event === 'del') return next
  const event = next.event === 'del' ? 'del' : prev.event
  if (next.body !== null) return { event, attrs: null, body: next.body }
  const before = prev.attrs ?? readCtAttrs(prev.body as Uint8Array, 0, (prev.body as Uint8Array).length)
  return { event, attrs: { ...before, ...next.attrs }, body: null }
}

/** Queue a local change of flow `key`. Returns true when it merged into a node already queued. */
export function enqueueObject (q: Queues, c: FtfwLocalChange): boolean {
  const attrs = 'attrs' in c ? c.attrs : null
  const body = 'body' in c ? c.body : null
  const node = q.objects.get(c.key)
  if (node === undefined) {
    const fresh: ObjectNode = { type: 'obj', key: c.key, event: c.event, attrs, body, where: 'tx', seq: 0, slot: -1, sent: 0 }
    q.objects.set(c.key, fresh)
    q.tx.push(fresh)
    return false
  }
  const merged = coalesce(node, { event: c.event, attrs, body })
  node.event = merged.event
  node.attrs = merged.attrs
  node.body = merged.body
  if (node.where === 'rs') {
    // Sent but unacknowledged: its latest state goes out again with a new seq; the old entry is obsolete.
    q.rs.remove(node)
    node.where = 'tx'
    q.tx.push(node)
  }
  return true
}

/**
 * Queue a bulk (answer to a RESYNC) ahead of the control messages waiting in the tx queue: conntrackd queues its
 * bulk while digesting the RESYNC, before any ACK that covers it, and the requester's completion rule relies on
 * that order (core/sync/bulk.ts). Objects keep their order; controls keep theirs, behind. Returns how many
 * entries merged into a node already queued.
 */
export function enqueueBulk (q: Queues, entries: ReadonlyArray<FtfwLocalChange>): number {
  const controls = q.tx.filter(n => n.type === 'ctl')
  if (controls.length > 0) q.tx = q.tx.filter(n => n.type === 'obj')
  let merged = 0
  for (const e of entries) if (enqueueObject(q, e)) merged++
  if (controls.length > 0) q.tx.push(...controls)
  return merged
}

/** Queue a control message (§3.5: controls and objects share the tx queue, in order). */
export function enqueueCtl (q: Queues, kind: CtlKind, from: Seq = 0, to: Seq = 0): void {
  const node: CtlNode = { type: 'ctl', kind, from, to, where: 'tx', seq: 0, slot: -1, sent: 0 }
  q.tx.push(node)
  if (kind === 'nack') q.nacks.add(node)
}

/** Take the whole tx queue for a transmit round. */
export function takeTx (q: Queues): QueueNode[] {
  const nodes = q.tx
  q.tx = []
  return nodes
}

/** Forget a node for good (acknowledged, flushed, overflowed, or unencodable). */
export function releaseNode (q: Queues, node: QueueNode): void {
  if (node.where === 'rs') q.rs.remove(node)
  if (node.type === 'obj') q.objects.delete(node.key)
  else if (node.kind === 'nack') q.nacks.delete(node)
}

/**
 * After transmitting `node` with `seq`: objects and ACK/NACK/RESYNC go to the resend queue (§3.5), ALIVE is
 * forgotten. When the queue is full the oldest entry is dropped first; it is returned so the caller counts it.
 */
export function recordSent (q: Queues, node: QueueNode, seq: Seq, capacity: number): QueueNode | null {
  node.seq = seq
  node.sent++
  if (node.type === 'ctl' && node.kind === 'alive') return null
  let dropped: QueueNode | null = null
  if (q.rs.size >= capacity) {
    const oldest = q.rs.oldest() as QueueNode
    releaseNode(q, oldest)
    dropped = oldest
  }
  node.where = 'rs'
  q.rs.push(node)
  return dropped
}

/**
 * Walk the resend queue oldest first over [from, to] (§3.4): entries before `from` are skipped, entries in the
 * range are passed to `visit` (which may remove them), the walk stops at the first entry after `to`.
 */
function walkRange (q: Queues, from: Seq, to: Seq, visit: (node: QueueNode) => void): void {
  q.rs.walk(node => {
    if (seqBefore(node.seq, from)) return true
    if (seqAfter(node.seq, to)) return false
    visit(node)
    return true
  })
}

/** ACK[from, to]: release the entries in the range. Returns how many, and the seq of the newest RESYNC among them. */
export function ackRange (q: Queues, from: Seq, to: Seq): { released: number, resync: Seq | null } {
  let released = 0
  let resync: Seq | null = null
  walkRange(q, from, to, node => {
    releaseNode(q, node)
    released++
    if (node.type === 'ctl' && node.kind === 'resync') resync = node.seq
  })
  return { released, resync }
}

/**
 * NACKs not yet acknowledged that were (or will be) sent after `since`: those waiting in the tx queue, and those
 * on the resend queue with a later sequence number. All of them when `since` is null.
 */
export function nacksAfter (q: Queues, since: Seq | null): number {
  if (since === null) return q.nacks.size
  let n = 0
  for (const node of q.nacks) if (node.where === 'tx' || seqAfter(node.seq, since)) n++
  return n
}

/** NACK[from, to]: move the entries in the range back to the tx queue, to be resent with new seqs (§3.4). */
export function nackRange (q: Queues, from: Seq, to: Seq): number {
  let moved = 0
  walkRange(q, from, to, node => {
    q.rs.remove(node)
    node.where = 'tx'
    q.tx.push(node)
    moved++
  })
  return moved
}

/** Release the whole resend queue (peer HELLO, §3.3 a). Returns how many entries. */
export function flushResend (q: Queues): number {
  const n = q.rs.size
  q.rs.walk(node => { releaseNode(q, node); return true })
  return n
}
