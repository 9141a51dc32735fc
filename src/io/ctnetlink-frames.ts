/**
 * Framing between the event listener process and the daemon (./ctnetlink-event-child.ts):
 * [u32 LE length of (kind + body)][u8 kind][body].
 */
export const ListenerFrame = { READY: 1, DATA: 2, OVERRUN: 3, ERROR: 4 } as const
export type ListenerFrameKind = typeof ListenerFrame[keyof typeof ListenerFrame]

export function encodeFrame (kind: ListenerFrameKind, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length)
  out.writeUInt32LE(1 + body.length, 0)
  out.writeUInt8(kind, 4)
  body.copy(out, 5)
  return out
}

/** Reassembles frames from pipe chunks of any size. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0)

  constructor (private readonly onFrame: (kind: number, body: Buffer) => void) {}

  push (chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    let o = 0
    while (this.buf.length - o >= 4) {
      const len = this.buf.readUInt32LE(o)
      if (this.buf.length - o - 4 < len) break
      if (len >= 1) this.onFrame(this.buf.readUInt8(o + 4), this.buf.subarray(o + 5, o + 4 + len))
      o += 4 + len
    }
    this.buf = o === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(o)
  }
}
