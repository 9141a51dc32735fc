/**
 * The control protocol between hafwd and its clients (hafwctl, metrics, scripts): versioned JSON
 * text messages over a WebSocket (architecture decision 9). Pure: no sockets, no clock; the
 * server and the client both validate with the schemas here.
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
import { z } from 'zod'
import type { GroupSnapshot } from '../core/node.js'
import type { GroupState, GroupTransitionReason } from '../core/group/sync-group.js'
import { ROUTER_STATES } from '../core/vrrp/types.js'
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

const requestId = z.union([z.string().max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)])

const envelope = { v: z.literal(PROTOCOL_VERSION), id: requestId.optional() }
const cacheName = z.enum(['internal', 'external'])

/** Strict, so a misspelt field is an error, not ignored. */
const bare = <T extends RequestType>(type: T) => z.strictObject({ ...envelope, type: z.literal(type) })
const requestSchemas: Record<RequestType, z.ZodType> = {
  status: bare('status'),
  counters: bare('counters'),
  subscribe: bare('subscribe'),
  unsubscribe: bare('unsubscribe'),
  reload: z.strictObject({ ...envelope, type: z.literal('reload'), dryRun: z.boolean().optional() }),
  maintenance: z.strictObject({ ...envelope, type: z.literal('maintenance'), on: z.boolean() }),
  commit: z.strictObject({ ...envelope, type: z.literal('commit'), waitMs: z.number().int().min(0).max(MAX_COMMIT_WAIT_MS).optional() }),
  flush: z.strictObject({ ...envelope, type: z.literal('flush'), caches: z.enum(['internal', 'external', 'both']).optional() }),
  resync: bare('resync'),
  bulk: bare('bulk'),
  requestResync: bare('requestResync'),
  dump: z.strictObject({ ...envelope, type: z.literal('dump'), cache: cacheName }),
  stats: bare('stats')
}

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

// Enumerations a newer daemon may extend are checked as strings, so an older client still reads
// the snapshot; the states are a fixed part of VRRP and checked exactly.
const routerState = z.enum(ROUTER_STATES as [RouterState, ...RouterState[]])
const groupState = z.enum(['initialize', 'backup', 'master', 'fault'] satisfies GroupState[])
const transitionReason = z.custom<TransitionReason>(v => typeof v === 'string')
const groupReason = z.custom<GroupTransitionReason>(v => typeof v === 'string')
const millis = z.number().finite()
const deadline = millis.nullable()
const count = z.number().int().min(0)
const counterMap = z.record(z.string(), count)

const transitionSchema = z.looseObject({
  routerId: z.string(),
  from: routerState,
  to: routerState,
  reason: transitionReason,
  at: millis,
  priority: z.number().int()
})

const groupTransitionSchema = z.looseObject({
  group: z.string(),
  from: groupState,
  to: groupState,
  reason: groupReason,
  member: z.string().nullable(),
  at: millis
})

const routerStatusSchema = z.looseObject({
  id: z.string(),
  ifname: z.string(),
  family: z.enum(['ipv4', 'ipv6']),
  vrid: z.number().int(),
  version: z.union([z.literal(2), z.literal(3)]),
  state: routerState,
  want: routerState,
  syncGroup: z.string().nullable(),
  configuredPriority: z.number().int(),
  effectivePriority: z.number().int(),
  primaryAddress: z.string(),
  advertIntervalCs: z.number().int(),
  masterAdverIntervalCs: z.number().int(),
  interfaceUp: z.boolean(),
  faults: z.array(z.string()),
  // Tracking (an older daemon sends none).
  track: z.array(z.looseObject({
    name: z.string(),
    kind: z.custom<TrackKind>(v => typeof v === 'string'),
    weight: z.number().int(),
    up: z.boolean().nullable(),
    value: z.number().nullable(),
    contribution: z.number().int(),
    fault: z.boolean()
  })).default([]),
  offsets: z.record(z.string(), z.number()).default({}),
  lastMaster: z.looseObject({ address: z.string(), priority: z.number().int(), adverIntervalCs: z.number().int(), at: millis }).nullable(),
  lastTransition: transitionSchema.nullable(),
  counters: z.looseObject({
    transitions: count,
    advertsReceived: count,
    advertsSent: count,
    priorityZeroReceived: count,
    priorityZeroSent: count,
    addressListMismatch: count,
    groupReleases: count.default(0),
    drops: z.record(z.custom<keyof RouterSnapshot['counters']['drops']>(v => typeof v === 'string'), count)
  }),
  deadline,
  vips: z.array(z.looseObject({ address: z.string(), prefix: z.number().int(), dev: z.string().nullable() }))
})

const groupStatusSchema = z.looseObject({
  name: z.string(),
  state: groupState,
  members: z.array(z.looseObject({ id: z.string(), state: z.string(), want: z.string() })),
  transitions: count,
  lastTransition: groupTransitionSchema.nullable()
})

export const statusSchema: z.ZodType<Status> = z.looseObject({
  node: z.string(),
  pid: z.number().int(),
  version: z.string(),
  uptimeMs: millis,
  now: millis,
  time: z.string(),
  routers: z.array(routerStatusSchema),
  groups: z.array(groupStatusSchema),
  counters: counterMap,
  role: z.string().optional(),
  maintenance: z.boolean().optional()
})

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

const eventSchema: z.ZodType<ControlEvent> = z.discriminatedUnion('kind', [
  transitionSchema.extend({ kind: z.literal('transition'), time: z.string() }),
  groupTransitionSchema.extend({ kind: z.literal('groupTransition'), time: z.string() }),
  z.looseObject({ kind: z.literal('role'), from: z.string(), to: z.string(), reason: z.string().optional(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('bulk'), from: z.string(), to: z.string(), reason: z.string(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('maintenance'), on: z.boolean(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('peer'), from: z.string(), to: z.string(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('priority'), routerId: z.string(), from: z.number().int(), to: z.number().int(), cause: z.string(), at: millis, time: z.string() })
])

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

const port = z.number().int().min(0).max(65535)
const tupleView = z.looseObject({
  src: z.string(),
  dst: z.string(),
  sport: port.optional(),
  dport: port.optional(),
  icmpType: z.number().int().optional(),
  icmpCode: z.number().int().optional(),
  icmpId: z.number().int().optional()
})
const natBinding = z.looseObject({ ip: z.string().optional(), port: port.optional() })
const ctEntrySchema: z.ZodType<CtEntryView> = z.looseObject({
  family: z.enum(['ipv4', 'ipv6']),
  proto: z.number().int().min(0).max(255),
  orig: tupleView,
  reply: tupleView,
  state: z.string().optional(),
  timeout: z.number().optional(),
  mark: z.number().int().optional(),
  zone: z.number().int().optional(),
  statusBits: z.number().int().optional(),
  nat: z.looseObject({ src: natBinding.optional(), dst: natBinding.optional() }).optional(),
  helper: z.string().optional(),
  status: z.enum(['new', 'alive']),
  activeSinceS: count,
  idleS: count
})

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

const issueSchema: z.ZodType<IssueView> = z.looseObject({ path: z.string(), line: z.number().int().optional(), column: z.number().int().optional(), message: z.string() })

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

const replyEnvelope = { v: z.literal(PROTOCOL_VERSION), id: requestId.nullable() }
const errorCode = z.custom<ErrorCode>(v => typeof v === 'string')
const commandType = z.custom<CommandType>(v => typeof v === 'string')

const serverMessageSchema: z.ZodType<ServerMessage> = z.discriminatedUnion('type', [
  z.looseObject({ ...replyEnvelope, type: z.literal('status'), status: statusSchema }),
  z.looseObject({ ...replyEnvelope, type: z.literal('counters'), counters: counterMap }),
  z.looseObject({ ...replyEnvelope, type: z.literal('subscribed') }),
  z.looseObject({ ...replyEnvelope, type: z.literal('unsubscribed') }),
  z.looseObject({
    ...replyEnvelope,
    type: z.literal('reloaded'),
    file: z.string(),
    changes: z.array(z.looseObject({ id: z.string(), change: z.string() })),
    notes: z.array(z.string()),
    routers: z.array(z.looseObject({ id: z.string(), change: z.string(), restart: z.array(z.string()), inPlace: z.array(z.string()) })).optional(),
    dryRun: z.boolean().optional()
  }),
  z.looseObject({ ...replyEnvelope, type: z.literal('maintenance'), on: z.boolean(), changed: z.boolean() }),
  z.looseObject({ ...replyEnvelope, type: z.literal('done'), command: commandType, message: z.string(), data: z.record(z.string(), z.unknown()).optional() }),
  z.looseObject({ ...replyEnvelope, type: z.literal('stats'), conntrack: z.unknown(), counters: counterMap }),
  z.looseObject({ ...replyEnvelope, type: z.literal('dump'), cache: cacheName, chunk: count, total: count, last: z.boolean(), entries: z.array(ctEntrySchema).max(DUMP_CHUNK_ENTRIES) }),
  z.looseObject({ ...replyEnvelope, type: z.literal('error'), code: errorCode, message: z.string(), issues: z.array(issueSchema).optional() }),
  z.looseObject({ v: z.literal(PROTOCOL_VERSION), type: z.literal('event'), event: eventSchema })
])

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

function firstIssue (err: z.ZodError): string {
  const i = err.issues[0]
  if (i === undefined) return 'invalid message'
  const path = i.path.map(String).join('.')
  return path === '' ? i.message : `${path}: ${i.message}`
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
  const idCheck = requestId.safeParse(data.id)
  const id: ReplyId = idCheck.success ? idCheck.data : null
  if (data.v !== PROTOCOL_VERSION) {
    return fail(id, 'badVersion', `protocol version ${JSON.stringify(data.v) ?? 'missing'} is not supported; this hafwd speaks v${PROTOCOL_VERSION}`)
  }
  const type = data.type
  if (typeof type !== 'string') return fail(id, 'badMessage', '"type" must be a string')
  if (!(REQUEST_TYPES as readonly string[]).includes(type)) {
    return fail(id, 'unknownType', `unknown request type "${type.slice(0, 64)}"; known: ${REQUEST_TYPES.join(', ')}`)
  }
  const r = (requestSchemas[type as RequestType]).safeParse(data)
  if (!r.success) return fail(id, 'badMessage', firstIssue(r.error))
  return { ok: true, request: r.data as Request }
}

export type ParsedServerMessage =
  | { readonly ok: true, readonly message: ServerMessage }
  | { readonly ok: false, readonly message: string }

/** Client side: validate a message from the daemon (a daemon of another version may send more fields, kept). */
export function parseServerMessage (text: string): ParsedServerMessage {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return { ok: false, message: 'message from hafwd is not valid JSON' }
  }
  if (isRecord(data) && data.v !== PROTOCOL_VERSION) {
    return { ok: false, message: `hafwd speaks protocol version ${JSON.stringify(data.v) ?? 'unknown'}; this client speaks v${PROTOCOL_VERSION}` }
  }
  const r = serverMessageSchema.safeParse(data)
  if (!r.success) return { ok: false, message: `unexpected message from hafwd: ${firstIssue(r.error)}` }
  return { ok: true, message: r.data }
}

export function encodeMessage (m: ServerMessage | Request): string {
  return JSON.stringify(m)
}
