/**
 * The control protocol between hafwd and its clients (hafwctl, metrics, scripts): versioned JSON
 * text messages over a WebSocket (architecture decision 9). Pure: no sockets, no clock; the
 * server and the client both validate with the schemas here.
 *
 * Every message is one JSON object `{ v: 1, type, ... }`.
 *
 *   client → daemon (requests; `id` is optional, a string ≤ 64 characters or a safe integer,
 *   echoed in the reply so a client can match replies to requests):
 *     status        → status      the whole snapshot: node, routers, groups, runtime counters
 *     counters      → counters    the runtime counters only
 *     subscribe     → subscribed  then `event` messages are pushed until unsubscribe / close
 *     unsubscribe   → unsubscribed
 *
 *   daemon → client:
 *     status, counters, subscribed, unsubscribed   replies (carry the request's id, or null)
 *     error { code, message }                      a refused request (carries its id when readable)
 *     event { event }                              pushed, no id: a router or sync group transition
 *
 * A bad request never crashes the daemon nor changes any state: it gets an `error` reply and the
 * connection keeps serving. Checks, in this order (the first failing one is the code):
 *   1. tooLarge      the text is longer than MAX_REQUEST_BYTES bytes
 *   2. badJson       not JSON (binary frames are refused the same way, as not text)
 *   3. badMessage    not a JSON object
 *   4. badVersion    `v` missing or not PROTOCOL_VERSION
 *   5. badMessage    `type` missing or not a string
 *   6. notAvailable  a PLANNED_REQUEST_TYPES command: named, documented, not served yet
 *   7. unknownType   any other type
 *   8. badMessage    the fields of the known type do not validate (extra fields are refused too)
 * Codes outside parsing: `internal` (an error reply: the status source threw) and `tooSlow` (the
 * WebSocket close reason, code 1008, for a subscriber that does not read its events).
 */
import { z } from 'zod'
import type { GroupSnapshot } from '../core/node.js'
import type { GroupState, GroupTransitionReason } from '../core/group/sync-group.js'
import { ROUTER_STATES } from '../core/vrrp/types.js'
import type { RouterSnapshot, RouterState, TransitionReason } from '../core/vrrp/types.js'

export const PROTOCOL_VERSION = 1

/** Requests are a few dozen bytes; anything above this is refused with `tooLarge` (and the connection kept). */
export const MAX_REQUEST_BYTES = 64 * 1024

export const REQUEST_TYPES = ['status', 'counters', 'subscribe', 'unsubscribe'] as const
export type RequestType = typeof REQUEST_TYPES[number]

/**
 * Commands that belong to this protocol but are not served yet; each is answered with a
 * `notAvailable` error, never with a pretend success. Closed list:
 *   reload       re-read the configuration file (today: SIGHUP)
 *   maintenance  leave MASTER on purpose (priority 0) and stay BACKUP until cleared
 *   commit       commit the external conntrack cache into the kernel
 *   flush        flush the internal/external conntrack caches
 *   resync       resync the internal cache from the kernel table
 *   bulk         send a bulk update of the internal cache to the peers
 *   dump         dump a conntrack cache
 */
export const PLANNED_REQUEST_TYPES = ['reload', 'maintenance', 'commit', 'flush', 'resync', 'bulk', 'dump'] as const
export type PlannedRequestType = typeof PLANNED_REQUEST_TYPES[number]

/** Why a request was refused. Closed set; see the module comment for the order of the checks. */
export const ERROR_CODES = ['tooLarge', 'badJson', 'badMessage', 'badVersion', 'notAvailable', 'unknownType', 'tooSlow', 'internal'] as const
export type ErrorCode = typeof ERROR_CODES[number]

export type RequestId = string | number

const requestId = z.union([z.string().max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)])

const envelope = { v: z.literal(PROTOCOL_VERSION), id: requestId.optional() }

/** Requests carry nothing but the envelope today; strict, so a misspelt field is an error, not ignored. */
const requestSchemas: Record<RequestType, z.ZodType> = {
  status: z.strictObject({ ...envelope, type: z.literal('status') }),
  counters: z.strictObject({ ...envelope, type: z.literal('counters') }),
  subscribe: z.strictObject({ ...envelope, type: z.literal('subscribe') }),
  unsubscribe: z.strictObject({ ...envelope, type: z.literal('unsubscribe') })
}

export interface Request {
  readonly v: typeof PROTOCOL_VERSION
  readonly id?: RequestId
  readonly type: RequestType
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
  lastMaster: z.looseObject({ address: z.string(), priority: z.number().int(), adverIntervalCs: z.number().int(), at: millis }).nullable(),
  lastTransition: transitionSchema.nullable(),
  counters: z.looseObject({
    transitions: count,
    advertsReceived: count,
    advertsSent: count,
    priorityZeroReceived: count,
    priorityZeroSent: count,
    addressListMismatch: count,
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
  counters: counterMap
})

// ---------------------------------------------------------------------------------------------
// Events and replies
// ---------------------------------------------------------------------------------------------

/** A pushed event: one router or one sync group changed state. `at` is on the daemon's monotonic clock. */
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

const eventSchema: z.ZodType<ControlEvent> = z.discriminatedUnion('kind', [
  transitionSchema.extend({ kind: z.literal('transition'), time: z.string() }),
  groupTransitionSchema.extend({ kind: z.literal('groupTransition'), time: z.string() })
])

export type ReplyId = RequestId | null

export type ServerMessage =
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'status', readonly status: Status }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'counters', readonly counters: Readonly<Record<string, number>> }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'subscribed' }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'unsubscribed' }
  | { readonly v: 1, readonly id: ReplyId, readonly type: 'error', readonly code: ErrorCode, readonly message: string }
  | { readonly v: 1, readonly type: 'event', readonly event: ControlEvent }

export type ErrorReply = Extract<ServerMessage, { type: 'error' }>

const replyEnvelope = { v: z.literal(PROTOCOL_VERSION), id: requestId.nullable() }
const errorCode = z.custom<ErrorCode>(v => typeof v === 'string')

const serverMessageSchema: z.ZodType<ServerMessage> = z.discriminatedUnion('type', [
  z.looseObject({ ...replyEnvelope, type: z.literal('status'), status: statusSchema }),
  z.looseObject({ ...replyEnvelope, type: z.literal('counters'), counters: counterMap }),
  z.looseObject({ ...replyEnvelope, type: z.literal('subscribed') }),
  z.looseObject({ ...replyEnvelope, type: z.literal('unsubscribed') }),
  z.looseObject({ ...replyEnvelope, type: z.literal('error'), code: errorCode, message: z.string() }),
  z.looseObject({ v: z.literal(PROTOCOL_VERSION), type: z.literal('event'), event: eventSchema })
])

// ---------------------------------------------------------------------------------------------
// Parsing and building
// ---------------------------------------------------------------------------------------------

export function errorReply (id: ReplyId, code: ErrorCode, message: string): ErrorReply {
  return { v: PROTOCOL_VERSION, id, type: 'error', code, message }
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
  if ((PLANNED_REQUEST_TYPES as readonly string[]).includes(type)) {
    return fail(id, 'notAvailable', `"${type}" is not available in this version of hafwd`)
  }
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
