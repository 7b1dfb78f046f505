import type http from 'node:http'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { Webhooks } from '@ecampus-webhooks/core'
import type { AnyWebhookEvent, WebhookError } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import {
  RawConnection,
  chunk,
  requestHead,
  send,
  within,
  type HttpResponse,
} from '@ecampus-webhooks/conformance/client'
import { targets, type RunningTarget } from '@ecampus-webhooks/conformance/targets'
import {
  gate,
  observeHandle,
  watchCrashes,
  type CrashWatch,
  type HandleLog,
} from '../src/servers.js'

// Faults over real HTTP, on every adapter: a client that stops sending, a client that goes away at
// every phase of an exchange, and handlers that throw. The core's decision for a request whose
// client is gone is read from `handle()` itself (observeHandle), never guessed from a delay.

const SECRET = 'reliability-faults-secret-3c1f9b7e'
const PATH = '/webhooks'

/** A signed event with a fresh id; `id` names it in assertions. */
function signedEvent(id: string): { id: string; body: string; headers: Record<string, string> } {
  const { body, headers } = createSignedRequest(
    createSampleEvent('message.created', { id }),
    SECRET,
  )
  return { id, body, headers }
}

/** The raw head of a signed POST whose Content-Length is `declared` (may exceed the body). */
function signedHead(body: string, declared = Buffer.byteLength(body)): string {
  const { headers } = createSignedRequest(body, SECRET)
  return requestHead('POST', PATH, [
    ['Content-Type', 'application/json'],
    ['Content-Length', String(declared)],
    ['X-eCampus-Signature', headers['x-ecampus-signature']],
  ])
}

function expectCode(response: { status: number; body: string }, status: number, code: string) {
  expect(response.status, response.body).toBe(status)
  expect(JSON.parse(response.body)).toMatchObject({ error: { code } })
}

/** Resolves when the next connection the server accepts has closed on the server side. */
function nextServerConnectionClosed(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.once('connection', (socket) => socket.once('close', () => resolve()))
  })
}

let idCounter = 0
function nextId(tag: string): string {
  idCounter += 1
  return `${tag}-${idCounter}`
}

describe.each(targets)('$name', (target) => {
  const calls: string[] = []
  const failures: { error: WebhookError; event: AnyWebhookEvent }[] = []
  /** Handlers that hold a specific id until the test lets them go. */
  const holds = new Map<string, { entered: () => void; release: Promise<void> }>()
  const webhooks = new Webhooks({ secret: SECRET })
  webhooks.onAny(async (event) => {
    const hold = holds.get(event.id)
    if (hold) {
      hold.entered()
      await hold.release
    }
    if (event.id.startsWith('throw-sync')) throw new Error('sync failure')
    if (event.id.startsWith('throw-async')) {
      await Promise.resolve()
      throw new Error('async failure')
    }
    calls.push(event.id)
  })
  webhooks.onError((error, event) => {
    failures.push({ error, event })
  })
  const log: HandleLog = observeHandle(webhooks)

  let app: RunningTarget
  let crashes: CrashWatch
  beforeAll(async () => {
    app = await target.start(webhooks)
  })
  afterAll(async () => {
    await app?.close()
  })
  beforeEach(() => {
    calls.length = 0
    failures.length = 0
    crashes = watchCrashes()
  })
  afterEach(async () => {
    // Whatever the fault, the server still serves the next delivery, and nothing crashed.
    const event = signedEvent(nextId('after'))
    const response = await send(app.url, PATH, { body: event.body, headers: event.headers })
    expect(response.status, response.body).toBe(200)
    expect(calls).toContain(event.id)
    crashes.uninstall()
    expect(crashes.problems).toEqual([])
  })

  describe('client abort', () => {
    it('after connecting, before any header: no request reaches the core', async () => {
      const before = log.started
      const closed = nextServerConnectionClosed(app.server)
      const connection = await RawConnection.open(app.url)
      connection.destroy()
      await within(closed, 'the server side of the aborted connection to close')
      expect(log.started).toBe(before)
      expect(calls).toEqual([])
    })

    it('in the middle of the header block: no request reaches the core', async () => {
      const before = log.started
      const event = signedEvent(nextId('mid-headers'))
      const head = signedHead(event.body)
      const closed = nextServerConnectionClosed(app.server)
      const connection = await RawConnection.open(app.url)
      await connection.write(head.slice(0, head.indexOf('X-eCampus-Signature') + 10))
      connection.destroy()
      await within(closed, 'the server side of the aborted connection to close')
      expect(log.started).toBe(before)
      expect(calls).toEqual([])
    })

    it('after the headers, before any body byte: 400 REQUEST_ABORTED decided, no handler call', async () => {
      const count = log.responses.length
      const event = signedEvent(nextId('no-body'))
      const connection = await RawConnection.open(app.url)
      await connection.write(signedHead(event.body))
      await within(log.entered(log.started + 1), 'the request to reach the core')
      connection.destroy()
      const [decision] = (await within(log.settled(count + 1), 'the core to decide')).slice(count)
      expectCode(decision!, 400, 'REQUEST_ABORTED')
      expect(calls).toEqual([])
    })

    // The bytes sent are a complete, correctly signed event: only the declared length says more
    // was coming. A receiver that took a closed connection for the end of the body would run the
    // handler for a request the sender never finished.
    it('in the middle of a Content-Length body that is itself a signed event: no handler call', async () => {
      const count = log.responses.length
      const event = signedEvent(nextId('mid-body'))
      const connection = await RawConnection.open(app.url)
      await connection.write(signedHead(event.body, Buffer.byteLength(event.body) + 100))
      await within(log.entered(log.started + 1), 'the request to reach the core')
      await connection.write(event.body)
      connection.destroy()
      const [decision] = (await within(log.settled(count + 1), 'the core to decide')).slice(count)
      expectCode(decision!, 400, 'REQUEST_ABORTED')
      expect(calls).toEqual([])
    })

    it('in the middle of a chunked body, before the last chunk: no handler call', async () => {
      const count = log.responses.length
      const event = signedEvent(nextId('mid-chunked'))
      const connection = await RawConnection.open(app.url)
      await connection.write(
        requestHead('POST', PATH, [
          ['Content-Type', 'application/json'],
          ['Transfer-Encoding', 'chunked'],
          ['X-eCampus-Signature', event.headers['x-ecampus-signature']!],
        ]),
      )
      await within(log.entered(log.started + 1), 'the request to reach the core')
      await connection.write(chunk(event.body))
      connection.destroy()
      const [decision] = (await within(log.settled(count + 1), 'the core to decide')).slice(count)
      expectCode(decision!, 400, 'REQUEST_ABORTED')
      expect(calls).toEqual([])
    })

    // The body is complete, so the core may run the handlers; whether it does depends on whether
    // the framework saw the close first. Either way the outcome is safe: the handler ran exactly
    // when the core decided 2xx, and never for a request the core refused.
    it('after the whole body, before the response: handler ran exactly when the core said 200', async () => {
      const count = log.responses.length
      const event = signedEvent(nextId('before-response'))
      const connection = await RawConnection.open(app.url)
      await connection.write(signedHead(event.body) + event.body)
      connection.destroy()
      const [decision] = (await within(log.settled(count + 1), 'the core to decide')).slice(count)
      expect([200, 400]).toContain(decision!.status)
      expect(calls).toEqual(decision!.status === 200 ? [event.id] : [])
    })

    it('while the handler runs: the handler finishes once, the dead socket is not written to', async () => {
      const count = log.responses.length
      const event = signedEvent(nextId('during-handler'))
      const entered = gate()
      const release = gate()
      holds.set(event.id, { entered: () => entered.resolve(), release: release.promise })
      try {
        const closed = nextServerConnectionClosed(app.server)
        const connection = await RawConnection.open(app.url)
        await connection.write(signedHead(event.body) + event.body)
        await within(entered.promise, 'the handler to start')
        connection.destroy()
        await within(closed, 'the server side of the aborted connection to close')
        expect(calls).toEqual([])
        release.resolve()
        const [decision] = (await within(log.settled(count + 1), 'the core to decide')).slice(count)
        expect(decision!.status).toBe(200)
        expect(calls).toEqual([event.id])
      } finally {
        release.resolve()
        holds.delete(event.id)
      }
    })
  })

  describe('handler failures', () => {
    it.each([
      ['throws synchronously', 'throw-sync'],
      ['rejects', 'throw-async'],
    ])('a handler that %s -> 500 HANDLER_FAILED, onError sees the event', async (_, tag) => {
      const event = signedEvent(nextId(tag))
      const response = await send(app.url, PATH, { body: event.body, headers: event.headers })
      expectCode(response, 500, 'HANDLER_FAILED')
      expect(calls).toEqual([])
      expect(failures.map((failure) => failure.event.id)).toEqual([event.id])
      expect(failures[0]!.error.code).toBe('HANDLER_FAILED')
    })
  })

  describe('slow-loris body (bodyTimeout)', () => {
    let slow: RunningTarget
    const slowCalls: string[] = []
    beforeAll(async () => {
      // Small so the test is quick; nothing asserts how long the answer took.
      const instance = new Webhooks({ secret: SECRET, bodyTimeout: 300 })
      instance.onAny((event) => {
        slowCalls.push(event.id)
      })
      slow = await target.start(instance)
    })
    afterAll(async () => {
      await slow?.close()
    })

    async function trickleThenStop(head: string, pieces: readonly (string | Buffer)[]) {
      const connection = await RawConnection.open(slow.url)
      try {
        await connection.write(head)
        // A few bytes at a time, each handed to the kernel before the next, then silence.
        for (const piece of pieces) await connection.write(piece)
        const response: HttpResponse = await within(connection.response, 'the 408')
        await within(connection.closed, 'the server to close the connection')
        return response
      } finally {
        connection.destroy()
      }
    }

    it('Content-Length body that stops arriving -> 408 REQUEST_TIMEOUT, connection closed', async () => {
      const event = signedEvent(nextId('loris'))
      const bytes = Buffer.from(event.body)
      const response = await trickleThenStop(signedHead(event.body), [
        bytes.subarray(0, 8),
        bytes.subarray(8, 16),
        bytes.subarray(16, 24),
      ])
      expectCode(response, 408, 'REQUEST_TIMEOUT')
      expect(response.headers.connection).toBe('close')
      expect(slowCalls).toEqual([])
    })

    it('chunked body without its last chunk -> 408 REQUEST_TIMEOUT, connection closed', async () => {
      const event = signedEvent(nextId('loris-chunked'))
      const response = await trickleThenStop(
        requestHead('POST', PATH, [
          ['Content-Type', 'application/json'],
          ['Transfer-Encoding', 'chunked'],
          ['X-eCampus-Signature', event.headers['x-ecampus-signature']!],
        ]),
        // The whole signed event, so only the missing last chunk keeps it from being handled.
        [chunk(event.body.slice(0, 10)), chunk(event.body.slice(10))],
      )
      expectCode(response, 408, 'REQUEST_TIMEOUT')
      expect(slowCalls).toEqual([])
    })
  })
})
