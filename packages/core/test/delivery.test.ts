import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type {
  AnyWebhookEvent,
  ClaimResult,
  ErrorInfo,
  IdempotencyStore,
  RejectionInfo,
  WebhookError,
  WebhookRequest,
  WebhookResponse,
  WebhooksOptions,
} from '../src/index.js'
import {
  ERROR_STATUS,
  MemoryIdempotencyStore,
  PermanentWebhookError,
  Webhooks,
  isWebhookError,
  sign,
} from '../src/index.js'
import { EVENT, SECRET, errorOf, signedHeaders, tick } from './helpers.js'

function webhooks(options: Omit<WebhooksOptions, 'secret'> = {}): Webhooks {
  return new Webhooks({ secret: SECRET, ...options })
}

function eventWith(id: string, type = 'message.created'): AnyWebhookEvent {
  return { id, type, payload: { id: `payload-${id}` } }
}

function request(event: AnyWebhookEvent = EVENT): WebhookRequest {
  const body = JSON.stringify(event)
  return { method: 'POST', headers: signedHeaders(body), body }
}

interface Deferred<T = void> {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Resolves once `predicate` holds, polling on event-loop turns (never on wall time). */
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !predicate(); i += 1) await tick()
  expect(predicate()).toBe(true)
}

function body(response: WebhookResponse): unknown {
  return JSON.parse(response.body)
}

/** The `[error, event, info]` arguments of every onError call. */
function errorCalls(
  onError: ReturnType<typeof vi.fn>,
): [WebhookError, AnyWebhookEvent, ErrorInfo][] {
  return onError.mock.calls as [WebhookError, AnyWebhookEvent, ErrorInfo][]
}

/** Records unhandled rejections while a test runs, so a test can assert there were none. */
const unhandled: unknown[] = []
function onUnhandled(reason: unknown): void {
  unhandled.push(reason)
}
beforeEach(() => {
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})
afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
  vi.useRealTimers()
})

describe('the status table rows of issue 4', () => {
  it('ERROR_STATUS holds the new codes, EVENT_REJECTED as a 2xx', () => {
    expect(ERROR_STATUS).toMatchObject({
      EVENT_IN_PROGRESS: 409,
      IDEMPOTENCY_UNAVAILABLE: 503,
      HANDLER_TIMEOUT: 500,
      EVENT_REJECTED: 200,
    })
  })

  it('respond: on-verify answers 202 {"ok":true,"accepted":true}', async () => {
    const response = await webhooks({ respond: 'on-verify' }).handle(request())
    expect(response.status).toBe(202)
    expect(body(response)).toEqual({ ok: true, accepted: true })
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
  })

  it('a permanent failure answers 200 {"ok":false,"error":{"code":"EVENT_REJECTED"}}', async () => {
    const response = await webhooks()
      .on('message.created', () => {
        throw new PermanentWebhookError('the conversation no longer exists')
      })
      .handle(request())
    expect(response.status).toBe(200)
    const parsed = body(response) as { ok: boolean; error: { code: string; message: string } }
    expect(Object.keys(parsed)).toEqual(['ok', 'error'])
    expect(parsed.ok).toBe(false)
    expect(parsed.error.code).toBe('EVENT_REJECTED')
    // The handler's own message stays out of the response, as for HANDLER_FAILED.
    expect(parsed.error.message).not.toContain('conversation')
    expect(response.error?.code).toBe('EVENT_REJECTED')
  })
})

describe('idempotency', () => {
  it('a duplicate of a handled id answers 200 duplicate without running handlers', async () => {
    const handler = vi.fn()
    const hooks = webhooks({ idempotency: true }).on('message.created', handler)
    const first = await hooks.handle(request())
    expect(first.status).toBe(200)
    expect(body(first)).toEqual({ ok: true })
    const second = await hooks.handle(request())
    expect(second.status).toBe(200)
    expect(body(second)).toEqual({ ok: true, duplicate: true })
    expect(handler).toHaveBeenCalledOnce()
    // Another id is not a duplicate.
    expect(body(await hooks.handle(request(eventWith('other'))))).toEqual({ ok: true })
    expect(handler).toHaveBeenCalledTimes(2)
  })

  it('without idempotency every delivery runs the handlers', async () => {
    const handler = vi.fn()
    const hooks = webhooks().on('message.created', handler)
    await hooks.handle(request())
    expect(body(await hooks.handle(request()))).toEqual({ ok: true })
    expect(handler).toHaveBeenCalledTimes(2)
  })

  it('a duplicate while the first delivery runs answers 409 EVENT_IN_PROGRESS with Retry-After', async () => {
    let now = 1_000_000
    const store = new MemoryIdempotencyStore({ now: () => now })
    const gate = deferred()
    const handler = vi.fn(() => gate.promise)
    const onRejected = vi.fn()
    const hooks = webhooks({ idempotency: { store, lease: 30_000 } })
      .on('message.created', handler)
      .onRejected(onRejected)
    const first = hooks.handle(request())
    await until(() => handler.mock.calls.length === 1)

    const second = await hooks.handle(request())
    expect(second.status).toBe(409)
    expect(errorOf(second).code).toBe('EVENT_IN_PROGRESS')
    expect(second.headers['retry-after']).toBe('30')
    expect(onRejected).toHaveBeenCalledExactlyOnceWith(second.error, {
      status: 409,
      code: 'EVENT_IN_PROGRESS',
      method: 'POST',
      eventId: EVENT.id,
      eventType: EVENT.type,
    })
    // Retry-After follows the remaining lease, rounded up, and is never below 1.
    now += 28_500
    expect((await hooks.handle(request())).headers['retry-after']).toBe('2')
    now += 1_499
    expect((await hooks.handle(request())).headers['retry-after']).toBe('1')

    gate.resolve()
    expect((await first).status).toBe(200)
    expect(body(await hooks.handle(request()))).toEqual({ ok: true, duplicate: true })
    expect(handler).toHaveBeenCalledOnce()
  })

  it.each([undefined, Number.NaN, Infinity, '5' as unknown as number])(
    'Retry-After falls back to the lease when the store gives retryAfterMs %s',
    async (retryAfterMs) => {
      const store: IdempotencyStore = {
        claim: () => Promise.resolve({ status: 'in-progress', retryAfterMs }),
        complete: () => Promise.resolve(),
        release: () => Promise.resolve(),
      }
      const response = await webhooks({ idempotency: { store, lease: 90_500 } }).handle(request())
      expect(response.status).toBe(409)
      expect(response.headers['retry-after']).toBe('91')
    },
  )

  it('Retry-After is at least 1 second', async () => {
    const store: IdempotencyStore = {
      claim: () => Promise.resolve({ status: 'in-progress', retryAfterMs: -20 }),
      complete: () => Promise.resolve(),
      release: () => Promise.resolve(),
    }
    const response = await webhooks({ idempotency: { store } }).handle(request())
    expect(response.headers['retry-after']).toBe('1')
  })

  it('failed handlers release the claim, so the redelivery runs them again', async () => {
    let attempts = 0
    const onError = vi.fn()
    const hooks = webhooks({ idempotency: true })
      .on('message.created', () => {
        attempts += 1
        if (attempts === 1) throw new Error('database down')
      })
      .onError(onError)
    const first = await hooks.handle(request())
    expect(first.status).toBe(500)
    expect(errorOf(first).code).toBe('HANDLER_FAILED')
    expect(errorCalls(onError)[0]![2]).toEqual({ eventId: EVENT.id, decision: 'retry' })

    expect(body(await hooks.handle(request()))).toEqual({ ok: true })
    expect(attempts).toBe(2)
    expect(body(await hooks.handle(request()))).toEqual({ ok: true, duplicate: true })
    expect(attempts).toBe(2)
  })

  it('a store that throws on claim answers 503 IDEMPOTENCY_UNAVAILABLE with Retry-After, handlers not run', async () => {
    const outage = new Error('ECONNREFUSED')
    const handler = vi.fn()
    const onRejected = vi.fn()
    const store: IdempotencyStore = {
      claim: () => Promise.reject(outage),
      complete: vi.fn(() => Promise.resolve()),
      release: vi.fn(() => Promise.resolve()),
    }
    const hooks = webhooks({ idempotency: { store } })
      .on('message.created', handler)
      .onRejected(onRejected)
    const response = await hooks.handle(request())
    expect(response.status).toBe(503)
    expect(errorOf(response).code).toBe('IDEMPOTENCY_UNAVAILABLE')
    expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(response.error?.cause).toBe(outage)
    expect(handler).not.toHaveBeenCalled()
    expect(store.complete).not.toHaveBeenCalled()
    expect(onRejected).toHaveBeenCalledOnce()
    expect((onRejected.mock.calls[0] as [WebhookError, RejectionInfo])[1]).toMatchObject({
      status: 503,
      code: 'IDEMPOTENCY_UNAVAILABLE',
      eventId: EVENT.id,
    })
  })

  it.each([
    [
      'throws synchronously',
      () => {
        throw new Error('sync')
      },
    ],
    ['returns an old-style string', () => Promise.resolve('claimed' as unknown as ClaimResult)],
    ['returns nothing', () => Promise.resolve(undefined as unknown as ClaimResult)],
  ])('a store whose claim %s answers 503', async (_name, claim) => {
    const handler = vi.fn()
    const store: IdempotencyStore = {
      claim,
      complete: () => Promise.resolve(),
      release: () => Promise.resolve(),
    }
    const response = await webhooks({ idempotency: { store } })
      .on('message.created', handler)
      .handle(request())
    expect(response.status).toBe(503)
    expect(errorOf(response).code).toBe('IDEMPOTENCY_UNAVAILABLE')
    expect(handler).not.toHaveBeenCalled()
  })

  it("a store that throws on complete still answers 200 and tells onError 'acknowledged'", async () => {
    const memory = new MemoryIdempotencyStore()
    const failure = new Error('write failed')
    const store: IdempotencyStore = {
      claim: (id, lease) => memory.claim(id, lease),
      complete: () => Promise.reject(failure),
      release: (id, token) => memory.release(id, token),
    }
    const onError = vi.fn()
    const hooks = webhooks({ idempotency: { store } })
      .on('message.created', () => undefined)
      .onError(onError)
    const response = await hooks.handle(request())
    expect(response.status).toBe(200)
    expect(body(response)).toEqual({ ok: true })
    expect(onError).toHaveBeenCalledOnce()
    const [error, event, info] = errorCalls(onError)[0]!
    expect(error.code).toBe('IDEMPOTENCY_UNAVAILABLE')
    expect(error.cause).toBe(failure)
    expect(event.id).toBe(EVENT.id)
    expect(info).toEqual({ eventId: EVENT.id, decision: 'acknowledged' })
  })

  it('a store that throws on release still answers 500 (the claim expires with its lease)', async () => {
    const memory = new MemoryIdempotencyStore()
    const store: IdempotencyStore = {
      claim: (id, lease) => memory.claim(id, lease),
      complete: (id, token, ttl) => memory.complete(id, token, ttl),
      release: () => Promise.reject(new Error('gone')),
    }
    const onError = vi.fn()
    const response = await webhooks({ idempotency: { store } })
      .on('message.created', () => Promise.reject(new Error('x')))
      .onError(onError)
      .handle(request())
    expect(response.status).toBe(500)
    expect(errorOf(response).code).toBe('HANDLER_FAILED')
    expect(onError).toHaveBeenCalledOnce()
  })

  it('claims ids even for events nobody handles, so their duplicates are answered as such', async () => {
    const hooks = webhooks({ idempotency: true })
    expect(body(await hooks.handle(request()))).toEqual({ ok: true })
    expect(body(await hooks.handle(request()))).toEqual({ ok: true, duplicate: true })
  })

  it('passes lease and ttl to the store', async () => {
    const memory = new MemoryIdempotencyStore()
    const store = {
      claim: vi.fn((id: string, lease: number) => memory.claim(id, lease)),
      complete: vi.fn((id: string, token: string, ttl: number) => memory.complete(id, token, ttl)),
      release: vi.fn((id: string, token: string) => memory.release(id, token)),
    }
    await webhooks({ idempotency: { store, lease: 5_000, ttl: 7_000 } }).handle(request())
    expect(store.claim).toHaveBeenCalledExactlyOnceWith(EVENT.id, 5_000)
    const token = store.complete.mock.calls[0]![1]
    expect(typeof token).toBe('string')
    expect(store.complete).toHaveBeenCalledExactlyOnceWith(EVENT.id, token, 7_000)
  })

  it('defaults: ttl 24 h, lease max(60 s, 2 * handlerTimeout)', async () => {
    const calls: [string, number][] = []
    const memory = new MemoryIdempotencyStore()
    const store: IdempotencyStore = {
      claim: (id, lease) => (calls.push(['lease', lease]), memory.claim(id, lease)),
      complete: (id, token, ttl) => (calls.push(['ttl', ttl]), memory.complete(id, token, ttl)),
      release: (id, token) => memory.release(id, token),
    }
    await webhooks({ idempotency: { store } }).handle(request(eventWith('1')))
    await webhooks({ idempotency: { store }, handlerTimeout: 45_000 }).handle(
      request(eventWith('2')),
    )
    expect(calls).toEqual([
      ['lease', 60_000],
      ['ttl', 86_400_000],
      ['lease', 90_000],
      ['ttl', 86_400_000],
    ])
  })
})

describe('handlerTimeout', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  })

  it("answers 500 HANDLER_TIMEOUT and tells onError 'retry'; a late failure is 'late' and releases the claim", async () => {
    const gate = deferred()
    let attempts = 0
    const onError = vi.fn()
    const hooks = webhooks({ handlerTimeout: 1_000, idempotency: true })
      .on('message.created', () => {
        attempts += 1
        return attempts === 1 ? gate.promise : undefined
      })
      .onError(onError)
    const pending = hooks.handle(request())
    await until(() => attempts === 1)
    vi.advanceTimersByTime(999)
    await tick()
    expect(onError).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    const response = await pending
    expect(response.status).toBe(500)
    expect(errorOf(response).code).toBe('HANDLER_TIMEOUT')
    expect(errorCalls(onError).map(([e, , i]) => [e.code, i])).toEqual([
      ['HANDLER_TIMEOUT', { eventId: EVENT.id, decision: 'retry' }],
    ])

    // The timed-out handler still holds the claim: a redelivery is told to come back.
    const meanwhile = await hooks.handle(request())
    expect(meanwhile.status).toBe(409)
    expect(attempts).toBe(1)

    gate.reject(new Error('late failure'))
    await until(() => onError.mock.calls.length === 2)
    const [late, , lateInfo] = errorCalls(onError)[1]!
    expect(late.code).toBe('HANDLER_FAILED')
    expect(late.errors).toEqual([new Error('late failure')])
    expect(lateInfo).toEqual({ eventId: EVENT.id, decision: 'late' })

    // Released on the real outcome: the next redelivery runs the handler again.
    await hooks.drain()
    expect(body(await hooks.handle(request()))).toEqual({ ok: true })
    expect(attempts).toBe(2)
    expect(unhandled).toEqual([])
  })

  it('a late success completes the claim, reports nothing more, and never answers twice', async () => {
    const gate = deferred()
    const handler = vi.fn(() => gate.promise)
    const onError = vi.fn()
    const hooks = webhooks({ handlerTimeout: 50, idempotency: true })
      .on('message.created', handler)
      .onError(onError)
    const pending = hooks.handle(request())
    await until(() => handler.mock.calls.length === 1)
    vi.advanceTimersByTime(50)
    expect((await pending).status).toBe(500)
    gate.resolve()
    await hooks.drain()
    expect(onError).toHaveBeenCalledOnce()
    expect(body(await hooks.handle(request()))).toEqual({ ok: true, duplicate: true })
    expect(handler).toHaveBeenCalledOnce()
    expect(unhandled).toEqual([])
  })

  it('handlers that settle in time are answered normally and leave no timer behind', async () => {
    const gate = deferred()
    const handler = vi.fn(() => gate.promise)
    const hooks = webhooks({ handlerTimeout: 1_000 }).on('message.created', handler)
    const pending = hooks.handle(request())
    await until(() => handler.mock.calls.length === 1)
    expect(vi.getTimerCount()).toBe(1)
    gate.resolve()
    expect((await pending).status).toBe(200)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('a failure in time is HANDLER_FAILED, not a timeout', async () => {
    const onError = vi.fn()
    const response = await webhooks({ handlerTimeout: 1_000 })
      .on('message.created', () => Promise.reject(new Error('x')))
      .onError(onError)
      .handle(request())
    expect(errorOf(response).code).toBe('HANDLER_FAILED')
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(5_000)
    await tick()
    expect(onError).toHaveBeenCalledOnce()
  })

  it('handlerTimeout 0 (the default) creates no timer', async () => {
    const gate = deferred()
    const handler = vi.fn(() => gate.promise)
    const hooks = webhooks().on('message.created', handler)
    const pending = hooks.handle(request())
    await until(() => handler.mock.calls.length === 1)
    expect(vi.getTimerCount()).toBe(0)
    gate.resolve()
    expect((await pending).status).toBe(200)
  })

  it('receive() rejects with HANDLER_TIMEOUT', async () => {
    const hooks = webhooks({ handlerTimeout: 10 }).on(
      'message.created',
      () => new Promise(() => {}),
    )
    const received = hooks.receive(EVENT).catch((error: unknown) => error)
    await tick()
    vi.advanceTimersByTime(10)
    expect(await received).toMatchObject({ code: 'HANDLER_TIMEOUT', status: 500 })
  })
})

describe("respond: 'on-verify' and drain()", () => {
  it('answers 202 before the handlers finish; drain() waits for them', async () => {
    const gate = deferred()
    let finished = false
    const hooks = webhooks({ respond: 'on-verify' }).on('message.created', async () => {
      await gate.promise
      finished = true
    })
    const response = await hooks.handle(request())
    expect(response.status).toBe(202)
    expect(finished).toBe(false)

    let drained = false
    const draining = hooks.drain().then(() => (drained = true))
    await tick()
    expect(drained).toBe(false)
    gate.resolve()
    await draining
    expect(finished).toBe(true)
  })

  it("handler failures go to onError with 'background'", async () => {
    const onError = vi.fn()
    const hooks = webhooks({ respond: 'on-verify' })
      .on('message.created', () => Promise.reject(new Error('later')))
      .onError(onError)
    expect((await hooks.handle(request())).status).toBe(202)
    await hooks.drain()
    expect(onError).toHaveBeenCalledOnce()
    const [error, event, info] = errorCalls(onError)[0]!
    expect(error.code).toBe('HANDLER_FAILED')
    expect(event.id).toBe(EVENT.id)
    expect(info).toEqual({ eventId: EVENT.id, decision: 'background' })
    expect(unhandled).toEqual([])
  })

  it('a permanent failure in the background is reported as EVENT_REJECTED with background', async () => {
    const onError = vi.fn()
    const hooks = webhooks({ respond: 'on-verify' })
      .on('message.created', () => Promise.reject(new PermanentWebhookError('no')))
      .onError(onError)
    await hooks.handle(request())
    await hooks.drain()
    expect(errorCalls(onError).map(([e, , i]) => [e.code, i.decision])).toEqual([
      ['EVENT_REJECTED', 'background'],
    ])
  })

  it('claims before answering: a duplicate during the run is 409, after it 200 duplicate, after a failure it runs again', async () => {
    const gate = deferred()
    let attempts = 0
    const hooks = webhooks({ respond: 'on-verify', idempotency: true }).on(
      'message.created',
      async () => {
        attempts += 1
        if (attempts === 1) {
          await gate.promise
          throw new Error('first attempt fails')
        }
      },
    )
    expect((await hooks.handle(request())).status).toBe(202)
    expect((await hooks.handle(request())).status).toBe(409)
    gate.resolve()
    await hooks.drain()
    expect((await hooks.handle(request())).status).toBe(202)
    await hooks.drain()
    expect(attempts).toBe(2)
    expect(body(await hooks.handle(request()))).toEqual({ ok: true, duplicate: true })
  })

  it('with handlerTimeout, a hung background handler is reported, then its late failure', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const gate = deferred()
    const onError = vi.fn()
    const hooks = webhooks({ respond: 'on-verify', handlerTimeout: 100 })
      .on('message.created', () => gate.promise)
      .onError(onError)
    expect((await hooks.handle(request())).status).toBe(202)
    vi.advanceTimersByTime(100)
    await tick()
    gate.reject(new Error('late'))
    await hooks.drain()
    expect(errorCalls(onError).map(([e, , i]) => [e.code, i.decision])).toEqual([
      ['HANDLER_TIMEOUT', 'background'],
      ['HANDLER_FAILED', 'late'],
    ])
    expect(unhandled).toEqual([])
  })

  it('drain() also waits for timed-out handlers of after-handlers requests', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const gate = deferred()
    const handler = vi.fn(() => gate.promise)
    const hooks = webhooks({ handlerTimeout: 100 }).on('message.created', handler)
    const pending = hooks.handle(request())
    await until(() => handler.mock.calls.length === 1)
    let drained = false
    const draining = hooks.drain().then(() => (drained = true))
    vi.advanceTimersByTime(100)
    expect((await pending).status).toBe(500)
    await tick()
    expect(drained).toBe(false)
    gate.resolve()
    await draining
  })

  it('drain() resolves at once when nothing runs, and never rejects', async () => {
    const hooks = webhooks().on('message.created', () => Promise.reject(new Error('x')))
    await expect(hooks.drain()).resolves.toBeUndefined()
    const failed = hooks.receive(EVENT)
    await expect(hooks.drain()).resolves.toBeUndefined()
    await expect(failed).rejects.toMatchObject({ code: 'HANDLER_FAILED' })
  })

  it('drain() waits only for runs started before it was called', async () => {
    const first = deferred()
    const second = deferred()
    const gates = [first, second]
    const hooks = webhooks({ respond: 'on-verify' }).on(
      'message.created',
      () => gates.shift()!.promise,
    )
    await hooks.handle(request(eventWith('1')))
    const draining = hooks.drain()
    await hooks.handle(request(eventWith('2')))
    first.resolve()
    await draining
    second.resolve()
    await hooks.drain()
  })

  it('receive() ignores respond and waits for the handlers', async () => {
    const onError = vi.fn()
    const hooks = webhooks({ respond: 'on-verify' })
      .on('message.created', () => Promise.reject(new Error('x')))
      .onError(onError)
    await expect(hooks.receive(EVENT)).rejects.toMatchObject({ code: 'HANDLER_FAILED' })
    expect(errorCalls(onError)[0]![2].decision).toBe('retry')
  })
})

describe('permanent failures', () => {
  it("answer 200 EVENT_REJECTED, tell onError 'acknowledged', and mark the id handled", async () => {
    const permanent = new PermanentWebhookError('unknown conversation')
    let attempts = 0
    const onError = vi.fn()
    const hooks = webhooks({ idempotency: true })
      .on('message.created', () => {
        attempts += 1
        throw permanent
      })
      .onError(onError)
    const response = await hooks.handle(request())
    expect(response.status).toBe(200)
    expect(body(response)).toMatchObject({ ok: false, error: { code: 'EVENT_REJECTED' } })
    const [error, , info] = errorCalls(onError)[0]!
    expect(error.code).toBe('EVENT_REJECTED')
    expect(error.errors).toEqual([permanent])
    expect(info).toEqual({ eventId: EVENT.id, decision: 'acknowledged' })
    expect(body(await hooks.handle(request()))).toEqual({ ok: true, duplicate: true })
    expect(attempts).toBe(1)
  })

  it('any error with permanent === true counts, thrown or rejected', async () => {
    class GoneError extends Error {
      readonly permanent = true
    }
    const hooks = webhooks()
      .on('message.created', () => Promise.reject(new GoneError('gone')))
      .on('message.*', () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { permanent: true, reason: 'a plain object' }
      })
    const response = await hooks.handle(request())
    expect(response.status).toBe(200)
    expect(errorOf200(response)).toBe('EVENT_REJECTED')
  })

  it('permanent: false or a truthy non-true value is an ordinary failure', async () => {
    const hooks = webhooks().on('message.created', () => {
      throw Object.assign(new Error('x'), { permanent: 'yes' })
    })
    expect((await hooks.handle(request())).status).toBe(500)
  })

  it('a mix of permanent and ordinary failures is an ordinary failure: 500, claim released', async () => {
    let attempts = 0
    const onError = vi.fn()
    const hooks = webhooks({ idempotency: true })
      .on('message.created', () => {
        attempts += 1
        throw new PermanentWebhookError('permanent')
      })
      .onAny(() => {
        if (attempts === 1) throw new Error('transient')
      })
      .onError(onError)
    const response = await hooks.handle(request())
    expect(response.status).toBe(500)
    expect(errorOf(response).code).toBe('HANDLER_FAILED')
    const [error, , info] = errorCalls(onError)[0]!
    expect(error.errors).toHaveLength(2)
    expect(info.decision).toBe('retry')
    // Released: the redelivery runs again (now only the permanent failure remains).
    expect((await hooks.handle(request())).status).toBe(200)
    expect(attempts).toBe(2)
  })

  it('receive() resolves for a permanent failure and a duplicate', async () => {
    const handler = vi.fn(() => {
      throw new PermanentWebhookError('no')
    })
    const hooks = webhooks({ idempotency: true }).on('message.created', handler)
    await expect(hooks.receive(EVENT)).resolves.toBeUndefined()
    await expect(hooks.receive(EVENT)).resolves.toBeUndefined()
    expect(handler).toHaveBeenCalledOnce()
  })

  it('PermanentWebhookError is an Error named PermanentWebhookError with permanent = true', () => {
    const cause = new Error('root')
    const error = new PermanentWebhookError('gone', { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('PermanentWebhookError')
    expect(error.permanent).toBe(true)
    expect(error.message).toBe('gone')
    expect(error.cause).toBe(cause)
  })
})

function errorOf200(response: WebhookResponse): string {
  return (body(response) as { error: { code: string } }).error.code
}

describe('onRejected', () => {
  const valid = JSON.stringify(EVENT)
  const cases: [string, WebhookRequest, number, string][] = [
    ['a GET', { method: 'GET', headers: {}, body: undefined }, 405, 'METHOD_NOT_ALLOWED'],
    [
      'a gzip body',
      {
        method: 'POST',
        headers: { ...signedHeaders(valid), 'content-encoding': 'gzip' },
        body: valid,
      },
      415,
      'UNSUPPORTED_ENCODING',
    ],
    [
      'an oversize body',
      { method: 'POST', headers: signedHeaders(valid), body: 'x'.repeat(2048) },
      413,
      'BODY_TOO_LARGE',
    ],
    [
      'no signature',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: valid },
      401,
      'SIGNATURE_MISSING',
    ],
    [
      'a wrong signature',
      { method: 'POST', headers: signedHeaders(valid, 'another secret'), body: valid },
      401,
      'SIGNATURE_INVALID',
    ],
    [
      'signed non-JSON',
      { method: 'POST', headers: signedHeaders('nope'), body: 'nope' },
      400,
      'INVALID_JSON',
    ],
    [
      'a signed non-event',
      { method: 'POST', headers: signedHeaders('{}'), body: '{}' },
      400,
      'INVALID_EVENT',
    ],
    [
      'a consumed body',
      { method: 'POST', headers: signedHeaders(valid), body: undefined, framework: 'express' },
      500,
      'BODY_ALREADY_PARSED',
    ],
    [
      'a body that is not bytes',
      { method: 'POST', headers: signedHeaders(valid), body: 42 as unknown as string },
      500,
      'INTERNAL_ERROR',
    ],
  ]

  it.each(cases)(
    'gets %s with its code, status and method, and no secret or signature',
    async (_name, req, status, code) => {
      const onRejected = vi.fn()
      const handler = vi.fn()
      const hooks = webhooks({ maxBodySize: 1024 }).onAny(handler).onRejected(onRejected)
      const response = await hooks.handle(req)
      expect(response.status).toBe(status)
      expect(onRejected).toHaveBeenCalledOnce()
      const [error, info] = onRejected.mock.calls[0] as [WebhookError, RejectionInfo]
      expect(isWebhookError(error)).toBe(true)
      expect(error).toBe(response.error)
      expect(info).toEqual({ status, code, method: req.method })
      const seen = JSON.stringify([info, error.message, String(error)])
      expect(seen).not.toContain(SECRET)
      expect(seen).not.toContain(sign(valid, SECRET))
      expect(handler).not.toHaveBeenCalled()
    },
  )

  it('is not called for accepted events or handler failures (those go to onError)', async () => {
    const onRejected = vi.fn()
    const hooks = webhooks({ handlerTimeout: 0 })
      .on('message.created', () => Promise.reject(new Error('x')))
      .onRejected(onRejected)
    expect((await hooks.handle(request())).status).toBe(500)
    expect((await hooks.handle(request(eventWith('z', 'contact.created')))).status).toBe(200)
    expect(onRejected).not.toHaveBeenCalled()
  })

  it('a hook that throws or rejects changes nothing', async () => {
    const later = vi.fn()
    const hooks = webhooks()
      .onRejected(() => {
        throw new Error('hook threw')
      })
      .onRejected(() => Promise.reject(new Error('hook rejected')))
      .onRejected(later)
    const response = await hooks.handle({ method: 'PUT', headers: {}, body: undefined })
    expect(response.status).toBe(405)
    expect(later).toHaveBeenCalledOnce()
    await tick()
    expect(unhandled).toEqual([])
  })

  it("off('*', hook) removes it", async () => {
    const hook = vi.fn()
    const hooks = webhooks().onRejected(hook)
    hooks.off('*', hook)
    await hooks.handle({ method: 'GET', headers: {}, body: undefined })
    expect(hook).not.toHaveBeenCalled()
  })
})

describe('receive() and verifyAndReceive() share the pipeline', () => {
  it('receive() skips a handled id and rejects EVENT_IN_PROGRESS during a run', async () => {
    const gate = deferred()
    const handler = vi.fn(() => gate.promise)
    const hooks = webhooks({ idempotency: true }).on('message.created', handler)
    const first = hooks.receive(EVENT)
    await until(() => handler.mock.calls.length === 1)
    const during = await hooks.receive(EVENT).catch((error: unknown) => error)
    expect(during).toMatchObject({ code: 'EVENT_IN_PROGRESS', status: 409 })
    expect((during as WebhookError).retryAfter).toBeGreaterThanOrEqual(1)
    gate.resolve()
    await first
    await hooks.receive(EVENT)
    expect(handler).toHaveBeenCalledOnce()
  })

  it('verifyAndReceive() skips a handled id and rejects IDEMPOTENCY_UNAVAILABLE', async () => {
    const handler = vi.fn()
    const hooks = webhooks({ idempotency: true }).on('message.created', handler)
    const rawBody = JSON.stringify(EVENT)
    const signature = sign(rawBody, SECRET)
    await hooks.verifyAndReceive({ rawBody, signature })
    await hooks.verifyAndReceive({ rawBody, signature })
    expect(handler).toHaveBeenCalledOnce()

    const broken = webhooks({
      idempotency: {
        store: {
          claim: () => Promise.reject(new Error('down')),
          complete: () => Promise.resolve(),
          release: () => Promise.resolve(),
        },
      },
    })
    await expect(broken.verifyAndReceive({ rawBody, signature })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_UNAVAILABLE',
      status: 503,
    })
  })

  it('receive() of a malformed event rejects instead of throwing', async () => {
    const hooks = webhooks()
    const result = hooks.receive({ id: 'x' } as unknown as AnyWebhookEvent)
    expect(result).toBeInstanceOf(Promise)
    await expect(result).rejects.toBeInstanceOf(TypeError)
  })
})

describe('option validation', () => {
  it.each([
    [{ handlerTimeout: -1 }, /handlerTimeout must be a non-negative integer/],
    [{ handlerTimeout: 1.5 }, /handlerTimeout/],
    [{ handlerTimeout: 2 ** 31 }, /handlerTimeout must be at most 2147483647 ms/],
    [{ bodyTimeout: 2 ** 31 }, /bodyTimeout must be at most/],
    [{ maxBufferedBytes: 0 }, /maxBufferedBytes must be a positive integer/],
    [{ maxBufferedBytes: '16mb' }, /maxBufferedBytes must be a positive integer, got string/],
    [{ respond: 'immediately' }, /respond must be 'after-handlers' .* or 'on-verify'/],
    [{ idempotency: 'yes' }, /idempotency must be true, false, or \{ store\?, ttl\?, lease\? \}/],
    [{ idempotency: null }, /idempotency must be .* got null/],
    [
      { idempotency: { ttlMs: 5 } },
      /idempotency has no option "ttlMs"; use store, ttl \(ms\) or lease \(ms\)/,
    ],
    [{ idempotency: { ttl: 0 } }, /idempotency\.ttl must be a positive integer/],
    [{ idempotency: { lease: -5 } }, /idempotency\.lease must be a positive integer/],
    [{ idempotency: { store: {} } }, /idempotency\.store must implement IdempotencyStore/],
    [{ idempotency: { store: null } }, /idempotency\.store must implement IdempotencyStore/],
    [
      { idempotency: { lease: 1_000 }, handlerTimeout: 1_000 },
      /lease \(1000 ms\) must be longer than handlerTimeout \(1000 ms\)/,
    ],
  ])('%j throws a TypeError that says how to fix it', (options, message) => {
    expect(() => new Webhooks({ secret: SECRET, ...(options as object) })).toThrow(TypeError)
    expect(() => new Webhooks({ secret: SECRET, ...(options as object) })).toThrow(message)
    expect(() => new Webhooks({ secret: SECRET, ...(options as object) })).toThrow(
      /^@ecampus-webhooks\/core: /,
    )
  })

  it('exposes the settings and their defaults', () => {
    const defaults = webhooks()
    expect(defaults.handlerTimeout).toBe(0)
    expect(defaults.respond).toBe('after-handlers')
    expect(defaults.maxBufferedBytes).toBe(16 * 1024 * 1024)
    const set = webhooks({ handlerTimeout: 5, respond: 'on-verify', maxBufferedBytes: 10 })
    expect([set.handlerTimeout, set.respond, set.maxBufferedBytes]).toEqual([5, 'on-verify', 10])
  })

  it('accepts idempotency false, true and an object', () => {
    expect(() => webhooks({ idempotency: false })).not.toThrow()
    expect(() => webhooks({ idempotency: true })).not.toThrow()
    expect(() => webhooks({ idempotency: {} })).not.toThrow()
    expect(() =>
      webhooks({ idempotency: { store: new MemoryIdempotencyStore(), ttl: 1, lease: 1 } }),
    ).not.toThrow()
  })
})
