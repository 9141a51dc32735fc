/**
 * Kernel requests as the fakes and tests read them: a `createAttrs` (a commit written straight from
 * a cached record, core/conntrack/record-request.ts) decoded back into the `create` it stands for,
 * with the same decoder the daemon uses on the kernel's messages.
 */
import { AF } from '../../src/codec/netlink.js'
import { decodeFlowAttrs } from '../../src/codec/ctnetlink.js'
import type { CtRequest } from '../../src/codec/ctnetlink-request.js'

export type PlainRequest = Exclude<CtRequest, { op: 'createAttrs' }>

export function plainRequest<R extends CtRequest> (req: R): Exclude<R, { op: 'createAttrs' }> | Extract<CtRequest, { op: 'create' }> {
  if (req.op !== 'createAttrs') return req as Exclude<R, { op: 'createAttrs' }>
  const buf = Buffer.from(req.attrs)
  return { op: 'create', exclusive: true, flow: decodeFlowAttrs(buf, 0, buf.length, req.family === 'ipv4' ? AF.INET : AF.INET6) }
}
