import type { Next, ParameterizedContext } from 'koa'
import { ERROR_STATUS, Webhooks, WebhookError } from '@ecampus-webhooks/core'
import type {
  AnyEventHandler,
  ErrorHandler,
  EventHandler,
  EventName,
  WebhookErrorCode,
  WebhookResponse,
  WebhookSecret,
  WebhooksOptions,
} from '@ecampus-webhooks/core'

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
export type EcampusWebhooksInput =
  WebhookSecret | readonly WebhookSecret[] | WebhooksOptions | Webhooks

/**
 * A Koa middleware (for Koa 2 and 3, `app.use()` or an `@koa/router` route) that also routes
 * events: `.on`, `.onAny`, `.onError` and `.off` delegate to the core instance and return the
 * middleware, so calls chain.
 */
export interface EcampusWebhooksMiddleware {
  (ctx: ParameterizedContext, next: Next): Promise<void>
  /** The core `Webhooks` instance behind this middleware. */
  readonly webhooks: Webhooks
  /** Registers a handler for an event type, a pattern (`'message.*'`, `'*.deleted'`) or a list. */
  on<const N extends EventName>(name: N | readonly N[], handler: EventHandler<N>): this
  /** Registers a handler for every verified event, including types this app does not know. */
  onAny(handler: AnyEventHandler): this
  /** Registers a handler for handler failures (`HANDLER_FAILED`). */
  onError(handler: ErrorHandler): this
  /** Removes a handler; `off('*', handler)` removes an `onAny`/`onError` one. */
  off<const N extends EventName>(
    name: N | readonly N[] | '*',
    handler: EventHandler<N> | AnyEventHandler | ErrorHandler,
  ): this
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
  const webhooks = toWebhooks(input)

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
    if (response.status >= 500 && ctx.app.listenerCount('error') > 0) {
      ctx.app.emit('error', toError(response), ctx)
    }
  } as EcampusWebhooksMiddleware

  return Object.assign(middleware, {
    webhooks,
    on(name: EventName | readonly EventName[], handler: EventHandler<EventName>) {
      webhooks.on(name, handler)
      return middleware
    },
    onAny(handler: AnyEventHandler) {
      webhooks.onAny(handler)
      return middleware
    },
    onError(handler: ErrorHandler) {
      webhooks.onError(handler)
      return middleware
    },
    off(name: EventName | readonly EventName[] | '*', handler: AnyEventHandler | ErrorHandler) {
      webhooks.off(name, handler)
      return middleware
    },
  })
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

/**
 * The error to report for a 5xx response. `handle()` returns no error object, so it is rebuilt
 * from the JSON body: code and message (the handlers' own errors reach `onError`).
 */
function toError(response: WebhookResponse): WebhookError {
  const { error } = JSON.parse(response.body) as { error?: { code?: string; message?: string } }
  const code = error?.code ?? ''
  return Object.hasOwn(ERROR_STATUS, code)
    ? new WebhookError(code as WebhookErrorCode, error?.message ?? '')
    : new WebhookError('INTERNAL_ERROR', `The webhook request failed with ${response.status}.`)
}

function toWebhooks(input: EcampusWebhooksInput): Webhooks {
  if (isWebhooks(input)) return input
  // A missing secret (an unset environment variable) gets the core's "is it set?" message.
  if (
    input === undefined ||
    input === null ||
    typeof input === 'string' ||
    input instanceof Uint8Array ||
    Array.isArray(input)
  ) {
    return new Webhooks({ secret: input as WebhookSecret | readonly WebhookSecret[] })
  }
  return new Webhooks(input as WebhooksOptions)
}

/** Duck-typed rather than `instanceof`, which a second copy of the core would defeat. */
function isWebhooks(value: unknown): value is Webhooks {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Webhooks).handle === 'function' &&
    typeof (value as Webhooks).matchesPath === 'function'
  )
}
