/**
 * Authenticated sync between hafwd nodes (conntrack.sync.auth; issue 12). conntrackd cannot speak it, so it is
 * opt-in and the conntrackd-compatible channel stays the default.
 *
 * Every datagram gets a 24-byte trailer after the unchanged FTFW payload:
 *
 *   payload | counter (u64, big endian) | MAC (16 bytes)
 *   MAC = HMAC-SHA256(key, "hafw-sync-v1" 0x00 | sender address (canonical text) 0x00 | counter | payload)[0..16)
 *
 * - The counter starts at the sender's start time in microseconds and grows by one per datagram, so a
 *   restarted sender continues above its previous instance; the receiver's replay window (core/sync/replay.ts)
 *   refuses a counter it has seen or one older than the window.
 * - The sender's address is inside the MAC: a datagram of ours reflected back at us with the peer's source
 *   does not verify (each side computes it with the address the datagram claims to come from).
 * - Key rotation: up to two keys; we send with the first and accept both. `setKeys` swaps them (SIGHUP).
 *
 * This layer only computes and checks MACs (node:crypto); the verdict goes to the pure engine with the
 * payload, which keeps the replay window (core/conntrack/engine-peer.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { canonicalIP } from '../codec/ip.js'
import type { AuthVerdict } from '../core/conntrack/engine-types.js'
import type { SyncTransport } from './ports.js'

export const AUTH_TRAILER_BYTES = 24
const MAC_BYTES = 16
const CONTEXT = Buffer.from('hafw-sync-v1\0', 'latin1')
/** HMAC keys shorter than this are refused: 128 bits, the MAC's own length. */
export const MIN_KEY_BYTES = 16

export class SyncKeyError extends Error {
  override name = 'SyncKeyError'
}

/**
 * Read the key files of conntrack.sync.auth.keyFiles. The key is the file's bytes without trailing whitespace
 * (so `head -c 32 /dev/urandom | base64 > key` works). Refused, naming the key path: a file others may read
 * (mode o+r/w/x), a missing one, a key shorter than 16 bytes.
 */
export function loadSyncKeys (files: readonly string[]): Buffer[] {
  return files.map((file, i) => {
    const at = `conntrack.sync.auth.keyFiles[${i}]`
    let mode: number
    let key: Buffer
    try {
      mode = statSync(file).mode
      key = readFileSync(file)
    } catch (err) {
      throw new SyncKeyError(`${at}: cannot read the key file ${file}: ${err instanceof Error ? err.message : String(err)}`)
    }
    if ((mode & 0o007) !== 0) {
      throw new SyncKeyError(`${at}: the key file ${file} is accessible to others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`)
    }
    let end = key.length
    while (end > 0 && (key[end - 1] === 0x0a || key[end - 1] === 0x0d || key[end - 1] === 0x20 || key[end - 1] === 0x09)) end--
    if (end < MIN_KEY_BYTES) throw new SyncKeyError(`${at}: the key in ${file} is ${end} bytes; at least ${MIN_KEY_BYTES} are needed`)
    return Buffer.from(key.subarray(0, end))
  })
}

function addressText (a: string): string {
  const pct = a.indexOf('%')
  const bare = pct < 0 ? a : a.slice(0, pct)
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  const t = v4 !== null ? v4[1] as string : bare
  return canonicalIP(t) ?? t
}

export function computeMac (key: Buffer, sender: string, counter: Buffer, payload: Uint8Array): Buffer {
  return createHmac('sha256', key)
    .update(CONTEXT).update(addressText(sender), 'latin1').update(CONTEXT.subarray(CONTEXT.length - 1))
    .update(counter).update(payload).digest().subarray(0, MAC_BYTES)
}

/** The payload with its trailer, as `sender` sends it with counter `counter`. */
export function sealDatagram (key: Buffer, sender: string, counter: number, payload: Uint8Array): Buffer {
  const c = Buffer.alloc(8)
  c.writeBigUInt64BE(BigInt(counter))
  return Buffer.concat([payload, c, computeMac(key, sender, c, payload)])
}

/** Split and verify a received datagram: the payload and the verdict for the engine. */
export function openDatagram (keys: readonly Buffer[], from: string, d: Buffer): { payload: Buffer, verdict: AuthVerdict } {
  if (d.length < AUTH_TRAILER_BYTES) return { payload: d, verdict: { ok: false, reason: 'authMissing' } }
  const payload = d.subarray(0, d.length - AUTH_TRAILER_BYTES)
  const c = d.subarray(d.length - AUTH_TRAILER_BYTES, d.length - MAC_BYTES)
  const mac = d.subarray(d.length - MAC_BYTES)
  for (let i = 0; i < keys.length; i++) {
    if (timingSafeEqual(computeMac(keys[i] as Buffer, from, c, payload), mac)) {
      const counter = c.readBigUInt64BE()
      // Beyond 2^53 the window cannot hold it: treat as bad (a key holder never sends it).
      if (counter > BigInt(Number.MAX_SAFE_INTEGER)) return { payload, verdict: { ok: false, reason: 'authBadMac' } }
      return { payload, verdict: { ok: true, counter: Number(counter), key: i } }
    }
  }
  return { payload, verdict: { ok: false, reason: 'authBadMac' } }
}

export interface AuthenticatedSync extends SyncTransport {
  /** Swap the keys (SIGHUP): send with the first, accept all. */
  setKeys: (keys: readonly Buffer[]) => void
}

/** Wrap a sync transport: seal what we send, open what we receive. `local`: our sync address (the sender). */
export function authenticateSync (inner: SyncTransport, o: { keys: readonly Buffer[], local: string, firstCounter: number }): AuthenticatedSync {
  if (o.keys.length === 0) throw new SyncKeyError('conntrack.sync.auth.keyFiles: no key')
  let keys = [...o.keys]
  let counter = o.firstCounter
  return {
    send: async (payload) => await inner.send(sealDatagram(keys[0] as Buffer, o.local, counter++, payload)),
    onDatagram: (h) => {
      inner.onDatagram((d, from) => {
        const r = openDatagram(keys, from, d)
        h(r.payload, from, r.verdict)
      })
    },
    close: async () => { await inner.close() },
    setKeys: (next) => {
      if (next.length === 0) throw new SyncKeyError('conntrack.sync.auth.keyFiles: no key')
      keys = [...next]
    }
  }
}
