/**
 * One full garbage collection of the calling thread's heap: the conntrack worker runs it once,
 * SETTLE_AFTER_START_MS after its start.
 *
 * Why: the worker's start-up (the warm-up's synthetic traffic, the kernel dump, the first bulk)
 * leaves its heap at ~12 MiB with the garbage's buffers held in malloc. V8's memory reducer
 * collects only after some seconds without allocation, and the start-up keeps resetting that
 * wait: on the idle lab pair the worker's first mark-compact came ~17 s after start, so a node
 * stayed 3–5 MiB above its steady state until then (71–73 MiB at 15 s, 67–69 from 20 s). Collected
 * here, the next malloc_trim (runtime/memory-trim.ts, every 10 s) hands the memory back.
 *
 * `gc` exists only when node runs with --expose-gc (main/node-flags.ts); without it this does
 * nothing and says so. It runs on the worker's thread, never on the VRRP thread; at ~12 MiB of
 * heap it takes ~10 ms.
 */
export const SETTLE_AFTER_START_MS = 5_000

export function settleHeap (): boolean {
  const gc = (globalThis as { gc?: () => void }).gc
  if (typeof gc !== 'function') return false
  gc()
  return true
}
