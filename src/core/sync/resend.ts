/**
 * The FTFW resend queue (specs/conntrackd-ftfw.md §3.5): what was sent and may be NACKed, oldest first.
 *
 * Entries join at the tail in transmission order, which is sequence order, and leave from anywhere: released by
 * an ACK or a peer HELLO, moved back to the tx queue by a NACK or a newer change of the flow, or dropped as the
 * oldest when the queue is full. A Map keyed by sequence number did this with two hash operations per message;
 * here an entry knows its slot in an array, so joining is a push and leaving writes a hole. Holes at the head
 * are skipped as they appear, and the array is compacted when the head has moved far (only on `push`, so a walk
 * over the queue may remove entries as it goes).
 */

/** What the queue needs of an entry: its slot, set by the queue (-1 while not queued). */
export interface Slotted {
  slot: number
}

export class ResendQueue<T extends Slotted> {
  private items: Array<T | null> = []
  /** Index in `items` of the oldest entry (items.length when empty). */
  private head = 0
  /** Slot number of items[0]: slots only grow, compaction moves this base. */
  private base = 0
  /** Entries queued. */
  size = 0

  push (item: T): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) this.compact()
    item.slot = this.base + this.items.length
    this.items.push(item)
    this.size++
  }

  /** Take `item` out (nothing when it is not queued). */
  remove (item: T): void {
    if (item.slot < 0) return
    const i = item.slot - this.base
    this.items[i] = null
    item.slot = -1
    this.size--
    if (i === this.head) this.skipHoles()
  }

  /** The oldest entry, or undefined. */
  oldest (): T | undefined {
    return this.items[this.head] ?? undefined
  }

  /** Visit the entries oldest first while `visit` returns true; `visit` may remove the entry it is given. */
  walk (visit: (item: T) => boolean): void {
    const items = this.items
    for (let i = this.head; i < items.length; i++) {
      const item = items[i]
      if (item !== null && item !== undefined && !visit(item)) return
    }
  }

  private skipHoles (): void {
    const items = this.items
    let h = this.head
    while (h < items.length && items[h] === null) h++
    this.head = h
    if (h === items.length) { // empty: start over, slots keep growing
      this.base += items.length
      items.length = 0
      this.head = 0
    }
  }

  private compact (): void {
    this.base += this.head
    this.items = this.items.slice(this.head)
    this.head = 0
  }
}
