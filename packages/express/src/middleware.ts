import type { IncomingMessage, ServerResponse } from 'node:http'
import { toWebhooks, withRouting } from '@ecampus-webhooks/core'
import type { Webhooks, WebhooksInput, WebhooksRouting } from '@ecampus-webhooks/core'

/** What `ecampusWebhooks()` accepts: the webhook secret(s), options, or an existing instance. */
export type EcampusWebhooksInput = WebhooksInput

/** A request that may carry the raw body bytes kept by a body parser's `verify` hook. */
export interface RawBodyRequest extends IncomingMessage {
  /** The exact bytes of the body, as stored by `rawBodySaver` (or your own hook). */
  rawBody?: Buffer | Uint8Array | string
}

/**
 * An Express middleware (typed with Node's own request and response, so it fits Express 4 and 5
 * without `@types/express`) that also routes events: `.on`, `.onAny`, `.onError` and `.off`
 * delegate to the core instance and return the middleware, so calls chain.
 */
export interface EcampusWebhooksMiddleware extends WebhooksRouting<EcampusWebhooksMiddleware> {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void
}

/**
 * Creates the Express middleware. With `app.use()` it answers requests to `options.path`
 * (default `/webhooks`, relative to the mount point) and passes every other request on
 * untouched; as a route handler (`app.post('/hooks', …)`, `router.post(…)`) it answers its route.
 * Every outcome, handler failures included, is written as a JSON response: nothing reaches
 * Express's error handlers.
 *
 * @example
 * const webhooks = ecampusWebhooks(process.env.ECAMPUS_WEBHOOK_SECRET!)
 * webhooks.on('message.created', async (event) => notify(event.payload.contact.username))
 * app.use(webhooks)
 */
export function ecampusWebhooks(input: EcampusWebhooksInput): EcampusWebhooksMiddleware {
  const webhooks = toWebhooks(input, '@ecampus-webhooks/express')

  const middleware = function ecampusWebhooksMiddleware(req, res, next) {
    if (!isOwnRoute(req, middleware) && !webhooks.matchesPath(req.url ?? '/')) {
      next()
      return
    }
    respond(webhooks, req, res).catch((error: unknown) => {
      // handle() never rejects, so only writing the response can fail here (a bug, not a webhook
      // outcome): hand it to Express if nothing was sent, else drop the broken response.
      if (res.headersSent) res.destroy()
      else next(error)
    })
  } as EcampusWebhooksMiddleware

  return withRouting<EcampusWebhooksMiddleware>(middleware, webhooks)
}

/**
 * A `verify` hook for Express's body parsers that keeps the exact body bytes on `req.rawBody`, so
 * the webhook middleware can check the signature after `express.json()` has run.
 *
 * @example
 * app.use(express.json({ verify: rawBodySaver }))
 * app.use(ecampusWebhooks(process.env.ECAMPUS_WEBHOOK_SECRET!))
 */
export function rawBodySaver(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  ;(req as RawBodyRequest).rawBody = buf
}

async function respond(webhooks: Webhooks, req: IncomingMessage, res: ServerResponse) {
  const response = await webhooks.handle({
    method: req.method ?? 'GET',
    headers: req.headers,
    body: rawBodyOf(req),
    framework: 'express',
  })
  // Answered meanwhile (a timeout middleware, a handler holding `res`) or the client went away.
  if (res.headersSent || res.destroyed) return
  res.writeHead(response.status, response.headers)
  res.end(response.body)
}

/** The raw copy a body parser kept, else the stream (the core tells a consumed one apart). */
function rawBodyOf(req: IncomingMessage): Uint8Array | string | IncomingMessage {
  const { rawBody, body } = req as RawBodyRequest & { body?: unknown }
  if (typeof rawBody === 'string' || rawBody instanceof Uint8Array) return rawBody
  // express.raw() leaves the exact bytes in req.body.
  if (Buffer.isBuffer(body)) return body
  return req
}

/**
 * True when Express runs the middleware as a route handler. Express leaves `req.route` set after
 * a route calls next(), so a later `app.use(middleware)` would see a stale one: only a route
 * whose stack holds this very middleware counts.
 */
function isOwnRoute(req: IncomingMessage, middleware: EcampusWebhooksMiddleware): boolean {
  const { route } = req as { route?: { stack?: unknown } }
  if (typeof route !== 'object' || route === null) return false
  if (!Array.isArray(route.stack)) return true
  return route.stack.some((layer: { handle?: unknown } | null) => layer?.handle === middleware)
}
