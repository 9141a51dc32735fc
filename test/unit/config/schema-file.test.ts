// config/hafw.schema.json is generated from src/config/schema.ts; this fails when they drift.
// Regenerate: npx tsc -p tsconfig.json && node dist/config/gen-schema.js > config/hafw.schema.json
import t from 'tap'
import { configJsonSchema } from '../../../src/config/json-schema.js'
import { readRepoFile } from './helpers.js'

t.test('committed JSON Schema equals the generated one', async t => {
  const generated = JSON.stringify(configJsonSchema(), null, 2) + '\n'
  t.equal(readRepoFile('config/hafw.schema.json'), generated, 'run the regenerate command in this file\'s header')
})

t.test('JSON Schema: draft 2020-12, strict objects, descriptions and defaults', async t => {
  const s = configJsonSchema() as any
  t.equal(s.$schema, 'https://json-schema.org/draft/2020-12/schema')
  t.equal(s.additionalProperties, false)
  t.same(s.required, ['vrrp'])
  const inst = s.properties.vrrp.properties.instances.additionalProperties
  t.equal(inst.additionalProperties, false)
  t.same(inst.required.sort(), ['interface', 'virtualAddresses', 'vrid'])
  t.match(inst.properties.vrid.description, /RFC 5798/)
  t.equal(inst.properties.priority.default, 100)
  t.equal(inst.properties.advertInterval.default, '1s', 'durations show their default as written')
  t.equal(s.properties.conntrack.properties.purgeTimeout.default, '60s')
})
