import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'

const SECRET = 'example-nextjs-secret'
const URL_ = 'http://localhost:3000/api/ecampus'

describe('examples/nextjs-route: POST from app/api/ecampus/route.ts', () => {
  let POST: (request: Request) => Promise<Response>
  const logged: string[] = []

  beforeAll(async () => {
    // The route reads its secret at import time, as in a deployed app.
    vi.stubEnv('ECAMPUS_WEBHOOK_SECRET', SECRET)
    vi.spyOn(console, 'log').mockImplementation((line: string) => {
      logged.push(line)
    })
    ;({ POST } = await import('../app/api/ecampus/route.js'))
  })
  afterEach(() => {
    logged.length = 0
  })
  afterAll(() => {
    vi.restoreAllMocks()
    vi.unstubAllEnvs()
  })

  it('a signed message.created → 200 and the typed handler ran', async () => {
    const event = createSampleEvent('message.created')
    const { body, headers } = createSignedRequest(event, SECRET)
    const response = await POST(new Request(URL_, { method: 'POST', body, headers }))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true })
    expect(logged).toEqual([
      `new message from @${event.payload.contact.username}: ${event.payload.message}`,
    ])
  })

  it('a body signed with another secret → 401, no handler', async () => {
    const { body, headers } = createSignedRequest(createSampleEvent('contact.created'), 'wrong')
    const response = await POST(new Request(URL_, { method: 'POST', body, headers }))
    expect(response.status).toBe(401)
    expect(await response.json()).toMatchObject({ error: { code: 'SIGNATURE_INVALID' } })
    expect(logged).toEqual([])
  })
})
