import http from 'node:http'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { EVENT_TYPES, Webhooks, sign } from '@ecampus-webhooks/core'
import type { AnyWebhookEvent, WebhookError, WebhooksBase } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import {
  LAST_CHUNK,
  RawConnection,
  chunk,
  requestHead,
  send,
  within,
  type HttpResponse,
  type RawHeader,
  type SendOptions,
} from '../src/client.js'
import { OTHER_PATH, targets, type RunningTarget } from '../src/targets.js'

// Distinctive, so a response that echoes one is caught by a plain substring search.
const SECRET = 'conformance-secret-5f0c9a1e7b3d-never-echo'
const OLD_SECRET = 'conformance-old-secret-8e2d4c6a-never-echo'
const WRONG_SECRET = 'conformance-wrong-secret-1a2b3c4d'
const MAX_BODY = 16 * 1024
const WEBHOOK_PATH = '/webhooks'
const SIGNATURE = 'x-ecampus-signature'

interface Call {
  handler: string
  event: AnyWebhookEvent
}

interface Failure {
  error: WebhookError
  event: AnyWebhookEvent
}

/** A signed request for `send()`. */
function signed(eventOrBody: object | string, secret: string = SECRET): SendOptions {
  const { body, headers } = createSignedRequest(eventOrBody, secret)
  return { body, headers }
}

/** An event serialised to exactly `size` bytes, by padding one payload field. */
function bodyOfSize(size: number): string {
  const event = createSampleEvent('group.updated', { payload: { padding: '' } })
  const base = Buffer.byteLength(JSON.stringify(event))
  if (size < base) throw new Error(`cannot make a body of ${size} bytes`)
  const body = JSON.stringify({
    ...event,
    payload: { ...event.payload, padding: 'x'.repeat(size - base) },
  })
  expect(Buffer.byteLength(body)).toBe(size)
  return body
}

/** The headers of a raw signed JSON request with a Content-Length. */
function rawHeaders(body: string | Uint8Array, signature: readonly RawHeader[]): RawHeader[] {
  return [
    ['Content-Type', 'application/json'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ...signature,
  ]
}

/** One request written byte for byte on a fresh connection; the connection is dropped after. */
async function rawRequest(
  url: string,
  head: string,
  body: string | Uint8Array = '',
): Promise<HttpResponse> {
  const connection = await RawConnection.open(url)
  try {
    await connection.write(Buffer.concat([Buffer.from(head), Buffer.from(body)]))
    return await within(connection.response, 'the response to a raw request')
  } finally {
    connection.destroy()
  }
}

function expectOk(response: HttpResponse): void {
  expect(response.status, response.raw).toBe(200)
  expect(JSON.parse(response.body)).toEqual({ ok: true })
  expectNoLeak(response)
}

/**
 * The error contract: status, JSON content type, exactly `{"error":{"code","message"}}`, and
 * neither a secret nor the signature the body would need anywhere in the response.
 */
function expectError(
  response: HttpResponse,
  status: number,
  code: string,
  sentBody?: string | Uint8Array,
): void {
  expect(response.status, response.raw).toBe(status)
  expect(response.headers['content-type'], response.raw).toMatch(/^application\/json\s*(;|$)/)
  expect(JSON.parse(response.body), response.raw).toEqual({
    error: { code, message: expect.stringMatching(/\S/) },
  })
  expectNoLeak(response, sentBody)
}

function expectNoLeak(response: HttpResponse, sentBody?: string | Uint8Array): void {
  const secrets = [SECRET, OLD_SECRET]
  const forbidden = [...secrets]
  if (sentBody !== undefined) forbidden.push(...secrets.map((secret) => sign(sentBody, secret)))
  const raw = response.raw.toLowerCase()
  for (const value of forbidden) expect(raw).not.toContain(value.toLowerCase())
}

/** Resolves when the next connection the server accepts has closed on the server side. */
function nextServerConnectionClosed(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.once('connection', (socket) => socket.once('close', () => resolve()))
  })
}

describe.each(targets)('$name', (target) => {
  // The class every instance of this target is built with (the web entry's for Web Crypto).
  const WebhooksOfTarget = target.Webhooks ?? Webhooks
  const calls: Call[] = []
  const failures: Failure[] = []
  const webhooks = new WebhooksOfTarget({ secret: SECRET, maxBodySize: MAX_BODY })
  for (const type of EVENT_TYPES) {
    webhooks.on(type, (event) => {
      calls.push({ handler: type, event })
    })
  }
  webhooks.onAny((event) => {
    calls.push({ handler: 'onAny', event })
  })
  webhooks.onError((error, event) => {
    failures.push({ error, event })
  })

  let app: RunningTarget
  beforeAll(async () => {
    app = await target.start(webhooks)
  })
  afterAll(async () => {
    await app?.close()
  })
  beforeEach(() => {
    calls.length = 0
    failures.length = 0
  })

  const deliver = (eventOrBody: object | string, path = WEBHOOK_PATH): Promise<HttpResponse> =>
    send(app.url, path, signed(eventOrBody))

  /** Starts a second server of this target for one test and always closes it. */
  async function withTarget(
    config: WebhooksBase | ConstructorParameters<typeof Webhooks>[0],
    run: (running: RunningTarget) => Promise<void>,
  ): Promise<void> {
    const running = await target.start(config)
    try {
      await run(running)
    } finally {
      await running.close()
    }
  }

  it('exposes the core instance it was given', () => {
    expect(app.webhooks).toBe(webhooks)
  })

  describe('delivery', () => {
    it.each(EVENT_TYPES)('%s → 200, its handler runs once with the exact event', async (type) => {
      const event = createSampleEvent(type)
      expectOk(await deliver(event))
      expect(calls.filter((call) => call.handler !== 'onAny')).toEqual([{ handler: type, event }])
      expect(calls.filter((call) => call.handler === 'onAny')).toEqual([
        { handler: 'onAny', event },
      ])
      expect(failures).toEqual([])
    })

    it('an unknown event type → 200, only onAny runs, with every envelope field', async () => {
      const event = { id: 'unknownType00001', type: 'poll.created', payload: { id: 'p1' }, v: 2 }
      expectOk(await deliver(event))
      expect(calls).toEqual([{ handler: 'onAny', event }])
    })

    it('a query string on the webhook path is ignored → 200', async () => {
      const event = createSampleEvent('contact.created')
      expectOk(await deliver(event, `${WEBHOOK_PATH}?source=ecampus&attempt=2`))
      expect(calls.map((call) => call.event)).toEqual([event, event])
    })

    it('a trailing slash on the webhook path is the same path → 200', async () => {
      const event = createSampleEvent('contact.updated')
      expectOk(await deliver(event, `${WEBHOOK_PATH}/`))
      expect(calls.map((call) => call.event)).toEqual([event, event])
    })

    it.each([
      ['no Content-Type', undefined],
      ['Content-Type: text/plain', 'text/plain'],
      ['Content-Type: application/octet-stream', 'application/octet-stream'],
    ])('%s: the signature covers the bytes whatever their declared type → 200', async (_, type) => {
      const event = createSampleEvent('conversation.updated')
      const body = JSON.stringify(event)
      const headers: http.OutgoingHttpHeaders = { [SIGNATURE]: sign(body, SECRET) }
      if (type !== undefined) headers['content-type'] = type
      expectOk(await send(app.url, WEBHOOK_PATH, { body, headers }))
      expect(calls.map((call) => call.event)).toEqual([event, event])
    })

    it('Content-Type with parameters and Content-Encoding: identity → 200', async () => {
      const { body, headers } = createSignedRequest(createSampleEvent('message.updated'), SECRET)
      const response = await send(app.url, WEBHOOK_PATH, {
        body,
        headers: {
          ...headers,
          'content-type': 'application/json; charset=utf-8',
          'content-encoding': 'identity',
        },
      })
      expectOk(response)
      expect(calls).toHaveLength(2)
    })

    it('a chunked body (no Content-Length) under the limit → 200', async () => {
      const event = createSampleEvent('message.created')
      const { body, headers } = createSignedRequest(event, SECRET)
      const third = Math.ceil(body.length / 3)
      const connection = await RawConnection.open(app.url)
      try {
        await connection.write(
          requestHead('POST', WEBHOOK_PATH, [
            ['Content-Type', 'application/json'],
            ['Transfer-Encoding', 'chunked'],
            ['X-eCampus-Signature', headers[SIGNATURE]],
          ]),
        )
        for (let i = 0; i < body.length; i += third) {
          await connection.write(chunk(body.slice(i, i + third)))
        }
        await connection.write(LAST_CHUNK)
        expectOk(await within(connection.response, 'the response to a chunked delivery'))
      } finally {
        connection.destroy()
      }
      expect(calls.filter((call) => call.handler === 'message.created')).toEqual([
        { handler: 'message.created', event },
      ])
    })

    it('Expect: 100-continue → 100 Continue, then the body → 200', async () => {
      const event = createSampleEvent('message.deleted')
      const body = JSON.stringify(event)
      const connection = await RawConnection.open(app.url)
      try {
        await connection.write(
          requestHead('POST', WEBHOOK_PATH, [
            ...rawHeaders(body, [[SIGNATURE, sign(body, SECRET)]]),
            ['Expect', '100-continue'],
          ]),
        )
        await within(connection.continued, '100 Continue')
        await connection.write(body)
        expectOk(await within(connection.response, 'the response after 100 Continue'))
        expect(connection.interimStatuses).toEqual([100])
      } finally {
        connection.destroy()
      }
      expect(calls.map((call) => call.event)).toEqual([event, event])
    })

    it('a body of exactly maxBodySize bytes → 200', async () => {
      const body = bodyOfSize(MAX_BODY)
      expectOk(await deliver(body))
      expect(calls.map((call) => call.event)).toEqual([JSON.parse(body), JSON.parse(body)])
    })
  })

  describe('signature', () => {
    it('a tampered body → 401 SIGNATURE_INVALID, no handler', async () => {
      const { body, headers } = createSignedRequest(createSampleEvent('message.created'), SECRET)
      const tampered = body.replace('room B12', 'room B13')
      expect(tampered).not.toBe(body)
      const response = await send(app.url, WEBHOOK_PATH, { body: tampered, headers })
      expectError(response, 401, 'SIGNATURE_INVALID', tampered)
      expect(calls).toEqual([])
    })

    it('a body signed with another secret → 401 SIGNATURE_INVALID, no handler', async () => {
      const event = createSampleEvent('contact.updated')
      const response = await send(app.url, WEBHOOK_PATH, signed(event, WRONG_SECRET))
      expectError(response, 401, 'SIGNATURE_INVALID', JSON.stringify(event))
      expect(calls).toEqual([])
    })

    it('during a rotation, a signature made with either secret → 200', async () => {
      const rotating = new WebhooksOfTarget({ secret: [OLD_SECRET, SECRET] })
      const seen: string[] = []
      rotating.onAny((event) => {
        seen.push(event.id)
      })
      await withTarget(rotating, async (running) => {
        const [withOld, withNew, withWrong] = [1, 2, 3].map(() =>
          createSampleEvent('group.created'),
        )
        expectOk(await send(running.url, WEBHOOK_PATH, signed(withOld!, OLD_SECRET)))
        expectOk(await send(running.url, WEBHOOK_PATH, signed(withNew!, SECRET)))
        const wrong = await send(running.url, WEBHOOK_PATH, signed(withWrong!, WRONG_SECRET))
        expectError(wrong, 401, 'SIGNATURE_INVALID', JSON.stringify(withWrong))
        expect(seen).toEqual([withOld!.id, withNew!.id])
      })
    })

    it('no signature header → 401 SIGNATURE_MISSING, no handler', async () => {
      const body = JSON.stringify(createSampleEvent('message.created'))
      const response = await send(app.url, WEBHOOK_PATH, {
        body,
        headers: { 'content-type': 'application/json' },
      })
      expectError(response, 401, 'SIGNATURE_MISSING', body)
      expect(calls).toEqual([])
    })

    it.each([
      ['an empty', ''],
      ['a blank', '   '],
    ])('%s signature header → 401 SIGNATURE_MISSING', async (_, value) => {
      const body = JSON.stringify(createSampleEvent('message.created'))
      const head = requestHead('POST', WEBHOOK_PATH, rawHeaders(body, [[SIGNATURE, value]]))
      expectError(await rawRequest(app.url, head, body), 401, 'SIGNATURE_MISSING', body)
      expect(calls).toEqual([])
    })

    it.each([
      ['the same valid value twice', (valid: string) => [valid, valid]],
      ['a valid and an invalid value', (valid: string) => [valid, '0'.repeat(64)]],
      ['an invalid and a valid value', (valid: string) => ['0'.repeat(64), valid]],
    ])('the header sent twice on the wire (%s) → 401 SIGNATURE_INVALID', async (_, values) => {
      const body = JSON.stringify(createSampleEvent('message.created'))
      const lines = values(sign(body, SECRET)).map((value): RawHeader => [SIGNATURE, value])
      const head = requestHead('POST', WEBHOOK_PATH, rawHeaders(body, lines))
      expectError(await rawRequest(app.url, head, body), 401, 'SIGNATURE_INVALID', body)
      expect(calls).toEqual([])
    })

    it.each([
      ['63 hex digits', (valid: string) => valid.slice(0, 63)],
      ['65 hex digits', (valid: string) => `${valid}0`],
      ['a non-hex digit', (valid: string) => `g${valid.slice(1)}`],
      ['a sha256= prefix', (valid: string) => `sha256=${valid}`],
      ['base64 of the digest', (valid: string) => Buffer.from(valid, 'hex').toString('base64')],
    ])('a malformed signature (%s) → 401 SIGNATURE_INVALID', async (_, malform) => {
      const body = JSON.stringify(createSampleEvent('message.created'))
      const response = await send(app.url, WEBHOOK_PATH, {
        body,
        headers: { 'content-type': 'application/json', [SIGNATURE]: malform(sign(body, SECRET)) },
      })
      expectError(response, 401, 'SIGNATURE_INVALID', body)
      expect(calls).toEqual([])
    })

    it.each(['X-eCampus-Signature', 'X-ECAMPUS-SIGNATURE', 'x-ecampus-signature'])(
      'the header name in any case (%s) → 200',
      async (name) => {
        const event = createSampleEvent('attachment.created')
        const body = JSON.stringify(event)
        const head = requestHead(
          'POST',
          WEBHOOK_PATH,
          rawHeaders(body, [[name, sign(body, SECRET)]]),
        )
        expectOk(await rawRequest(app.url, head, body))
        expect(calls.map((call) => call.event)).toEqual([event, event])
      },
    )

    it('an upper-case hex signature → 200', async () => {
      const event = createSampleEvent('attachment.deleted')
      const body = JSON.stringify(event)
      const response = await send(app.url, WEBHOOK_PATH, {
        body,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE]: sign(body, SECRET).toUpperCase(),
        },
      })
      expectOk(response)
      expect(calls.map((call) => call.event)).toEqual([event, event])
    })
  })

  describe('body', () => {
    it.each([
      ['truncated JSON', '{"id":"a056V7R7NmNRjl70","type":'],
      ['not JSON at all', 'id=a056V7R7NmNRjl70&type=message.created'],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ])('a signed body that is %s → 400 INVALID_JSON, no handler', async (_, body) => {
      const response = await send(app.url, WEBHOOK_PATH, {
        body,
        headers: { 'content-type': 'application/json', [SIGNATURE]: sign(body, SECRET) },
      })
      expectError(response, 400, 'INVALID_JSON', body)
      expect(calls).toEqual([])
    })

    it.each([
      ['an array', '[]'],
      ['null', 'null'],
      ['a string', '"message.created"'],
      ['no id', '{"type":"message.created","payload":{}}'],
      ['a numeric id', '{"id":7,"type":"message.created","payload":{}}'],
      ['no type', '{"id":"a056V7R7NmNRjl70","payload":{}}'],
      ['an array payload', '{"id":"a056V7R7NmNRjl70","type":"message.created","payload":[]}'],
    ])('a signed body with %s → 400 INVALID_EVENT, no handler', async (_, body) => {
      const response = await send(app.url, WEBHOOK_PATH, signed(body))
      expectError(response, 400, 'INVALID_EVENT', body)
      expect(calls).toEqual([])
    })

    it.each([
      ['maxBodySize + 1', MAX_BODY + 1],
      ['10 GiB', 10 * 1024 ** 3],
    ])(
      'Content-Length %s → 413 before a body byte is sent, then the connection closes',
      async (_, length) => {
        const signature = sign(bodyOfSize(MAX_BODY + 1), SECRET)
        const connection = await RawConnection.open(app.url)
        try {
          await connection.write(
            requestHead('POST', WEBHOOK_PATH, [
              ['Content-Type', 'application/json'],
              ['Content-Length', String(length)],
              [SIGNATURE, signature],
            ]),
          )
          const response = await within(
            connection.response,
            'a 413 answered from the headers alone, with no body sent',
          )
          expectError(response, 413, 'BODY_TOO_LARGE')
          expect(response.raw).not.toContain(signature)
          expect(response.headers.connection).toBe('close')
          await within(connection.closed, 'the server to close the connection after the 413')
        } finally {
          connection.destroy()
        }
        expect(calls).toEqual([])
      },
    )

    it('a chunked body that grows past maxBodySize → 413, the server hangs up, no handler', async () => {
      const connection = await RawConnection.open(app.url)
      // Enough to notice a server that keeps reading: 4096 times the limit.
      const cap = 4096 * MAX_BODY
      let sent = 0
      try {
        await connection.write(
          requestHead('POST', WEBHOOK_PATH, [
            ['Content-Type', 'application/json'],
            ['Transfer-Encoding', 'chunked'],
            [SIGNATURE, sign('{}', SECRET)],
          ]),
        )
        const piece = chunk(`{"padding":"${'x'.repeat(4096)}"}`)
        while (!connection.hasResponse && !connection.isClosed && sent < cap) {
          const written = await within(
            connection.write(piece),
            `the server to read on or hang up (after ${sent} body bytes)`,
          )
          if (!written) break
          sent += piece.length
        }
        expect(sent, 'bytes sent before the server answered or hung up').toBeLessThan(cap)
        const response = await within(connection.response, 'the 413 response')
        expectError(response, 413, 'BODY_TOO_LARGE')
        // The rest is drained (bounded by another maxBodySize) so the answer is not lost to a
        // reset; a client that keeps sending is then cut off.
        while (!connection.isClosed && sent < cap) {
          if (!(await within(connection.write(piece), 'the server to hang up'))) break
          sent += piece.length
        }
        await within(connection.closed, 'the server to close the connection after the 413')
        expect(sent, 'bytes sent before the server hung up').toBeLessThan(cap)
      } finally {
        connection.destroy()
      }
      expect(calls).toEqual([])
      expect(failures).toEqual([])
    })

    it('a body that stops arriving → 408 REQUEST_TIMEOUT after bodyTimeout, then the connection closes', async () => {
      const slow = new WebhooksOfTarget({ secret: SECRET, bodyTimeout: 200 })
      const seen: string[] = []
      slow.onAny((event) => {
        seen.push(event.id)
      })
      await withTarget(slow, async (running) => {
        const body = JSON.stringify(createSampleEvent('message.created'))
        const connection = await RawConnection.open(running.url)
        try {
          await connection.write(
            requestHead('POST', WEBHOOK_PATH, rawHeaders(body, [[SIGNATURE, sign(body, SECRET)]])) +
              body.slice(0, 20),
          )
          const response = await within(connection.response, 'the 408 for a stalled body')
          expectError(response, 408, 'REQUEST_TIMEOUT', body)
          expect(response.headers.connection).toBe('close')
          await within(connection.closed, 'the server to close the connection after the 408')
        } finally {
          connection.destroy()
        }
      })
      expect(seen).toEqual([])
    })

    it('Content-Encoding: gzip (a real gzipped signed body) → 415 UNSUPPORTED_ENCODING', async () => {
      const json = JSON.stringify(createSampleEvent('message.created'))
      const gzipped = gzipSync(json)
      const response = await send(app.url, WEBHOOK_PATH, {
        body: gzipped,
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          [SIGNATURE]: sign(json, SECRET),
        },
      })
      expectError(response, 415, 'UNSUPPORTED_ENCODING', json)
      expectNoLeak(response, gzipped)
      expect(calls).toEqual([])
    })
  })

  describe('methods', () => {
    it.each(['GET', 'DELETE', 'OPTIONS'])(
      '%s on the webhook path → 405 with Allow: POST',
      async (method) => {
        const response = await send(app.url, WEBHOOK_PATH, { method })
        expectError(response, 405, 'METHOD_NOT_ALLOWED')
        expect(response.headers.allow).toBe('POST')
      },
    )

    it.each(['PUT', 'PATCH'])(
      '%s with a signed body on the webhook path → 405 with Allow: POST, no handler',
      async (method) => {
        const options = signed(createSampleEvent('message.created'))
        const response = await send(app.url, WEBHOOK_PATH, { ...options, method })
        expectError(response, 405, 'METHOD_NOT_ALLOWED', options.body)
        expect(response.headers.allow).toBe('POST')
        expect(calls).toEqual([])
      },
    )

    it('HEAD on the webhook path → 405 with Allow: POST', async () => {
      const response = await send(app.url, WEBHOOK_PATH, { method: 'HEAD' })
      expect(response.status, response.raw).toBe(405)
      expect(response.headers.allow).toBe('POST')
      expect(response.body).toBe('')
    })
  })

  describe('other paths pass through to the app', () => {
    it('POST /other reaches the app route, its JSON body intact', async () => {
      const payload = { hello: 'world', n: 1.5, nested: { list: [1, 'two', null] } }
      const response = await send(app.url, OTHER_PATH, {
        body: JSON.stringify(payload),
        headers: { 'content-type': 'application/json' },
      })
      expect(response.status, response.raw).toBe(200)
      expect(JSON.parse(response.body)).toEqual({
        route: 'app-own-route',
        method: 'POST',
        body: payload,
      })
      expect(calls).toEqual([])
    })

    it('GET /other reaches the app route', async () => {
      const response = await send(app.url, `${OTHER_PATH}?q=1`, { method: 'GET' })
      expect(response.status, response.raw).toBe(200)
      expect(JSON.parse(response.body)).toMatchObject({ route: 'app-own-route', method: 'GET' })
    })

    it('a signed webhook POSTed to another path is the app’s, not the receiver’s', async () => {
      const event = createSampleEvent('message.created')
      const response = await send(app.url, OTHER_PATH, signed(event))
      expect(response.status, response.raw).toBe(200)
      expect(JSON.parse(response.body)).toEqual({
        route: 'app-own-route',
        method: 'POST',
        body: event,
      })
      expect(calls).toEqual([])
    })

    it.each(['/webhooks/nested', '/webhooks-old', '/'])(
      'POST %s is not the webhook path (the app answers 404)',
      async (path) => {
        const response = await send(app.url, path, signed(createSampleEvent('message.created')))
        expect(response.status, response.raw).toBe(404)
        expect(calls).toEqual([])
      },
    )

    it('a custom path from the instance is served, and /webhooks is left to the app', async () => {
      const custom = new WebhooksOfTarget({ secret: SECRET, path: '/hooks/ecampus' })
      const seen: string[] = []
      custom.onAny((event) => {
        seen.push(event.id)
      })
      await withTarget(custom, async (running) => {
        const event = createSampleEvent('conversation.created')
        expectOk(await send(running.url, '/hooks/ecampus', signed(event)))
        const other = await send(running.url, WEBHOOK_PATH, signed(event))
        expect(other.status, other.raw).toBe(404)
        expect(seen).toEqual([event.id])
      })
    })
  })

  describe('handlers', () => {
    const LEAK = 'db password=hunter2 at 10.0.0.7'

    it.each([
      [
        'throws',
        (): never => {
          throw new Error(LEAK)
        },
      ],
      ['rejects', (): Promise<never> => Promise.reject(new Error(LEAK))],
    ])(
      'a handler that %s → 500 HANDLER_FAILED, onError gets the event, the server keeps serving',
      async (_, failing) => {
        webhooks.on('group.deleted', failing)
        try {
          const event = createSampleEvent('group.deleted')
          const body = JSON.stringify(event)
          const response = await deliver(body)
          expectError(response, 500, 'HANDLER_FAILED', body)
          expect(response.raw).not.toContain(LEAK)
          expect(failures).toHaveLength(1)
          expect(failures[0]!.event).toEqual(event)
          expect(failures[0]!.error.code).toBe('HANDLER_FAILED')
          expect((failures[0]!.error.errors[0] as Error).message).toBe(LEAK)
        } finally {
          webhooks.off('group.deleted', failing)
        }
        const next = createSampleEvent('group.deleted')
        expectOk(await deliver(next))
      },
    )
  })

  describe('connections', () => {
    it('a client that aborts mid-body → no handler, and the server keeps serving', async () => {
      const { body, headers } = createSignedRequest(createSampleEvent('message.created'), SECRET)
      const serverSideClosed = nextServerConnectionClosed(app.server)
      const requestSeen = new Promise<void>((resolve) =>
        app.server.once('request', () => resolve()),
      )
      const connection = await RawConnection.open(app.url)
      await connection.write(
        requestHead('POST', WEBHOOK_PATH, rawHeaders(body, [[SIGNATURE, headers[SIGNATURE]]])) +
          body.slice(0, body.length >> 1),
      )
      await within(requestSeen, 'the server to start on the request')
      connection.destroy()
      await within(serverSideClosed, 'the server to see the abort')
      expect(calls).toEqual([])

      const next = createSampleEvent('message.created')
      expectOk(await deliver(next))
      expect(calls.map((call) => call.event)).toEqual([next, next])
      expect(failures).toEqual([])
    })

    it('200 concurrent deliveries → all 200, each event handled exactly once', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
      try {
        const events = Array.from({ length: 200 }, () => createSampleEvent('message.created'))
        const responses = await Promise.all(
          events.map((event) => send(app.url, WEBHOOK_PATH, { ...signed(event), agent })),
        )
        expect(responses.map((response) => response.status)).toEqual(events.map(() => 200))
        const ids = calls
          .filter((call) => call.handler === 'message.created')
          .map((call) => call.event.id)
        expect(ids).toHaveLength(200)
        expect(new Set(ids)).toEqual(new Set(events.map((event) => event.id)))
      } finally {
        agent.destroy()
      }
    })

    it('on one kept-alive connection, every request gets its own answer', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      const accepted = new Set<unknown>()
      const onConnection = (socket: unknown): void => {
        accepted.add(socket)
      }
      app.server.on('connection', onConnection)
      try {
        const expected: number[] = []
        const handled: string[] = []
        // Answers decided before the body is read (missing or malformed signature, gzip) drain
        // the body, so the connection stays usable and its bytes are not read as a next request.
        const kinds = [
          [200, (event: object) => signed(event)],
          [401, (event: object) => signed(event, WRONG_SECRET)],
          [400, () => signed('{"id":"x","type":')],
          [
            401,
            (event: object) => ({
              body: JSON.stringify(event),
              headers: { 'content-type': 'application/json' },
            }),
          ],
          [
            401,
            (event: object) => {
              const { body, headers } = signed(event)
              return { body, headers: { ...headers, [SIGNATURE]: 'sha256=abc' } }
            },
          ],
          [
            415,
            (event: object) => {
              const { body, headers } = signed(event)
              return { body, headers: { ...headers, 'content-encoding': 'gzip' } }
            },
          ],
        ] as const
        for (let i = 0; i < 18; i += 1) {
          const event = createSampleEvent('contact.deleted')
          const [status, build] = kinds[i % kinds.length]!
          if (status === 200) handled.push(event.id)
          expected.push(status)
          const response = await send(app.url, WEBHOOK_PATH, { ...build(event), agent })
          expect(response.status, `request ${i}: ${response.raw}`).toBe(expected[i])
          expect(response.headers.connection, `request ${i}`).not.toBe('close')
        }
        expect(accepted.size, 'connections the server accepted').toBe(1)
        expect(
          calls.filter((call) => call.handler === 'contact.deleted').map((call) => call.event.id),
        ).toEqual(handled)
      } finally {
        app.server.off('connection', onConnection)
        agent.destroy()
      }
    })
  })

  describe('built from options by the adapter', () => {
    it('uses the given maxBodySize even above the framework’s own default limit', async () => {
      const large = 3 * 1024 * 1024
      await withTarget({ secret: SECRET, maxBodySize: large }, async (running) => {
        expect(running.webhooks).toBeInstanceOf(WebhooksOfTarget)
        expect(running.webhooks.maxBodySize).toBe(large)
        const seen: AnyWebhookEvent[] = []
        running.webhooks.on('message.created', (event) => {
          seen.push(event)
        })
        // 2 MiB: over Fastify's default bodyLimit (1 MiB) and body-parser's (100 kB).
        const event = createSampleEvent('message.created', {
          payload: { message: 'x'.repeat(2 * 1024 * 1024) },
        })
        expectOk(await send(running.url, WEBHOOK_PATH, signed(event)))
        expect(seen).toEqual([event])
      })
    })
  })
})
