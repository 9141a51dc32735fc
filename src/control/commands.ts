/**
 * The commands of the control API (protocol.ts COMMAND_TYPES), as the daemon serves them. The
 * server validates the request, calls the handler and turns what it returns, or the
 * CommandError it throws, into replies; runtime/commands.ts implements it on a running daemon,
 * tests use a fake.
 */
import type { CacheName, CtEntryView, ErrorCode, IssueView, ReloadChange, RouterPlanView } from './protocol.js'

/** A command that cannot be carried out, with the error code the client gets. */
export class CommandError extends Error {
  override readonly name = 'CommandError'
  constructor (readonly code: Extract<ErrorCode, 'notAvailable' | 'invalidConfig' | 'failed'>, message: string, readonly issues?: readonly IssueView[]) {
    super(message)
  }
}

export interface ReloadResult {
  /** The file that was read. */
  readonly file: string
  readonly changes: readonly ReloadChange[]
  /** What the reload did not apply, or applied with a side effect worth knowing. */
  readonly notes: readonly string[]
  /** Per router: restart (and the keys why), in place (and what), added, removed (runtime/reload-plan.ts). */
  readonly routers?: readonly RouterPlanView[]
  /** A dry run: validated and planned, nothing applied. */
  readonly dryRun?: boolean
}

/** A conntrack command carried out: a sentence for people, and facts for scripts. */
export interface CommandOutcome {
  readonly message: string
  readonly data?: Readonly<Record<string, unknown>>
}

export interface StatsResult {
  /** runtime/conntrack.ts ConntrackStatus. */
  readonly conntrack: unknown
  /** The ct.* and sync.* runtime counters. */
  readonly counters: Readonly<Record<string, number>>
}

/**
 * Every method may throw CommandError (`notAvailable` when the conntrack module is off,
 * `invalidConfig` for an invalid file, `failed` when the daemon refused); anything else thrown
 * becomes an `internal` error.
 */
export interface CommandHandler {
  /** dryRun: validate and plan against the running node, apply nothing (`hafwctl reload --dry-run`). */
  reload: (opts?: { readonly dryRun?: boolean }) => Promise<ReloadResult>
  /** Returns whether the call changed the mode. */
  maintenance: (on: boolean) => Promise<{ readonly on: boolean, readonly changed: boolean }>
  commit: (waitMs: number) => Promise<CommandOutcome>
  flush: (caches: 'internal' | 'external' | 'both') => Promise<CommandOutcome>
  resync: () => Promise<CommandOutcome>
  bulk: () => Promise<CommandOutcome>
  requestResync: () => Promise<CommandOutcome>
  /** The whole cache at one instant, sorted; the server streams it in chunks. */
  dump: (cache: CacheName) => Promise<readonly CtEntryView[]>
  stats: () => StatsResult
}
