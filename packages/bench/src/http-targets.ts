import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createNodeMiddleware } from '@octokit/webhooks'
import {
  createOctokitWebhooks,
  createOurWebhooks,
  handWritten,
  readStream,
  sink,
} from './receivers.js'

/** The frameworks measured over HTTP; node:http is where the octokit peer runs. */
export const FRAMEWORKS = ['node:http', 'Express 5', 'Koa 3', 'Fastify 5'] as const
export type FrameworkName = (typeof FRAMEWORKS)[number]

/**
 * (a) `floor` reads the body and answers 204; (b) `hand-written` reads it, checks the HMAC,
 * parses and switches; (c) `ours` is our adapter; `octokit` is @octokit/webhooks'
 * createNodeMiddleware (node:http only).
 */
export type Variant = 'floor' | 'hand-written' | 'ours' | 'octokit'

/** One server configuration. */
export interface HttpTarget {
  framework: FrameworkName
  variant: Variant
  /** `framework/variant`, passed to the server child. */
  id: string
  /** The status a valid delivery gets. */
  expectedStatus: number
}

/** Every server the HTTP section measures, in table order. */
export const HTTP_TARGETS: readonly HttpTarget[] = [
  ...FRAMEWORKS.flatMap((framework) =>
    (['floor', 'hand-written', 'ours'] as const).map((variant) => target(framework, variant)),
  ),
  target('node:http', 'octokit'),
]

function target(framework: FrameworkName, variant: Variant): HttpTarget {
  return {
    framework,
    variant,
    id: `${framework}/${variant}`,
    expectedStatus: variant === 'floor' ? 204 : 200,
  }
}

/** The path every target answers; `/webhooks` is our adapters' default. */
export const WEBHOOK_PATH = '/webhooks'
/** The body limit of the hand-written routes, the same as our default maxBodySize. */
const LIMIT = 1024 * 1024
const OK_BODY = '{"ok":true}'
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' }

/** The hand-written routes' reader (the same code as the in-process stream row). */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return readStream(req, LIMIT)
}

function signatureOf(req: IncomingMessage): string {
  const value = req.headers['x-ecampus-signature']
  return typeof value === 'string' ? value : ''
}

/** How many events the server's handlers received, for the orchestrator's sanity check. */
export function eventsReceived(): number {
  return sink.count
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void

function nodeListener(variant: Variant): Listener {
  switch (variant) {
    case 'floor':
      return (req, res) => {
        readBody(req).then(
          () => res.writeHead(204).end(),
          () => res.writeHead(413).end(),
        )
      }
    case 'hand-written':
      return (req, res) => {
        readBody(req).then(
          (body) => {
            if (handWritten(body, signatureOf(req))) res.writeHead(200, JSON_HEADERS).end(OK_BODY)
            else res.writeHead(401).end()
          },
          () => res.writeHead(413).end(),
        )
      }
    case 'ours': {
      const webhooks = createOurWebhooks()
      return (req, res) => {
        void webhooks
          .handle({ method: req.method ?? 'GET', headers: req.headers, body: req })
          .then((response) => res.writeHead(response.status, response.headers).end(response.body))
      }
    }
    case 'octokit': {
      const middleware = createNodeMiddleware(createOctokitWebhooks(), { path: WEBHOOK_PATH })
      return (req, res) => {
        void middleware(req, res)
      }
    }
  }
}

async function startExpress(variant: Variant): Promise<http.Server> {
  const express = (await import('express')).default
  const app = express()
  app.disable('x-powered-by')
  if (variant === 'ours') {
    const { ecampusWebhooks } = await import('@ecampus-webhooks/express')
    app.use(ecampusWebhooks(createOurWebhooks()))
  } else {
    const handWrittenRoute = variant === 'hand-written'
    app.post(WEBHOOK_PATH, (req, res, next) => {
      readBody(req).then((body) => {
        if (!handWrittenRoute) res.writeHead(204).end()
        else if (handWritten(body, signatureOf(req))) res.writeHead(200, JSON_HEADERS).end(OK_BODY)
        else res.writeHead(401).end()
      }, next)
    })
  }
  return http.createServer(app)
}

async function startKoa(variant: Variant): Promise<http.Server> {
  const Koa = (await import('koa')).default
  const app = new Koa()
  if (variant === 'ours') {
    const { ecampusWebhooks } = await import('@ecampus-webhooks/koa')
    app.use(ecampusWebhooks(createOurWebhooks()))
  } else {
    const handWrittenRoute = variant === 'hand-written'
    app.use(async (ctx) => {
      if (ctx.path !== WEBHOOK_PATH || ctx.method !== 'POST') return
      const body = await readBody(ctx.req)
      if (!handWrittenRoute) {
        ctx.status = 204
      } else if (handWritten(body, signatureOf(ctx.req))) {
        ctx.status = 200
        ctx.type = 'application/json'
        ctx.body = OK_BODY
      } else {
        ctx.status = 401
      }
    })
  }
  const callback = app.callback()
  return http.createServer((req, res) => void callback(req, res))
}

async function startFastify(variant: Variant): Promise<http.Server> {
  const Fastify = (await import('fastify')).default
  let server: http.Server | undefined
  const app = Fastify({
    bodyLimit: LIMIT,
    serverFactory: (handler) => (server = http.createServer(handler)),
  })
  if (variant === 'ours') {
    const { ecampusWebhooks } = await import('@ecampus-webhooks/fastify')
    await app.register(ecampusWebhooks, { webhooks: createOurWebhooks() })
  } else {
    // Fastify's own buffering parser, the idiomatic way to get the raw bytes of a route.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
      done(null, body)
    })
    const handWrittenRoute = variant === 'hand-written'
    app.post(WEBHOOK_PATH, (request, reply) => {
      const body = request.body as Buffer
      const signature = request.headers['x-ecampus-signature']
      if (!handWrittenRoute) return reply.code(204).send()
      if (handWritten(body, typeof signature === 'string' ? signature : '')) {
        return reply.code(200).headers(JSON_HEADERS).send(OK_BODY)
      }
      return reply.code(401).send()
    })
  }
  await app.ready()
  return server!
}

/** Builds the target's server (not listening yet). */
export async function createTargetServer(id: string): Promise<http.Server> {
  const found = HTTP_TARGETS.find((candidate) => candidate.id === id)
  if (found === undefined) throw new Error(`Unknown HTTP target ${JSON.stringify(id)}`)
  switch (found.framework) {
    case 'node:http':
      return http.createServer(nodeListener(found.variant))
    case 'Express 5':
      return startExpress(found.variant)
    case 'Koa 3':
      return startKoa(found.variant)
    case 'Fastify 5':
      return startFastify(found.variant)
  }
}

/** Starts the target on 127.0.0.1 and an ephemeral port. */
export async function listenTarget(id: string): Promise<{ server: http.Server; port: number }> {
  const server = await createTargetServer(id)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  return { server, port: (server.address() as AddressInfo).port }
}
