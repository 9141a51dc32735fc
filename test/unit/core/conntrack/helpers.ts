// Small Flow builders for the conntrack core tests.
import { IPS, invertTuple, type Flow } from '../../../../src/core/conntrack/flow.js'

export const TCP = { SYN_SENT: 1, SYN_RECV: 2, ESTABLISHED: 3, FIN_WAIT: 4, CLOSE_WAIT: 5, LAST_ACK: 6, TIME_WAIT: 7, CLOSE: 8, SYN_SENT2: 9 } as const

/** A TCP flow 10.0.1.2:sport → 10.0.2.2:80 with no NAT. */
export function tcpFlow (sport: number, over: Partial<Flow> = {}): Flow {
  const orig = { src: '10.0.1.2', dst: '10.0.2.2', l4proto: 6, sport, dport: 80 }
  return {
    family: 'ipv4',
    orig,
    reply: invertTuple(orig),
    status: IPS.CONFIRMED | IPS.SEEN_REPLY | IPS.ASSURED,
    timeout: 432000,
    tcp: { state: TCP.ESTABLISHED },
    ...over
  }
}

export function udpFlow (sport: number, over: Partial<Flow> = {}): Flow {
  const orig = { src: '10.0.1.2', dst: '10.0.2.2', l4proto: 17, sport, dport: 53 }
  return { family: 'ipv4', orig, reply: invertTuple(orig), status: IPS.CONFIRMED, timeout: 30, ...over }
}
