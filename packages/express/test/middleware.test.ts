import { connect } from 'node:net'
import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Express, NextFunction, Request, Response } from 'express'
import { Webhooks } from '@ecampus-webhooks/core'
import type { WebhookError, WebhookResponse } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import { ecampusWebhooks, rawBodySaver } from '../src/index.js'
import type { RawBodyRequest } from '../src/index.js'
import { EXPRESS_VERSIONS, listen, post } from './fixtures/server.js'
import type { RunningServer } from './fixtures/server.js'

const SECRET = 'express-adapter-test-secret'

function signed(type: 'message.created' | 'contact.deleted' = 'message.created') {
  return createSignedRequest(createSampleEvent(type), SECRET)
}

/** A delivery whose body was changed after signing. */
function tampered() {
  const { body, headers } = signed()
  return { body: body.replace('ada.lovelace', 'mallory'), headers }
}

function errorOf(text: string): { code: string; message: string } {
  return (JSON.parse(text) as { error: { code: string; message: string } }).error
}

/** Wraps `webhooks.handle` so a test can wait until the middleware has had its answer. */
function traceHandle(webhooks: Webhooks): Promise<WebhookResponse>[] {
  const calls: Promise<WebhookResponse>[] = []
  const handle = webhooks.handle.bind(webhooks)
  webhooks.handle = (request) => {
    const result = handle(request)
    calls.push(result)
    return result
  }
  return calls
}

/** Lets the continuation after `handle()` run: it is queued before the next macrotask. */
const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled)
})
afterAll(() => {
  process.off('unhandledRejection', onUnhandled)
})

describe.each(EXPRESS_VERSIONS)('%s', (_version, express) => {
  let server: RunningServer | undefined
  // Every error that reaches the app's own error handler; webhook outcomes must never get there.
  let appErrors: unknown[] = []

  /** Adds an app-level error handler (last, as Express wants) and starts the app. */
  async function start(app: Express): Promise<string> {
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      appErrors.push(error)
      res.status(599).type('html').send('<h1>app error handler</h1>')
    })
    server = await listen(app)
    return server.url
  }

  afterEach(async () => {
    await server?.close()
    server = undefined
    expect(appErrors).toEqual([])
    expect(unhandled).toEqual([])
    appErrors = []
  })

  describe('app.use(middleware)', () => {
    it('answers a signed delivery on /webhooks and runs the typed handler', async () => {
      const usernames: string[] = []
      const app = express()
      app.use(
        ecampusWebhooks(SECRET).on('message.created', (event) => {
          usernames.push(event.payload.contact.username)
        }),
      )
      const url = await start(app)

      const response = await post(`${url}/webhooks`, signed())

      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
      expect(JSON.parse(response.text)).toEqual({ ok: true })
      expect(usernames).toEqual(['ada.lovelace'])
    })

    it('answers at the mount point when mounted under a prefix with path "/"', async () => {
      const types: string[] = []
      const app = express()
      app.use(
        '/ecampus',
        ecampusWebhooks({ secret: SECRET, path: '/' }).onAny((event) => {
          types.push(event.type)
        }),
      )
      app.post('/ecampus/reports', (_req, res) => {
        res.send('reports route')
      })
      const url = await start(app)

      expect((await post(`${url}/ecampus`, signed())).status).toBe(200)
      expect((await post(`${url}/ecampus/`, signed())).status).toBe(200)
      expect((await post(`${url}/ecampus?source=test`, signed())).status).toBe(200)
      expect(types).toHaveLength(3)

      const deeper = await post(`${url}/ecampus/reports`, signed())
      expect(deeper).toMatchObject({ status: 200, text: 'reports route' })
      expect((await post(`${url}/webhooks`, signed())).status).toBe(404)
      expect(types).toHaveLength(3)
    })

    it('answers on a custom path and leaves /webhooks to the app', async () => {
      const app = express()
      app.use(ecampusWebhooks({ secret: SECRET, path: '/hooks/ecampus' }))
      app.post('/webhooks', (_req, res) => {
        res.send('legacy route')
      })
      const url = await start(app)

      expect((await post(`${url}/hooks/ecampus`, signed())).status).toBe(200)
      expect(await post(`${url}/webhooks`, signed())).toMatchObject({
        status: 200,
        text: 'legacy route',
      })
    })

    it('passes every other request through untouched, JSON bodies included', async () => {
      const app = express()
      app.use(ecampusWebhooks(SECRET))
      app.use(express.json())
      app.get('/health', (_req, res) => {
        res.send('healthy')
      })
      app.post('/api/echo', (req, res) => {
        res.json({ received: req.body as unknown })
      })
      app.post('/webhooks/history', (_req, res) => {
        res.send('history route')
      })
      const url = await start(app)

      const health = await fetch(`${url}/health`)
      expect(health.status).toBe(200)
      expect(await health.text()).toBe('healthy')

      const echo = await post(`${url}/api/echo`, {
        body: JSON.stringify({ course: 'Algorithms I' }),
        headers: { 'content-type': 'application/json' },
      })
      expect(echo.status).toBe(200)
      expect(JSON.parse(echo.text)).toEqual({ received: { course: 'Algorithms I' } })

      expect(await post(`${url}/webhooks/history`, signed())).toMatchObject({
        status: 200,
        text: 'history route',
      })
      expect((await fetch(`${url}/nowhere`, { method: 'DELETE' })).status).toBe(404)
    })

    it('answers GET on the webhook path with 405 and Allow: POST', async () => {
      const app = express()
      app.use(ecampusWebhooks(SECRET))
      const url = await start(app)

      const response = await fetch(`${url}/webhooks`)

      expect(response.status).toBe(405)
      expect(response.headers.get('allow')).toBe('POST')
      expect(errorOf(await response.text()).code).toBe('METHOD_NOT_ALLOWED')
    })

    it('is not fooled by the req.route an earlier route left behind', async () => {
      // Express keeps req.route set after a route handler calls next().
      const app = express()
      app.post('/api/items', (_req, _res, next) => {
        next()
      })
      app.use(ecampusWebhooks(SECRET))
      app.post('/api/items', (_req, res) => {
        res.status(201).send('created')
      })
      const url = await start(app)

      const response = await post(`${url}/api/items`, {
        body: '{"name":"item"}',
        headers: { 'content-type': 'application/json' },
      })
      expect(response).toMatchObject({ status: 201, text: 'created' })
    })
  })

  describe('as a route handler', () => {
    it('answers its own route with app.post, whatever options.path says', async () => {
      const app = express()
      app.post('/hooks/ecampus', ecampusWebhooks(SECRET))
      const url = await start(app)

      expect((await post(`${url}/hooks/ecampus`, signed())).status).toBe(200)
      expect((await post(`${url}/webhooks`, signed())).status).toBe(404)
    })

    it('answers its route in a mounted express.Router', async () => {
      const usernames: string[] = []
      const app = express()
      const router = express.Router()
      router.post(
        '/ecampus',
        ecampusWebhooks(SECRET).on('message.*', (event) => {
          usernames.push(event.payload.contact.username)
        }),
      )
      app.use('/api/hooks', router)
      const url = await start(app)

      expect((await post(`${url}/api/hooks/ecampus`, signed())).status).toBe(200)
      expect(usernames).toEqual(['ada.lovelace'])
    })

    it('answers other methods on an app.all route with 405', async () => {
      const app = express()
      app.all('/hooks', ecampusWebhooks(SECRET))
      const url = await start(app)

      const response = await fetch(`${url}/hooks`, { method: 'PUT' })
      expect(response.status).toBe(405)
      expect(response.headers.get('allow')).toBe('POST')
    })

    it('works behind a route-level express.json({ verify: rawBodySaver })', async () => {
      const app = express()
      app.post('/hooks', express.json({ verify: rawBodySaver }), ecampusWebhooks(SECRET))
      const url = await start(app)

      expect((await post(`${url}/hooks`, signed())).status).toBe(200)
      expect((await post(`${url}/hooks`, tampered())).status).toBe(401)
    })
  })

  describe('body parsers', () => {
    it('answers 500 BODY_ALREADY_PARSED naming both fixes when express.json() ran first', async () => {
      let handled = 0
      const app = express()
      app.use(express.json())
      app.use(
        ecampusWebhooks(SECRET).onAny(() => {
          handled += 1
        }),
      )
      const url = await start(app)

      const response = await post(`${url}/webhooks`, signed())

      expect(response.status).toBe(500)
      const error = errorOf(response.text)
      expect(error.code).toBe('BODY_ALREADY_PARSED')
      expect(error.message).toContain('before express.json()')
      expect(error.message).toContain('express.json({ verify: rawBodySaver })')
      expect(handled).toBe(0)
    })

    it('verifies the raw copy kept by express.json({ verify: rawBodySaver })', async () => {
      const usernames: string[] = []
      const app = express()
      app.use(express.json({ verify: rawBodySaver }))
      app.use(
        ecampusWebhooks(SECRET).on('message.created', (event) => {
          usernames.push(event.payload.contact.username)
        }),
      )
      app.post('/api/echo', (req, res) => {
        res.json({ received: req.body as unknown })
      })
      const url = await start(app)

      expect((await post(`${url}/webhooks`, signed())).status).toBe(200)
      expect(usernames).toEqual(['ada.lovelace'])

      const forged = await post(`${url}/webhooks`, tampered())
      expect(forged.status).toBe(401)
      expect(errorOf(forged.text).code).toBe('SIGNATURE_INVALID')
      expect(usernames).toEqual(['ada.lovelace'])

      const echo = await post(`${url}/api/echo`, {
        body: '{"still":"parsed"}',
        headers: { 'content-type': 'application/json' },
      })
      expect(JSON.parse(echo.text)).toEqual({ received: { still: 'parsed' } })
    })

    it('verifies req.rawBody given as a string', async () => {
      const app = express()
      app.use((req, _res, next) => {
        let text = ''
        req.setEncoding('utf8')
        req.on('data', (chunk: string) => (text += chunk))
        req.on('end', () => {
          ;(req as RawBodyRequest).rawBody = text
          next()
        })
      })
      app.use(ecampusWebhooks(SECRET))
      const url = await start(app)

      expect((await post(`${url}/webhooks`, signed())).status).toBe(200)
      expect((await post(`${url}/webhooks`, tampered())).status).toBe(401)
    })

    it('verifies the Buffer left in req.body by express.raw()', async () => {
      const app = express()
      app.use(express.raw({ type: 'application/json' }))
      app.use(ecampusWebhooks(SECRET))
      const url = await start(app)

      expect((await post(`${url}/webhooks`, signed())).status).toBe(200)
      expect((await post(`${url}/webhooks`, tampered())).status).toBe(401)
    })

    it('reads the stream itself when express.json() skipped the content type', async () => {
      const app = express()
      app.use(express.json())
      app.use(ecampusWebhooks(SECRET))
      const url = await start(app)

      const { body, headers } = signed()
      const response = await post(`${url}/webhooks`, {
        body,
        headers: { ...headers, 'content-type': 'text/plain' },
      })
      expect(response.status).toBe(200)
    })
  })

  describe('failures stay webhook responses', () => {
    it('answers a throwing handler with 500 JSON and tells onError, not the app', async () => {
      const reported: WebhookError[] = []
      const app = express()
      app.use(
        ecampusWebhooks(SECRET)
          .on('message.created', () => {
            throw new Error('database is down')
          })
          .onError((error) => {
            reported.push(error)
          }),
      )
      const url = await start(app)

      const response = await post(`${url}/webhooks`, signed())

      expect(response.status).toBe(500)
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
      expect(response.text).not.toContain('<')
      expect(errorOf(response.text).code).toBe('HANDLER_FAILED')
      expect(response.text).not.toContain('database is down')
      expect(reported).toHaveLength(1)
      expect(reported[0]?.code).toBe('HANDLER_FAILED')
      expect(reported[0]?.errors).toEqual([new Error('database is down')])
    })

    it('answers bad deliveries with JSON errors, never the app error handler', async () => {
      const app = express()
      app.use(ecampusWebhooks(SECRET))
      const url = await start(app)

      const unsigned = await post(`${url}/webhooks`, {
        body: signed().body,
        headers: { 'content-type': 'application/json' },
      })
      expect(unsigned.status).toBe(401)
      expect(errorOf(unsigned.text).code).toBe('SIGNATURE_MISSING')

      const notJson = createSignedRequest('{"id":', SECRET)
      const invalid = await post(`${url}/webhooks`, notJson)
      expect(invalid.status).toBe(400)
      expect(errorOf(invalid.text).code).toBe('INVALID_JSON')
    })

    it('leaves a response alone that someone else already sent', async () => {
      const webhooks = new Webhooks({ secret: SECRET })
      const handled = traceHandle(webhooks)
      let held: ServerResponse | undefined
      let lateWrites = 0
      const app = express()
      app.use((_req, res, next) => {
        held = res
        const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse
        res.writeHead = ((...args: unknown[]) => {
          if (res.headersSent) lateWrites += 1
          return writeHead(...args)
        }) as typeof res.writeHead
        next()
      })
      app.use(
        ecampusWebhooks(webhooks).on('message.created', () => {
          // Like a timeout middleware answering while the handler still runs.
          held?.writeHead(503, { 'content-type': 'text/plain' }).end('busy')
        }),
      )
      const url = await start(app)

      const response = await post(`${url}/webhooks`, signed())
      await Promise.all(handled)
      await nextMacrotask()

      expect(response).toMatchObject({ status: 503, text: 'busy' })
      expect(lateWrites).toBe(0)
      expect((await post(`${url}/webhooks`, signed('contact.deleted'))).status).toBe(200)
    })

    it('survives a client that aborts mid-body and keeps serving', async () => {
      const webhooks = new Webhooks({ secret: SECRET })
      const handled = traceHandle(webhooks)
      let calls = 0
      let arrived: () => void = () => undefined
      const requestArrived = new Promise<void>((resolve) => (arrived = resolve))
      const app = express()
      app.use((_req, _res, next) => {
        arrived()
        next()
      })
      app.use(
        ecampusWebhooks(webhooks).onAny(() => {
          calls += 1
        }),
      )
      const url = await start(app)

      const { body, headers } = signed()
      const socket = connect(Number(new URL(url).port), '127.0.0.1')
      await once(socket, 'connect')
      socket.write(
        `POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `X-eCampus-Signature: ${headers['x-ecampus-signature']}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`,
      )
      await requestArrived
      socket.destroy()

      const result = await handled[0]
      await nextMacrotask()
      expect(result?.status).toBe(400)
      expect(errorOf(result?.body ?? '{}').code).toBe('REQUEST_ABORTED')
      expect(calls).toBe(0)
      expect((await post(`${url}/webhooks`, signed())).status).toBe(200)
      expect(calls).toBe(1)
    })
  })

  describe('the middleware object', () => {
    it('chains .on/.onAny/.onError/.off and removes handlers with .off', async () => {
      const seen: string[] = []
      const onMessage = (): void => {
        seen.push('on')
      }
      const onEvery = (): void => {
        seen.push('any')
      }
      const middleware = ecampusWebhooks(SECRET)
      expect(middleware.on('message.created', onMessage)).toBe(middleware)
      expect(middleware.onAny(onEvery)).toBe(middleware)
      expect(middleware.onError(() => undefined)).toBe(middleware)
      const app = express()
      app.use(middleware)
      const url = await start(app)

      await post(`${url}/webhooks`, signed())
      expect(seen.sort()).toEqual(['any', 'on'])

      expect(middleware.off('message.created', onMessage).off('*', onEvery)).toBe(middleware)
      seen.length = 0
      expect((await post(`${url}/webhooks`, signed())).status).toBe(200)
      expect(seen).toEqual([])
    })

    it('wraps an existing Webhooks instance and exposes it as .webhooks', async () => {
      const webhooks = new Webhooks({ secret: [SECRET, 'next-secret'], path: '/in' })
      const ids: string[] = []
      webhooks.on('contact.deleted', (event) => {
        ids.push(event.id)
      })
      const middleware = ecampusWebhooks(webhooks)
      expect(middleware.webhooks).toBe(webhooks)
      const app = express()
      app.use(middleware)
      const url = await start(app)

      const delivery = createSignedRequest(createSampleEvent('contact.deleted'), 'next-secret')
      expect((await post(`${url}/in`, delivery)).status).toBe(200)
      expect(ids).toHaveLength(1)
    })
  })
})

describe('without Express', () => {
  it('serves a plain node:http server, handing other paths to next()', async () => {
    const middleware = ecampusWebhooks([SECRET])
    const server = await listen((req: IncomingMessage, res: ServerResponse) => {
      middleware(req, res, () => {
        res.statusCode = 404
        res.end('not found')
      })
    })
    try {
      expect((await post(`${server.url}/webhooks`, signed())).status).toBe(200)
      expect(await post(`${server.url}/elsewhere`, signed())).toMatchObject({
        status: 404,
        text: 'not found',
      })
    } finally {
      await server.close()
    }
  })

  it('throws a TypeError at setup when the secret is missing or empty', () => {
    expect(() => ecampusWebhooks(undefined)).toThrow(/ECAMPUS_WEBHOOK_SECRET set\?/)
    expect(() => ecampusWebhooks('')).toThrow(TypeError)
    expect(() => ecampusWebhooks({ secret: SECRET, path: 'webhooks' })).toThrow(/must start/)
  })
})
