/**
 * The common start of the seeded random flows the record tests draw (record-attrs.test.ts,
 * record-request.test.ts): family, protocol, two tuples over a few addresses and ports, so that
 * equal and different addresses and ports, ICMP requests and replies and zones all come up. Each
 * test then draws the rest of its flow with the returned `pick` / `maybe` / `addr`, in its own order.
 */
import type { Flow, FlowTuple } from '../../src/core/conntrack/flow.js'

export interface FlowShape {
  /** Protocols to draw from (IPv6 or not): repeat one to make it likelier. */
  readonly protos: (v6: boolean) => readonly number[]
  readonly icmpTypes: readonly number[]
}

export interface FlowDraw {
  readonly flow: Flow
  readonly pick: (n: number) => number
  readonly maybe: (p: number) => boolean
  readonly addr: () => string
}

export function drawFlowBase (rnd: () => number, shape: FlowShape): FlowDraw {
  const pick = (n: number): number => Math.floor(rnd() * n)
  const maybe = (p: number): boolean => rnd() < p
  const v6 = maybe(0.3)
  const addr = (): string => v6 ? `2001:db8::${(1 + pick(4)).toString(16)}` : `10.0.0.${1 + pick(4)}`
  const protos = shape.protos(v6)
  const proto = protos[pick(protos.length)] as number
  const icmp = proto === 1 || proto === 58
  const tuple = (): FlowTuple => {
    const tu: FlowTuple = { src: addr(), dst: addr(), l4proto: proto }
    if (icmp) {
      if (maybe(0.9)) tu.icmpType = shape.icmpTypes[pick(shape.icmpTypes.length)] as number
      if (maybe(0.8)) tu.icmpCode = pick(2)
      if (maybe(0.8)) tu.icmpId = pick(3) * 1000
    } else if ([6, 17, 47, 132, 33, 136].includes(proto)) {
      if (maybe(0.95)) tu.sport = 1000 + pick(3)
      if (maybe(0.95)) tu.dport = 1000 + pick(3)
    }
    if (maybe(0.05)) tu.zone = pick(3)
    return tu
  }
  const orig = tuple()
  const reply = tuple()
  return { flow: { family: v6 ? 'ipv6' : 'ipv4', orig, reply }, pick, maybe, addr }
}
