/**
 * Warms the conntrack worker's code before it opens its sockets: synthetic traffic through the
 * same functions the real traffic takes, on scratch state that is dropped afterwards.
 *
 * Why: V8 runs a function interpreted until it has been called often enough to be compiled. The
 * first second of real events after a start therefore ran cold: wire p99 15.6–21 ms at 10k/s on
 * the sync bench, against 6.4–7.5 ms warm. And a backup commits for the first time at its first
 * takeover: a 100k-entry commit took 454–490 ms cold and 361–409 ms in the same process once warm.
 *
 * What runs, all without I/O:
 * - kernel NEW event messages encoded by the codec, decoded by the event socket's own byte-path
 *   decoder (io/ctnetlink.ts decodeEventRecords), fed to a scratch sender engine;
 * - its FTFW datagrams fed to a scratch receiver engine, and the receiver's ACKs back;
 * - the receiver's commit of what it got (core/conntrack/commit.ts through the engine), every
 *   request encoded as the committer does, every answer an ACK.
 *
 * The scratch engines use the node's FTFW settings with an open filter, no startup bulk and a
 * made-up peer (192.0.2.1, TEST-NET-1), so every synthetic flow takes the whole path. Their clock is
 * virtual. Nothing here reaches a socket, the kernel or the real engine's state.
 */
import { encodeRequest, encodeRequestInto, MAX_REQUEST_BYTES } from '../codec/ctnetlink-request.js'
import type { CtRequest } from '../codec/ctnetlink-request.js'
import { nlAlign } from '../codec/nlattr.js'
import { createEngine, engineDeadline, engineStatus, stepEngine } from '../core/conntrack/engine.js'
import type { EngineConfig, EngineEffect, EngineInput, EngineState } from '../core/conntrack/engine.js'
import { invertTuple, IPS, L4Proto, TCP_FLAG_BE_LIBERAL, type Flow, type FlowTuple } from '../core/conntrack/flow.js'
import { EventBatchBuilder } from '../core/conntrack/record-batch.js'
import { decodeEventRecords } from '../io/ctnetlink.js'

/** Synthetic entries per warm-up: enough calls for V8 to compile the hot functions. */
export const WARM_UP_ENTRIES = 4096

/** Events per decoded batch, as the nfct addon hands them over under load. */
const EVENTS_PER_BATCH = 128

const SCRATCH_PEER = '192.0.2.1'

/** NLM_F_CREATE | NLM_F_EXCL: how the kernel flags a NEW event. */
const NEW_EVENT_FLAGS = 0x0600

export interface WarmUpResult {
  /** Synthetic kernel events fed to the scratch sender. */
  readonly events: number
  /** Entries the scratch receiver's external cache held. */
  readonly received: number
  /** Entries its commit created (every answer an ACK). */
  readonly committed: number
  /** FTFW datagrams between the scratch engines. */
  readonly datagrams: number
}

/** Synthetic entry i: TCP ESTABLISHED from 198.18.0.0/15 (RFC 2544), as the kernel reports it. */
function warmFlow (i: number): Flow {
  const orig: FlowTuple = { src: `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`, dst: '198.19.255.1', l4proto: L4Proto.TCP, sport: 1024 + (i % 60000), dport: 443 }
  return {
    family: 'ipv4',
    orig,
    reply: invertTuple(orig),
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 3600,
    tcp: { state: 3, flagsOrig: { flags: TCP_FLAG_BE_LIBERAL, mask: TCP_FLAG_BE_LIBERAL }, flagsReply: { flags: TCP_FLAG_BE_LIBERAL, mask: TCP_FLAG_BE_LIBERAL } }
  }
}

/** `count` NEW event messages from entry `first` on, concatenated as one receive batch. */
function eventBatch (first: number, count: number): Buffer {
  const parts: Buffer[] = []
  for (let i = first; i < first + count; i++) {
    const m = encodeRequest({ op: 'create', flow: warmFlow(i) }, 0)
    m.writeUInt16LE(NEW_EVENT_FLAGS, 6)
    const len = nlAlign(m.length)
    parts.push(len === m.length ? m : Buffer.concat([m, Buffer.alloc(len - m.length)]))
  }
  return Buffer.concat(parts)
}

/** The scratch engines' config: the node's FTFW settings, an open filter, no bulk, the scratch peer. */
function scratchConfig (node: EngineConfig): EngineConfig {
  return {
    filter: { protocols: { mode: 'ignore', list: [] }, ignoreAddresses: [], tcpStates: null },
    alwaysIgnore: [],
    ftfw: node.ftfw,
    bulk: null,
    disableExternalCache: false,
    commitBatch: node.commitBatch,
    initialSeq: node.initialSeq,
    syncSource: { kind: 'unicast', peer: SCRATCH_PEER },
    auth: false,
    ownAddresses: [],
    commitRanges: null
  }
}

/**
 * Run the warm-up (module comment); `entries` synthetic flows. `asReceived` makes each kernel event
 * batch and each datagram the receiving engine gets into the kind of Buffer real input arrives in:
 * the worker passes the nfct addon's copyBuffer (io/nfct.ts). V8 gives Buffers made in C++ (the
 * addon's batches, the UDP socket's datagrams) another hidden class than Buffers made in JavaScript;
 * warmed on the latter, every byte-path function deoptimised at the first real batch ("wrong map",
 * 24 of the 31 deopts after a warm-up on the sync bench's first phase) and was compiled again while
 * that batch waited.
 */
export function warmUpConntrack (node: EngineConfig, entries = WARM_UP_ENTRIES, asReceived: (b: Buffer) => Buffer = (b) => b): WarmUpResult {
  const cfg = scratchConfig(node)
  let now = 0
  const engines: Record<'a' | 'b', EngineState> = { a: createEngine(cfg, [], now), b: createEngine(cfg, [], now) }
  const scratch = Buffer.allocUnsafe(MAX_REQUEST_BYTES)
  let datagrams = 0
  let seq = 0
  // one input and everything it causes, on both engines, breadth first
  const run = (first: 'a' | 'b', input: EngineInput): void => {
    const work: Array<['a' | 'b', EngineInput]> = [[first, input]]
    for (let next = work.shift(); next !== undefined; next = work.shift()) {
      const [who, inp] = next
      const r = stepEngine(engines[who], inp, now)
      engines[who] = r.state
      for (const e of r.effects) {
        const follow = answer(who, e)
        if (follow !== null) work.push(follow)
      }
    }
  }
  const answer = (who: 'a' | 'b', e: EngineEffect): ['a' | 'b', EngineInput] | null => {
    switch (e.kind) {
      case 'send':
        datagrams++
        return [who === 'a' ? 'b' : 'a', { kind: 'datagram', buf: asReceived(e.datagram), from: SCRATCH_PEER }]
      case 'apply':
        // encoded as the committer encodes them, answered with ACKs
        for (const req of e.requests) encodeRequestInto(req as CtRequest, ++seq, 0, scratch, 0)
        return [who, { kind: 'applied', purpose: e.purpose, results: e.requests.map(() => ({ ok: true as const })) }]
      default:
        return null
    }
  }
  const due = (who: 'a' | 'b'): void => {
    const d = engineDeadline(engines[who])
    if (d !== null && d <= now) run(who, { kind: 'timeout' })
  }
  const builder = new EventBatchBuilder()
  const counters = { events: 0, ownEvents: 0, eventDecodeErrors: 0 }
  for (let i = 0; i < entries; i += EVENTS_PER_BATCH) {
    decodeEventRecords(asReceived(eventBatch(i, Math.min(EVENTS_PER_BATCH, entries - i))), 0, counters, builder,
      (batch) => { run('a', { kind: 'kernelRecords', batch }) },
      (ev) => { run('a', { kind: 'kernelEvent', event: ev.event, flow: ev.flow }) },
      () => {})
    now += 1
    due('a')
    due('b')
  }
  // let the last rounds and ACKs go through
  for (let i = 0; i < 5; i++) {
    now += node.ftfw.aliveIntervalMs
    due('a')
    due('b')
  }
  const received = engineStatus(engines.b).external.active
  run('b', { kind: 'command', id: 1, effect: { kind: 'ctCommit', budgetMs: 60_000 } })
  return { events: counters.events, received, committed: engineStatus(engines.b).lastCommit?.ok ?? 0, datagrams }
}
