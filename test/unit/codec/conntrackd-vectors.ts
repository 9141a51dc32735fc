// Loads the conntrackd 1.4.7 datagrams extracted by test/fixtures/captures/conntrackd/extract-vectors.mjs.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface CapturedAttr {
  id: number
  name: string
  ntaLen: number
  hex: string
  /** The extraction script's own reading of the payload (independent of src/). */
  value: unknown
}

export interface CapturedMessage {
  offset: number
  hex: string
  version: number
  type: number
  flags: number
  len: number
  seq: number
  from?: number
  to?: number
  attrs?: CapturedAttr[]
}

export interface CapturedDatagram {
  index: number
  time: number
  src: string
  dst: string
  hex: string
  messages: CapturedMessage[]
}

export interface CaptureFile {
  source: string
  t0: number
  datagrams: CapturedDatagram[]
}

const dir = fileURLToPath(new URL('../../fixtures/vectors/conntrackd/', import.meta.url))
const logs = fileURLToPath(new URL('../../fixtures/captures/conntrackd/logs/', import.meta.url))

export function loadCapture (name: 'udp-unicast' | 'mcast'): CaptureFile {
  return JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as CaptureFile
}

/** `conntrack -E` output recorded in namespace a during the unicast capture. */
export function loadEventLog (): string {
  return readFileSync(`${logs}udp.events.txt`, 'utf8') + readFileSync(`${logs}udp.events6.txt`, 'utf8')
}
