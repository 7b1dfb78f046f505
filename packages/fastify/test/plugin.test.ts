import { Webhooks, type WebhookEvent } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest, sign } from '@ecampus-webhooks/core/testing'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import defaultExport, { ecampusWebhooks } from '../src/index.js'
import { LogCollector, listen, send, sendRaw } from './fixtures/http.js'

const secret = 'whsec_fastify_test_secret'
const apps: FastifyInstance[] = []

function createApp(options: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify(options)
  apps.push(app)
  return app
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

function signed(type: 'message.created' | 'contact.deleted' = 'message.created') {
  return createSignedRequest(createSampleEvent(type), secret)
}

function errorCode(body: string): unknown {
  return (JSON.parse(body) as { error?: { code?: unknown } }).error?.code
}

describe('ecampusWebhooks plugin', () => {
  it('is the default export too, and names itself for Fastify', () => {
    expect(defaultExport).toBe(ecampusWebhooks)
    const meta = (ecampusWebhooks as unknown as Record<symbol, unknown>)[
      Symbol.for('plugin-meta')
    ] as { name: string; fastify: string }
    expect(meta).toMatchObject({ name: '@ecampus-webhooks/fastify', fastify: '5.x' })
  })

  it('verifies a signed delivery and hands the typed event to the handler', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const received: WebhookEvent<'message.created'>[] = []
    app.ecampusWebhooks.on('message.created', (event) => {
      received.push(event)
    })
    const base = await listen(app)
    const { body, headers } = signed()

    const response = await send(base, { headers, body })

    expect(response.status).toBe(200)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(response.body).toBe('{"ok":true}')
    expect(received).toHaveLength(1)
    expect(received[0]).toEqual(JSON.parse(body))
  })

  it('decorates the app (not only a child context) with the core Webhooks instance', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret, path: '/hooks' })
    expect(app.hasDecorator('ecampusWebhooks')).toBe(true)
    expect(app.ecampusWebhooks).toBeInstanceOf(Webhooks)
    expect(app.ecampusWebhooks.path).toBe('/hooks')
  })

  it('answers on a custom path and leaves the default one to the app', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret, path: '/hooks/ecampus' })
    const base = await listen(app)
    const { body, headers } = signed()

    expect((await send(base, { path: '/hooks/ecampus', headers, body })).status).toBe(200)
    const other = await send(base, { path: '/webhooks', headers, body })
    expect(other.status).toBe(404)
    expect(JSON.parse(other.body)).toMatchObject({ error: 'Not Found', statusCode: 404 })
  })

  it('accepts an existing Webhooks instance and decorates the app with that very instance', async () => {
    const webhooks = new Webhooks({ secret, path: '/from-instance' })
    const onAny = vi.fn()
    webhooks.onAny(onAny)
    const app = createApp()
    await app.register(ecampusWebhooks, { webhooks })
    expect(app.ecampusWebhooks).toBe(webhooks)
    const base = await listen(app)
    const { body, headers } = signed('contact.deleted')

    const response = await send(base, { path: '/from-instance', headers, body })

    expect(response.status).toBe(200)
    expect(onAny).toHaveBeenCalledOnce()
  })

  it('refuses { webhooks } together with a secret, and a webhooks value that is no instance', async () => {
    const webhooks = new Webhooks({ secret })
    const both = createApp()
    // @ts-expect-error -- the two forms do not mix
    await expect(both.register(ecampusWebhooks, { webhooks, secret })).rejects.toThrow(
      /either \{ webhooks \} or \{ secret/,
    )
    const wrong = createApp()
    await expect(
      wrong.register(ecampusWebhooks, { webhooks: {} as unknown as Webhooks }),
    ).rejects.toThrow(/must be a Webhooks instance/)
    const none = createApp()
    // @ts-expect-error -- a secret is required
    await expect(none.register(ecampusWebhooks, {})).rejects.toThrow(TypeError)
  })

  it("keeps Fastify's JSON parser for the app's other routes, before and after the plugin", async () => {
    const app = createApp()
    const echo = (request: { body: unknown }) => ({ type: typeof request.body, body: request.body })
    app.post('/before', echo)
    await app.register(ecampusWebhooks, { secret })
    app.post('/after', echo)
    await app.register((child, _options, done) => {
      child.post('/nested', echo)
      done()
    })
    const base = await listen(app)

    for (const path of ['/before', '/after', '/nested']) {
      const response = await send(base, {
        path,
        headers: { 'content-type': 'application/json' },
        body: '{"hello":"world"}',
      })
      expect(response.status, path).toBe(200)
      expect(JSON.parse(response.body), path).toEqual({ type: 'object', body: { hello: 'world' } })
    }
    // An unknown content type is still Fastify's 415 elsewhere: the catch-all parser did not leak.
    const elsewhere = await send(base, {
      path: '/after',
      headers: { 'content-type': 'application/x-unknown' },
      body: 'x',
    })
    expect(elsewhere.status).toBe(415)
  })

  it("reads application/json on the webhook path as raw bytes, not with Fastify's JSON parser", async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)
    // Signed but not JSON: Fastify's parser would answer FST_ERR_CTP_INVALID_JSON_BODY.
    const body = '{"id": oops'
    const response = await send(base, {
      headers: { 'content-type': 'application/json', 'x-ecampus-signature': sign(body, secret) },
      body,
    })
    expect(response.status).toBe(400)
    expect(errorCode(response.body)).toBe('INVALID_JSON')
  })

  it('leaves other paths to the app, including its own not-found handler', async () => {
    const app = createApp()
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ custom: 'not here' }))
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)

    for (const path of ['/elsewhere', '/webhooks/extra']) {
      const response = await send(base, { path, headers: signed().headers, body: signed().body })
      expect(response.status, path).toBe(404)
      expect(JSON.parse(response.body), path).toEqual({ custom: 'not here' })
    }
  })

  it.each(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])(
    'answers %s on the webhook path with the core 405 and Allow: POST',
    async (method) => {
      const app = createApp()
      await app.register(ecampusWebhooks, { secret })
      const base = await listen(app)

      const response = await send(base, { method })

      expect(response.status).toBe(405)
      expect(response.headers.allow).toBe('POST')
      expect(errorCode(response.body)).toBe('METHOD_NOT_ALLOWED')
    },
  )

  it('answers HEAD with the 405 status and headers (and, being HEAD, no body)', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)

    const response = await send(base, { method: 'HEAD' })

    expect(response.status).toBe(405)
    expect(response.headers.allow).toBe('POST')
    expect(response.body).toBe('')
  })

  it("answers QUERY without Content-Type with the core 405, not Fastify's 400", async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)

    const response = await send(base, { method: 'QUERY', headers: { 'content-length': '0' } })

    expect(response.status).toBe(405)
    expect(errorCode(response.body)).toBe('METHOD_NOT_ALLOWED')
  })

  it('works with app.inject(), the way Fastify apps are usually tested', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const onAny = vi.fn()
    app.ecampusWebhooks.onAny(onAny)
    const { body, headers } = signed()

    const response = await app.inject({ method: 'POST', url: '/webhooks', headers, payload: body })

    expect(response.statusCode).toBe(200)
    expect(response.body).toBe('{"ok":true}')
    expect(onAny).toHaveBeenCalledOnce()
  })

  it('verifies a delivery that has no Content-Type header', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)
    const { body, headers } = signed()

    const response = await send(base, {
      headers: { 'x-ecampus-signature': headers['x-ecampus-signature'] },
      body,
    })

    expect(response.status).toBe(200)
  })

  it('reads an empty body without Content-Type from the socket (Fastify skips parsing it)', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)

    const response = await send(base, {
      headers: { 'x-ecampus-signature': sign('', secret), 'content-length': '0' },
    })

    // Verified (so the body was read, not reported as consumed), then rejected as not JSON.
    expect(response.status).toBe(400)
    expect(errorCode(response.body)).toBe('INVALID_JSON')
  })

  it('verifies a delivery whose Content-Type Fastify cannot parse, instead of its 415', async () => {
    const app = createApp()
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)
    const { body, headers } = signed()

    const response = await send(base, {
      headers: { ...headers, 'content-type': 'json' },
      body,
    })

    expect(response.status).toBe(200)
  })

  it("still hands errors from the app's own hooks to the app's error handler", async () => {
    const app = createApp()
    app.setErrorHandler((error, _request, reply) =>
      reply.code(403).send({ fromApp: (error as Error).message }),
    )
    app.addHook('onRequest', (request, _reply, done) => {
      done(request.headers['x-block'] === 'yes' ? new Error('blocked by the app') : undefined)
    })
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)
    const { body, headers } = signed()

    const response = await send(base, { headers: { ...headers, 'x-block': 'yes' }, body })

    expect(response.status).toBe(403)
    expect(JSON.parse(response.body)).toEqual({ fromApp: 'blocked by the app' })
  })

  it('answers a throwing handler with 500 HANDLER_FAILED, tells onError, logs it via request.log', async () => {
    const logs = new LogCollector()
    const app = createApp({ logger: { level: 'info', stream: logs.stream } })
    await app.register(ecampusWebhooks, { secret })
    const onError = vi.fn()
    app.ecampusWebhooks.on('message.created', () => {
      throw new Error('database down')
    })
    app.ecampusWebhooks.onError(onError)
    const base = await listen(app)
    const { body, headers } = signed()

    const response = await send(base, { headers, body })

    expect(response.status).toBe(500)
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(errorCode(response.body)).toBe('HANDLER_FAILED')
    expect(onError).toHaveBeenCalledOnce()
    const line = await logs.waitFor((l) => l.code === 'HANDLER_FAILED')
    expect(line).toMatchObject({ level: 50, statusCode: 500 })
    // request.log, not app.log: the line carries the request id.
    expect(line.reqId).toEqual(expect.any(String))
    expect(line.msg).toMatch(/handler\(s\) failed/)
    expect(logs.raw.join('')).not.toContain(headers['x-ecampus-signature'])
  })

  it('logs a rejection at info with its code, never the secret or the signature', async () => {
    const logs = new LogCollector()
    const app = createApp({ logger: { level: 'info', stream: logs.stream } })
    await app.register(ecampusWebhooks, { secret })
    const base = await listen(app)
    const badSignature = sign('something else', secret)

    const response = await send(base, {
      headers: { 'content-type': 'application/json', 'x-ecampus-signature': badSignature },
      body: signed().body,
    })

    expect(response.status).toBe(401)
    const line = await logs.waitFor((l) => l.code === 'SIGNATURE_INVALID')
    expect(line).toMatchObject({ level: 30, statusCode: 401, reqId: expect.any(String) })
    await logs.waitFor((l) => l.msg === 'request completed')
    const everything = logs.raw.join('')
    expect(everything).not.toContain(badSignature)
    expect(everything).not.toContain(secret)
  })

  it('applies logLevel to the webhook route, which fastify-plugin alone would ignore', async () => {
    const logs = new LogCollector()
    const app = createApp({ logger: { level: 'info', stream: logs.stream } })
    await app.register(ecampusWebhooks, { secret, logLevel: 'warn' })
    app.get('/ping', () => 'pong')
    const base = await listen(app)

    expect((await send(base, { headers: {}, body: '{}' })).status).toBe(401)
    expect((await send(base, { method: 'GET', path: '/ping' })).status).toBe(200)

    // The app's own route still logs at info; the webhook route logged nothing below warn.
    await logs.waitFor((l) => l.msg === 'request completed')
    expect(logs.lines.some((l) => l.code === 'SIGNATURE_MISSING')).toBe(false)
  })

  it("defaults maxBodySize to the app's bodyLimit and answers 413 by Content-Length in the core's shape, closing the connection", async () => {
    const app = createApp({ bodyLimit: 64 })
    await app.register(ecampusWebhooks, { secret })
    expect(app.ecampusWebhooks.maxBodySize).toBe(64)
    const base = await listen(app)

    // Declares 10 000 bytes but sends a few: the answer must come before the body, and the
    // connection must close, or the unread bytes would be taken for the next request.
    const raw = await sendRaw(
      base,
      [
        'POST /webhooks HTTP/1.1',
        `Host: ${base.host}`,
        'Content-Type: application/json',
        `X-eCampus-Signature: ${'a'.repeat(64)}`,
        'Content-Length: 10000',
      ].join('\r\n'),
      '{"id":',
    )

    const [head = '', body] = raw.split('\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 413 /)
    expect(head.toLowerCase()).toContain('connection: close')
    expect(JSON.parse(body ?? '')).toEqual({
      error: {
        code: 'BODY_TOO_LARGE',
        message: 'The request body is larger than the limit of 64 bytes (maxBodySize).',
      },
    })
  })

  it("uses an explicit maxBodySize over the app's bodyLimit, in both directions", async () => {
    const larger = createApp({ bodyLimit: 64 })
    await larger.register(ecampusWebhooks, { secret, maxBodySize: 1_000_000 })
    const largerBase = await listen(larger)
    const { body, headers } = signed()
    expect(body.length).toBeGreaterThan(64)
    expect((await send(largerBase, { headers, body })).status).toBe(200)

    const smaller = createApp()
    await smaller.register(ecampusWebhooks, { secret, maxBodySize: 32 })
    const smallerBase = await listen(smaller)
    const response = await send(smallerBase, { headers, body })
    expect(response.status).toBe(413)
    expect(errorCode(response.body)).toBe('BODY_TOO_LARGE')
  })

  it('mounts under a register prefix (which fastify-plugin alone would drop) and still decorates the app', async () => {
    const app = createApp()
    app.setNotFoundHandler((_request, reply) => reply.code(404).send({ custom: 'not here' }))
    await app.register(ecampusWebhooks, { secret, prefix: '/ecampus' })
    expect(app.ecampusWebhooks).toBeInstanceOf(Webhooks)
    const base = await listen(app)
    const { body, headers } = signed()

    expect((await send(base, { path: '/ecampus/webhooks', headers, body })).status).toBe(200)
    expect((await send(base, { path: '/webhooks', headers, body })).status).toBe(404)
    const sibling = await send(base, { path: '/ecampus/other', headers, body })
    expect(sibling.status).toBe(404)
    expect(JSON.parse(sibling.body)).toEqual({ custom: 'not here' })
  })

  it('takes the prefix of an enclosing plugin and path together', async () => {
    const app = createApp()
    await app.register(
      async (api) => {
        await api.register(ecampusWebhooks, { secret, path: '/ecampus' })
      },
      { prefix: '/api' },
    )
    const base = await listen(app)
    const { body, headers } = signed()

    expect((await send(base, { path: '/api/ecampus', headers, body })).status).toBe(200)
  })

  it('serves two endpoints with their own secrets from two encapsulated contexts', async () => {
    const app = createApp()
    const seen: string[] = []
    for (const [name, key] of [
      ['a', 'secret-a'],
      ['b', 'secret-b'],
    ] as const) {
      await app.register(async (scope) => {
        await scope.register(ecampusWebhooks, { secret: key, path: `/hooks/${name}` })
        scope.ecampusWebhooks.onAny(() => {
          seen.push(name)
        })
      })
    }
    const base = await listen(app)
    const event = createSampleEvent('group.created')

    const a = createSignedRequest(event, 'secret-a')
    expect((await send(base, { path: '/hooks/a', ...a })).status).toBe(200)
    expect((await send(base, { path: '/hooks/b', ...a })).status).toBe(401)
    const b = createSignedRequest(event, 'secret-b')
    expect((await send(base, { path: '/hooks/b', ...b })).status).toBe(200)
    expect(seen).toEqual(['a', 'b'])
  })

  it('survives a client that aborts mid-body, then serves the next request', async () => {
    const logs = new LogCollector()
    const app = createApp({ logger: { level: 'info', stream: logs.stream } })
    await app.register(ecampusWebhooks, { secret })
    const handler = vi.fn()
    app.ecampusWebhooks.onAny(handler)
    const base = await listen(app)
    const { connect } = await import('node:net')
    const socket = connect(Number(base.port), base.hostname)
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    socket.write(
      `POST /webhooks HTTP/1.1\r\nHost: ${base.host}\r\nX-eCampus-Signature: ${'b'.repeat(64)}\r\nContent-Length: 500\r\n\r\n{"id":`,
    )
    // The request reached the route once Fastify logged it; then the client goes away.
    await logs.waitFor((l) => l.msg === 'incoming request')
    socket.destroy()

    const line = await logs.waitFor((l) => l.code === 'REQUEST_ABORTED')
    expect(line.level).toBe(30)
    const { body, headers } = signed()
    expect((await send(base, { headers, body })).status).toBe(200)
    expect(handler).toHaveBeenCalledOnce()
    expect(logs.lines.filter((l) => (l.level as number) >= 40)).toEqual([])
  })
})
