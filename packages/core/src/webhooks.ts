import { ByteBudget } from './byte-budget.js'
import { WebhookError } from './errors.js'
import { handleWebhook, type WebhookContext } from './handle-webhook.js'
import { MemoryIdempotencyStore, type IdempotencyStore } from './idempotency.js'
import { fetchBody, fetchRequestIo, toResponse } from './fetch-request.js'
import { nodeRequestIo } from './node-request.js'
import { HANDLED, Pipeline } from './pipeline.js'
import type { Platform, Verifier } from './platform.js'
import { Router, type ErrorHandler, type RejectionHandler } from './router.js'
import {
  decodeSignature,
  normalizeSecrets,
  signatureFromHeader,
  signatureMismatch,
} from './signature.js'
import type {
  AnyEventHandler,
  AnyWebhookEvent,
  EventHandler,
  EventName,
  ReceiveOptions,
  RespondMode,
  WebhookRequest,
  WebhookResponse,
  WebhookSecret,
  WebhooksOptions,
} from './types.js'

const OWNER = '@ecampus-webhooks/core'
const DEFAULT_PATH = '/webhooks'
const DEFAULT_MAX_BODY_SIZE = 1024 * 1024
const DEFAULT_BODY_TIMEOUT = 30_000
const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024
const DEFAULT_TTL = 24 * 60 * 60 * 1000
const MIN_DEFAULT_LEASE = 60_000
const RESPOND_MODES: readonly RespondMode[] = ['after-handlers', 'on-verify']
const MAX_TIMER = 2 ** 31 - 1
const IDEMPOTENCY_KEYS = new Set(['store', 'ttl', 'lease'])

/**
 * Verifies, parses and routes eCampus webhooks: what the Node entry's and the web entry's
 * `Webhooks` share. They differ only in their platform (node:crypto, or Web Crypto), so an
 * instance of either works with the framework adapters (`handle()`) and with `toFetchHandler()`
 * (`handleFetch()`). Framework adapters wrap one instance; it can also be used on its own with
 * `handle()` or `verifyAndReceive()`.
 *
 * @example
 * const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * webhooks.on('message.created', (event) => console.log(event.payload.contact.username))
 * const response = await webhooks.handle({ method: req.method, headers: req.headers, body: req })
 */
export class WebhooksBase {
  /** The path adapters answer on. */
  readonly path: string
  /** The largest accepted body, in bytes. */
  readonly maxBodySize: number
  /** Milliseconds a body may take to arrive. */
  readonly bodyTimeout: number
  /** Milliseconds handlers may run before `HANDLER_TIMEOUT`; 0 when off. */
  readonly handlerTimeout: number
  /** When `handle()` answers. */
  readonly respond: RespondMode
  /** The bytes all requests of this instance may buffer at once. */
  readonly maxBufferedBytes: number
  /** True when built with `enqueue`: verified events are stored in a queue, not handled here. */
  readonly queueMode: boolean
  readonly #secrets: readonly WebhookSecret[]
  readonly #verify: Verifier
  readonly #parse: Platform['parse']
  readonly #router = new Router()
  readonly #pipeline: Pipeline
  readonly #context: WebhookContext

  constructor(options: WebhooksOptions, platform: Platform) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(
        `${OWNER}: new Webhooks() needs options, e.g. { secret: process.env.ECAMPUS_WEBHOOK_SECRET }.`,
      )
    }
    this.#secrets = normalizeSecrets(options.secret)
    this.#verify = platform.verifier(this.#secrets)
    this.#parse = platform.parse
    this.path = options.path ?? DEFAULT_PATH
    if (typeof this.path !== 'string' || !this.path.startsWith('/')) {
      throw new TypeError(`${OWNER}: path must start with "/", got ${JSON.stringify(this.path)}.`)
    }
    this.maxBodySize = integer(options.maxBodySize, DEFAULT_MAX_BODY_SIZE, 'maxBodySize')
    this.bodyTimeout = timeout(options.bodyTimeout, DEFAULT_BODY_TIMEOUT, 'bodyTimeout')
    this.handlerTimeout = timeout(options.handlerTimeout, 0, 'handlerTimeout')
    this.maxBufferedBytes = integer(
      options.maxBufferedBytes,
      DEFAULT_MAX_BUFFERED_BYTES,
      'maxBufferedBytes',
    )
    this.respond = options.respond ?? 'after-handlers'
    if (!RESPOND_MODES.includes(this.respond)) {
      throw new TypeError(
        `${OWNER}: respond must be 'after-handlers' (answer once handlers succeeded) or 'on-verify' (answer 202 at once), got ${JSON.stringify(this.respond)}.`,
      )
    }
    const enqueue = queueMode(options)
    this.queueMode = enqueue !== undefined
    this.#pipeline = new Pipeline(this.#router, {
      handlerTimeout: this.handlerTimeout,
      enqueue,
      ...idempotency(options.idempotency, this.handlerTimeout),
    })
    const router = this.#router
    const pipeline = this.#pipeline
    this.#context = {
      maxBodySize: this.maxBodySize,
      bodyTimeout: this.bodyTimeout,
      background: this.respond === 'on-verify',
      budget: new ByteBudget(this.maxBufferedBytes),
      verify: this.#verify,
      parse: this.#parse,
      deliver: (event, background) => pipeline.deliver(event, background),
      reportRejected: (error, info) => router.reportRejected(error, info),
    }
  }

  /**
   * Registers a handler for an event type, a pattern (`'message.*'`, `'*.deleted'`) or a list of
   * them. The payload type follows from the name.
   */
  on<const N extends EventName>(name: N | readonly N[], handler: EventHandler<N>): this {
    this.#router.on(name, handler as AnyEventHandler)
    return this
  }

  /** Registers a handler for every verified event, including types this app does not know. */
  onAny(handler: AnyEventHandler): this {
    this.#router.onAny(handler)
    return this
  }

  /**
   * Registers a handler for handler failures. It gets the error (`HANDLER_FAILED`,
   * `HANDLER_TIMEOUT`, `EVENT_REJECTED`, or `IDEMPOTENCY_UNAVAILABLE` when a success could not be
   * recorded; `errors` lists what each failing handler threw), the event, and
   * `{ eventId, decision }`: `'retry'` (answered 5xx), `'acknowledged'` (answered 2xx),
   * `'background'` (`respond: 'on-verify'`) or `'late'` (settled after `HANDLER_TIMEOUT`).
   */
  onError(handler: ErrorHandler): this {
    this.#router.onError(handler)
    return this
  }

  /**
   * Registers a hook for every request `handle()` refused before running handlers (4xx,
   * `BODY_ALREADY_PARSED`, `INTERNAL_ERROR`, `EVENT_IN_PROGRESS`, `IDEMPOTENCY_UNAVAILABLE`,
   * `QUEUE_UNAVAILABLE`), to log or count them by code. `info` is `{ status, code, method, eventId?, eventType? }`; it never
   * holds the secret, a signature or the body. Throws and rejections of the hook are ignored.
   */
  onRejected(handler: RejectionHandler): this {
    this.#router.onRejected(handler)
    return this
  }

  /**
   * Removes a handler registered with `on()`; `off('*', handler)` removes an `onAny`, `onError`
   * or `onRejected` one.
   */
  off<const N extends EventName>(
    name: N | readonly N[] | '*',
    handler: EventHandler<N> | AnyEventHandler | ErrorHandler | RejectionHandler,
  ): this {
    this.#router.off(name, handler as AnyEventHandler)
    return this
  }

  /**
   * True when the signature header value is valid for the raw body under any secret: a boolean in
   * the Node entry, a promise of one in the web entry (Web Crypto is asynchronous).
   */
  verify(rawBody: Uint8Array | string, signature: unknown): boolean | Promise<boolean> {
    const bytes = decodeSignature(signature)
    return bytes !== undefined && this.#verify(rawBody, bytes)
  }

  /**
   * Dispatches an event that was already verified, through idempotency and `handlerTimeout` like
   * `handle()` (`respond` does not apply: it waits for the handlers). Resolves when the handlers
   * succeeded, the id was already handled, or a handler failed permanently; rejects with a
   * `WebhookError`: `HANDLER_FAILED`, `HANDLER_TIMEOUT`, `EVENT_IN_PROGRESS` or
   * `IDEMPOTENCY_UNAVAILABLE`. A queue worker passes `{ lastAttempt: true }` on its final try so
   * `onError` hears `'failed'`, and `{ rejectPermanent: true }` to get `EVENT_REJECTED` as a
   * rejection. In queue mode (`enqueue`) it stores the event instead.
   */
  receive(event: AnyWebhookEvent, options?: ReceiveOptions): Promise<void> {
    const delivery = this.#pipeline.deliver(event, false, options?.lastAttempt === true)
    if (options?.rejectPermanent !== true) return settled(delivery)
    return delivery.then((result) => {
      // The only WebhookError a delivery resolves with is EVENT_REJECTED.
      if (result instanceof WebhookError) throw result
    })
  }

  /**
   * Verifies the raw body against the signature, parses it and dispatches it like `receive()`.
   * Rejects with a `WebhookError` (`SIGNATURE_MISSING`, `SIGNATURE_INVALID`, `INVALID_JSON`,
   * `INVALID_EVENT`, or one of `receive()`'s).
   */
  verifyAndReceive(input: { rawBody: Uint8Array | string; signature: unknown }): Promise<void> {
    // Not an async function: the common outcome returns a shared settled promise, no extra hop.
    try {
      const { rawBody } = input
      // The same checks, errors and messages as handle().
      const signature = signatureFromHeader(input.signature)
      const verified = this.#verify(rawBody, signature)
      if (verified === true) return settled(this.#pipeline.deliver(this.#parse(rawBody)))
      if (verified === false) throw signatureMismatch()
      return verified.then((ok) => {
        if (!ok) throw signatureMismatch()
        return settled(this.#pipeline.deliver(this.#parse(rawBody)))
      })
    } catch (error) {
      // Only WebhookErrors are thrown above (parseEvent included).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error)
    }
  }

  /** The framework-agnostic request handler every adapter calls. Never throws. */
  handle(request: WebhookRequest): Promise<WebhookResponse> {
    return handleWebhook(this.#context, nodeRequestIo, request)
  }

  /**
   * The Web-standard request handler: reads a fetch `Request` (its body stream under the same
   * limits) and answers a `Response`, with exactly the decisions of `handle()`. Never rejects.
   * `toFetchHandler(webhooks)` from `@ecampus-webhooks/core/web` returns it, bound.
   */
  handleFetch(request: Request): Promise<Response> {
    return handleWebhook(this.#context, fetchRequestIo, {
      method: request.method,
      headers: request.headers,
      body: fetchBody(request),
      framework: 'fetch',
    }).then(toResponse)
  }

  /**
   * Resolves when every handler run started so far has settled and its idempotency claim is
   * recorded: the ones requests are waiting for, the ones `respond: 'on-verify'` runs in the
   * background, and timed-out ones still running (in queue mode: every `enqueue` call). Call it on shutdown after the server stopped
   * accepting requests. Never rejects.
   *
   * @example
   * process.on('SIGTERM', () => server.close(() => void webhooks.drain().then(() => process.exit(0))))
   */
  drain(): Promise<void> {
    return this.#pipeline.drain()
  }

  /** True when a request path (query string ignored) is this instance's webhook path. */
  matchesPath(url: string): boolean {
    const query = url.indexOf('?')
    return trimSlash(query === -1 ? url : url.slice(0, query)) === trimSlash(this.path)
  }
}

/** The `enqueue` option, checked against the options it cannot be combined with. */
function queueMode(options: WebhooksOptions): WebhooksOptions['enqueue'] {
  const { enqueue } = options
  if (enqueue === undefined) return undefined
  if (typeof enqueue !== 'function') {
    throw new TypeError(
      `${OWNER}: enqueue must be a function that stores an event and returns a promise, got ${typeof enqueue}.`,
    )
  }
  if (options.idempotency !== undefined && options.idempotency !== false) {
    throw new TypeError(
      `${OWNER}: enqueue cannot be combined with idempotency: deduplicate where the handlers run (give the worker's Webhooks the idempotency store).`,
    )
  }
  if (options.respond === 'on-verify') {
    throw new TypeError(
      `${OWNER}: enqueue cannot be combined with respond: 'on-verify': queue mode answers 202 once the event is stored.`,
    )
  }
  return enqueue
}

function idempotency(
  option: WebhooksOptions['idempotency'],
  handlerTimeout: number,
): { store: IdempotencyStore | undefined; ttl: number; lease: number } {
  const defaultLease = Math.max(MIN_DEFAULT_LEASE, 2 * handlerTimeout)
  if (option === undefined || option === false) {
    return { store: undefined, ttl: DEFAULT_TTL, lease: defaultLease }
  }
  if (option === true) {
    return { store: new MemoryIdempotencyStore(), ttl: DEFAULT_TTL, lease: defaultLease }
  }
  if (typeof option !== 'object' || option === null || Array.isArray(option)) {
    throw new TypeError(
      `${OWNER}: idempotency must be true, false, or { store?, ttl?, lease? }, got ${option === null ? 'null' : typeof option}.`,
    )
  }
  for (const key of Object.keys(option)) {
    if (!IDEMPOTENCY_KEYS.has(key)) {
      throw new TypeError(
        `${OWNER}: idempotency has no option ${JSON.stringify(key)}; use store, ttl (ms) or lease (ms).`,
      )
    }
  }
  const { store = new MemoryIdempotencyStore() } = option
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.claim !== 'function' ||
    typeof store.complete !== 'function' ||
    typeof store.release !== 'function'
  ) {
    throw new TypeError(
      `${OWNER}: idempotency.store must implement IdempotencyStore (claim, complete and release), e.g. new MemoryIdempotencyStore().`,
    )
  }
  const ttl = integer(option.ttl, DEFAULT_TTL, 'idempotency.ttl')
  const lease = integer(option.lease, defaultLease, 'idempotency.lease')
  if (handlerTimeout > 0 && lease <= handlerTimeout) {
    throw new TypeError(
      `${OWNER}: idempotency.lease (${lease} ms) must be longer than handlerTimeout (${handlerTimeout} ms), or a redelivery could run handlers that are still running. Leave it out for 2 * handlerTimeout.`,
    )
  }
  return { store, ttl, lease }
}

function integer(value: unknown, fallback: number, name: string, zeroAllowed = false): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1)) {
    throw new TypeError(
      `${OWNER}: ${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} integer, got ${typeof value === 'number' ? value : typeof value}.`,
    )
  }
  return value
}

/** Milliseconds for a timer: Node fires anything above 2^31 - 1 at once, so that is the cap. */
function timeout(value: unknown, fallback: number, name: string): number {
  const ms = integer(value, fallback, name, true)
  if (ms > MAX_TIMER) {
    throw new TypeError(
      `${OWNER}: ${name} must be at most ${MAX_TIMER} ms (about 24.8 days), got ${ms}; use 0 to turn it off.`,
    )
  }
  return ms
}

function ignore(): void {}

/** `/a/` and `/a` are one path (as Express and Koa routers treat them by default); `` is `/`. */
function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path || '/'
}

const DONE = Promise.resolve()

/** A delivery's outcome as `receive()` reports it: resolved unless it must be retried. */
function settled(delivery: Promise<unknown>): Promise<void> {
  return delivery === HANDLED ? DONE : delivery.then(ignore)
}
