// Shared by the config tests: read fixtures, validate text, build small configs.
import { readFileSync } from 'node:fs'
import type { ConfigIssue } from '../../../src/config/issue.js'
import { normalize, type Model } from '../../../src/config/normalize.js'
import type { Config } from '../../../src/config/schema.js'
import { validateConfigText } from '../../../src/config/validate.js'

export const repoFile = (rel: string): string => new URL(`../../../${rel}`, import.meta.url).pathname

export const readRepoFile = (rel: string): string => readFileSync(repoFile(rel), 'utf8')

/** Validate text that must be valid; throws with the issues otherwise. */
export function valid (text: string): Config {
  const r = validateConfigText(text)
  if (!r.ok) throw new Error('unexpected issues:\n' + r.issues.map(i => `${i.line ?? '?'}: ${i.path}: ${i.message}`).join('\n'))
  return r.config
}

/** Validate text that must be invalid; returns the issues. */
export function invalid (text: string): ConfigIssue[] {
  const r = validateConfigText(text)
  if (r.ok) throw new Error('expected issues, the text validated')
  return r.issues
}

export function model (text: string): Model {
  return normalize(valid(text))
}

/** A one-instance config; `extra` lines are indented into the instance mapping (starting on line 7). */
export function oneInstance (extra: string[] = [], vips: string[] = ['192.0.2.1/24']): string {
  return [
    'vrrp:', //                                         line 1
    '  instances:', //                                  line 2
    '    VI_1:', //                                     line 3
    '      interface: eth0', //                         line 4
    '      vrid: 51', //                                line 5
    `      virtualAddresses: [${vips.map(v => JSON.stringify(v)).join(', ')}]`, // line 6
    ...extra.map(l => '      ' + l), //                 line 7 on
    ''
  ].join('\n')
}
