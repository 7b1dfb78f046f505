import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const consumer = fileURLToPath(new URL('fixtures/consumer/', import.meta.url))
const dist = fileURLToPath(new URL('../dist/index.d.ts', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

describe("the published types, from a consumer's point of view", () => {
  it('compile with @koa/bodyparser, @koa/router and alone, ESM and CommonJS, skipLibCheck off', async () => {
    expect(existsSync(dist), 'build first: pnpm --filter @ecampus-webhooks/koa build').toBe(true)
    const output = await new Promise<string>((resolve) => {
      execFile(process.execPath, [tsc, '-p', consumer], (error, stdout) =>
        resolve(error === null ? '' : stdout || error.message),
      )
    })
    expect(output).toBe('')
  }, 60_000)
})
