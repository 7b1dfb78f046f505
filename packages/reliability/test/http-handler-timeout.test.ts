import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Webhooks } from '@ecampus-webhooks/core'
import type { ErrorInfo, WebhookError } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import { send, within, type HttpResponse } from '@ecampus-webhooks/conformance/client'
import { targets, type RunningTarget } from '@ecampus-webhooks/conformance/targets'
import { gate, nextTurn, watchCrashes, type CrashWatch, type Gate } from '../src/servers.js'

// A handler that hangs, over real HTTP on every adapter. With handlerTimeout the sender gets a 500
// HANDLER_TIMEOUT (so it retries) while the handler is provably still running — its gate is shut —
// and the handler's late success or failure afterwards crashes nothing, answers nothing twice,
// and decides the idempotency claim: done on success, released on failure. drain() waits for it.

const SECRET = 'reliability-timeout-secret-51be09c3'
const PATH = '/webhooks'
// Short so the test is quick, long enough that a handler with nothing to wait for never meets it
// on a busy machine. Nothing asserts on time: the hanging handlers only finish when the test
// opens their gate, so the timeout is the only way a 500 HANDLER_TIMEOUT can come back.
const HANDLER_TIMEOUT = 400

let idCounter = 0
function freshId(tag: string): string {
  idCounter += 1
  return `${tag}-${idCounter}`
}

function deliver(app: RunningTarget, id: string): Promise<HttpResponse> {
  const { body, headers } = createSignedRequest(createSampleEvent('group.updated', { id }), SECRET)
  return send(app.url, PATH, { body, headers })
}

function expectCode(response: HttpResponse, status: number, code: string): void {
  expect(response.status, response.body).toBe(status)
  expect(JSON.parse(response.body)).toMatchObject({ error: { code } })
}

describe.each(targets)('$name', (target) => {
  const effects = new Map<string, number>()
  const attempts = new Map<string, number>()
  const holds = new Map<string, Gate<'ok' | 'fail'>[]>()
  const failures: { code: string; eventId: string; decision: string }[] = []

  function instance(options: { idempotency: boolean }): Webhooks {
    const webhooks = new Webhooks({
      secret: SECRET,
      handlerTimeout: HANDLER_TIMEOUT,
      idempotency: options.idempotency,
    })
    webhooks.onAny(async (event) => {
      attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1)
      const hold = holds.get(event.id)?.shift()
      if ((await hold?.promise) === 'fail') throw new Error(`late failure of ${event.id}`)
      effects.set(event.id, (effects.get(event.id) ?? 0) + 1)
    })
    webhooks.onError((error: WebhookError, _event, info: ErrorInfo) => {
      failures.push({ code: error.code, eventId: info.eventId, decision: info.decision })
    })
    return webhooks
  }

  let app: RunningTarget
  let plain: RunningTarget
  let crashes: CrashWatch
  beforeAll(async () => {
    app = await target.start(instance({ idempotency: true }))
    plain = await target.start(instance({ idempotency: false }))
  })
  afterAll(async () => {
    await app?.close()
    await plain?.close()
  })
  beforeEach(() => {
    failures.length = 0
    crashes = watchCrashes()
  })
  afterEach(() => {
    crashes.uninstall()
    expect(crashes.problems).toEqual([])
  })

  it('hang -> 500 HANDLER_TIMEOUT; redelivery meanwhile 409; late success completes the id', async () => {
    const id = freshId('hang-ok')
    const hold = gate<'ok' | 'fail'>()
    holds.set(id, [hold])
    const timedOut = await deliver(app, id)
    expectCode(timedOut, 500, 'HANDLER_TIMEOUT')
    expect(hold.settled).toBe(false)
    expect(failures).toContainEqual({ code: 'HANDLER_TIMEOUT', eventId: id, decision: 'retry' })
    // The claim follows the handler's real outcome, which is not known yet.
    expectCode(await deliver(app, id), 409, 'EVENT_IN_PROGRESS')

    let drained = false
    const draining = app.webhooks.drain().then(() => {
      drained = true
    })
    await nextTurn()
    expect(drained).toBe(false)
    hold.resolve('ok')
    await within(draining, 'drain() after the late success')
    expect(effects.get(id)).toBe(1)

    const again = await deliver(app, id)
    expect(again.status, again.body).toBe(200)
    expect(JSON.parse(again.body)).toEqual({ ok: true, duplicate: true })
    expect(attempts.get(id)).toBe(1)
    expect(effects.get(id)).toBe(1)
  })

  it('hang -> 500 HANDLER_TIMEOUT; late failure releases the id, the redelivery runs it', async () => {
    const id = freshId('hang-fail')
    const hold = gate<'ok' | 'fail'>()
    holds.set(id, [hold])
    expectCode(await deliver(app, id), 500, 'HANDLER_TIMEOUT')
    hold.resolve('fail')
    await within(app.webhooks.drain(), 'drain() after the late failure')
    expect(effects.has(id)).toBe(false)
    // Reported, with the event id, and never as something the sender was told succeeded.
    expect(failures.filter((f) => f.eventId === id).map((f) => f.decision)).not.toContain(
      'acknowledged',
    )

    const retried = await deliver(app, id)
    expect(retried.status, retried.body).toBe(200)
    expect(JSON.parse(retried.body)).toEqual({ ok: true })
    expect(attempts.get(id)).toBe(2)
    expect(effects.get(id)).toBe(1)
  })

  it('without idempotency: the late settle answers nothing twice and the server keeps serving', async () => {
    const id = freshId('hang-plain')
    const hold = gate<'ok' | 'fail'>()
    holds.set(id, [hold])
    expectCode(await deliver(plain, id), 500, 'HANDLER_TIMEOUT')
    hold.resolve('ok')
    await within(plain.webhooks.drain(), 'drain() after the late success')
    expect(effects.get(id)).toBe(1)
    const next = freshId('after-hang')
    const response = await deliver(plain, next)
    expect(response.status, response.body).toBe(200)
    expect(effects.get(next)).toBe(1)
  })
})
