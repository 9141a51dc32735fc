/**
 * JSON Schema of the configuration file, for editors (YAML language servers read it through a
 * `# yaml-language-server: $schema=...` line). Generated from schema.ts so it cannot drift; the
 * committed copy is config/hafw.schema.json, kept in sync by a test.
 */
import { z } from 'zod'
import { configSchema } from './schema.js'

/** Draft 2020-12, describing what may be written in the file (defaults shown as written). */
export function configJsonSchema (): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>
  return { ...schema, title: 'hafwd configuration' }
}
