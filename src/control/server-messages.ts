/**
 * Client side of the control protocol (control/protocol.ts): zod schemas of every message the
 * daemon sends, so hafwctl and scripts refuse a broken message with the path of the bad field, and
 * keep the fields a newer daemon adds. The daemon itself never loads this module (nor zod):
 * test/arch/daemon-imports.test.ts.
 */
import { z } from 'zod'
import type { GroupState, GroupTransitionReason } from '../core/group/sync-group.js'
import { ROUTER_STATES } from '../core/vrrp/types.js'
import type { RouterState, TrackKind, TransitionReason, RouterSnapshot } from '../core/vrrp/types.js'
import { DUMP_CHUNK_ENTRIES, PROTOCOL_VERSION } from './protocol.js'
import type { CommandType, ControlEvent, CtEntryView, ErrorCode, IssueView, ServerMessage, Status } from './protocol.js'

const requestId = z.union([z.string().max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)])

const cacheName = z.enum(['internal', 'external'])

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

const eventSchema: z.ZodType<ControlEvent> = z.discriminatedUnion('kind', [
  transitionSchema.extend({ kind: z.literal('transition'), time: z.string() }),
  groupTransitionSchema.extend({ kind: z.literal('groupTransition'), time: z.string() }),
  z.looseObject({ kind: z.literal('role'), from: z.string(), to: z.string(), reason: z.string().optional(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('bulk'), from: z.string(), to: z.string(), reason: z.string(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('maintenance'), on: z.boolean(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('peer'), from: z.string(), to: z.string(), at: millis, time: z.string() }),
  z.looseObject({ kind: z.literal('priority'), routerId: z.string(), from: z.number().int(), to: z.number().int(), cause: z.string(), at: millis, time: z.string() })
])

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

const issueSchema: z.ZodType<IssueView> = z.looseObject({ path: z.string(), line: z.number().int().optional(), column: z.number().int().optional(), message: z.string() })

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

function firstIssue (err: z.ZodError): string {
  const i = err.issues[0]
  if (i === undefined) return 'invalid message'
  const path = i.path.map(String).join('.')
  return path === '' ? i.message : `${path}: ${i.message}`
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
  if (typeof data === 'object' && data !== null && !Array.isArray(data) && (data as { v?: unknown }).v !== PROTOCOL_VERSION) {
    return { ok: false, message: `hafwd speaks protocol version ${JSON.stringify((data as { v?: unknown }).v) ?? 'unknown'}; this client speaks v${PROTOCOL_VERSION}` }
  }
  const r = serverMessageSchema.safeParse(data)
  if (!r.success) return { ok: false, message: `unexpected message from hafwd: ${firstIssue(r.error)}` }
  return { ok: true, message: r.data }
}
