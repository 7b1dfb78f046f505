import { afterEach, describe, expect, it } from 'vitest'
import { sign } from '@ecampus-webhooks/core'
import { SECRET, killLeftovers, outputOf, run } from './helpers.js'

afterEach(() => killLeftovers())

describe('sign', () => {
  const bodies: [string, string | Buffer][] = [
    ['a compact event', '{"id":"a056V7R7NmNRjl70","type":"message.created","payload":{"id":"m1"}}'],
    ['a trailing newline (signed too)', '{"id":"e1","type":"contact.created","payload":{}}\n'],
    ['UTF-8 text', '{"id":"e2","type":"message.created","payload":{"message":"Grüße 👋"}}'],
    ['bytes that are not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x7d])],
    ['an empty body', ''],
  ]

  it.each(bodies)('prints the header line core sign() gives for %s', async (_name, body) => {
    const result = await run(['sign'], { env: { ECAMPUS_WEBHOOK_SECRET: SECRET }, input: body })
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe(`x-eCampus-signature: ${sign(body, SECRET)}\n`)
    expect(outputOf(result)).not.toContain(SECRET)
  })

  it('takes --secret over the environment variable', async () => {
    const body = '{"id":"e3","type":"group.created","payload":{}}'
    const result = await run(['sign', '--secret', 'other-secret'], {
      env: { ECAMPUS_WEBHOOK_SECRET: SECRET },
      input: body,
    })
    expect(result.stdout).toBe(`x-eCampus-signature: ${sign(body, 'other-secret')}\n`)
  })

  it('exits 2 without a secret, saying how to pass one', async () => {
    const result = await run(['sign'], { input: '{}' })
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      'error: no webhook secret: set ECAMPUS_WEBHOOK_SECRET or pass --secret <secret>\n',
    )
  })
})
