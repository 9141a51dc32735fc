/**
 * Where a native addon of this project is: native/NAME/build/Release/NAME.node in the first
 * directory above the calling module that has it (src/io, dist/io, or a package's lib dir).
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export function addonPath (name: string, from: string = import.meta.url): string | null {
  let dir = dirname(fileURLToPath(from))
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'native', name, 'build', 'Release', `${name}.node`)
    if (existsSync(p)) return p
    dir = dirname(dir)
  }
  return null
}
