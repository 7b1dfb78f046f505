import { PassThrough } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ByteBudget } from '../src/byte-budget.js'
import type { AnyWebhookEvent, WebhookResponse } from '../src/index.js'
import { Webhooks } from '../src/index.js'
import { readBody } from '../src/raw-body.js'
import { SECRET, signedHeaders, tick } from './helpers.js'

afterEach(() => {
  vi.useRealTimers()
})

function bodyFor(id: string): string {
  return JSON.stringify({ id, type: 'message.created', payload: { id: 'm', text: 'x'.repeat(40) } })
}

/** Bodies of equal length, so one budget fits exactly one of them. */
const IDS = ['id-1', 'id-2', 'id-3', 'id-4']
const LENGTH = Buffer.byteLength(bodyFor('id-1'))

interface Pending {
  stream: PassThrough
  body: string
  response: Promise<WebhookResponse>
  settled: () => boolean
}

/** Starts a request whose body stream the test controls; `chunked` declares no length. */
function start(hooks: Webhooks, id: string, chunked = false): Pending {
  const body = bodyFor(id)
  const stream = new PassThrough()
  const headers: Record<string, string> = signedHeaders(body)
  if (chunked) headers['transfer-encoding'] = 'chunked'
  else headers['content-length'] = String(Buffer.byteLength(body))
  let done = false
  const response = hooks.handle({ method: 'POST', headers, body: stream }).finally(() => {
    done = true
  })
  return { stream, body, response, settled: () => done }
}

/** True when the core is reading the stream (it attaches 'data' only once it holds a reservation). */
function reading(pending: Pending): boolean {
  return pending.stream.listenerCount('data') > 0
}

function recorder(): { hooks: (options: object) => Webhooks; order: string[] } {
  const order: string[] = []
  return {
    order,
    hooks: (options) =>
      new Webhooks({ secret: SECRET, ...options }).onAny((event: AnyWebhookEvent) => {
        order.push(event.id)
      }),
  }
}

describe('ByteBudget', () => {
  it('grants at once while bytes fit and nobody waits', () => {
    const budget = new ByteBudget(100)
    expect(budget.tryReserve(60)).toBe(true)
    expect(budget.tryReserve(40)).toBe(true)
    expect(budget.tryReserve(1)).toBe(false)
    expect(budget.used).toBe(100)
    budget.release(100)
    expect(budget.used).toBe(0)
  })

  it('serves waiters first in, first out, even when a later one would fit', () => {
    const budget = new ByteBudget(100)
    const granted: string[] = []
    expect(budget.tryReserve(70)).toBe(true)
    budget.wait({ bytes: 80, grant: () => granted.push('big') })
    budget.wait({ bytes: 10, grant: () => granted.push('small') })
    // 10 bytes would fit now, but the big waiter is first in line.
    expect(budget.tryReserve(10)).toBe(false)
    expect(granted).toEqual([])
    budget.release(70)
    expect(granted).toEqual(['big', 'small'])
    expect(budget.used).toBe(90)
  })

  it('grants a reservation larger than the budget when nothing else is held', () => {
    const budget = new ByteBudget(10)
    expect(budget.tryReserve(50)).toBe(true)
    const granted: string[] = []
    budget.wait({ bytes: 1, grant: () => granted.push('next') })
    expect(granted).toEqual([])
    budget.release(50)
    expect(granted).toEqual(['next'])

    const busy = new ByteBudget(10)
    busy.tryReserve(5)
    const huge = { bytes: 500, grant: () => granted.push('huge') }
    busy.wait(huge)
    busy.release(5)
    expect(granted).toEqual(['next', 'huge'])
  })

  it('cancelling the head of the line lets the others through', () => {
    const budget = new ByteBudget(100)
    const granted: string[] = []
    budget.tryReserve(50)
    const big = { bytes: 90, grant: () => granted.push('big') }
    budget.wait(big)
    budget.wait({ bytes: 40, grant: () => granted.push('small') })
    budget.cancel(big)
    expect(granted).toEqual(['small'])
    expect(budget.waiting).toBe(0)
    budget.cancel(big) // unknown: nothing happens
    expect(budget.used).toBe(90)
  })

  it('zero bytes never wait', () => {
    const budget = new ByteBudget(1)
    budget.tryReserve(1)
    budget.wait({ bytes: 1, grant: () => undefined })
    expect(budget.tryReserve(0)).toBe(true)
  })
})

describe('readBody with a budget', () => {
  it('the wait counts against the timeout: 408 without a byte read, and the waiter leaves the line', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const budget = new ByteBudget(100)
    budget.tryReserve(100) // held by someone else for good
    const stream = new PassThrough()
    stream.end('{}')
    const read = readBody(stream, { limit: 100, timeout: 1_000, budget, reserve: 2 })
    const outcome = read.catch((error: unknown) => error)
    await tick()
    expect(budget.waiting).toBe(1)
    expect(stream.listenerCount('data')).toBe(0)
    vi.advanceTimersByTime(1_000)
    const error = await outcome
    expect(error).toMatchObject({ code: 'REQUEST_TIMEOUT', status: 408 })
    expect((error as Error).message).toContain('maxBufferedBytes')
    expect(budget.waiting).toBe(0)
    expect(budget.used).toBe(100)
  })

  it('an abort while waiting rejects REQUEST_ABORTED and leaves the line', async () => {
    const budget = new ByteBudget(100)
    budget.tryReserve(100)
    const stream = new PassThrough()
    const read = readBody(stream, { limit: 100, timeout: 0, budget, reserve: 10 })
    expect(budget.waiting).toBe(1)
    stream.destroy()
    await expect(read).rejects.toMatchObject({ code: 'REQUEST_ABORTED' })
    expect(budget.waiting).toBe(0)
  })

  it('returns the reservation once the body is read, and on a limit overrun', async () => {
    const budget = new ByteBudget(100)
    const ok = new PassThrough()
    const read = readBody(ok, { limit: 100, timeout: 0, budget, reserve: 40 })
    expect(budget.used).toBe(40)
    ok.end('{"a":1}')
    await read
    expect(budget.used).toBe(0)

    const big = new PassThrough()
    const over = readBody(big, { limit: 10, timeout: 0, budget, reserve: 10 })
    big.write('x'.repeat(11))
    await expect(over).rejects.toMatchObject({ code: 'BODY_TOO_LARGE' })
    expect(budget.used).toBe(0)
    big.destroy()
  })
})

describe('maxBufferedBytes in handle()', () => {
  it('queues concurrent stream reads first in, first out, and all of them complete', async () => {
    const { hooks, order } = recorder()
    const instance = hooks({ maxBufferedBytes: LENGTH })
    const requests = IDS.map((id) => start(instance, id))
    await tick()
    expect(requests.map(reading)).toEqual([true, false, false, false])

    // Bodies of the waiting requests arrive first; they are still not read before their turn.
    for (const pending of requests.slice(1).reverse()) pending.stream.end(pending.body)
    await tick()
    expect(order).toEqual([])
    expect(requests.map(reading)).toEqual([true, false, false, false])

    requests[0]!.stream.end(requests[0]!.body)
    const responses = await Promise.all(requests.map((pending) => pending.response))
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200])
    expect(order).toEqual(IDS)
  })

  it('reserves only the declared length, so small bodies share the budget', async () => {
    const { hooks } = recorder()
    const instance = hooks({ maxBufferedBytes: 2 * LENGTH })
    const requests = IDS.map((id) => start(instance, id))
    await tick()
    expect(requests.map(reading)).toEqual([true, true, false, false])
    for (const pending of requests) pending.stream.end(pending.body)
    expect((await Promise.all(requests.map((p) => p.response))).map((r) => r.status)).toEqual([
      200, 200, 200, 200,
    ])
  })

  it('a chunked body reserves maxBodySize', async () => {
    const { hooks } = recorder()
    const instance = hooks({ maxBodySize: 1_000, maxBufferedBytes: 1_000 + LENGTH - 1 })
    const chunked = start(instance, 'id-1', true)
    const declared = start(instance, 'id-2')
    await tick()
    expect([reading(chunked), reading(declared)]).toEqual([true, false])
    chunked.stream.end(chunked.body)
    declared.stream.end(declared.body)
    expect((await chunked.response).status).toBe(200)
    expect((await declared.response).status).toBe(200)
  })

  it('a body larger than the whole budget proceeds alone, then the line moves on', async () => {
    const { hooks, order } = recorder()
    const instance = hooks({ maxBufferedBytes: 10 })
    const big = start(instance, 'id-1')
    const next = start(instance, 'id-2')
    await tick()
    expect([reading(big), reading(next)]).toEqual([true, false])
    next.stream.end(next.body)
    big.stream.end(big.body)
    expect((await big.response).status).toBe(200)
    expect((await next.response).status).toBe(200)
    expect(order).toEqual(['id-1', 'id-2'])
  })

  describe('the budget is released on every failure, so the next request does not wait', () => {
    /** One chunked request takes the whole budget; the follower waits until it is released. */
    function setup(options: object = {}): { first: Pending; follower: Pending } {
      const instance = new Webhooks({
        secret: SECRET,
        maxBodySize: 1_000,
        maxBufferedBytes: 1_000,
        ...options,
      })
      return { first: start(instance, 'id-1', true), follower: start(instance, 'id-2') }
    }

    it('after 413 while streaming', async () => {
      const { first, follower } = setup()
      await tick()
      expect(reading(follower)).toBe(false)
      first.stream.write('x'.repeat(1_001))
      const response = await first.response
      expect(response.status).toBe(413)
      await tick()
      expect(reading(follower)).toBe(true)
      follower.stream.end(follower.body)
      expect((await follower.response).status).toBe(200)
      first.stream.destroy()
    })

    it('after a client abort', async () => {
      const { first, follower } = setup()
      await tick()
      expect(reading(follower)).toBe(false)
      first.stream.write('{"id":')
      first.stream.destroy()
      expect((await first.response).status).toBe(400)
      await tick()
      expect(reading(follower)).toBe(true)
      follower.stream.end(follower.body)
      expect((await follower.response).status).toBe(200)
    })

    it('after a body timeout (408)', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      const instance = new Webhooks({
        secret: SECRET,
        maxBodySize: 1_000,
        maxBufferedBytes: 1_000,
        bodyTimeout: 1_000,
      })
      const first = start(instance, 'id-1', true)
      first.stream.write('{"id":') // and stalls
      vi.advanceTimersByTime(500)
      const follower = start(instance, 'id-2') // its deadline is t = 1500
      await tick()
      expect(reading(follower)).toBe(false)
      vi.advanceTimersByTime(500)
      expect((await first.response).status).toBe(408)
      await tick()
      expect(reading(follower)).toBe(true)
      follower.stream.end(follower.body)
      expect((await follower.response).status).toBe(200)
      first.stream.destroy()
    })

    it('after a rejection while waiting, for the requests queued behind it', async () => {
      const instance = new Webhooks({ secret: SECRET, maxBodySize: 1_000, maxBufferedBytes: 1_000 })
      const first = start(instance, 'id-1', true)
      const second = start(instance, 'id-2', true)
      const third = start(instance, 'id-3')
      await tick()
      expect([reading(first), reading(second), reading(third)]).toEqual([true, false, false])
      second.stream.destroy()
      expect((await second.response).status).toBe(400)
      first.stream.end(first.body)
      expect((await first.response).status).toBe(200)
      await tick()
      expect(reading(third)).toBe(true)
      third.stream.end(third.body)
      expect((await third.response).status).toBe(200)
    })
  })

  it('waiting for the budget counts toward bodyTimeout (408)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const instance = new Webhooks({
      secret: SECRET,
      bodyTimeout: 1_000,
      maxBufferedBytes: LENGTH,
    })
    const first = start(instance, 'id-1')
    first.stream.write('{"id":') // and stalls
    vi.advanceTimersByTime(200)
    const second = start(instance, 'id-2')
    second.stream.write('{"id":') // it will stall as well once it is read
    await tick()
    expect(reading(second)).toBe(false)

    vi.advanceTimersByTime(800) // t = 1000: the first times out, the second gets its turn
    expect((await first.response).status).toBe(408)
    await tick()
    expect(reading(second)).toBe(true)
    // Its deadline counts from its arrival (t = 200), not from its turn (t = 1000).
    vi.advanceTimersByTime(199)
    await tick()
    expect(second.settled()).toBe(false)
    vi.advanceTimersByTime(1)
    const response = await second.response
    expect(response.status).toBe(408)
    expect(response.headers.connection).toBe('close')
    first.stream.destroy()
    second.stream.destroy()
  })

  it('raw bodies (already buffered by a parser) do not use the budget', async () => {
    const instance = new Webhooks({ secret: SECRET, maxBufferedBytes: 1 })
    const holder = start(instance, 'id-1')
    await tick()
    const body = bodyFor('id-2')
    const response = await instance.handle({ method: 'POST', headers: signedHeaders(body), body })
    expect(response.status).toBe(200)
    holder.stream.end(holder.body)
    expect((await holder.response).status).toBe(200)
  })
})
