import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Builds dist/cli.js with the workspace's tsup, so the tests always spawn the current source. */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const manifest = createRequire(import.meta.url).resolve('tsup/package.json')
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }
  const tsup = join(dirname(manifest), bin.tsup ?? 'dist/cli-default.js')
  const result = spawnSync(process.execPath, [tsup, '--silent'], { cwd: root, encoding: 'utf8' })
  if (result.status !== 0) {
    throw new Error(`building the CLI failed:\n${result.stdout}${result.stderr}`)
  }
}
