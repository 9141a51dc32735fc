/**
 * Key path → line and column in the YAML source, so that every issue points into the file.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml'

export interface Position { readonly line: number, readonly column: number }

function keyOf (k: unknown): unknown {
  return isScalar(k) ? k.value : k
}

function posOf (node: { range?: readonly number[] | null } | null | undefined, lc: LineCounter): Position | null {
  const start = node?.range?.[0]
  if (start === undefined) return null
  const p = lc.linePos(start)
  return { line: p.line, column: p.col }
}

/**
 * Where `path` is in the document. A map entry is located at its key (the line the operator reads
 * as "that setting"), a list item at the item. When the path runs out of the document (a missing
 * key), the answer is the deepest node that exists: the key of the mapping that lacks it.
 */
export function locate (doc: Document, lc: LineCounter, path: ReadonlyArray<PropertyKey>): Position | null {
  let node: unknown = doc.contents
  let best = posOf(doc.contents as Node | null, lc)
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find(p => isPair(p) && String(keyOf(p.key)) === String(seg))
      if (pair === undefined) return best
      best = posOf(pair.key as Node, lc) ?? posOf(pair.value as Node, lc) ?? best
      node = pair.value
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg]
      if (item === undefined) return best
      best = posOf(item as Node, lc) ?? best
      node = item
    } else {
      return best
    }
  }
  return best
}
