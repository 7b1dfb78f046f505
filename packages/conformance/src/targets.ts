import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Webhooks } from '@ecampus-webhooks/core'
import type { WebhooksBase, WebhooksOptions } from '@ecampus-webhooks/core'
import { Webhooks as WebWebhooks, toFetchHandler } from '@ecampus-webhooks/core/web'
import type express from 'express'
import type Koa from 'koa'

/** What a target is started with: a core instance (handlers observable) or adapter options. */
export type TargetConfig = WebhooksBase | WebhooksOptions

/** A `Webhooks` class: the Node entry's, or the web entry's (Web Crypto). */
export type WebhooksClass = new (options: WebhooksOptions) => WebhooksBase

/** A target's server, listening on 127.0.0.1. */
export interface RunningTarget {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string
  /** The underlying Node server, to watch its connections. */
  server: http.Server
  /** The core instance the adapter exposes (`middleware.webhooks`, `app.ecampusWebhooks`). */
  webhooks: WebhooksBase
  /** Stops listening and drops every open connection. */
  close(): Promise<void>
}

/**
 * One framework and major version under test. `start` builds a real app with the webhook
 * receiver mounted the way its README says (default path `/webhooks`) and the app's own route
 * `/other` (GET and POST, answering `otherRouteReply()`), and listens on port 0.
 */
export interface Target {
  /** The name used in test titles, to run one target with `-t`. */
  name: string
  /**
   * The class the table builds its instances with: the web entry's for a target that must pass
   * with Web Crypto.
   * @default Webhooks from '@ecampus-webhooks/core'
   */
  Webhooks?: WebhooksClass
  start(config: TargetConfig): Promise<RunningTarget>
}

/** The path of the app's own route in every target. */
export const OTHER_PATH = '/other'

/** What the app's own route answers: proof the request reached the app, with its body. */
export interface OtherRouteReply {
  route: 'app-own-route'
  method: string
  /** The JSON body as the app's own body handling parsed it; `null` when there was none. */
  body: unknown
}

function otherRouteReply(method: string, body: unknown): OtherRouteReply {
  return { route: 'app-own-route', method, body: body ?? null }
}

/**
 * Every target. Adapters are imported lazily so a target whose package is not built yet fails
 * its own tests only, and the reference target runs regardless.
 */
export const targets: readonly Target[] = [
  {
    name: 'node:http (core reference)',
    start: startNodeReference,
  },
  {
    name: 'Express 4',
    start: async (config) => startExpress((await import('express4')).default, config),
  },
  {
    name: 'Express 5',
    start: async (config) => startExpress((await import('express')).default, config),
  },
  {
    name: 'Koa 2',
    start: async (config) => startKoa((await import('koa2')).default, config),
  },
  {
    name: 'Koa 3',
    start: async (config) => startKoa((await import('koa')).default, config),
  },
  {
    name: 'Fastify 5',
    start: startFastify,
  },
  {
    // The web entry end to end: Web Crypto, Request/Response, the body as a ReadableStream.
    name: 'fetch handler on node:http (web entry)',
    Webhooks: WebWebhooks,
    start: (config) => startFetchOnNode(isInstance(config) ? config : new WebWebhooks(config)),
  },
  {
    // A Node-entry instance (node:crypto) in a fetch handler: toFetchHandler takes either.
    name: 'Hono 4 (fetch handler, Node-entry instance)',
    start: startHono,
  },
]

function isInstance(config: TargetConfig): config is WebhooksBase {
  return typeof (config as Partial<WebhooksBase>).handleFetch === 'function'
}

function toInstance(config: TargetConfig): Webhooks {
  return isInstance(config) ? (config as Webhooks) : new Webhooks(config)
}

/**
 * The core on bare node:http, as its README shows: the baseline every adapter must match.
 */
async function startNodeReference(config: TargetConfig): Promise<RunningTarget> {
  const webhooks = toInstance(config)
  return listenNode(webhooks, (req, res) => {
    void webhooks
      .handle({ method: req.method ?? 'GET', headers: req.headers, body: req, framework: 'node' })
      .then((response) => {
        res.writeHead(response.status, response.headers)
        res.end(response.body)
      })
  })
}

/** A plain node:http server: `answer` on the webhook path, the shared /other route, else 404. */
function listenNode(
  webhooks: WebhooksBase,
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<RunningTarget> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    if (webhooks.matchesPath(url)) {
      answer(req, res)
      return
    }
    if (new URL(url, 'http://x').pathname === OTHER_PATH) {
      void readJson(req).then((body) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify(otherRouteReply(req.method ?? 'GET', body)))
      })
      return
    }
    res.writeHead(404).end()
  })
  return listen(server, webhooks)
}

async function startExpress(
  createApp: typeof express,
  config: TargetConfig,
): Promise<RunningTarget> {
  const { ecampusWebhooks } = await loadAdapter(
    import('@ecampus-webhooks/express'),
    '@ecampus-webhooks/express',
  )
  const app = createApp()
  const middleware = ecampusWebhooks(toInstance(config))
  app.use(middleware)
  // The app's own JSON parser, mounted after the receiver as the README says: it must still see
  // the bodies of the app's other routes.
  app.use(createApp.json())
  app.all(OTHER_PATH, (req, res) => {
    res.json(otherRouteReply(req.method, req.body))
  })
  return listen(http.createServer(app), middleware.webhooks)
}

async function startKoa(KoaApp: typeof Koa, config: TargetConfig): Promise<RunningTarget> {
  const [{ ecampusWebhooks }, { default: Router }] = await Promise.all([
    loadAdapter(import('@ecampus-webhooks/koa'), '@ecampus-webhooks/koa'),
    import('@koa/router'),
  ])
  const app = new KoaApp()
  // The suite asserts on responses; Koa's default error logger would only print the failures it
  // provokes on purpose (handler errors the adapter reports, client aborts) to stderr.
  app.silent = true
  const middleware = ecampusWebhooks(toInstance(config))
  app.use(middleware)
  const router = new Router()
  router.all(OTHER_PATH, async (ctx) => {
    ctx.body = otherRouteReply(ctx.method, await readJson(ctx.req))
  })
  app.use(router.routes())
  const callback = app.callback()
  // Koa's callback settles its own errors (ctx.onerror); the promise carries nothing more.
  const server = http.createServer((req, res) => void callback(req, res))
  return listen(server, middleware.webhooks)
}

async function startFastify(config: TargetConfig): Promise<RunningTarget> {
  const [{ default: Fastify }, { ecampusWebhooks }] = await Promise.all([
    import('fastify'),
    loadAdapter(import('@ecampus-webhooks/fastify'), '@ecampus-webhooks/fastify'),
  ])
  const app = Fastify()
  await app.register(
    ecampusWebhooks,
    isInstance(config) ? { webhooks: config as Webhooks } : config,
  )
  // The app's own routes keep Fastify's JSON parser.
  app.route({
    method: ['GET', 'POST'],
    url: OTHER_PATH,
    handler: (request, reply) => reply.send(otherRouteReply(request.method, request.body)),
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server: app.server,
    webhooks: app.ecampusWebhooks,
    close: async () => {
      app.server.closeAllConnections()
      await app.close()
    },
  }
}

/**
 * `toFetchHandler()` behind a plain node:http server that converts to and from Request/Response
 * as a real fetch host does (@hono/node-server, Deno, Bun): the body goes in as a ReadableStream
 * that errors when the client goes away mid-body (`Readable.toWeb`), `request.signal` aborts when
 * the connection closes before the response is finished, and a Response for a client that is gone
 * is not written.
 */
function startFetchOnNode(webhooks: WebhooksBase): Promise<RunningTarget> {
  const handler = toFetchHandler(webhooks)
  return listenNode(webhooks, (req, res) => {
    void handler(toRequest(req, res)).then(async (response) => {
      const body = Buffer.from(await response.arrayBuffer())
      if (res.destroyed) return
      res.writeHead(response.status, Object.fromEntries(response.headers))
      res.end(body)
    })
  })
}

/**
 * A Web Request for a Node request: every header line as sent, the body as a stream, and a signal
 * that aborts, as @hono/node-server's does, when the connection closes before the whole response
 * was written (the client went away).
 */
function toRequest(req: http.IncomingMessage, res: http.ServerResponse): Request {
  const headers = new Headers()
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!)
  }
  const method = req.method ?? 'GET'
  const bodyless = method === 'GET' || method === 'HEAD'
  const controller = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('Client connection prematurely closed.'))
  })
  return new Request(new URL(req.url ?? '/', 'http://127.0.0.1'), {
    method,
    headers,
    // Errors with the request's 'aborted' error when the client leaves before the body's end.
    body: bodyless ? null : (Readable.toWeb(req) as ReadableStream<Uint8Array>),
    signal: controller.signal,
    // Required by undici for a streamed request body.
    duplex: 'half',
  })
}

/** A real Hono app on @hono/node-server: the handler on the webhook route, its own /other route. */
async function startHono(config: TargetConfig): Promise<RunningTarget> {
  const [{ Hono }, { serve }] = await Promise.all([import('hono'), import('@hono/node-server')])
  const webhooks = toInstance(config)
  const handler = toFetchHandler(webhooks)
  // strict: false so /webhooks/ is the webhook path too, as in the other frameworks.
  const app = new Hono({ strict: false })
  // all(): the handler answers other methods with 405 itself.
  app.all(webhooks.path, (c) => handler(c.req.raw))
  app.all(OTHER_PATH, async (c) => {
    const text = await c.req.text()
    return c.json(otherRouteReply(c.req.method, text === '' ? null : JSON.parse(text)))
  })
  const server = await new Promise<http.Server>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () =>
      resolve(started as http.Server),
    )
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    webhooks,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Awaits an adapter import, turning "not built yet" into a message that says what to run. */
async function loadAdapter<T>(loading: Promise<T>, name: string): Promise<T> {
  try {
    return await loading
  } catch (error) {
    throw new Error(`${name} could not be loaded. Build it first: pnpm --filter ${name} build`, {
      cause: error,
    })
  }
}

async function listen(server: http.Server, webhooks: WebhooksBase): Promise<RunningTarget> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    webhooks,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Reads a request body the way an app without a body parser would. */
async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text === '' ? null : (JSON.parse(text) as unknown)
}
