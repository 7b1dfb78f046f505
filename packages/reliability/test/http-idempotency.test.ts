import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PermanentWebhookError, Webhooks } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import { send, type HttpResponse } from '@ecampus-webhooks/conformance/client'
import { targets, type RunningTarget } from '@ecampus-webhooks/conformance/targets'
import { gate, nextTurn, watchCrashes, type CrashWatch, type Gate } from '../src/servers.js'

// At-least-once delivery over real HTTP, on every adapter, with idempotency on: eCampus redelivers
// until it gets a 2xx, in sequence or while a first delivery still runs. Whatever the order and
// the failures in between, the handler's side effect happens exactly once, and a delivery that
// finds the id still running gets 409 + Retry-After (never a 2xx that could hide a failure).

const SECRET = 'reliability-idempotency-secret-7d20e4b1'
const PATH = '/webhooks'

/** What the handler does on each attempt for an id: succeed, fail, or wait for a gate. */
type Step = 'ok' | 'fail' | 'permanent' | Gate<'ok' | 'fail'>

let idCounter = 0
function freshId(tag: string): string {
  idCounter += 1
  return `${tag}-${idCounter}`
}

function deliver(app: RunningTarget, id: string): Promise<HttpResponse> {
  const { body, headers } = createSignedRequest(
    createSampleEvent('message.created', { id }),
    SECRET,
  )
  return send(app.url, PATH, { body, headers })
}

function expectInProgress(response: HttpResponse): void {
  expect(response.status, response.body).toBe(409)
  expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'EVENT_IN_PROGRESS' } })
  expect(response.headers['retry-after']).toMatch(/^[1-9]\d*$/)
}

function expectDuplicate(response: HttpResponse): void {
  expect(response.status, response.body).toBe(200)
  expect(JSON.parse(response.body)).toEqual({ ok: true, duplicate: true })
}

describe.each(targets)('$name', (target) => {
  /** Completed side effects per id. */
  const effects = new Map<string, number>()
  /** Handler starts per id. */
  const attempts = new Map<string, number>()
  const scripts = new Map<string, Step[]>()
  /** Resolved with the id each time a handler starts. */
  let started = gate<string>()

  const webhooks = new Webhooks({ secret: SECRET, idempotency: true })
  webhooks.onAny(async (event) => {
    attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1)
    started.resolve(event.id)
    const step = scripts.get(event.id)?.shift() ?? 'ok'
    const outcome = typeof step === 'string' ? step : await step.promise
    if (outcome === 'fail') throw new Error(`planned failure of ${event.id}`)
    if (outcome === 'permanent') throw new PermanentWebhookError(`${event.id} can never succeed`)
    effects.set(event.id, (effects.get(event.id) ?? 0) + 1)
  })

  let app: RunningTarget
  let crashes: CrashWatch
  beforeAll(async () => {
    app = await target.start(webhooks)
  })
  afterAll(async () => {
    await app?.close()
  })
  beforeEach(() => {
    started = gate<string>()
    crashes = watchCrashes()
  })
  afterEach(() => {
    crashes.uninstall()
    expect(crashes.problems).toEqual([])
  })

  it('in sequence, no failure: handled once, later deliveries are 200 duplicates', async () => {
    const id = freshId('seq')
    const first = await deliver(app, id)
    expect(first.status, first.body).toBe(200)
    expect(JSON.parse(first.body)).toEqual({ ok: true })
    expectDuplicate(await deliver(app, id))
    expectDuplicate(await deliver(app, id))
    expect(attempts.get(id)).toBe(1)
    expect(effects.get(id)).toBe(1)
  })

  it('in sequence, failures in between: every failure is retried, the effect happens once', async () => {
    const id = freshId('seq-fail')
    scripts.set(id, ['fail', 'fail', 'ok'])
    const statuses: number[] = []
    // eCampus's loop: redeliver until a 2xx (bounded here).
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const response = await deliver(app, id)
      statuses.push(response.status)
      if (response.status === 200) break
      expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'HANDLER_FAILED' } })
    }
    expect(statuses).toEqual([500, 500, 200])
    expectDuplicate(await deliver(app, id))
    expect(attempts.get(id)).toBe(3)
    expect(effects.get(id)).toBe(1)
  })

  it('in parallel: deliveries while the first runs get 409 + Retry-After, never a 2xx', async () => {
    const id = freshId('par')
    const hold = gate<'ok' | 'fail'>()
    scripts.set(id, [hold])
    const first = deliver(app, id)
    expect(await started.promise).toBe(id)
    const others = await Promise.all(Array.from({ length: 5 }, () => deliver(app, id)))
    for (const response of others) expectInProgress(response)
    expect(attempts.get(id)).toBe(1)
    expect(effects.has(id)).toBe(false)
    hold.resolve('ok')
    expect((await first).status).toBe(200)
    expectDuplicate(await deliver(app, id))
    expect(attempts.get(id)).toBe(1)
    expect(effects.get(id)).toBe(1)
  })

  it('in parallel with a failure: the 409 did not hide it, the redelivery runs the handler', async () => {
    const id = freshId('par-fail')
    const hold = gate<'ok' | 'fail'>()
    scripts.set(id, [hold, 'ok'])
    const first = deliver(app, id)
    await started.promise
    expectInProgress(await deliver(app, id))
    hold.resolve('fail')
    const failed = await first
    expect(failed.status, failed.body).toBe(500)
    expect(effects.has(id)).toBe(false)
    const retried = await deliver(app, id)
    expect(retried.status, retried.body).toBe(200)
    expect(JSON.parse(retried.body)).toEqual({ ok: true })
    expectDuplicate(await deliver(app, id))
    expect(attempts.get(id)).toBe(2)
    expect(effects.get(id)).toBe(1)
  })

  // eCampus retries every non-2xx, so "stop retrying" must be a 2xx; the id counts as handled.
  it('a permanent failure: 200 EVENT_REJECTED with ok false, and redeliveries are duplicates', async () => {
    const id = freshId('permanent')
    scripts.set(id, ['permanent'])
    const rejected = await deliver(app, id)
    expect(rejected.status, rejected.body).toBe(200)
    expect(JSON.parse(rejected.body)).toMatchObject({
      ok: false,
      error: { code: 'EVENT_REJECTED' },
    })
    expectDuplicate(await deliver(app, id))
    expect(attempts.get(id)).toBe(1)
    expect(effects.has(id)).toBe(false)
  })

  it('a burst of identical deliveries, each retried until 2xx, with failing first attempts: one effect', async () => {
    const id = freshId('burst')
    scripts.set(id, ['fail', 'fail'])
    const sender = async (): Promise<number[]> => {
      const statuses: number[] = []
      for (let attempt = 0; attempt < 200; attempt += 1) {
        const response = await deliver(app, id)
        statuses.push(response.status)
        if (response.status === 200) return statuses
        expect([409, 500]).toContain(response.status)
        await nextTurn()
      }
      return statuses
    }
    const senders = await Promise.all(Array.from({ length: 8 }, sender))
    for (const statuses of senders) expect(statuses.at(-1)).toBe(200)
    // Two planned failures, then one success: no delivery ran the handler concurrently.
    expect(attempts.get(id)).toBe(3)
    expect(effects.get(id)).toBe(1)
  })
})
