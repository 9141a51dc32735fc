/**
 * Named counters (architecture decision 7): every reason a packet is dropped or an effect fails
 * is its own counter, shown by the status API and hafwctl.
 *
 * Counters kept elsewhere (the conntrack worker's, sent with its snapshots) are merged in on read:
 * one view for the status API, hafwctl and metrics, whichever thread counted.
 */
export class Counters {
  private readonly values = new Map<string, number>()
  private readonly sources: Array<() => Readonly<Record<string, number>>> = []

  inc (name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by)
  }

  get (name: string): number {
    let n = this.values.get(name) ?? 0
    for (const s of this.sources) n += s()[name] ?? 0
    return n
  }

  /** Show another owner's counters beside these (added when a name is in both). */
  merge (source: () => Readonly<Record<string, number>>): void {
    this.sources.push(source)
  }

  /**
   * Sorted plain object, for snapshots and logs. Sorted by code point, not localeCompare: the first
   * Intl/ICU call maps ICU's data into the process, measured +8.4 MiB of RSS, and this runs in the
   * daemon every snapshot.
   */
  toJSON (): Record<string, number> {
    const all = new Map(this.values)
    for (const s of this.sources) for (const [k, v] of Object.entries(s())) all.set(k, (all.get(k) ?? 0) + v)
    return Object.fromEntries([...all.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  }
}
