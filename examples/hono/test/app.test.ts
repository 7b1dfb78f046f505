import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
// @ts-expect-error: the example is plain JavaScript, without declarations.
import { start } from '../app.js'

const SECRET = 'example-hono-secret'

interface Running {
  url: string
  messages: unknown[]
  close(): Promise<void>
}

describe('examples/hono on a real server', () => {
  const lines: string[] = []
  let app: Running
  beforeAll(async () => {
    app = (await start({ secret: SECRET, log: (line: string) => lines.push(line) })) as Running
  })
  afterAll(async () => {
    await app?.close()
  })

  it('a signed message.created → 200, logged and listed by GET /messages', async () => {
    const event = createSampleEvent('message.created')
    const { body, headers } = createSignedRequest(event, SECRET)
    const response = await fetch(`${app.url}/webhooks`, { method: 'POST', body, headers })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true })
    expect(lines).toContain(`received message.created ${event.id}`)
    const listed = await fetch(`${app.url}/messages`)
    expect(await listed.json()).toEqual([event.payload])
  })

  it('a tampered body → 401 SIGNATURE_INVALID, nothing stored', async () => {
    const { body, headers } = createSignedRequest(createSampleEvent('message.created'), SECRET)
    const response = await fetch(`${app.url}/webhooks`, {
      method: 'POST',
      body: body.replace('B12', 'B13'),
      headers,
    })
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: { code: 'SIGNATURE_INVALID' } })
    expect(app.messages).toHaveLength(1)
  })

  it('GET /webhooks → 405 with Allow: POST', async () => {
    const response = await fetch(`${app.url}/webhooks`)
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('POST')
  })
})
