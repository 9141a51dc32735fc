/**
 * The effects of one engine step, collected in order (./engine.ts). A tiny writer so the step's
 * modules say `out.count('ct.overrun')` instead of building effect objects by hand.
 */
import type { EngineEffect, LogLevel } from './engine-types.js'

export class EngineOut {
  readonly effects: EngineEffect[] = []

  push (e: EngineEffect): void {
    this.effects.push(e)
  }

  count (name: string, by = 1): void {
    this.effects.push({ kind: 'count', name, by })
  }

  log (level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>> | null = null): void {
    this.effects.push({ kind: 'log', level, msg, fields })
  }

  complete (id: number, error: string | null = null): void {
    this.effects.push({ kind: 'complete', id, error })
  }
}
