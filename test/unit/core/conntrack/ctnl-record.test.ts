// The byte path (ctnl-record.ts): a ctnetlink message packed straight into a record gives the same
// record as the Flow decoder + packKey/packBody (use and counters stripped), never accepts what the
// Flow decoder refuses, and declines only what a record cannot hold. Over every captured kernel
// message, every request the golden flows encode to, and every truncation and byte corruption of
// the captured messages.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { decodeFlowAttrs, encodeRequest } from '../../../../src/codec/ctnetlink.js'
import { splitMessages, AF, NFGENMSG_LEN, NLMSG_HDRLEN } from '../../../../src/codec/netlink.js'
import { packCtnlRecord, layoutFor } from '../../../../src/core/conntrack/ctnl-record.js'
import { flowExtra, packBody, packKey, recordLayout, unpackFlow } from '../../../../src/core/conntrack/flow-record.js'
import type { Flow } from '../../../../src/core/conntrack/flow.js'

const L4 = recordLayout('ipv4')
const L6 = recordLayout('ipv6')

const strip = (f: Flow): Flow => { const { use: _u, counters: _c, ...rest } = f; return rest }

interface Outcome { fast: boolean, slow: Flow | null }

/** Both decoders on one conntrack message at msg offset `o` of `buf`; checks the rule; null = not a CT message. */
function compare (buf: Buffer, o: number, len: number, fail: (msg: string) => void): Outcome | null {
  const type = buf.readUInt16LE(o + 4)
  if (type >> 8 !== 1 || ((type & 0xff) !== 0 && (type & 0xff) !== 2) || len < NLMSG_HDRLEN + NFGENMSG_LEN) return null
  const start = o + NLMSG_HDRLEN + NFGENMSG_LEN
  const end = o + len
  const nfFamily = buf[o + NLMSG_HDRLEN] as number
  let slow: Flow | null = null
  try { slow = strip(decodeFlowAttrs(buf, start, end, nfFamily)) } catch { slow = null }
  const lay = layoutFor(nfFamily, L4, L6)
  const rec = new Uint8Array(L6.size + 8)
  const dv = new DataView(rec.buffer)
  const off = 3 // an odd offset: nothing may assume alignment
  const fast = lay !== null && packCtnlRecord(buf, start, end, lay, rec, dv, off)
  if (fast) {
    if (slow === null) { fail('byte path accepted a message the Flow decoder refuses'); return { fast, slow } }
    const ref = new Uint8Array(L6.size)
    const rdv = new DataView(ref.buffer)
    if (!packKey(lay, slow, ref, rdv, 0) || !packBody(lay, slow, ref, rdv, 0)) { fail('byte path accepted a flow pack refuses'); return { fast, slow } }
    if (!Buffer.from(rec.subarray(off, off + lay.keyLen)).equals(Buffer.from(ref.subarray(0, lay.keyLen)))) fail('key bytes differ')
    const got = unpackFlow(lay, rec, dv, off)
    const want = unpackFlow(lay, ref, rdv, 0)
    if (!isDeepStrictEqual(got, want) || !isDeepStrictEqual(got, slow)) {
      fail(`record differs: ${JSON.stringify(got)} vs ${JSON.stringify(slow)}`)
    }
  }
  return { fast, slow }
}

/** Every netlink message of a buffer that frames, compared; the buffer may not frame at all. */
function compareAll (buf: Buffer, fail: (msg: string) => void): Outcome[] {
  let msgs
  try { msgs = splitMessages(buf) } catch { return [] }
  const out: Outcome[] = []
  for (const m of msgs) {
    const r = compare(buf, m.offset, m.header.len, fail)
    if (r !== null) out.push(r)
  }
  return out
}

/** What a record holds whole: packable, no side-table fields, a family the byte path knows. */
const recordable = (f: Flow): boolean => {
  const lay = f.family === 'ipv4' ? L4 : L6
  const rec = new Uint8Array(L6.size)
  const dv = new DataView(rec.buffer)
  return flowExtra(f) === undefined && packKey(lay, f, rec, dv, 0) && packBody(lay, f, rec, dv, 0)
}

const vecDir = new URL('../../../fixtures/vectors/ctnetlink/', import.meta.url)
const files = readdirSync(vecDir).filter(f => f.endsWith('.json')).sort()
const vectors = files.map(f => [f, JSON.parse(readFileSync(new URL(f, vecDir), 'utf8')) as { messages: Array<{ dir: string, hex: string }> }] as const)

t.test('captured kernel messages: the byte path packs every recordable entry exactly as the Flow path', async t => {
  let packed = 0
  let declined = 0
  for (const [name, v] of vectors) {
    for (const m of v.messages) {
      for (const r of compareAll(Buffer.from(m.hex, 'hex'), msg => { t.fail(`${name}: ${msg}`) })) {
        if (r.slow === null) continue
        if (r.fast) packed++
        else {
          declined++
          // A decline must be for a reason a record has (side-table fields), never for a plain entry.
          if (recordable(r.slow) && m.dir === 'rx') t.fail(`${name}: declined a recordable entry ${JSON.stringify(r.slow)}`)
        }
      }
    }
  }
  t.ok(packed >= 100, `${packed} messages packed by the byte path, ${declined} declined (SCTP/DCCP, helpers, NAT ranges ...)`)
})

t.test('golden request flows: encoded as CT_NEW, the byte path agrees with the Flow path', async t => {
  const golden = JSON.parse(readFileSync(new URL('../../../fixtures/vectors/ctnetlink-golden/requests.json', import.meta.url), 'utf8')) as { flows: Record<string, unknown> }
  let packed = 0
  for (const [name, raw] of Object.entries(golden.flows)) {
    const flow = JSON.parse(JSON.stringify(raw), (_k, x: unknown) => {
      const o = x as { $u8?: unknown } | null
      return o !== null && typeof o === 'object' && typeof o.$u8 === 'string' ? Uint8Array.from(Buffer.from(o.$u8, 'hex')) : x
    }) as Flow
    let buf: Buffer
    try { buf = encodeRequest({ op: 'create', flow }, 1) } catch { continue }
    for (const r of compareAll(buf, msg => { t.fail(`${name}: ${msg}`) })) if (r.fast) packed++
  }
  t.ok(packed >= 10, `${packed} golden requests packed by the byte path`)
})

t.test('every truncation and byte corruption of the captures: never accepted where the Flow decoder refuses, same record where both accept', async t => {
  let cases = 0
  let bothOk = 0
  let refusedBySlow = 0
  let failures = 0
  const fail = (msg: string): void => { if (failures++ < 5) t.fail(msg) }
  for (const [, v] of vectors) {
    for (const m of v.messages) {
      const buf = Buffer.from(m.hex, 'hex')
      const run = (b: Buffer): void => {
        for (const r of compareAll(b, fail)) {
          cases++
          if (r.slow === null) refusedBySlow++
          else if (r.fast) bothOk++
        }
      }
      for (let len = 0; len <= buf.length; len++) run(buf.subarray(0, len))
      for (let i = 0; i < buf.length; i++) {
        for (const val of [0x00, 0xff, (buf[i] as number) ^ 0x80]) {
          const b = Buffer.from(buf)
          b[i] = val
          run(b)
        }
      }
    }
  }
  t.equal(failures, 0, 'no disagreement')
  t.ok(refusedBySlow > 1000 && bothOk > 1000, `${cases} mutated messages: ${refusedBySlow} refused by the Flow decoder (and so by the byte path), ${bothOk} accepted by both`)
})

t.test('AF_UNSPEC and unknown families are the Flow decoder\'s', async t => {
  t.equal(layoutFor(AF.UNSPEC, L4, L6), null)
  t.equal(layoutFor(7, L4, L6), null)
  t.equal(layoutFor(AF.INET, L4, L6), L4)
  t.equal(layoutFor(AF.INET6, L4, L6), L6)
})
