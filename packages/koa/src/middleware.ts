import type { Next, ParameterizedContext } from 'koa'
import { toWebhooks, withRouting } from '@ecampus-webhooks/core'
import type { WebhooksInput, WebhooksRouting } from '@ecampus-webhooks/core'

declare module 'koa' {
  interface Request {
    /**
     * The request body as text, kept by a body parser that ran before the webhook middleware
     * (@koa/bodyparser and koa-bodyparser always keep it). Declared exactly as those parsers
     * declare it — not optional — because TypeScript rejects merged declarations that differ.
     */
    rawBody: string
  }
}

const UNPARSED_BODY = Symbol.for('unparsedBody')

/** What `ecampusWebhooks()` accepts: the webhook secret(s), options, or an existing instance. */
export type EcampusWebhooksInput = WebhooksInput

/**
 * A Koa middleware (for Koa 2 and 3, `app.use()` or an `@koa/router` route) that also routes
 * events: `.on`, `.onAny`, `.onError` and `.off` delegate to the core instance and return the
 * middleware, so calls chain.
 */
export interface EcampusWebhooksMiddleware extends WebhooksRouting<EcampusWebhooksMiddleware> {
  (ctx: ParameterizedContext, next: Next): Promise<void>
}

/**
 * Creates the Koa middleware. With `app.use()` it answers requests to `options.path` (default
 * `/webhooks`, relative to a koa-mount prefix) and calls `next()` for every other request; as an
 * `@koa/router` route handler (`router.post('/hooks', …)`) it answers its own route. Every outcome
 * is written as a JSON response and nothing is thrown; 5xx outcomes are also reported with
 * `ctx.app.emit('error', error, ctx)`, Koa's convention for errors a middleware answered itself.
 *
 * @example
 * const webhooks = ecampusWebhooks(process.env.ECAMPUS_WEBHOOK_SECRET!)
 * webhooks.on('message.created', async (event) => notify(event.payload.contact.username))
 * app.use(webhooks)
 */
export function ecampusWebhooks(input: EcampusWebhooksInput): EcampusWebhooksMiddleware {
  const webhooks = toWebhooks(input, '@ecampus-webhooks/koa')

  const middleware = async function ecampusWebhooksMiddleware(ctx, next) {
    if (!isOwnRoute(ctx, middleware) && !webhooks.matchesPath(ctx.path)) {
      await next()
      return
    }
    const response = await webhooks.handle({
      method: ctx.method,
      headers: ctx.headers,
      body: rawBodyOf(ctx),
      framework: 'koa',
    })
    ctx.status = response.status
    // Headers before the body: Koa only guesses a content-type when none is set.
    ctx.set(response.headers)
    ctx.body = response.body
    // Koa's default listener logs these to stderr (unless app.silent); 4xx are the client's fault.
    if (
      response.error !== undefined &&
      response.status >= 500 &&
      ctx.app.listenerCount('error') > 0
    ) {
      ctx.app.emit('error', response.error, ctx)
    }
  } as EcampusWebhooksMiddleware

  return withRouting<EcampusWebhooksMiddleware>(middleware, webhooks)
}

/**
 * The raw copy a body parser kept — `ctx.request.rawBody` (@koa/bodyparser, koa-bodyparser) or
 * koa-body's `includeUnparsed` symbol — else the stream, which the core reads or, when a parser
 * consumed it without a copy, answers with BODY_ALREADY_PARSED.
 */
function rawBodyOf(ctx: ParameterizedContext): Uint8Array | string | ParameterizedContext['req'] {
  const { rawBody, body } = ctx.request as { rawBody?: unknown; body?: unknown }
  if (typeof rawBody === 'string' || rawBody instanceof Uint8Array) return rawBody
  const unparsed =
    typeof body === 'object' && body !== null
      ? (body as Record<symbol, unknown>)[UNPARSED_BODY]
      : undefined
  if (typeof unparsed === 'string' || unparsed instanceof Uint8Array) return unparsed
  return ctx.req
}

/**
 * True when @koa/router runs the middleware as a route handler. `ctx.matched` lists the layers
 * whose path matched; a route layer (one with methods, unlike `router.use()`) for this method
 * that holds this very middleware is ours. `ctx._matchedRoute` alone would not do: the router
 * sets it for `router.use()` layers too, and leaves it set for middleware after the router.
 */
function isOwnRoute(ctx: ParameterizedContext, middleware: EcampusWebhooksMiddleware): boolean {
  const { matched } = ctx as { matched?: unknown }
  if (!Array.isArray(matched)) return false
  return matched.some((layer: { methods?: unknown; stack?: unknown } | null) => {
    const { methods, stack } = layer ?? {}
    return (
      Array.isArray(methods) &&
      methods.includes(ctx.method) &&
      Array.isArray(stack) &&
      stack.includes(middleware)
    )
  })
}
