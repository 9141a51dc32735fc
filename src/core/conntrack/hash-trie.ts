/**
 * A persistent (immutable, structurally shared) string-keyed map for the conntrack caches.
 *
 * Why not a plain Map copied on every change: the caches hold 100k+ entries and take 10k+ kernel
 * events per second (architecture performance targets); copying the whole table per event would be
 * O(n). Here the keys are spread by a 32-bit FNV-1a hash over a fixed two-level table
 * (64 × 64 = 4096 buckets); a change copies one 64-slot top array, one 64-slot leaf array and one
 * bucket (a small Map), and shares everything else with the previous version. Old versions stay
 * valid, so the pure core can return a new cache and keep the old one unchanged.
 *
 * Iteration order is bucket order, then insertion order inside a bucket: deterministic for a given
 * history, but not sorted. Callers that show entries to people sort them.
 */

const FANOUT_BITS = 6
const FANOUT = 1 << FANOUT_BITS
const MASK = FANOUT - 1

type Bucket<V> = ReadonlyMap<string, V>
type Leaf<V> = ReadonlyArray<Bucket<V> | undefined>

export interface HashTrie<V> {
  readonly size: number
  /** FANOUT leaves of FANOUT buckets; undefined = empty. */
  readonly root: ReadonlyArray<Leaf<V> | undefined>
}

/** FNV-1a over the UTF-16 code units of the key (keys are ASCII in practice). */
function hash (key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function slots (key: string): [number, number] {
  const h = hash(key)
  return [(h >>> FANOUT_BITS) & MASK, h & MASK]
}

export function trieEmpty<V> (): HashTrie<V> {
  return { size: 0, root: new Array<Leaf<V> | undefined>(FANOUT).fill(undefined) }
}

export function trieGet<V> (t: HashTrie<V>, key: string): V | undefined {
  const [a, b] = slots(key)
  return t.root[a]?.[b]?.get(key)
}

export function trieHas<V> (t: HashTrie<V>, key: string): boolean {
  const [a, b] = slots(key)
  return t.root[a]?.[b]?.has(key) ?? false
}

function withBucket<V> (t: HashTrie<V>, a: number, b: number, bucket: Bucket<V> | undefined, size: number): HashTrie<V> {
  const leaf = t.root[a] === undefined ? new Array<Bucket<V> | undefined>(FANOUT).fill(undefined) : [...(t.root[a] as Leaf<V>)]
  leaf[b] = bucket
  const root = [...t.root]
  root[a] = leaf
  return { size, root }
}

/** A new trie with `key` set to `value`; `t` is unchanged. */
export function trieSet<V> (t: HashTrie<V>, key: string, value: V): HashTrie<V> {
  const [a, b] = slots(key)
  const old = t.root[a]?.[b]
  const bucket = new Map(old ?? [])
  const had = bucket.has(key)
  bucket.set(key, value)
  return withBucket(t, a, b, bucket, had ? t.size : t.size + 1)
}

/** A new trie without `key` (the same trie when the key is absent). */
export function trieDelete<V> (t: HashTrie<V>, key: string): HashTrie<V> {
  const [a, b] = slots(key)
  const old = t.root[a]?.[b]
  if (old === undefined || !old.has(key)) return t
  const bucket = new Map(old)
  bucket.delete(key)
  return withBucket(t, a, b, bucket.size === 0 ? undefined : bucket, t.size - 1)
}

/** Every value, in bucket order. */
export function * trieValues<V> (t: HashTrie<V>): Generator<V> {
  for (const leaf of t.root) {
    if (leaf === undefined) continue
    for (const bucket of leaf) {
      if (bucket !== undefined) yield * bucket.values()
    }
  }
}

/** Every key, in bucket order. */
export function * trieKeys<V> (t: HashTrie<V>): Generator<string> {
  for (const leaf of t.root) {
    if (leaf === undefined) continue
    for (const bucket of leaf) {
      if (bucket !== undefined) yield * bucket.keys()
    }
  }
}

/**
 * Build a trie from many entries at once, without the per-entry copies of trieSet (resync from a
 * kernel dump, start-up). Later duplicates win.
 */
export function trieFrom<V> (entries: Iterable<readonly [string, V]>): HashTrie<V> {
  const root: Array<Array<Map<string, V> | undefined> | undefined> = new Array<Array<Map<string, V> | undefined> | undefined>(FANOUT).fill(undefined)
  let size = 0
  for (const [key, value] of entries) {
    const [a, b] = slots(key)
    const leaf = root[a] ?? (root[a] = new Array<Map<string, V> | undefined>(FANOUT).fill(undefined))
    const bucket = leaf[b] ?? (leaf[b] = new Map())
    if (!bucket.has(key)) size++
    bucket.set(key, value)
  }
  return { size, root }
}
