/**
 * The synthetic conntrack table the benchmarks share: entry i is a TCP ESTABLISHED flow from a
 * unique source 10.(100 + i>>16).(i>>8).(i) to 10.200.0.1:443, BE_LIBERAL as a commit creates it.
 */
import { invertTuple, IPS, L4Proto, TCP_FLAG_BE_LIBERAL } from '../core/conntrack/flow.js'
import type { Flow, FlowTuple } from '../core/conntrack/flow.js'

export const entrySource = (i: number): string => `10.${100 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`

export function benchFlow (i: number, timeout = 3600): Flow {
  const orig: FlowTuple = { src: entrySource(i), dst: '10.200.0.1', l4proto: L4Proto.TCP, sport: 10000 + (i % 50000), dport: 443 }
  return {
    family: 'ipv4',
    orig,
    reply: invertTuple(orig),
    status: IPS.SEEN_REPLY | IPS.ASSURED,
    timeout,
    tcp: { state: 3, flagsOrig: { flags: TCP_FLAG_BE_LIBERAL, mask: TCP_FLAG_BE_LIBERAL }, flagsReply: { flags: TCP_FLAG_BE_LIBERAL, mask: TCP_FLAG_BE_LIBERAL } }
  }
}
