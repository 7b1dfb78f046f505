import { once } from 'node:events'
import { PassThrough, Readable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type {
  AnyWebhookEvent,
  WebhookError,
  WebhookRequest,
  WebhookResponse,
} from '../src/index.js'
import { Webhooks, sign } from '../src/index.js'
import { BODY, BODY_KINDS, EVENT, SECRET, bodyAs, errorOf, signedHeaders, tick } from './helpers.js'

const SIGNATURE = sign(BODY, SECRET)

function webhooks(options: { maxBodySize?: number; bodyTimeout?: number } = {}): Webhooks {
  return new Webhooks({ secret: SECRET, ...options })
}

function post(
  body: WebhookRequest['body'],
  headers: WebhookRequest['headers'] = signedHeaders(BODY),
): WebhookRequest {
  return { method: 'POST', headers, body }
}

/**
 * A stream that records whether anything ever asked it for bytes. Like Node's IncomingMessage it
 * is not destroyed at its end, so a destroy means the connection was cut.
 */
function untouchedStream(body: string | Buffer = BODY): Readable & { pulled: boolean } {
  const stream = new Readable({
    autoDestroy: false,
    read() {
      stream.pulled = true
      this.push(body)
      this.push(null)
    },
  }) as Readable & { pulled: boolean }
  stream.pulled = false
  return stream
}

/**
 * The answer was decided without reading: these streams come with no Content-Length or
 * Transfer-Encoding, so there is no body to drain afterwards either (see "unread bodies").
 */
function expectNotRead(stream: Readable & { pulled: boolean }, _response: WebhookResponse): void {
  expect(stream.pulled).toBe(false)
  expect(stream.readableDidRead).toBe(false)
  expect(stream.listenerCount('data')).toBe(0)
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('200: verified and acknowledged', () => {
  describe.each(BODY_KINDS)('with a %s body', (kind) => {
    it('runs the handler for a known type with the parsed event', async () => {
      const hooks = webhooks()
      const seen: AnyWebhookEvent[] = []
      hooks.on('message.created', (event) => {
        seen.push(event)
      })
      const response = await hooks.handle(post(bodyAs(kind, BODY)))
      expect(response).toEqual({
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': '11' },
        body: '{"ok":true}',
      })
      expect(response.headers).not.toHaveProperty('connection')
      expect(seen).toEqual([EVENT])
    })

    it('acknowledges a known type that has no handler', async () => {
      const hooks = webhooks()
      const other = vi.fn()
      hooks.on('contact.created', other)
      const response = await hooks.handle(post(bodyAs(kind, BODY)))
      expect(response.status).toBe(200)
      expect(other).not.toHaveBeenCalled()
    })

    it('acknowledges an unknown type and gives it to onAny only, not to patterns', async () => {
      const hooks = webhooks()
      const any = vi.fn()
      const patterns = vi.fn()
      hooks.onAny(any)
      hooks.on(['message.*', '*.created', 'message.created'], patterns)
      const body = JSON.stringify({ id: 'p1', type: 'message.pinned', payload: { id: 'x' } })
      const response = await hooks.handle(post(bodyAs(kind, body), signedHeaders(body)))
      expect(response.status).toBe(200)
      expect(any).toHaveBeenCalledExactlyOnceWith({
        id: 'p1',
        type: 'message.pinned',
        payload: { id: 'x' },
      })
      expect(patterns).not.toHaveBeenCalled()
    })
  })

  it('accepts upper-case hex and whitespace around the signature', async () => {
    const hooks = webhooks()
    for (const value of [SIGNATURE.toUpperCase(), `  ${SIGNATURE}\t`]) {
      const response = await hooks.handle(post(BODY, { 'x-ecampus-signature': value }))
      expect(response.status).toBe(200)
    }
  })

  it('matches header names case-insensitively in a plain record', async () => {
    const hooks = webhooks()
    const handler = vi.fn()
    hooks.on('message.created', handler)
    for (const name of ['X-eCampus-Signature', 'X-ECAMPUS-SIGNATURE', 'x-ecampus-signature']) {
      const response = await hooks.handle(post(Readable.from([BODY]), { [name]: SIGNATURE }))
      expect(response.status).toBe(200)
    }
    expect(handler).toHaveBeenCalledTimes(3)
  })

  it('accepts a one-element header array (a header sent once, as some frameworks give it)', async () => {
    const response = await webhooks().handle(post(BODY, { 'x-ecampus-signature': [SIGNATURE] }))
    expect(response.status).toBe(200)
  })

  it('accepts identity and empty Content-Encoding', async () => {
    const hooks = webhooks()
    for (const encoding of ['identity', 'IDENTITY', ' identity ', '']) {
      const response = await hooks.handle(
        post(Readable.from([BODY]), { ...signedHeaders(BODY), 'content-encoding': encoding }),
      )
      expect(response.status, encoding).toBe(200)
    }
  })

  it('accepts a body of exactly maxBodySize bytes, declared and streamed', async () => {
    const hooks = webhooks({ maxBodySize: Buffer.byteLength(BODY) })
    const length = String(Buffer.byteLength(BODY))
    const headers = { ...signedHeaders(BODY), 'content-length': length }
    expect((await hooks.handle(post(Readable.from([BODY]), headers))).status).toBe(200)
    expect((await hooks.handle(post(BODY, headers))).status).toBe(200)
  })

  it('reads a stream written to chunk by chunk, split inside a multi-byte character', async () => {
    const body = JSON.stringify({ ...EVENT, payload: { id: 'm', message: 'Grüße 🎓' } })
    const bytes = Buffer.from(body)
    const split = bytes.indexOf(Buffer.from('🎓')) + 2
    const stream = new PassThrough()
    const hooks = webhooks()
    const seen = vi.fn()
    hooks.on('message.created', seen)
    const pending = hooks.handle(post(stream, signedHeaders(body)))
    stream.write(bytes.subarray(0, split))
    stream.end(bytes.subarray(split))
    expect((await pending).status).toBe(200)
    expect(seen.mock.calls[0]?.[0]).toMatchObject({ payload: { message: 'Grüße 🎓' } })
  })
})

describe('401 SIGNATURE_MISSING', () => {
  it.each([
    ['absent', {}],
    ['undefined', { 'x-ecampus-signature': undefined }],
    ['empty', { 'x-ecampus-signature': '' }],
    ['whitespace only', { 'x-ecampus-signature': ' \t ' }],
  ])('header %s', async (_name, headers) => {
    for (const kind of BODY_KINDS) {
      const handler = vi.fn()
      const hooks = webhooks().onAny(handler)
      const response = await hooks.handle(post(bodyAs(kind, BODY), headers))
      expect(response.status).toBe(401)
      expect(errorOf(response).code).toBe('SIGNATURE_MISSING')
      expect(handler).not.toHaveBeenCalled()
    }
  })
})

describe('401 SIGNATURE_INVALID', () => {
  it.each([
    ['not matching the body', sign(`${BODY} `, SECRET)],
    ['made with a wrong secret', sign(BODY, 'whsec_wrong')],
    ['sent twice (array of two)', [SIGNATURE, SIGNATURE]],
    ['sent twice (joined by Node with a comma)', `${SIGNATURE}, ${SIGNATURE}`],
    ['63 hex digits', SIGNATURE.slice(1)],
    ['65 hex digits', `${SIGNATURE}a`],
    ['non-hex', 'z'.repeat(64)],
    ['prefixed with sha256=', `sha256=${SIGNATURE}`],
    ['an empty array', []],
  ])('signature %s', async (_name, value) => {
    for (const kind of BODY_KINDS) {
      const handler = vi.fn()
      const hooks = webhooks().onAny(handler)
      const response = await hooks.handle(
        post(bodyAs(kind, BODY), { 'x-ecampus-signature': value }),
      )
      expect(response.status).toBe(401)
      expect(errorOf(response).code).toBe('SIGNATURE_INVALID')
      expect(handler).not.toHaveBeenCalled()
    }
  })

  it('does not read the stream when the header is malformed', async () => {
    const stream = untouchedStream()
    const response = await webhooks().handle(post(stream, { 'x-ecampus-signature': 'nope' }))
    expect(errorOf(response).code).toBe('SIGNATURE_INVALID')
    expectNotRead(stream, response)
  })

  it('reads the stream, then rejects a well-formed signature that does not match', async () => {
    const stream = Readable.from([BODY])
    const response = await webhooks().handle(
      post(stream, { 'x-ecampus-signature': sign(BODY, 'whsec_wrong') }),
    )
    expect(errorOf(response).code).toBe('SIGNATURE_INVALID')
    expect(stream.readableEnded).toBe(true)
    // The body was read to the end, so the connection can be kept.
    expect(response.headers).not.toHaveProperty('connection')
  })
})

describe('413 BODY_TOO_LARGE', () => {
  it('by Content-Length, before reading a byte', async () => {
    for (const name of ['content-length', 'Content-Length']) {
      const stream = untouchedStream()
      const response = await webhooks({ maxBodySize: 10 }).handle(
        post(stream, { ...signedHeaders(BODY), [name]: String(Buffer.byteLength(BODY)) }),
      )
      expect(response.status).toBe(413)
      expect(errorOf(response).code).toBe('BODY_TOO_LARGE')
      expectNotRead(stream, response)
    }
  })

  it('by Content-Length given as a number (as some frameworks do)', async () => {
    const stream = untouchedStream()
    const response = await webhooks({ maxBodySize: 10 }).handle(
      post(stream, { ...signedHeaders(BODY), 'content-length': 11 }),
    )
    expect(errorOf(response).code).toBe('BODY_TOO_LARGE')
    expectNotRead(stream, response)
  })

  it('while streaming a chunked body with no Content-Length, without waiting for its end', async () => {
    const stream = new PassThrough()
    const handler = vi.fn()
    const hooks = webhooks({ maxBodySize: 1000 }).onAny(handler)
    const pending = hooks.handle(post(stream, { 'x-ecampus-signature': SIGNATURE }))
    // Written but never ended: only the limit can settle the request.
    for (let i = 0; i < 5; i += 1) stream.write(Buffer.alloc(300, 0x20))
    const response = await pending
    expect(response.status).toBe(413)
    expect(errorOf(response).code).toBe('BODY_TOO_LARGE')
    expect(handler).not.toHaveBeenCalled()

    // Nothing more is kept: the rest is drained (so the answer reaches a client still sending)
    // up to another maxBodySize, then the stream is destroyed, which closes the connection.
    expect(response.headers).not.toHaveProperty('connection')
    expect(stream.destroyed).toBe(false)
    stream.write(Buffer.alloc(2000))
    await once(stream, 'close')
    expect(stream.destroyed).toBe(true)
  })

  it('for a raw body (Buffer or string, counted in bytes)', async () => {
    // 6 characters, 12 bytes in UTF-8.
    const body = 'ééééé\u00e9'
    for (const raw of [body, Buffer.from(body)]) {
      const response = await webhooks({ maxBodySize: 11 }).handle(post(raw, signedHeaders(body)))
      expect(response.status).toBe(413)
      expect(errorOf(response).code).toBe('BODY_TOO_LARGE')
      // The framework already read a raw body: there is nothing unread to close over.
      expect(response.headers).not.toHaveProperty('connection')
    }
  })
})

describe('415 UNSUPPORTED_ENCODING', () => {
  it.each([
    'gzip',
    'deflate',
    'br',
    'GZIP',
    'gzip, identity',
    'x-gzip',
    ['gzip'],
    ['identity', 'gzip'],
  ])('Content-Encoding %j', async (encoding) => {
    for (const kind of BODY_KINDS) {
      const handler = vi.fn()
      const body = bodyAs(kind, BODY)
      const response = await webhooks()
        .onAny(handler)
        .handle(post(body, { ...signedHeaders(BODY), 'Content-Encoding': encoding }))
      expect(response.status).toBe(415)
      expect(errorOf(response).code).toBe('UNSUPPORTED_ENCODING')
      expect(handler).not.toHaveBeenCalled()
    }
  })
})

describe('400 INVALID_JSON / INVALID_EVENT (signature valid)', () => {
  it.each([
    ['empty body', ''],
    ['not JSON', '{"id":'],
    ['plain text', 'hello'],
    ['JSON with trailing garbage', `${BODY}x`],
  ])('INVALID_JSON: %s', async (_name, body) => {
    for (const kind of BODY_KINDS) {
      const response = await webhooks().handle(post(bodyAs(kind, body), signedHeaders(body)))
      expect(response.status).toBe(400)
      expect(errorOf(response).code).toBe('INVALID_JSON')
      expect(response.headers).not.toHaveProperty('connection')
    }
  })

  it('INVALID_JSON: bytes that are not UTF-8', async () => {
    const body = Buffer.concat([
      Buffer.from('{"id":"a","type":"message.created","payload":{"m":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}'),
    ])
    for (const input of [body, Readable.from([body])]) {
      const response = await webhooks().handle(post(input, signedHeaders(body)))
      expect(errorOf(response).code).toBe('INVALID_JSON')
    }
  })

  const envelope = { id: 'e1', type: 'contact.created', payload: { id: 'c1' } }
  it.each([
    ['an array', [envelope]],
    ['null', null],
    ['a number', 1],
    ['a string', 'x'],
    ['missing id', { type: envelope.type, payload: envelope.payload }],
    ['empty id', { ...envelope, id: '' }],
    ['numeric id', { ...envelope, id: 1 }],
    ['null id', { ...envelope, id: null }],
    ['missing type', { id: 'e1', payload: envelope.payload }],
    ['empty type', { ...envelope, type: '' }],
    ['numeric type', { ...envelope, type: 7 }],
    ['missing payload', { id: 'e1', type: envelope.type }],
    ['payload an array', { ...envelope, payload: [] }],
    ['payload null', { ...envelope, payload: null }],
    ['payload a string', { ...envelope, payload: 'x' }],
    ['payload a number', { ...envelope, payload: 0 }],
  ])('INVALID_EVENT: %s', async (_name, value) => {
    const body = JSON.stringify(value)
    for (const kind of BODY_KINDS) {
      const handler = vi.fn()
      const response = await webhooks()
        .onAny(handler)
        .handle(post(bodyAs(kind, body), signedHeaders(body)))
      expect(response.status).toBe(400)
      expect(errorOf(response).code).toBe('INVALID_EVENT')
      expect(handler).not.toHaveBeenCalled()
    }
  })
})

describe('405 METHOD_NOT_ALLOWED', () => {
  it.each(['GET', 'PUT', 'HEAD', 'DELETE', 'PATCH', 'OPTIONS', 'post'])('%s', async (method) => {
    const handler = vi.fn()
    const stream = untouchedStream()
    const response = await webhooks()
      .onAny(handler)
      .handle({ method, headers: signedHeaders(BODY), body: stream })
    expect(response.status).toBe(405)
    expect(response.headers.allow).toBe('POST')
    expect(errorOf(response).code).toBe('METHOD_NOT_ALLOWED')
    expectNotRead(stream, response)
    expect(handler).not.toHaveBeenCalled()
  })

  it('has the Allow header for a raw body too, without connection: close', async () => {
    const response = await webhooks().handle({ method: 'GET', headers: {}, body: '' })
    expect(response.status).toBe(405)
    expect(response.headers.allow).toBe('POST')
    expect(response.headers).not.toHaveProperty('connection')
  })
})

describe('500 HANDLER_FAILED', () => {
  it.each([
    [
      'a handler throws synchronously',
      (): never => {
        throw new Error('sync boom')
      },
      'sync boom',
    ],
    ['a handler rejects', () => Promise.reject(new Error('async boom')), 'async boom'],
    [
      'a handler throws a non-Error',
      (): never => {
        // Handlers may throw anything; it must arrive in `errors` as is.
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw 'a string'
      },
      'a string',
    ],
  ])('%s', async (_name, failing, thrown) => {
    for (const kind of BODY_KINDS) {
      const onError = vi.fn()
      const hooks = webhooks().on('message.created', failing).onError(onError)
      const response = await hooks.handle(post(bodyAs(kind, BODY)))
      expect(response.status).toBe(500)
      expect(errorOf(response).code).toBe('HANDLER_FAILED')
      expect(response.headers).not.toHaveProperty('connection')
      expect(onError).toHaveBeenCalledOnce()
      const [error, event] = onError.mock.calls[0] as [WebhookError, AnyWebhookEvent]
      expect(error.code).toBe('HANDLER_FAILED')
      expect(error.errors).toHaveLength(1)
      const reason = error.errors[0]
      expect(reason instanceof Error ? reason.message : reason).toBe(thrown)
      expect(event).toEqual(EVENT)
    }
  })

  it('when one of several handlers fails, the others still run to completion', async () => {
    const finished: string[] = []
    const boom = new Error('second failed')
    const onError = vi.fn()
    const hooks = webhooks()
      .on('message.created', async () => {
        await new Promise((resolve) => setImmediate(resolve))
        finished.push('first')
      })
      .on('message.*', () => {
        throw boom
      })
      .onAny(async () => {
        await Promise.resolve()
        finished.push('any')
      })
      .onError(onError)
    const response = await hooks.handle(post(BODY))
    expect(response.status).toBe(500)
    expect(errorOf(response).message).toContain('1 of 3')
    expect(finished.sort()).toEqual(['any', 'first'])
    const [error, event] = onError.mock.calls[0] as [WebhookError, AnyWebhookEvent]
    expect(error.errors).toEqual([boom])
    expect(event).toEqual(EVENT)
  })

  it('collects every failure when several handlers fail', async () => {
    const onError = vi.fn()
    const a = new Error('a')
    const b = new Error('b')
    const hooks = webhooks()
      .on('message.created', () => Promise.reject(a))
      .on('*.created', () => {
        throw b
      })
      .onError(onError)
    expect((await hooks.handle(post(BODY))).status).toBe(500)
    const [error] = onError.mock.calls[0] as [WebhookError]
    expect(error.errors).toEqual([a, b])
  })

  it('does not put the handler error message in the response', async () => {
    const hooks = webhooks().on('message.created', () => {
      throw new Error('db password is hunter2')
    })
    const response = await hooks.handle(post(BODY))
    expect(response.body).not.toContain('hunter2')
  })
})

describe('500 BODY_ALREADY_PARSED', () => {
  async function consumed(): Promise<Readable> {
    // A body parser got here first and read it to the end.
    const stream = Readable.from([BODY])
    await stream.toArray()
    return stream
  }

  it.each([
    ['express', /express\.json\(\).*rawBodySaver|rawBodySaver.*express\.json\(\)/],
    ['koa', /rawBody/],
    ['fastify', /@ecampus-webhooks\/fastify/],
    ['node', /raw bytes/],
    [undefined, /raw bytes/],
  ] as const)('says how to fix it for %s', async (framework, advice) => {
    for (const body of [await consumed(), undefined]) {
      const handler = vi.fn()
      const response = await webhooks()
        .onAny(handler)
        .handle({
          method: 'POST',
          headers: signedHeaders(BODY),
          body,
          ...(framework ? { framework } : {}),
        })
      expect(response.status).toBe(500)
      const error = errorOf(response)
      expect(error.code).toBe('BODY_ALREADY_PARSED')
      expect(error.message).toMatch(advice)
      expect(handler).not.toHaveBeenCalled()
    }
  })

  it('detects a stream that was only partly read', async () => {
    const stream = new PassThrough()
    stream.write(BODY.slice(0, 10))
    stream.read()
    const response = await webhooks().handle(post(stream))
    expect(errorOf(response).code).toBe('BODY_ALREADY_PARSED')
  })
})

describe('408 REQUEST_TIMEOUT', () => {
  it('answers when the body stops arriving, and closes the connection', async () => {
    const stream = new PassThrough()
    stream.write(BODY.slice(0, 5))
    const response = await webhooks({ bodyTimeout: 1 }).handle(post(stream))
    expect(response.status).toBe(408)
    expect(errorOf(response).code).toBe('REQUEST_TIMEOUT')
    expect(response.headers.connection).toBe('close')
    expect(stream.listenerCount('data')).toBe(0)
  })
})

describe('checks run in the contract order: method, size/encoding, signature, JSON', () => {
  const tooBig = { maxBodySize: 10 }

  it('oversize (declared) + bad signature -> 413', async () => {
    for (const signature of ['bad', sign(BODY, 'wrong'), undefined]) {
      const response = await webhooks(tooBig).handle(
        post(untouchedStream(), { 'x-ecampus-signature': signature, 'content-length': '500' }),
      )
      expect(errorOf(response).code).toBe('BODY_TOO_LARGE')
    }
  })

  it('oversize raw body + bad or missing signature -> 413', async () => {
    for (const signature of ['bad', sign(BODY, 'wrong'), undefined]) {
      for (const body of [BODY, Buffer.from(BODY)]) {
        const response = await webhooks(tooBig).handle(
          post(body, { 'x-ecampus-signature': signature }),
        )
        expect(errorOf(response).code).toBe('BODY_TOO_LARGE')
      }
    }
  })

  it('oversize while streaming + well-formed wrong signature -> 413', async () => {
    const response = await webhooks(tooBig).handle(
      post(Readable.from([BODY]), { 'x-ecampus-signature': sign(BODY, 'wrong') }),
    )
    expect(errorOf(response).code).toBe('BODY_TOO_LARGE')
  })

  it('compressed + bad signature -> 415', async () => {
    const response = await webhooks().handle(
      post(BODY, { 'x-ecampus-signature': 'bad', 'content-encoding': 'gzip' }),
    )
    expect(errorOf(response).code).toBe('UNSUPPORTED_ENCODING')
  })

  it('compressed + oversize -> 415 (encoding is checked first)', async () => {
    const response = await webhooks(tooBig).handle(
      post(untouchedStream(), { 'content-encoding': 'br', 'content-length': '500' }),
    )
    expect(errorOf(response).code).toBe('UNSUPPORTED_ENCODING')
  })

  it('wrong method beats everything', async () => {
    const response = await webhooks(tooBig).handle({
      method: 'GET',
      headers: { 'content-encoding': 'gzip', 'content-length': '500' },
      body: 'x'.repeat(500),
    })
    expect(errorOf(response).code).toBe('METHOD_NOT_ALLOWED')
  })

  it('invalid JSON + bad signature -> 401, and nothing is parsed or dispatched', async () => {
    const parse = vi.spyOn(JSON, 'parse')
    const handler = vi.fn()
    const hooks = webhooks().onAny(handler)
    for (const kind of BODY_KINDS) {
      for (const body of ['{not json', '[]', JSON.stringify({ id: 1 })]) {
        const response = await hooks.handle(post(bodyAs(kind, body), signedHeaders(body, 'wrong')))
        expect(response.status).toBe(401)
        expect(response.body).toContain('SIGNATURE_INVALID')
      }
    }
    expect(parse).not.toHaveBeenCalled()
    expect(handler).not.toHaveBeenCalled()
  })
})

describe('error bodies', () => {
  it('never contain the secret or the expected signature', async () => {
    const oversize = { maxBodySize: 10 }
    const cases: [Webhooks, WebhookRequest][] = [
      [webhooks(), post(BODY, {})],
      [webhooks(), post(BODY, { 'x-ecampus-signature': sign(BODY, 'wrong') })],
      [webhooks(), post(BODY, { 'x-ecampus-signature': SIGNATURE.slice(1) })],
      [webhooks(), post(Readable.from([BODY]), { 'x-ecampus-signature': 'x' })],
      [webhooks(oversize), post(BODY)],
      [webhooks(oversize), post(Readable.from([BODY]))],
      [webhooks(), post(BODY, { ...signedHeaders(BODY), 'content-encoding': 'gzip' })],
      [webhooks(), post('{', signedHeaders('{'))],
      [webhooks(), post('[]', signedHeaders('[]'))],
      [webhooks(), { method: 'GET', headers: signedHeaders(BODY), body: BODY }],
      [webhooks().onAny(() => Promise.reject(new Error(SECRET))), post(BODY)],
      [webhooks(), post(undefined)],
      [webhooks({ bodyTimeout: 1 }), post(new PassThrough())],
    ]
    const codes = new Set<string>()
    for (const [hooks, request] of cases) {
      const response = await hooks.handle(request)
      codes.add(errorOf(response).code)
      expect(response.body).not.toContain(SECRET)
      expect(response.body).not.toContain(SIGNATURE)
      expect(response.body.toLowerCase()).not.toContain(SIGNATURE.toUpperCase().toLowerCase())
      expect(JSON.stringify(response.headers)).not.toContain(SIGNATURE)
    }
    expect([...codes].sort()).toEqual(
      [
        'BODY_ALREADY_PARSED',
        'BODY_TOO_LARGE',
        'HANDLER_FAILED',
        'INVALID_EVENT',
        'INVALID_JSON',
        'METHOD_NOT_ALLOWED',
        'REQUEST_TIMEOUT',
        'SIGNATURE_INVALID',
        'SIGNATURE_MISSING',
        'UNSUPPORTED_ENCODING',
      ].sort(),
    )
  })

  it('status matches the code for every error response', async () => {
    const response = await webhooks().handle(post(BODY, {}))
    expect(response.status).toBe(401)
    expect(JSON.parse(response.body)).toEqual({
      error: { code: 'SIGNATURE_MISSING', message: expect.any(String) },
    })
  })
})

describe('unread bodies: drained so the answer arrives, bounded, or the connection closes', () => {
  const hooks = (): Webhooks => webhooks({ maxBodySize: 1000 })
  const declared = (length: number): Record<string, string> => ({
    'content-length': String(length),
  })

  it.each([
    ['no signature', declared(BODY.length)],
    ['a malformed signature', { ...declared(BODY.length), 'x-ecampus-signature': 'short' }],
    ['gzip', { ...declared(BODY.length), ...signedHeaders(BODY), 'content-encoding': 'gzip' }],
  ])(
    'an early answer (%s) drains a body within the limit and keeps the connection',
    async (_, headers) => {
      const stream = untouchedStream()
      const response = await hooks().handle(post(stream, headers))
      expect(response.status).toBeGreaterThanOrEqual(400)
      expect(response.headers).not.toHaveProperty('connection')
      await once(stream, 'end')
      expect(stream.destroyed).toBe(false)
    },
  )

  it('a method other than POST drains its body too', async () => {
    const stream = untouchedStream()
    const response = await hooks().handle({
      method: 'PUT',
      headers: declared(BODY.length),
      body: stream,
    })
    expect(response.status).toBe(405)
    expect(response.headers).not.toHaveProperty('connection')
    await once(stream, 'end')
  })

  it('a client that keeps sending after an early answer is cut off past maxBodySize', async () => {
    const stream = new PassThrough()
    const response = await hooks().handle(
      post(stream, { 'transfer-encoding': 'chunked', 'x-ecampus-signature': 'short' }),
    )
    expect(response.status).toBe(401)
    stream.write(Buffer.alloc(600))
    await tick()
    expect(stream.destroyed).toBe(false)
    stream.write(Buffer.alloc(600))
    await once(stream, 'close')
    expect(stream.destroyed).toBe(true)
  })

  it('a declared length over the limit is not read at all: connection: close', async () => {
    const stream = untouchedStream()
    const response = await hooks().handle(
      post(stream, { ...signedHeaders(BODY), ...declared(5000) }),
    )
    expect(response.status).toBe(413)
    expect(response.headers.connection).toBe('close')
    expect(stream.pulled).toBe(false)
  })

  it('no connection header when there was no body, or it was read', async () => {
    const requests = [
      { method: 'GET', headers: {}, body: untouchedStream() },
      post(untouchedStream(), {}),
      post(Readable.from([BODY])),
      post(Readable.from(['{']), signedHeaders('{')),
      post(Readable.from([BODY]), signedHeaders(BODY, 'wrong')),
      post(BODY, {}),
      post(Buffer.from(BODY), { 'x-ecampus-signature': 'short' }),
    ]
    for (const request of requests) {
      expect((await hooks().handle(request)).headers).not.toHaveProperty('connection')
    }
  })
})

describe('a header present under two casings (a hand-built map) counts as sent twice', () => {
  it('a second signature cannot hide behind a valid one', async () => {
    const handler = vi.fn()
    const hooks = webhooks().onAny(handler)
    const response = await hooks.handle(
      post(BODY, { 'X-eCampus-Signature': 'junk', 'x-ecampus-signature': sign(BODY, SECRET) }),
    )
    expect(response.status).toBe(401)
    expect(errorOf(response).code).toBe('SIGNATURE_INVALID')
    expect(handler).not.toHaveBeenCalled()
  })

  it('a Content-Length that is not plain digits declares nothing', async () => {
    for (const length of ['1e9', '0x10', '-1']) {
      const response = await webhooks({ maxBodySize: 100 }).handle(
        post(Readable.from([BODY]), { ...signedHeaders(BODY), 'content-length': length }),
      )
      expect(response.status, length).toBe(200)
    }
  })
})

describe('a JavaScript caller passing junk as the method', () => {
  it('gets a 405, even for an object that cannot be turned into a string', async () => {
    for (const method of [{ toString: '' }, Object.create(null), Symbol('x'), 42]) {
      const response = await webhooks().handle({
        method: method,
        headers: {},
        body: BODY,
      })
      expect(response.status).toBe(405)
      expect(errorOf(response).code).toBe('METHOD_NOT_ALLOWED')
    }
  })
})

describe('Content-Length', () => {
  it('is the UTF-8 byte length of every answer, non-ASCII text and lone surrogates included', async () => {
    const webhooks = new Webhooks({ secret: SECRET })
    const body = JSON.stringify(EVENT)
    const requests: WebhookRequest[] = [
      { method: 'POST', headers: signedHeaders(body), body },
      { method: 'POST', headers: signedHeaders(body, 'another-secret'), body },
      { method: 'GET', headers: {}, body: undefined },
      // A JavaScript caller's method ends up in the 405 message: 2-, 3- and 4-byte characters.
      { method: 'PÖST €😀', headers: {}, body: undefined },
      { method: 'P\ud800ST', headers: {}, body: undefined },
    ]
    for (const request of requests) {
      const response = await webhooks.handle(request)
      expect(response.headers['content-length']).toBe(String(Buffer.byteLength(response.body)))
    }
  })
})
