// The ctnetlink codec against golden outputs recorded from its previous (tree-building) version, see
// test/fixtures/vectors/ctnetlink-golden/README.md: identical request bytes and lengths, identical
// decoded objects (key order included), identical errors (class, code, offset, message), and the same
// outcome for every truncation and single-byte corruption of every captured kernel message.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { encodeRequest, encodeRequestInto, encodingLength, decodeCtnl, MAX_REQUEST_BYTES, type CtRequest } from '../../../src/codec/ctnetlink.js'

const dir = new URL('../../fixtures/vectors/ctnetlink-golden/', import.meta.url)

interface ErrorRecord { error: string, offset?: number | undefined, message: string }
interface RequestRecord {
  name: string
  req: unknown
  seq: number
  pid: number
  hex?: string
  length?: number
  decoded?: string | ErrorRecord
  encodeError?: ErrorRecord
}
interface RequestsFile { flows: Record<string, unknown>, requests: RequestRecord[] }
interface MutationsFile { digests: Record<string, { cases: number, codes: Record<string, number>, sha256: string }> }

const requestsFile = JSON.parse(readFileSync(new URL('requests.json', dir), 'utf8')) as RequestsFile
const mutationsFile = JSON.parse(readFileSync(new URL('mutations.json', dir), 'utf8')) as MutationsFile

/** Same serialisation as generate.mjs: Uint8Array as {$u8: hex}, key order kept. */
const serialise = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => x instanceof Uint8Array ? { $u8: Buffer.from(x).toString('hex') } : x)
function revive (v: unknown): unknown {
  return JSON.parse(JSON.stringify(v), (_k, x: unknown) => {
    if (x === null || typeof x !== 'object') return x
    const o = x as { $u8?: unknown, $flow?: unknown }
    if (typeof o.$u8 === 'string') return Uint8Array.from(Buffer.from(o.$u8, 'hex'))
    if (typeof o.$flow === 'string') return revive(requestsFile.flows[o.$flow])
    return x
  })
}
function errOf (e: unknown): ErrorRecord {
  const err = e as { code?: string, name: string, offset?: number, message: string }
  // key order as generate.mjs writes it (an undefined offset is left out by JSON.stringify)
  return { error: err.code ?? err.name, offset: err.offset, message: err.message }
}
const sameError = (got: ErrorRecord, want: ErrorRecord): boolean =>
  got.error === want.error && got.offset === want.offset && got.message === want.message

t.test('encodeRequestInto (the committer\'s one-pass encoder): the recorded bytes at any offset, the recorded errors', async t => {
  const buf = Buffer.alloc(13 + MAX_REQUEST_BYTES + 64, 0xee)
  let bad = 0
  for (const r of requestsFile.requests) {
    const req = revive(r.req) as CtRequest
    let end: number
    try {
      end = encodeRequestInto(req, r.seq, r.pid, buf, 13)
    } catch (e) {
      if (r.encodeError === undefined || errOf(e).error !== r.encodeError.error) { bad++; t.fail(`${r.name}: unexpected error`, { got: errOf(e), want: r.encodeError }) }
      continue
    }
    if (r.encodeError !== undefined) { bad++; t.fail(`${r.name}: encoded, want ${r.encodeError.error}`); continue }
    if (buf.subarray(13, end).toString('hex') !== r.hex) { bad++; t.equal(buf.subarray(13, end).toString('hex'), r.hex, `${r.name}: bytes`) }
  }
  t.equal(bad, 0, 'every request as encodeRequest writes it')
  t.throws(() => encodeRequestInto({ op: 'flush' }, 1, 0, Buffer.alloc(100), 0), RangeError, 'refused without room for the largest request')
})

t.test('requests: bytes, length, decode and errors as recorded', async t => {
  t.ok(requestsFile.requests.length >= 400, `${requestsFile.requests.length} requests`)
  let bad = 0
  for (const r of requestsFile.requests) {
    const req = revive(r.req) as CtRequest
    let buf: Buffer
    try {
      buf = encodeRequest(req, r.seq, r.pid)
    } catch (e) {
      if (r.encodeError === undefined || !sameError(errOf(e), r.encodeError)) {
        bad++
        t.fail(`${r.name}: unexpected encode error`, { got: errOf(e), want: r.encodeError })
      }
      continue
    }
    if (r.encodeError !== undefined) { bad++; t.fail(`${r.name}: encoded, want ${r.encodeError.error}`); continue }
    if (buf.toString('hex') !== r.hex) { bad++; t.equal(buf.toString('hex'), r.hex, `${r.name}: bytes`); continue }
    if (encodingLength(req) !== r.length) { bad++; t.equal(encodingLength(req), r.length, `${r.name}: encodingLength`) }
    let decoded: string | ErrorRecord
    try { decoded = serialise(decodeCtnl(buf)) } catch (e) { decoded = errOf(e) }
    const same = typeof decoded === 'string' || typeof r.decoded === 'string'
      ? decoded === r.decoded
      : sameError(decoded, r.decoded as ErrorRecord)
    if (!same) { bad++; t.same(decoded, r.decoded, `${r.name}: decoded`) }
  }
  t.equal(bad, 0, 'every request as recorded')
})

t.test('captured kernel messages: every truncation and byte corruption decodes (or fails) as recorded', async t => {
  const vecDir = new URL('../../fixtures/vectors/ctnetlink/', import.meta.url)
  const files = readdirSync(vecDir).filter(f => f.endsWith('.json')).sort()
  t.same(files.map(f => f.replace(/\.json$/, '')), Object.keys(mutationsFile.digests), 'same vector files')
  for (const f of files) {
    const name = f.replace(/\.json$/, '')
    const v = JSON.parse(readFileSync(new URL(f, vecDir), 'utf8')) as { messages: Array<{ hex: string }> }
    const h = createHash('sha256')
    const codes: Record<string, number> = {}
    let cases = 0
    const one = (b: Buffer): void => {
      let o: string
      try { o = serialise(decodeCtnl(b)) } catch (e) { o = JSON.stringify(errOf(e)) }
      h.update(o); h.update('\n')
      const code = o.startsWith('{"error"') ? (JSON.parse(o) as ErrorRecord).error : 'ok'
      codes[code] = (codes[code] ?? 0) + 1
      cases++
    }
    for (const m of v.messages) {
      const buf = Buffer.from(m.hex, 'hex')
      for (let len = 0; len <= buf.length; len++) one(buf.subarray(0, len))
      for (let i = 0; i < buf.length; i++) {
        for (const val of [0x00, 0xff, (buf[i] as number) ^ 0x80]) {
          const b = Buffer.from(buf)
          b[i] = val
          one(b)
        }
      }
    }
    const want = mutationsFile.digests[name]
    t.same({ cases, codes, sha256: h.digest('hex') }, want, `${name}: ${cases} cases`)
  }
})
