/** Small drivers for router unit tests: step a router through a list of inputs, keep the last result. */
import { createRouter, stepRouter } from '../../src/core/vrrp/router.js'
import type { AdvertInput, Router, RouterConfig, RouterInput, RouterStepResult } from '../../src/core/vrrp/types.js'
import type { Millis } from '../../src/core/time.js'
import { routerConfig } from './netsim.js'

export { routerConfig }

/** A router driver: `at(now, input)` steps and returns the step result; `r` is the current router. */
export class Driver {
  r: Router
  last: RouterStepResult | null = null

  constructor (config: RouterConfig | Router) {
    this.r = 'config' in config ? config : createRouter(config)
  }

  at (now: Millis, input: RouterInput): RouterStepResult {
    const res = stepRouter(this.r, input, now)
    this.r = res.router
    this.last = res
    return res
  }

  /** Fire the armed deadline (throws when none). */
  fire (): RouterStepResult {
    const d = this.last?.deadline ?? null
    if (d === null) throw new Error('no deadline armed')
    return this.at(d, { kind: 'timeout' })
  }
}

export function advert (src: string, priority: number, adverIntervalCs = 100, addresses: string[] = ['192.0.2.100']): AdvertInput {
  return { kind: 'advert', src, priority, adverIntervalCs, addresses }
}

/** A started Backup at t=0 (the default config, priority 100, 1 s adverts, v3, IPv4 192.0.2.1). */
export function backupAt0 (over: Partial<RouterConfig> = {}): Driver {
  const d = new Driver(routerConfig({ primaryAddress: '192.0.2.1', ...over }))
  d.at(0, { kind: 'startup' })
  return d
}

/** A Master: started Backup whose Master_Down_Timer fired (at 3609 ms for the defaults). */
export function masterAfterDown (over: Partial<RouterConfig> = {}): Driver {
  const d = backupAt0(over)
  d.fire()
  if (d.r.state !== 'master') throw new Error('expected master')
  return d
}
