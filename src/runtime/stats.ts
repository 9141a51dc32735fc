/**
 * Named counters (architecture decision 7): every reason a packet is dropped or an effect fails
 * is its own counter, shown by the status API and hafwctl.
 */
export class Counters {
  private readonly values = new Map<string, number>()

  inc (name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by)
  }

  get (name: string): number {
    return this.values.get(name) ?? 0
  }

  /** Sorted plain object, for snapshots and logs. */
  toJSON (): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)))
  }
}
