/**
 * Print the configuration JSON Schema (regenerate config/hafw.schema.json with
 * `npx tsc -p tsconfig.json && node dist/config/gen-schema.js > config/hafw.schema.json`).
 */
import { configJsonSchema } from './json-schema.js'

process.stdout.write(JSON.stringify(configJsonSchema(), null, 2) + '\n')
