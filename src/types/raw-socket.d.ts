// Minimal typings for raw-socket 1.8 (the package ships none). Only what hafw uses.
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events'
  export interface RawSocket extends EventEmitter {
    send: (buffer: Buffer, offset: number, length: number, address: string,
      beforeCallback: (() => void) | null, afterCallback: (error: Error | null, bytes: number) => void) => RawSocket
    setOption: ((level: number, option: number, value: number) => void) & ((level: number, option: number, buffer: Buffer, length: number) => void)
    close: () => RawSocket
    pauseRecv: () => RawSocket
    resumeRecv: () => RawSocket
    on: ((event: 'message', listener: (buffer: Buffer, source: string) => void) => RawSocket) &
      ((event: 'error', listener: (error: Error) => void) => RawSocket) &
      ((event: 'close', listener: () => void) => RawSocket)
  }
  export const AddressFamily: { IPv4: number, IPv6: number }
  export const Protocol: { None: number, ICMP: number, TCP: number, UDP: number, ICMPv6: number }
  export function createSocket (options: { addressFamily?: number, protocol?: number, bufferSize?: number, generateChecksums?: boolean, checksumOffset?: number }): RawSocket
  const raw: { createSocket: typeof createSocket, AddressFamily: typeof AddressFamily, Protocol: typeof Protocol }
  export default raw
}
