import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { EVENT_TYPES } from '@ecampus-webhooks/core'
import { killLeftovers, run } from './helpers.js'

afterEach(() => killLeftovers())

const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string }

/** Help text with commander's line wrapping undone. */
function flat(text: string): string {
  return text.replace(/\s+/g, ' ')
}

const EXIT_CODES = /Exit codes:\n {2}0 .+\n {2}1 .+\n {2}2 .+\n {2}3 .+/

describe('--help and --version', () => {
  it('--version prints the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await run([flag])
      expect(result).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' })
    }
  })

  it('--help lists the commands, examples and exit codes', async () => {
    const result = await run(['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: ecampus-webhooks \[options\] \[command\]/)
    expect(result.stdout).toMatch(/^ {2}send \[options\] <event-type> /m)
    expect(result.stdout).toMatch(/^ {2}sign \[options\] /m)
    expect(result.stdout).toMatch(/^ {2}listen \[options\] /m)
    expect(result.stdout).toMatch(EXIT_CODES)
  })

  it('send --help explains --data, the secret variable and lists the 15 types', async () => {
    const result = await run(['send', '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: ecampus-webhooks send \[options\] <event-type>/)
    for (const option of ['--url <url>', '--secret <secret>', '--data <file>', '--id <id>']) {
      expect(result.stdout).toContain(option)
    }
    expect(flat(result.stdout)).toContain('(env: ECAMPUS_WEBHOOK_SECRET)')
    expect(flat(result.stdout)).toContain('with a top-level "payload" field it is a full event')
    expect(result.stdout).toContain('otherwise it is the payload')
    for (const type of EVENT_TYPES) expect(result.stdout).toContain(type)
    expect(result.stdout).toMatch(EXIT_CODES)
  })

  it('sign --help shows how to use it with curl', async () => {
    const result = await run(['sign', '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: ecampus-webhooks sign \[options\]/)
    expect(result.stdout).toContain('--secret <secret>')
    expect(result.stdout).toContain('-H "$(ecampus-webhooks sign < body.json)"')
  })

  it('listen --help shows its options and defaults', async () => {
    const result = await run(['help', 'listen'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: ecampus-webhooks listen \[options\]/)
    const text = flat(result.stdout)
    expect(text).toMatch(/--port <port> [^(]*\(0: any free port\) \(default: 3000\)/)
    expect(text).toMatch(/--host <host> [^(]*\([^)]*\) \(default: "127\.0\.0\.1"\)/)
    expect(text).toMatch(/--path <path> [^(]*\(default: "\/webhooks"\)/)
    expect(result.stdout).toContain('--secret <secret>')
  })

  it('does not print the secret in help, even when it is set', async () => {
    const secret = 'help-must-not-show-this'
    for (const args of [['--help'], ['send', '--help'], ['sign', '--help'], ['listen', '--help']]) {
      const result = await run(args, { env: { ECAMPUS_WEBHOOK_SECRET: secret } })
      expect(result.stdout + result.stderr).not.toContain(secret)
    }
  })

  it('exits 2 with usage on stderr for no command or an unknown one', async () => {
    const none = await run([])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/^Usage: ecampus-webhooks/)
    const unknown = await run(['trigger'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/^error: unknown command 'trigger'/)
  })
})
