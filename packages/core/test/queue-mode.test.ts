import { describe, expect, it } from 'vitest'
import type {
  AnyWebhookEvent,
  ErrorInfo,
  RejectionInfo,
  WebhookRequest,
  WebhooksOptions,
} from '../src/index.js'
import {
  ERROR_STATUS,
  MemoryIdempotencyStore,
  PermanentWebhookError,
  Webhooks,
  isWebhookError,
} from '../src/index.js'
import { EVENT, SECRET, signedHeaders, tick } from './helpers.js'

function request(event: AnyWebhookEvent = EVENT): WebhookRequest {
  const body = JSON.stringify(event)
  return { method: 'POST', headers: signedHeaders(body), body }
}

function queued(
  enqueue: (event: AnyWebhookEvent) => Promise<unknown>,
  options: Omit<WebhooksOptions, 'secret' | 'enqueue'> = {},
): Webhooks {
  return new Webhooks({ secret: SECRET, enqueue, ...options })
}

describe('queue mode (enqueue)', () => {
  it('answers 202 only once the queue stored the event, and runs no handler in the request', async () => {
    const stored: AnyWebhookEvent[] = []
    let store!: () => void
    const webhooks = queued(
      (event) =>
        new Promise<void>((resolve) => {
          store = () => {
            stored.push(event)
            resolve()
          }
        }),
    )
    let handled = 0
    webhooks.onAny(() => {
      handled += 1
    })
    let answered = false
    const response = webhooks.handle(request()).then((r) => {
      answered = true
      return r
    })
    for (let i = 0; i < 20; i += 1) await tick()
    expect(answered).toBe(false)
    store()
    const { status, body } = await response
    expect(status).toBe(202)
    expect(JSON.parse(body)).toEqual({ ok: true, accepted: true })
    expect(stored).toEqual([EVENT])
    expect(handled).toBe(0)
  })

  it('answers 503 QUEUE_UNAVAILABLE with Retry-After when the queue rejects or throws', async () => {
    const rejected: RejectionInfo[] = []
    for (const enqueue of [
      () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
      () => {
        throw new Error('queue closed')
      },
    ]) {
      const webhooks = queued(enqueue)
      webhooks.onRejected((_error, info) => rejected.push(info))
      const response = await webhooks.handle(request())
      expect(response.status).toBe(503)
      expect(response.status).toBe(ERROR_STATUS.QUEUE_UNAVAILABLE)
      expect(response.headers['retry-after']).toBe('5')
      expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'QUEUE_UNAVAILABLE' } })
      // The cause (which may name hosts) is kept on the error, not sent to the client.
      expect(response.body).not.toContain('ECONNREFUSED')
      expect(response.error?.cause).toBeInstanceOf(Error)
    }
    expect(rejected).toEqual([
      expect.objectContaining({ status: 503, code: 'QUEUE_UNAVAILABLE', eventId: EVENT.id }),
      expect.objectContaining({ status: 503, code: 'QUEUE_UNAVAILABLE', eventId: EVENT.id }),
    ])
  })

  it('never queues an unverified or malformed body', async () => {
    let calls = 0
    const webhooks = queued(() => {
      calls += 1
      return Promise.resolve()
    })
    const body = JSON.stringify(EVENT)
    const bad = await webhooks.handle({
      method: 'POST',
      headers: signedHeaders(body, 'another-secret'),
      body,
    })
    expect(bad.status).toBe(401)
    const notJson = await webhooks.handle({
      method: 'POST',
      headers: signedHeaders('{"id":'),
      body: '{"id":',
    })
    expect(notJson.status).toBe(400)
    expect(calls).toBe(0)
  })

  it('receive() and verifyAndReceive() queue too, and reject with QUEUE_UNAVAILABLE', async () => {
    const stored: string[] = []
    const webhooks = queued((event) => {
      stored.push(event.id)
      return Promise.resolve()
    })
    await webhooks.receive(EVENT)
    const rawBody = JSON.stringify({ ...EVENT, id: 'second' })
    await webhooks.verifyAndReceive({
      rawBody,
      signature: signedHeaders(rawBody)['x-ecampus-signature'],
    })
    expect(stored).toEqual([EVENT.id, 'second'])

    const down = queued(() => Promise.reject(new Error('down')))
    const error: unknown = await down.receive(EVENT).catch((e: unknown) => e)
    expect(isWebhookError(error) && error.code).toBe('QUEUE_UNAVAILABLE')
  })

  it('drain() waits for enqueue calls in flight', async () => {
    let store!: () => void
    const webhooks = queued(() => new Promise<void>((resolve) => (store = resolve)))
    const response = webhooks.handle(request())
    await tick()
    let drained = false
    const draining = webhooks.drain().then(() => (drained = true))
    for (let i = 0; i < 20; i += 1) await tick()
    expect(drained).toBe(false)
    store()
    await draining
    expect((await response).status).toBe(202)
  })

  it('refuses options it cannot honour, at construction', () => {
    const enqueue = (): Promise<void> => Promise.resolve()
    expect(() => queued(enqueue, { idempotency: true })).toThrow(
      /deduplicate where the handlers run/,
    )
    expect(() => queued(enqueue, { idempotency: { store: new MemoryIdempotencyStore() } })).toThrow(
      TypeError,
    )
    expect(() => queued(enqueue, { respond: 'on-verify' })).toThrow(/202 once the event is stored/)
    expect(
      () => new Webhooks({ secret: SECRET, enqueue: 'redis' as unknown as () => Promise<void> }),
    ).toThrow(/enqueue must be a function/)
    expect(() => queued(enqueue, { idempotency: false })).not.toThrow()
    expect(queued(enqueue).queueMode).toBe(true)
    expect(new Webhooks({ secret: SECRET }).queueMode).toBe(false)
  })

  it("receive(event, { lastAttempt: true }) reports a failure as 'failed', otherwise 'retry'", async () => {
    const webhooks = new Webhooks({ secret: SECRET })
    const decisions: ErrorInfo['decision'][] = []
    webhooks.onError((_error, _event, info) => decisions.push(info.decision))
    webhooks.onAny(() => {
      throw new Error('database down')
    })
    const codes: unknown[] = []
    for (const options of [undefined, { lastAttempt: false }, { lastAttempt: true }]) {
      const error: unknown = await webhooks.receive(EVENT, options).catch((e: unknown) => e)
      codes.push(isWebhookError(error) && error.code)
    }
    expect(codes).toEqual(['HANDLER_FAILED', 'HANDLER_FAILED', 'HANDLER_FAILED'])
    expect(decisions).toEqual(['retry', 'retry', 'failed'])
  })

  it('receive(event, { rejectPermanent: true }) rejects with EVENT_REJECTED; by default it resolves', async () => {
    const webhooks = new Webhooks({ secret: SECRET })
    webhooks.onAny(() => {
      throw new PermanentWebhookError('the message no longer exists')
    })
    await expect(webhooks.receive(EVENT)).resolves.toBeUndefined()
    await expect(webhooks.receive(EVENT, { rejectPermanent: false })).resolves.toBeUndefined()
    const error: unknown = await webhooks
      .receive(EVENT, { rejectPermanent: true })
      .catch((e: unknown) => e)
    expect(isWebhookError(error) && error.code).toBe('EVENT_REJECTED')

    // Success and ordinary failures are unchanged by the option.
    const fine = new Webhooks({ secret: SECRET })
    await expect(fine.receive(EVENT, { rejectPermanent: true })).resolves.toBeUndefined()
  })
})
