import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import { text } from 'node:stream/consumers'
import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import { Webhooks, isWebhookError, type AnyWebhookEvent } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest, sign } from '@ecampus-webhooks/core/testing'
import Koa3 from 'koa'
import type { Context } from 'koa'
import Koa2 from 'koa2'
import { afterEach, describe, expect, it } from 'vitest'
import { ecampusWebhooks } from '../src/index.js'
import { send, serve, type Served } from './fixtures/serve.js'

const SECRET = 'whsec_koa_adapter_test_secret'

function majorOf(specifier: string): number {
  const entry = createRequire(import.meta.url).resolve(specifier)
  const manifest = new URL('../package.json', `file://${entry.replace(/[^/]*$/, '')}`)
  return Number((JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version[0])
}

const VERSIONS = [
  { name: 'Koa 2', Koa: Koa2, specifier: 'koa2', major: 2 },
  { name: 'Koa 3', Koa: Koa3, specifier: 'koa', major: 3 },
]

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => (resolve = done))
  return { promise, resolve }
}

/** A signed `message.created` delivery. */
function delivery(overrides: { id?: string } = {}) {
  const event = createSampleEvent('message.created', overrides)
  return { event, ...createSignedRequest(event, SECRET) }
}

describe.each(VERSIONS)('$name', ({ Koa, specifier, major }) => {
  let served: Served | undefined
  // Every 'error' the app emits; set per app so Koa's default stderr logger stays quiet.
  let appErrors: { error: unknown; ctx: Context }[] = []

  function createApp() {
    const app = new Koa()
    appErrors = []
    app.on('error', (error: unknown, ctx: Context) => appErrors.push({ error, ctx }))
    return app
  }

  /** The app's catch-all: proves a request reached the rest of the app, body unread. */
  async function downstream(ctx: Context) {
    ctx.body = { downstream: true, path: ctx.path, body: await text(ctx.req) }
  }

  async function start(app: Koa3) {
    served = await serve(app)
    return served
  }

  afterEach(async () => {
    await served?.close()
    served = undefined
  })

  it(`runs on koa ${major}`, () => {
    expect(majorOf(specifier)).toBe(major)
  })

  describe('app.use()', () => {
    it('answers a signed POST at the default path /webhooks with 200 and dispatches it', async () => {
      const received: AnyWebhookEvent[] = []
      const app = createApp()
      app.use(ecampusWebhooks(SECRET).on('message.created', (event) => void received.push(event)))
      app.use(downstream)
      const { event, body, headers } = delivery()

      const reply = await send(await start(app), 'POST', '/webhooks', { body, headers })

      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ ok: true })
      expect(reply.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(received).toEqual([event])
      expect(appErrors).toEqual([])
    })

    it('answers at a custom path, with a query string or a trailing slash, and nowhere else', async () => {
      const seen: string[] = []
      const app = createApp()
      app.use(
        ecampusWebhooks({ secret: SECRET, path: '/hooks/ecampus' }).onAny((e) => seen.push(e.id)),
      )
      app.use(downstream)
      const server = await start(app)

      for (const path of ['/hooks/ecampus', '/hooks/ecampus?via=test', '/hooks/ecampus/']) {
        const { event, body, headers } = delivery()
        const reply = await send(server, 'POST', path, { body, headers })
        expect(reply.status).toBe(200)
        expect(seen.at(-1)).toBe(event.id)
      }
      const { body, headers } = delivery()
      const other = await send(server, 'POST', '/webhooks', { body, headers })
      expect(other.json).toEqual({ downstream: true, path: '/webhooks', body })
    })

    it('passes other paths and methods to the next middleware with the body unread', async () => {
      const app = createApp()
      app.use(ecampusWebhooks(SECRET))
      app.use(downstream)
      const server = await start(app)

      const post = await send(server, 'POST', '/api/notes', {
        body: '{"note":"keep me"}',
        headers: { 'content-type': 'application/json' },
      })
      expect(post.status).toBe(200)
      expect(post.json).toEqual({
        downstream: true,
        path: '/api/notes',
        body: '{"note":"keep me"}',
      })

      const get = await send(server, 'GET', '/webhooks-status')
      expect(get.json).toEqual({ downstream: true, path: '/webhooks-status', body: '' })
    })

    it('answers GET on the webhook path with 405 and Allow: POST, not the next middleware', async () => {
      const app = createApp()
      app.use(ecampusWebhooks(SECRET))
      app.use(downstream)

      const reply = await send(await start(app), 'GET', '/webhooks')

      expect(reply.status).toBe(405)
      expect(reply.headers.allow).toBe('POST')
      expect(reply.json).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } })
    })

    it('survives a client that aborts mid-body and reports no webhook error', async () => {
      const app = createApp()
      const started = deferred<void>()
      const finished = deferred<number>()
      app.use(async (ctx, next) => {
        started.resolve()
        await next()
        finished.resolve(ctx.status)
      })
      app.use(ecampusWebhooks(SECRET))
      const server = await start(app)
      const { body, headers } = delivery()

      const socket = connect(server.port, '127.0.0.1')
      socket.write(
        `POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `x-ecampus-signature: ${headers['x-ecampus-signature']}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
      )
      await started.promise
      socket.destroy()

      expect(await finished.promise).toBe(400)
      // Koa itself may report the socket's parse error; the adapter adds nothing for a 4xx.
      expect(appErrors.filter(({ error }) => isWebhookError(error))).toEqual([])
      const next = delivery()
      const reply = await send(server, 'POST', '/webhooks', next)
      expect(reply.status).toBe(200)
    })

    it('answers relative to a prefix stripped from ctx.path, as koa-mount does', async () => {
      const app = createApp()
      const webhooks = ecampusWebhooks(SECRET)
      // koa-mount's contract: downstream middleware sees ctx.path without the mount prefix.
      app.use(async (ctx, next) => {
        if (!ctx.path.startsWith('/integrations/')) return next()
        ctx.path = ctx.path.slice('/integrations'.length)
        await next()
      })
      app.use(webhooks)
      app.use(downstream)
      const { body, headers } = delivery()

      const reply = await send(await start(app), 'POST', '/integrations/webhooks', {
        body,
        headers,
      })

      expect(reply.status).toBe(200)
      expect(reply.json).toEqual({ ok: true })
    })

    it('accepts an existing Webhooks instance and exposes it as .webhooks', async () => {
      const instance = new Webhooks({ secret: [SECRET, 'whsec_next'], path: '/in' })
      const middleware = ecampusWebhooks(instance)
      const seen: string[] = []
      instance.on('message.created', (event) => void seen.push(event.id))
      const app = createApp()
      app.use(middleware)
      const { event, body, headers } = delivery()

      const reply = await send(await start(app), 'POST', '/in', { body, headers })

      expect(middleware.webhooks).toBe(instance)
      expect(reply.status).toBe(200)
      expect(seen).toEqual([event.id])
    })
  })

  describe('as an @koa/router route handler', () => {
    it('answers its own route whatever options.path says, with router prefix and params', async () => {
      const seen: string[] = []
      const webhooks = ecampusWebhooks(SECRET).onAny((event) => seen.push(event.id))
      const router = new Router({ prefix: '/tenants' })
      router.post('/:tenant/ecampus', webhooks)
      const app = createApp()
      app.use(router.routes()).use(router.allowedMethods())
      app.use(downstream)
      const server = await start(app)
      const { event, body, headers } = delivery()

      const reply = await send(server, 'POST', '/tenants/acme/ecampus', { body, headers })
      expect(reply.status).toBe(200)
      expect(seen).toEqual([event.id])

      // Not mounted with app.use(): the default /webhooks path is not answered.
      const unrouted = await send(server, 'POST', '/webhooks', { body, headers })
      expect(unrouted.json).toMatchObject({ downstream: true, path: '/webhooks' })
    })

    it('answers other methods with its own 405 when registered with router.all()', async () => {
      const router = new Router()
      router.all('/hooks/ecampus', ecampusWebhooks(SECRET))
      const app = createApp()
      app.use(router.routes())

      const reply = await send(await start(app), 'PUT', '/hooks/ecampus', { body: '{}' })

      expect(reply.status).toBe(405)
      expect(reply.headers.allow).toBe('POST')
    })

    it('ignores a route that matched before it and called next() (stale ctx._matchedRoute)', async () => {
      const router = new Router()
      router.post('/api/items', async (ctx, next) => {
        ctx.set('x-router', 'passed')
        await next()
      })
      const app = createApp()
      app.use(router.routes())
      app.use(ecampusWebhooks(SECRET))
      app.use(downstream)

      const reply = await send(await start(app), 'POST', '/api/items', { body: '{"a":1}' })

      expect(reply.headers['x-router']).toBe('passed')
      expect(reply.json).toEqual({ downstream: true, path: '/api/items', body: '{"a":1}' })
    })

    it('does not take over the routes of a router it is use()d in', async () => {
      const router = new Router()
      router.use(ecampusWebhooks(SECRET))
      router.post('/api/items', downstream)
      const app = createApp()
      app.use(router.routes())

      const reply = await send(await start(app), 'POST', '/api/items', { body: 'x' })

      expect(reply.json).toEqual({ downstream: true, path: '/api/items', body: 'x' })
    })
  })

  describe('after a body parser', () => {
    it('verifies ctx.request.rawBody kept by @koa/bodyparser, and other routes keep parsed JSON', async () => {
      const seen: string[] = []
      const app = createApp()
      app.use(bodyParser())
      app.use(ecampusWebhooks(SECRET).onAny((event) => seen.push(event.id)))
      app.use((ctx) => {
        ctx.body = { parsed: ctx.request.body }
      })
      const server = await start(app)
      const { event, body, headers } = delivery()

      const ok = await send(server, 'POST', '/webhooks', { body, headers })
      expect(ok.status).toBe(200)
      expect(seen).toEqual([event.id])

      const tampered = await send(server, 'POST', '/webhooks', {
        body: body.replace('Thursday', 'Friday'),
        headers,
      })
      expect(tampered.status).toBe(401)
      expect(tampered.json).toMatchObject({ error: { code: 'SIGNATURE_INVALID' } })
      expect(seen).toHaveLength(1)

      const api = await send(server, 'POST', '/api/notes', {
        body: '{"note":"parsed"}',
        headers: { 'content-type': 'application/json' },
      })
      expect(api.json).toEqual({ parsed: { note: 'parsed' } })
    })

    it('verifies the unparsed text koa-body keeps with includeUnparsed', async () => {
      const app = createApp()
      // koa-body({ includeUnparsed: true })'s contract: the text under Symbol.for('unparsedBody').
      app.use(async (ctx, next) => {
        const raw = await text(ctx.req)
        ctx.request.body = { ...JSON.parse(raw), [Symbol.for('unparsedBody')]: raw }
        await next()
      })
      app.use(ecampusWebhooks(SECRET))
      const { body, headers } = delivery()

      const reply = await send(await start(app), 'POST', '/webhooks', { body, headers })

      expect(reply.status).toBe(200)
    })

    it('answers 500 BODY_ALREADY_PARSED naming both fixes when the parser kept no copy', async () => {
      const app = createApp()
      // What koa-body does by default: reads the stream, keeps only the parsed object.
      app.use(async (ctx, next) => {
        ctx.request.body = JSON.parse(await text(ctx.req))
        await next()
      })
      app.use(ecampusWebhooks(SECRET))
      const { body, headers } = delivery()

      const reply = await send(await start(app), 'POST', '/webhooks', { body, headers })

      expect(reply.status).toBe(500)
      expect(reply.headers['content-type']).toBe('application/json; charset=utf-8')
      const { error } = reply.json as { error: { code: string; message: string } }
      expect(error.code).toBe('BODY_ALREADY_PARSED')
      expect(error.message).toMatch(/before the body parser/)
      expect(error.message).toMatch(/ctx\.request\.rawBody/)
      expect(appErrors).toHaveLength(1)
      expect(appErrors[0]?.error).toMatchObject({ code: 'BODY_ALREADY_PARSED', status: 500 })
    })
  })

  describe('handler failures', () => {
    it('answers 500 JSON, tells onError and reports to app "error" with the ctx', async () => {
      const failure = new Error('database down')
      const told: { error: unknown; event: AnyWebhookEvent }[] = []
      const app = createApp()
      app.use(
        ecampusWebhooks(SECRET)
          .on('message.created', () => {
            throw failure
          })
          .onError((error, event) => void told.push({ error, event })),
      )
      app.use(downstream)
      const { event, body, headers } = delivery()

      const reply = await send(await start(app), 'POST', '/webhooks', { body, headers })

      expect(reply.status).toBe(500)
      expect(reply.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(reply.json).toMatchObject({ error: { code: 'HANDLER_FAILED' } })
      expect(reply.text).not.toContain('database down')
      expect(told).toHaveLength(1)
      expect(told[0]?.event).toEqual(event)
      expect(told[0]?.error).toMatchObject({ code: 'HANDLER_FAILED', errors: [failure] })
      expect(appErrors).toHaveLength(1)
      expect(isWebhookError(appErrors[0]?.error)).toBe(true)
      expect(appErrors[0]?.error).toMatchObject({ code: 'HANDLER_FAILED', expose: false })
      expect(appErrors[0]?.ctx.path).toBe('/webhooks')
    })

    it('does not report client errors (4xx) to app "error"', async () => {
      const app = createApp()
      app.use(ecampusWebhooks(SECRET))
      const { body } = delivery()

      const reply = await send(await start(app), 'POST', '/webhooks', {
        body,
        headers: { 'x-ecampus-signature': sign('{"other":"body"}', SECRET) },
      })

      expect(reply.status).toBe(401)
      expect(appErrors).toEqual([])
    })
  })
})

describe('ecampusWebhooks()', () => {
  it('chains .on/.onAny/.onError/.off and removes handlers with .off', async () => {
    const seen: string[] = []
    const handler = () => void seen.push('on')
    const middleware = ecampusWebhooks(SECRET)
    expect(middleware.on('message.*', handler).onAny(() => undefined)).toBe(middleware)
    expect(middleware.off('message.*', handler)).toBe(middleware)

    await middleware.webhooks.receive(createSampleEvent('message.created'))

    expect(seen).toEqual([])
  })

  it('throws a TypeError that names the fix when the secret is missing', () => {
    expect(() => ecampusWebhooks(process.env.ECAMPUS_SECRET_THAT_IS_NOT_SET as string)).toThrow(
      TypeError,
    )
    expect(() => ecampusWebhooks(undefined)).toThrow(/ECAMPUS_WEBHOOK_SECRET/)
  })
})
