import { describe, expect, it } from 'vitest'
import { Webhooks as NodeWebhooks, sign as nodeSign } from '../src/index.js'
import {
  MemoryIdempotencyStore,
  Webhooks,
  createWebhooks,
  parseEvent,
  sign,
  toFetchHandler,
  verifySignature,
  type AnyWebhookEvent,
  type RejectionInfo,
  type WebhookError,
} from '../src/web.js'
import { BODY, EVENT, SECRET } from './helpers.js'

const URL_ = 'http://127.0.0.1/webhooks'
const encoder = new TextEncoder()

/** A POST as eCampus sends it, signed with Web Crypto. */
async function signedRequest(
  body: string | Uint8Array = BODY,
  init: { secret?: string; headers?: Record<string, string> } = {},
): Promise<Request> {
  return new Request(URL_, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'x-ecampus-signature': await sign(body, init.secret ?? SECRET),
      ...init.headers,
    },
  })
}

/**
 * A request whose body is a stream we control: `pulled` counts the chunks the receiver asked for,
 * so a test can prove the receiver stopped reading. `chunks` undefined: it never ends.
 */
function streamedRequest(
  chunks: readonly Uint8Array[] | undefined,
  headers: Record<string, string>,
): { request: Request; pulls: () => number; cancelled: () => boolean } {
  let pulls = 0
  let cancelled = false
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulls += 1
        if (chunks === undefined) return new Promise<void>(() => {}) // stalls forever
        const next = chunks[pulls - 1]
        if (next === undefined) controller.close()
        else controller.enqueue(next)
        return undefined
      },
      cancel() {
        cancelled = true
      },
    },
    // Pull one chunk at a time, only when asked.
    { highWaterMark: 0 },
  )
  const request = new Request(URL_, {
    method: 'POST',
    body,
    headers,
    duplex: 'half',
  })
  return { request, pulls: () => pulls, cancelled: () => cancelled }
}

/** The body with one 0xff byte inside a JSON string: valid JSON once decoded leniently. */
function withInvalidByte(body: string): Uint8Array {
  const [before, after] = body.split('hello') as [string, string]
  return new Uint8Array([...encoder.encode(`${before}hel`), 0xff, ...encoder.encode(`lo${after}`)])
}

async function errorCode(response: Response): Promise<string> {
  expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
  const text = await response.text()
  expect(text).not.toContain(SECRET)
  return (JSON.parse(text) as { error: { code: string } }).error.code
}

function setup(options: Partial<ConstructorParameters<typeof Webhooks>[0]> = {}): {
  webhooks: Webhooks
  handler: (request: Request) => Promise<Response>
  seen: AnyWebhookEvent[]
  rejected: RejectionInfo[]
  failed: WebhookError[]
} {
  const webhooks = new Webhooks({ secret: SECRET, ...options })
  const seen: AnyWebhookEvent[] = []
  const rejected: RejectionInfo[] = []
  const failed: WebhookError[] = []
  webhooks.onAny((event) => {
    seen.push(event)
  })
  webhooks.onRejected((_error, info) => {
    rejected.push(info)
  })
  webhooks.onError((error) => {
    failed.push(error)
  })
  return { webhooks, handler: toFetchHandler(webhooks), seen, rejected, failed }
}

describe('toFetchHandler with the web entry (Web Crypto)', () => {
  it('answers a signed Request 200 and runs the typed handler with the exact event', async () => {
    const { webhooks, handler, seen } = setup()
    const messages: string[] = []
    webhooks.on('message.created', (event) => {
      messages.push(event.payload.id)
    })
    const response = await handler(await signedRequest())
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true })
    expect(seen).toEqual([EVENT])
    expect(messages).toEqual(['m1'])
  })

  it('checks every secret of a rotation, string or bytes', async () => {
    const { handler, seen } = setup({ secret: ['old-secret', encoder.encode(SECRET)] })
    expect((await handler(await signedRequest(BODY, { secret: 'old-secret' }))).status).toBe(200)
    expect((await handler(await signedRequest())).status).toBe(200)
    const wrong = await handler(await signedRequest(BODY, { secret: 'another' }))
    expect(wrong.status).toBe(401)
    expect(await errorCode(wrong)).toBe('SIGNATURE_INVALID')
    expect(seen).toHaveLength(2)
  })

  it('a tampered body → 401 SIGNATURE_INVALID, no handler, onRejected told', async () => {
    const { handler, seen, rejected } = setup()
    const request = await signedRequest()
    const tampered = new Request(request, { body: BODY.replace('hello', 'hellO') })
    const response = await handler(tampered)
    expect(response.status).toBe(401)
    expect(await errorCode(response)).toBe('SIGNATURE_INVALID')
    expect(seen).toEqual([])
    expect(rejected).toEqual([{ status: 401, code: 'SIGNATURE_INVALID', method: 'POST' }])
  })

  it('a POST without a body is an empty body, not a consumed one', async () => {
    const { handler } = setup()
    // Signed empty bytes verify; the empty text is then not JSON (a consumed body would be 500).
    const response = await handler(
      new Request(URL_, {
        method: 'POST',
        headers: { 'x-ecampus-signature': nodeSign('', SECRET) },
      }),
    )
    expect(response.status).toBe(400)
    expect(await errorCode(response)).toBe('INVALID_JSON')
  })

  it('GET → 405 with Allow: POST', async () => {
    const { handler } = setup()
    const response = await handler(new Request(URL_))
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('POST')
    expect(await errorCode(response)).toBe('METHOD_NOT_ALLOWED')
  })

  it('Content-Encoding: gzip → 415 before any byte of the body is pulled', async () => {
    const { handler } = setup()
    const { request, pulls } = streamedRequest([encoder.encode(BODY)], {
      'content-encoding': 'gzip',
      'x-ecampus-signature': nodeSign(BODY, SECRET),
    })
    const response = await handler(request)
    expect(response.status).toBe(415)
    expect(await errorCode(response)).toBe('UNSUPPORTED_ENCODING')
    // Answered from the headers; what is pulled afterwards is the bounded drain.
    expect(pulls()).toBeLessThanOrEqual(2)
  })

  it('after an early answer the rest of the body is drained, so a host can reuse the connection', async () => {
    const { handler } = setup()
    const chunks = Array.from({ length: 8 }, () => encoder.encode('x'.repeat(100)))
    const { request, pulls, cancelled } = streamedRequest(chunks, {
      'content-length': '800',
      // Answered from the headers: the signature is malformed.
      'x-ecampus-signature': 'sha256=abc',
    })
    const response = await handler(request)
    expect(response.status).toBe(401)
    // Every chunk, then the end, is pulled; nothing was over the limit, so nothing is cancelled.
    await expect.poll(pulls).toBe(chunks.length + 1)
    expect(cancelled()).toBe(false)
  })

  it('a declared Content-Length over maxBodySize → 413 and Connection: close, nothing read', async () => {
    const { handler, seen } = setup({ maxBodySize: 64 })
    const { request, pulls } = streamedRequest([encoder.encode(BODY)], {
      'content-length': '65',
      'x-ecampus-signature': nodeSign(BODY, SECRET),
    })
    const response = await handler(request)
    expect(response.status).toBe(413)
    expect(response.headers.get('connection')).toBe('close')
    expect(await errorCode(response)).toBe('BODY_TOO_LARGE')
    expect(pulls()).toBe(0)
    expect(seen).toEqual([])
  })

  it('an undeclared body growing past maxBodySize → 413 while streaming; reading stops', async () => {
    const { handler, seen } = setup({ maxBodySize: 1024 })
    const piece = new Uint8Array(300).fill(0x20)
    const chunks = Array.from({ length: 1000 }, () => piece)
    const { request, pulls, cancelled } = streamedRequest(chunks, {
      'x-ecampus-signature': nodeSign(BODY, SECRET),
    })
    const response = await handler(request)
    expect(response.status).toBe(413)
    expect(await errorCode(response)).toBe('BODY_TOO_LARGE')
    // 4 chunks pass the limit; the drain then reads at most another limit's worth and cancels.
    await expect.poll(cancelled).toBe(true)
    expect(pulls()).toBeLessThan(20)
    expect(seen).toEqual([])
  })

  it('a body that stops arriving → 408 REQUEST_TIMEOUT with Connection: close', async () => {
    const { handler, seen } = setup({ bodyTimeout: 50 })
    const { request } = streamedRequest(undefined, {
      'content-length': String(BODY.length),
      'x-ecampus-signature': nodeSign(BODY, SECRET),
    })
    const response = await handler(request)
    expect(response.status).toBe(408)
    expect(response.headers.get('connection')).toBe('close')
    expect(await errorCode(response)).toBe('REQUEST_TIMEOUT')
    expect(seen).toEqual([])
  })

  it('a stream that fails mid-body → 400 REQUEST_ABORTED, no handler', async () => {
    const { handler, seen, rejected } = setup()
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(BODY.slice(0, 10)))
        controller.error(new Error('client went away'))
      },
    })
    const request = new Request(URL_, {
      method: 'POST',
      body,
      headers: { 'x-ecampus-signature': nodeSign(BODY, SECRET) },
      duplex: 'half',
    })
    const response = await handler(request)
    expect(response.status).toBe(400)
    expect(await errorCode(response)).toBe('REQUEST_ABORTED')
    expect(seen).toEqual([])
    expect(rejected.map((info) => info.code)).toEqual(['REQUEST_ABORTED'])
  })

  it('maxBufferedBytes: a body waits while another holds the budget, then is read in turn', async () => {
    const { handler, seen } = setup({ maxBufferedBytes: BODY.length, bodyTimeout: 0 })
    let feed!: ReadableStreamDefaultController<Uint8Array>
    const heldBody = new ReadableStream<Uint8Array>({
      start(controller) {
        feed = controller
      },
    })
    const held = new Request(URL_, {
      method: 'POST',
      body: heldBody,
      headers: {
        'content-length': String(BODY.length),
        'x-ecampus-signature': nodeSign(BODY, SECRET),
      },
      duplex: 'half',
    })
    const heldAnswer = handler(held)
    // No Content-Length: it reserves maxBodySize, more than is left, so it waits in line.
    const second = JSON.stringify({ ...EVENT, id: 'second-delivery' })
    let settled = false
    const waiting = handler(await signedRequest(second)).finally(() => {
      settled = true
    })
    for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    feed.enqueue(encoder.encode(BODY))
    feed.close()
    expect((await heldAnswer).status).toBe(200)
    expect((await waiting).status).toBe(200)
    expect(seen.map((event) => event.id)).toEqual([EVENT.id, 'second-delivery'])
  })

  it('idempotency: a redelivered id → 200 duplicate, handlers ran once', async () => {
    const { handler, seen } = setup({ idempotency: { store: new MemoryIdempotencyStore() } })
    expect(await (await handler(await signedRequest())).json()).toEqual({ ok: true })
    expect(await (await handler(await signedRequest())).json()).toEqual({
      ok: true,
      duplicate: true,
    })
    expect(seen).toHaveLength(1)
  })

  it("respond: 'on-verify' → 202 before the handler settles; drain() waits for it", async () => {
    const { webhooks, handler } = setup({ respond: 'on-verify' })
    let finish!: () => void
    let done = false
    webhooks.on('message.created', async () => {
      await new Promise<void>((resolve) => {
        finish = resolve
      })
      done = true
    })
    const response = await handler(await signedRequest())
    expect(response.status).toBe(202)
    expect(await response.json()).toEqual({ ok: true, accepted: true })
    expect(done).toBe(false)
    finish()
    await webhooks.drain()
    expect(done).toBe(true)
  })

  it('a failing handler → 500 HANDLER_FAILED, onError gets it, its message is not sent', async () => {
    const { webhooks, handler, failed, rejected } = setup()
    webhooks.on('message.created', () => {
      throw new Error('db password=hunter2')
    })
    const response = await handler(await signedRequest())
    expect(response.status).toBe(500)
    const text = await response.clone().text()
    expect(text).not.toContain('hunter2')
    expect(await errorCode(response)).toBe('HANDLER_FAILED')
    expect(failed.map((error) => error.code)).toEqual(['HANDLER_FAILED'])
    expect(rejected).toEqual([])
  })

  it('handlerTimeout → 500 HANDLER_TIMEOUT', async () => {
    const { webhooks, handler } = setup({ handlerTimeout: 20 })
    webhooks.on('message.created', () => new Promise<void>(() => {}))
    const response = await handler(await signedRequest())
    expect(response.status).toBe(500)
    expect(await errorCode(response)).toBe('HANDLER_TIMEOUT')
  })

  it('a body another reader consumed → 500 BODY_ALREADY_PARSED with advice for fetch', async () => {
    const { handler } = setup()
    const request = await signedRequest()
    await request.text()
    const response = await handler(request)
    expect(response.status).toBe(500)
    const body = (await response.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('BODY_ALREADY_PARSED')
    expect(body.error.message).toContain('request.clone()')
  })

  it('signed but invalid UTF-8 → 400 INVALID_JSON (fatal TextDecoder)', async () => {
    const { handler } = setup()
    // Valid JSON if 0xff were replaced by U+FFFD, so only the UTF-8 check can refuse it.
    const bytes = withInvalidByte(BODY)
    const response = await handler(await signedRequest(bytes))
    expect(response.status).toBe(400)
    expect(await errorCode(response)).toBe('INVALID_JSON')
  })

  it('a Node-entry instance works too (node:crypto behind the same handler)', async () => {
    const webhooks = new NodeWebhooks({ secret: SECRET })
    const seen: string[] = []
    webhooks.onAny((event) => {
      seen.push(event.id)
    })
    const response = await toFetchHandler(webhooks)(await signedRequest())
    expect(response.status).toBe(200)
    expect(seen).toEqual([EVENT.id])
  })

  it('a web-entry instance answers handle() for Node adapters too', async () => {
    const { webhooks, seen } = setup()
    const response = await webhooks.handle({
      method: 'POST',
      headers: { 'x-ecampus-signature': nodeSign(BODY, SECRET) },
      body: BODY,
    })
    expect(response.status).toBe(200)
    expect(seen).toEqual([EVENT])
  })

  it('toFetchHandler without an instance is a TypeError that says what to pass', () => {
    expect(() => toFetchHandler({} as Webhooks)).toThrow(/needs a Webhooks instance/)
    expect(() => toFetchHandler(undefined as unknown as Webhooks)).toThrow(TypeError)
  })
})

describe('web entry helpers', () => {
  it('sign() matches node:crypto byte for byte (strings, bytes, non-ASCII secrets)', async () => {
    for (const [payload, secret] of [
      [BODY, SECRET],
      [encoder.encode('{"ä":"€"}'), 'sécret-ü'],
      ['', encoder.encode('bytes-secret')],
    ] as const) {
      expect(await sign(payload, secret)).toBe(nodeSign(payload, secret))
    }
  })

  it('verifySignature() accepts upper-case hex and whitespace, refuses anything else', async () => {
    const signature = nodeSign(BODY, SECRET)
    expect(await verifySignature(BODY, signature, SECRET)).toBe(true)
    expect(await verifySignature(BODY, ` ${signature.toUpperCase()} `, SECRET)).toBe(true)
    expect(await verifySignature(BODY, signature, ['other', SECRET])).toBe(true)
    expect(await verifySignature(BODY, signature, 'other')).toBe(false)
    expect(await verifySignature(BODY, signature.slice(1), SECRET)).toBe(false)
    expect(await verifySignature(BODY, [signature], SECRET)).toBe(false)
    await expect(verifySignature(BODY, signature, '')).rejects.toThrow(TypeError)
  })

  it('webhooks.verify() resolves a boolean; verifyAndReceive() verifies with Web Crypto', async () => {
    const webhooks = createWebhooks({ secret: SECRET })
    const seen: string[] = []
    webhooks.onAny((event) => {
      seen.push(event.id)
    })
    const signature = nodeSign(BODY, SECRET)
    await expect(webhooks.verify(BODY, signature)).resolves.toBe(true)
    await expect(webhooks.verify(`${BODY} `, signature)).resolves.toBe(false)
    await webhooks.verifyAndReceive({ rawBody: encoder.encode(BODY), signature })
    await expect(
      webhooks.verifyAndReceive({ rawBody: `${BODY} `, signature }),
    ).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' })
    expect(seen).toEqual([EVENT.id])
  })

  it('parseEvent() decodes with a fatal TextDecoder and strips a byte-order mark', () => {
    expect(parseEvent(encoder.encode(`\uFEFF${BODY}`))).toEqual(EVENT)
    expect(() => parseEvent(withInvalidByte(BODY))).toThrow(
      expect.objectContaining({ code: 'INVALID_JSON' }),
    )
  })
})
