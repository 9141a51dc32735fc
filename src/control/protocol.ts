/**
 * The control protocol between hafwd and its clients (hafwctl, metrics, scripts): versioned JSON
 * text messages over a WebSocket (architecture decision 9). Pure: no sockets, no clock.
 *
 * The daemon validates requests here by hand (a dozen fields; REQUEST_FIELDS). Clients validate
 * the daemon's messages with the zod schemas of control/server-messages.ts. The split keeps zod
 * out of the daemon's VRRP thread: loading it cost ~2.5 MiB of heap that an idle daemon carried
 * for nothing (test/arch/daemon-imports.test.ts holds the line).
 *
 * Every message is one JSON object `{ v: 1, type, ... }`.
 *
 *   client → daemon (requests; `id` is optional, a string ≤ 64 characters or a safe integer,
 *   echoed in the reply so a client can match replies to requests):
 *     status              → status      the whole snapshot: node, routers, groups, runtime counters
 *     counters            → counters    the runtime counters only
 *     subscribe           → subscribed  then `event` messages are pushed until unsubscribe / close
 *     unsubscribe         → unsubscribed
 *   commands (COMMAND_TYPES; a daemon without a command handler answers `notAvailable`):
 *     reload {dryRun?}    → reloaded    re-read the config file, apply it as a diff; an invalid
 *                                       file is an `invalidConfig` error carrying the issues
 *                                       (key path, line), and nothing is applied. dryRun: the
 *                                       same checks and the plan per router (restart and why,
 *                                       in place and what), nothing applied (`dryRun: true`)
 *     maintenance {on}    → maintenance on: every router goes to FAULT (priority-0 advert if it
 *                                       was MASTER, so the peer takes over after Skew_Time);
 *                                       off: back to service
 *     commit {waitMs?}    → done        commit the external conntrack cache into the kernel
 *     flush {caches?}     → done        flush internal / external / both conntrack caches
 *     resync              → done        resync the internal cache from the kernel table
 *     bulk                → done        send the whole internal cache to the peer
 *     requestResync       → done        ask the peer for its whole state (RESYNC)
 *     dump {cache}        → dump × n    a conntrack cache, streamed in chunks of at most
 *                                       DUMP_CHUNK_ENTRIES entries; the last one has last: true
 *     stats               → stats       conntrack caches, sync and commit state, ct/sync counters
 *   The conntrack commands answer `notAvailable` when the conntrack module is off.
 *
 *   daemon → client:
 *     the replies above (carry the request's id, or null)
 *     error { code, message, issues? }             a refused request (carries its id when readable)
 *     event { event }                              pushed, no id: a router or sync group
 *                                                  transition, a node role change, maintenance,
 *                                                  a router's effective priority change (cause)
 *
 * A bad request never crashes the daemon nor changes any state: it gets an `error` reply and the
 * connection keeps serving. Checks, in this order (the first failing one is the code):
 *   1. tooLarge      the text is longer than MAX_REQUEST_BYTES bytes
 *   2. badJson       not JSON (binary frames are refused the same way, as not text)
 *   3. badMessage    not a JSON object
 *   4. badVersion    `v` missing or not PROTOCOL_VERSION
 *   5. badMessage    `type` missing or not a string
 *   6. unknownType   not a REQUEST_TYPES type
 *   7. badMessage    the fields of the known type do not validate (extra fields are refused too)
 * Codes outside parsing: `notAvailable` (a command this daemon cannot serve: no command handler,
 * or conntrack off), `invalidConfig` (reload: the file is invalid, `issues` says where),
 * `failed` (a command that could not be carried out, e.g. a reload that does not fit the system),
 * `internal` (the status source or a handler threw) and `tooSlow` (the WebSocket close reason,
 * code 1008, for a subscriber that does not read its events) and `rateLimited` (a client over its
 * request budget: this error, then close 1008 rateLimited).
 */
import type { LoopDelay } from '../runtime/loop-delay.js'
import type { GroupSnapshot } from '../core/node.js'
import type { GroupState, GroupTransitionReason } from '../core/group/sync-group.js'
import type { RouterSnapshot, RouterState, TrackKind, TransitionReason } from '../core/vrrp/types.js'

export const PROTOCOL_VERSION = 1

/** Requests are a few dozen bytes; anything above this is refused with `tooLarge` (and the connection kept). */
export const MAX_REQUEST_BYTES = 64 * 1024

/** Commands: served when the daemon has a command handler (control/commands.ts), else `notAvailable`. */
export const COMMAND_TYPES = ['reload', 'maintenance', 'commit', 'flush', 'resync', 'bulk', 'requestResync', 'dump', 'stats'] as const
export type CommandType = typeof COMMAND_TYPES[number]

export const REQUEST_TYPES = ['status', 'counters', 'subscribe', 'unsubscribe', ...COMMAND_TYPES] as const
export type RequestType = typeof REQUEST_TYPES[number]

/** The conntrack commands (conntrackd -c, -f, -R, -B, -n, -i/-e, -s): `notAvailable` when conntrack is off. */
export const CONNTRACK_COMMANDS = ['commit', 'flush', 'resync', 'bulk', 'requestResync', 'dump', 'stats'] as const satisfies readonly CommandType[]

/** Why a request was refused. Closed set; see the module comment. */
export const ERROR_CODES = ['tooLarge', 'badJson', 'badMessage', 'badVersion', 'notAvailable', 'unknownType', 'invalidConfig', 'failed', 'tooSlow', 'rateLimited', 'internal'] as const
export type ErrorCode = typeof ERROR_CODES[number]

export type RequestId = string | number

/** Entries per `dump` reply message: a 100k-entry cache is ~100 messages of ~300 KiB. */
export const DUMP_CHUNK_ENTRIES = 1000
/** Upper bound of `commit.waitMs`: the commit goes on in the background after it. */
export const MAX_COMMIT_WAIT_MS = 600_000
export const DEFAULT_COMMIT_WAIT_MS = 30_000

export type CacheName = 'internal' | 'external'

/** A request without its envelope: what a client asks for. */
export type RequestBody =
  | { readonly type: Exclude<RequestType, 'maintenance' | 'commit' | 'flush' | 'dump' | 'reload'> }
  | { readonly type: 'reload', readonly dryRun?: boolean }
  | { readonly type: 'maintenance', readonly on: boolean }
  | { readonly type: 'commit', readonly waitMs?: number }
  | { readonly type: 'flush', readonly caches?: 'internal' | 'external' | 'both' }
  | { readonly type: 'dump', readonly cache: CacheName }

export type Request = RequestBody & {
  readonly v: typeof PROTOCOL_VERSION
  readonly id?: RequestId
}

// ---------------------------------------------------------------------------------------------
// Status snapshot
// ---------------------------------------------------------------------------------------------

/** A virtual address as configured (`dev` null: the router's own interface). */
export interface VipStatus {
  readonly address: string
  readonly prefix: number
  readonly dev: string | null
}

/** A router as the status API shows it: the core snapshot plus its virtual addresses. */
export type RouterStatus = RouterSnapshot & { readonly vips: readonly VipStatus[] }

export interface Status {
  /** node.name from the config, else the host name. */
  readonly node: string
  readonly pid: number
  /** hafwd package version. */
  readonly version: string
  readonly uptimeMs: number
  /** The daemon's monotonic clock (ms) when the snapshot was taken: every `at` in it is on this clock. */
  readonly now: number
  /** Wall-clock time of the snapshot (ISO 8601), for display only. */
  readonly time: string
  readonly routers: readonly RouterStatus[]
  readonly groups: readonly GroupSnapshot[]
  /** Runtime counters (rx.frames, rx.drop.<reason>, effect.<kind>.ok|failed|skipped, transition.<state>, …). */
  readonly counters: Readonly<Record<string, number>>
  /** The node's conntrack role (core/orchestrator.ts). */
  readonly role?: string
  /** Conntrack caches, sync peer and commit state (runtime/conntrack.ts ConntrackStatus); absent when conntrack is off. */
  readonly conntrack?: unknown
  /** `hafwctl maintenance on` is in force: every router is held in FAULT (reason `maintenance`). */
  readonly maintenance?: boolean
  /** How late each event loop ran its timers (runtime/loop-delay.ts): the VRRP thread, the conntrack worker. */
  readonly loopDelay?: { readonly vrrp: LoopDelay, readonly conntrack: LoopDelay | null }
}

// ---------------------------------------------------------------------------------------------
// Events and replies
// ---------------------------------------------------------------------------------------------

/**
 * A pushed event: one router or one sync group changed state, the node's conntrack role changed
 * (core/orchestrator.ts), the startup bulk resync moved (core/sync/bulk.ts), or maintenance was
 * switched. `at` is on the daemon's monotonic clock (the bulk's: on the conntrack worker's).
 */
export type ControlEvent =
  | {
    readonly kind: 'transition'
    readonly routerId: string
    readonly from: RouterState
    readonly to: RouterState
    readonly reason: TransitionReason
    readonly priority: number
    readonly at: number
    /** Wall-clock time (ISO 8601) the daemon saw it, for display. */
    readonly time: string
  }
  | {
    readonly kind: 'groupTransition'
    readonly group: string
    readonly from: GroupState
    readonly to: GroupState
    readonly reason: GroupTransitionReason
    readonly member: string | null
    readonly at: number
    readonly time: string
  }
  /** `reason`: the units (sync groups, lone routers) whose change moved the role. */
  | { readonly kind: 'role', readonly from: string, readonly to: string, readonly reason?: string, readonly at: number, readonly time: string }
  /** `reason`: the bulk event (start, resyncAcked, settled, peerRestarted, retryTimeout, giveUp, alone). */
  | { readonly kind: 'bulk', readonly from: string, readonly to: string, readonly reason: string, readonly at: number, readonly time: string }
  | { readonly kind: 'maintenance', readonly on: boolean, readonly at: number, readonly time: string }
  /** The sync peer's liveness (unknown, heard, lost: nothing passed the source/MAC checks for 3 ALIVE intervals). */
  | { readonly kind: 'peer', readonly from: string, readonly to: string, readonly at: number, readonly time: string }
  /** A router's effective priority changed; `cause` says which tracked object / offset / reload (readable). */
  | { readonly kind: 'priority', readonly routerId: string, readonly from: number, readonly to: number, readonly cause: string, readonly at: number, readonly time: string }

// ---------------------------------------------------------------------------------------------
// Command replies
// ---------------------------------------------------------------------------------------------

/** One direction of a conntrack entry as `dump` shows it: ports for TCP/UDP/SCTP/DCCP/GRE, type/code/id for ICMP. */
export interface CtTupleView {
  readonly src: string
  readonly dst: string
  readonly sport?: number
  readonly dport?: number
  readonly icmpType?: number
  readonly icmpCode?: number
  readonly icmpId?: number
}

/** One conntrack cache entry as `dump` sends it (control/ct-view.ts builds it from a cache row). */
export interface CtEntryView {
  readonly family: 'ipv4' | 'ipv6'
  /** IP protocol number. */
  readonly proto: number
  readonly orig: CtTupleView
  readonly reply: CtTupleView
  /** TCP / SCTP / DCCP state name, when known. */
  readonly state?: string
  /** Seconds left, as last told by the kernel or the peer. */
  readonly timeout?: number
  readonly mark?: number
  readonly zone?: number
  /** IPS_* bits. */
  readonly statusBits?: number
  readonly nat?: { readonly src?: { readonly ip?: string, readonly port?: number }, readonly dst?: { readonly ip?: string, readonly port?: number } }
  readonly helper?: string
  /** conntrackd's object status: 'new' until its first update. */
  readonly status: 'new' | 'alive'
  readonly activeSinceS: number
  readonly idleS: number
}

/** What a reload did to each router (core/reconfigure.ts RouterChangeKind). */
export interface ReloadChange { readonly id: string, readonly change: string }

/** A router's line of the reload plan (runtime/reload-plan.ts RouterPlan). */
export interface RouterPlanView {
  readonly id: string
  readonly change: string
  /** restart: the config keys that force it. */
  readonly restart: readonly string[]
  /** inPlace: what changes, one phrase each. */
  readonly inPlace: readonly string[]
}

/** A config problem as `invalidConfig` carries it (config/issue.ts ConfigIssue). */
export interface IssueView { readonly path: string, readonly line?: number, readonly column?: number, readonly message: string }

export type ReplyId = RequestId | null

export type ServerMessage =
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'status', readonly status: Status }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'counters', readonly counters: Readonly<Record<string, number>> }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'subscribed' }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'unsubscribed' }
  /** `reload` applied: what happened to each router, and notes (e.g. sections that need a restart). */
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'reloaded', readonly file: string, readonly changes: readonly ReloadChange[], readonly notes: readonly string[], readonly routers?: readonly RouterPlanView[], readonly dryRun?: boolean }
  /** `maintenance`: the mode now, and whether this request changed it. */
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'maintenance', readonly on: boolean, readonly changed: boolean }
  /** A conntrack command carried out; `data` holds command-specific facts (e.g. the commit's result). */
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'done', readonly command: CommandType, readonly message: string, readonly data?: Readonly<Record<string, unknown>> }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'stats', readonly conntrack: unknown, readonly counters: Readonly<Record<string, number>> }
  /** One chunk of a `dump`: `chunk` counts from 0, `total` is the cache size at the snapshot. */
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'dump', readonly cache: CacheName, readonly chunk: number, readonly total: number, readonly last: boolean, readonly entries: readonly CtEntryView[] }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'error', readonly code: ErrorCode, readonly message: string, readonly issues?: readonly IssueView[] }
  | { readonly v: 1, readonly type: 'event', readonly event: ControlEvent }

export type ErrorReply = Extract<ServerMessage, { type: 'error' }>

// ---------------------------------------------------------------------------------------------
// Parsing and building
// ---------------------------------------------------------------------------------------------

export function errorReply (id: ReplyId, code: ErrorCode, message: string, issues?: readonly IssueView[]): ErrorReply {
  return issues === undefined ? { v: PROTOCOL_VERSION, id, type: 'error', code, message } : { v: PROTOCOL_VERSION, id, type: 'error', code, message, issues }
}

export type ParsedRequest =
  | { readonly ok: true, readonly request: Request }
  | { readonly ok: false, readonly reply: ErrorReply }

function isRecord (x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

/** A field's check: null when the value is valid, else what is wrong with it. */
type FieldCheck = (value: unknown) => string | null

const isBoolean: FieldCheck = v => typeof v === 'boolean' ? null : 'must be true or false'
const oneOf = (values: readonly string[]): FieldCheck => v => typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.map(s => `"${s}"`).join(', ')}`
const integerIn = (min: number, max: number): FieldCheck => v => Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? null : `must be an integer from ${min} to ${max}`

interface FieldSpec { readonly check: FieldCheck, readonly required: boolean }
const optional = (check: FieldCheck): FieldSpec => ({ check, required: false })
const required = (check: FieldCheck): FieldSpec => ({ check, required: true })

/**
 * The fields each request type takes besides v, id and type. Anything else is refused, so a
 * misspelt field is an error, not ignored.
 */
const REQUEST_FIELDS: Readonly<Record<RequestType, Readonly<Record<string, FieldSpec>>>> = {
  status: {},
  counters: {},
  subscribe: {},
  unsubscribe: {},
  reload: { dryRun: optional(isBoolean) },
  maintenance: { on: required(isBoolean) },
  commit: { waitMs: optional(integerIn(0, MAX_COMMIT_WAIT_MS)) },
  flush: { caches: optional(oneOf(['internal', 'external', 'both'])) },
  resync: {},
  bulk: {},
  requestResync: {},
  dump: { cache: required(oneOf(['internal', 'external'])) },
  stats: {}
}

const MAX_ID_LENGTH = 64

/** A request id: a string of at most 64 characters or a non-negative safe integer. */
export function isRequestId (x: unknown): x is RequestId {
  return (typeof x === 'string' && x.length <= MAX_ID_LENGTH) || (Number.isSafeInteger(x) && (x as number) >= 0)
}

/** The first problem of a known request type's fields (`key: what is wrong`), or null. */
function fieldProblem (type: RequestType, data: Readonly<Record<string, unknown>>): string | null {
  if ('id' in data && !isRequestId(data.id)) return `id: must be a string of at most ${MAX_ID_LENGTH} characters or an integer from 0 to ${Number.MAX_SAFE_INTEGER}`
  const fields = REQUEST_FIELDS[type]
  for (const key of Object.keys(data)) {
    if (key !== 'v' && key !== 'id' && key !== 'type' && !Object.hasOwn(fields, key)) return `${JSON.stringify(key.slice(0, 64))}: a ${type} request has no such field`
  }
  for (const [key, spec] of Object.entries(fields)) {
    if (!(key in data)) {
      if (spec.required) return `${key}: missing (a ${type} request needs it)`
      continue
    }
    const problem = spec.check(data[key])
    if (problem !== null) return `${key}: ${problem}`
  }
  return null
}

/**
 * Validate one request text (checks in the order of the module comment). `byteLength` is the
 * frame's size on the wire (UTF-8 bytes), checked before the text is parsed at all.
 */
export function parseRequest (text: string, byteLength: number): ParsedRequest {
  const fail = (id: ReplyId, code: ErrorCode, message: string): ParsedRequest => ({ ok: false, reply: errorReply(id, code, message) })
  if (byteLength > MAX_REQUEST_BYTES) return fail(null, 'tooLarge', `request is ${byteLength} bytes; the limit is ${MAX_REQUEST_BYTES}`)
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return fail(null, 'badJson', 'request is not valid JSON')
  }
  if (!isRecord(data)) return fail(null, 'badMessage', 'request must be a JSON object')
  // Echo the id in the error when it is readable, so the client can tell which request failed.
  const id: ReplyId = isRequestId(data.id) ? data.id : null
  if (data.v !== PROTOCOL_VERSION) {
    return fail(id, 'badVersion', `protocol version ${JSON.stringify(data.v) ?? 'missing'} is not supported; this hafwd speaks v${PROTOCOL_VERSION}`)
  }
  const type = data.type
  if (typeof type !== 'string') return fail(id, 'badMessage', '"type" must be a string')
  if (!(REQUEST_TYPES as readonly string[]).includes(type)) {
    return fail(id, 'unknownType', `unknown request type "${type.slice(0, 64)}"; known: ${REQUEST_TYPES.join(', ')}`)
  }
  const known = type as RequestType
  const problem = fieldProblem(known, data)
  if (problem !== null) return fail(id, 'badMessage', problem)
  // A fresh object of the checked fields only (JSON.parse may have made an own "__proto__").
  const request: Record<string, unknown> = { v: PROTOCOL_VERSION }
  if ('id' in data) request.id = data.id
  request.type = known
  for (const key of Object.keys(REQUEST_FIELDS[known])) if (key in data) request[key] = data[key]
  return { ok: true, request: request as Request }
}

export function encodeMessage (m: ServerMessage | Request): string {
  return JSON.stringify(m)
}
