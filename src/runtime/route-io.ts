/**
 * Effect handlers for the virtual routes and rules (keepalived virtual_routes / virtual_rules).
 *
 * Every entry of an effect gets its try, in order; an entry already as wanted (EEXIST on add,
 * ESRCH/ENOENT on delete: a restart after a crash, an operator who added it by hand) is a
 * success, counted apart. A failure is logged with the route or rule in `ip` syntax and counted;
 * the failures of one effect are reported together so the executor counts the effect as failed.
 */
import type { VRoute, VRule } from '../core/effects.js'
import type { RouteControl, RouteOutcome } from '../io/ports.js'
import { routeText, ruleText } from '../io/rtnl-route.js'
import type { EffectHandlers } from './executor.js'
import type { Logger } from './log.js'
import type { Counters } from './stats.js'

export type RouteHandlers = Required<Pick<EffectHandlers, 'routeAdd' | 'routeDel' | 'ruleAdd' | 'ruleDel'>>

export function routeHandlers (control: RouteControl, counters: Counters, log: Logger): RouteHandlers {
  async function each<T> (
    routerId: string, items: readonly T[], what: 'route' | 'rule', op: 'add' | 'del',
    run: (x: T) => Promise<RouteOutcome>, text: (x: T) => string
  ): Promise<void> {
    const errors: unknown[] = []
    for (const x of items) {
      try {
        const o = await run(x)
        counters.inc(`${what}.${op === 'add' ? (o === 'done' ? 'added' : 'alreadyPresent') : (o === 'done' ? 'deleted' : 'alreadyAbsent')}`)
      } catch (err) {
        counters.inc(`${what}.${op}Failed`)
        log.warn({ routerId, [what]: text(x), err: String(err) }, `cannot ${op === 'add' ? 'add' : 'delete'} ${what}`)
        errors.push(err)
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, errors.map(String).join('; '))
  }
  return {
    routeAdd: async (e) => { await each<VRoute>(e.routerId, e.routes, 'route', 'add', async r => await control.addRoute(r), routeText) },
    routeDel: async (e) => { await each<VRoute>(e.routerId, e.routes, 'route', 'del', async r => await control.delRoute(r), routeText) },
    ruleAdd: async (e) => { await each<VRule>(e.routerId, e.rules, 'rule', 'add', async r => await control.addRule(r), ruleText) },
    ruleDel: async (e) => { await each<VRule>(e.routerId, e.rules, 'rule', 'del', async r => await control.delRule(r), ruleText) }
  }
}
