/**
 * The one error type every codec throws.
 *
 * `code` is a stable string from a closed set defined by each codec (e.g. `VRRP_BAD_CHECKSUM`); the
 * runtime maps each code to a named drop counter (architecture decision 7), and tests assert on it.
 * Malformed wire input is always a CodecError, never a TypeError or RangeError from a Buffer read.
 */
export class CodecError<Code extends string = string> extends Error {
  override readonly name = 'CodecError'
  readonly code: Code
  /** Byte offset in the input where the problem was found, when meaningful. */
  readonly offset: number | undefined

  constructor (code: Code, message: string, offset?: number) {
    super(`${code}: ${message}`)
    this.code = code
    this.offset = offset
  }
}

export function isCodecError (err: unknown): err is CodecError {
  return err instanceof CodecError
}
