/**
 * keepalived track_file semantics: the file holds an integer; it is multiplied by the weight and
 * added to the priority, or with weight 0 any non-zero value means FAULT. A missing or unreadable
 * file, or one that does not hold an integer, counts as a failure (FAULT with weight 0, else the
 * full weight as if the value were 1) — an operator who deletes the file must not be ignored.
 */
export type FileVerdict =
  | { readonly kind: 'fault', readonly down: boolean }
  | { readonly kind: 'offset', readonly offset: number }

/** The integer in the file text, or null when it holds none. */
export function parseTrackFile (text: string | null): number | null {
  if (text === null) return null
  const m = /^\s*(-?\d+)\s*$/.exec(text)
  return m === null ? null : Number(m[1])
}

export function fileVerdict (text: string | null, weight: number): FileVerdict {
  const value = parseTrackFile(text)
  if (weight === 0) return { kind: 'fault', down: value !== 0 }
  return { kind: 'offset', offset: (value ?? 1) * weight }
}
