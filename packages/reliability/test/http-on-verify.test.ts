import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Webhooks } from '@ecampus-webhooks/core'
import type { ErrorInfo, WebhookError } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import { send, within, type HttpResponse } from '@ecampus-webhooks/conformance/client'
import { targets, type RunningTarget } from '@ecampus-webhooks/conformance/targets'
import { gate, nextTurn, watchCrashes, type CrashWatch, type Gate } from '../src/servers.js'

// respond: 'on-verify' over real HTTP on every adapter: the 202 arrives while the handler is
// provably still running (its gate is shut), verification still guards the handlers, background
// failures reach onError, and drain() resolves only after every background run settled.

const SECRET = 'reliability-on-verify-secret-a4c7d902'
const PATH = '/webhooks'

let idCounter = 0
function freshId(tag: string): string {
  idCounter += 1
  return `${tag}-${idCounter}`
}

function signed(id: string): { body: string; headers: Record<string, string> } {
  return createSignedRequest(createSampleEvent('contact.updated', { id }), SECRET)
}

function deliver(app: RunningTarget, id: string): Promise<HttpResponse> {
  return send(app.url, PATH, signed(id))
}

function expectAccepted(response: HttpResponse): void {
  expect(response.status, response.body).toBe(202)
  expect(JSON.parse(response.body)).toEqual({ ok: true, accepted: true })
}

describe.each(targets)('$name', (target) => {
  const effects = new Map<string, number>()
  const attempts = new Map<string, number>()
  const holds = new Map<string, Gate<'ok' | 'fail'>>()
  const failures: { code: string; eventId: string; decision: string }[] = []

  const webhooks = new Webhooks({ secret: SECRET, respond: 'on-verify', idempotency: true })
  webhooks.onAny(async (event) => {
    attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1)
    if ((await holds.get(event.id)?.promise) === 'fail') throw new Error(`failure of ${event.id}`)
    effects.set(event.id, (effects.get(event.id) ?? 0) + 1)
  })
  webhooks.onError((error: WebhookError, _event, info: ErrorInfo) => {
    failures.push({ code: error.code, eventId: info.eventId, decision: info.decision })
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
    failures.length = 0
    crashes = watchCrashes()
  })
  afterEach(() => {
    crashes.uninstall()
    expect(crashes.problems).toEqual([])
  })

  it('202 before the handler finishes; drain() resolves only after it', async () => {
    const id = freshId('accepted')
    const hold = gate<'ok' | 'fail'>()
    holds.set(id, hold)
    expectAccepted(await deliver(app, id))
    expect(hold.settled).toBe(false)
    expect(attempts.get(id)).toBe(1)
    expect(effects.has(id)).toBe(false)

    let drained = false
    const draining = app.webhooks.drain().then(() => {
      drained = true
    })
    await nextTurn()
    await nextTurn()
    expect(drained).toBe(false)
    hold.resolve('ok')
    await within(draining, 'drain()')
    expect(effects.get(id)).toBe(1)
  })

  it('still verifies first: a tampered body gets 401 and no handler runs', async () => {
    const id = freshId('tampered')
    const { body, headers } = signed(id)
    const response = await send(app.url, PATH, { body: body.replace(id, `${id}x`), headers })
    expect(response.status, response.body).toBe(401)
    await within(app.webhooks.drain(), 'drain()')
    expect(attempts.has(id)).toBe(false)
    expect(attempts.has(`${id}x`)).toBe(false)
  })

  it('a background failure goes to onError with decision "background" and the event id', async () => {
    const id = freshId('background-fail')
    const hold = gate<'ok' | 'fail'>()
    holds.set(id, hold)
    expectAccepted(await deliver(app, id))
    hold.resolve('fail')
    await within(app.webhooks.drain(), 'drain()')
    expect(failures).toEqual([{ code: 'HANDLER_FAILED', eventId: id, decision: 'background' }])
    expect(effects.has(id)).toBe(false)
  })

  it('with idempotency: a duplicate while the background run goes is 409, after it a 200 duplicate', async () => {
    const id = freshId('dup')
    const hold = gate<'ok' | 'fail'>()
    holds.set(id, hold)
    expectAccepted(await deliver(app, id))
    const during = await deliver(app, id)
    expect(during.status, during.body).toBe(409)
    expect(during.headers['retry-after']).toMatch(/^[1-9]\d*$/)
    hold.resolve('ok')
    await within(app.webhooks.drain(), 'drain()')
    const after = await deliver(app, id)
    expect(after.status, after.body).toBe(200)
    expect(JSON.parse(after.body)).toEqual({ ok: true, duplicate: true })
    expect(attempts.get(id)).toBe(1)
    expect(effects.get(id)).toBe(1)
  })
})
