import { WebhookError } from './errors.js'
import { handleWebhook, type WebhookProcessor } from './handle-webhook.js'
import { parseEvent } from './parse-event.js'
import { Router, type ErrorHandler } from './router.js'
import { decodeSignature, matchesAnySecret, normalizeSecrets } from './signature.js'
import type {
  AnyEventHandler,
  AnyWebhookEvent,
  EventHandler,
  EventName,
  WebhookRequest,
  WebhookResponse,
  WebhookSecret,
  WebhooksOptions,
} from './types.js'

const DEFAULT_PATH = '/webhooks'
const DEFAULT_MAX_BODY_SIZE = 1024 * 1024
const DEFAULT_BODY_TIMEOUT = 30_000

/**
 * Verifies, parses and routes eCampus webhooks. Framework adapters wrap one instance; it can also
 * be used on its own with `handle()` or `verifyAndReceive()`.
 *
 * @example
 * const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * webhooks.on('message.created', (event) => console.log(event.payload.contact.username))
 * const response = await webhooks.handle({ method: req.method, headers: req.headers, body: req })
 */
export class Webhooks implements WebhookProcessor {
  /** The path adapters answer on. */
  readonly path: string
  /** The largest accepted body, in bytes. */
  readonly maxBodySize: number
  /** Milliseconds a body may take to arrive. */
  readonly bodyTimeout: number
  readonly #secrets: readonly WebhookSecret[]
  readonly #router = new Router()

  constructor(options: WebhooksOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(
        '@ecampus-webhooks/core: new Webhooks() needs options, e.g. { secret: process.env.ECAMPUS_WEBHOOK_SECRET }.',
      )
    }
    this.#secrets = normalizeSecrets(options.secret)
    this.path = options.path ?? DEFAULT_PATH
    if (typeof this.path !== 'string' || !this.path.startsWith('/')) {
      throw new TypeError(
        `@ecampus-webhooks/core: path must start with "/", got ${JSON.stringify(this.path)}.`,
      )
    }
    this.maxBodySize = positiveInteger(options.maxBodySize, DEFAULT_MAX_BODY_SIZE, 'maxBodySize')
    this.bodyTimeout = positiveInteger(
      options.bodyTimeout,
      DEFAULT_BODY_TIMEOUT,
      'bodyTimeout',
      true,
    )
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
   * Registers a handler for handler failures. It gets a `HANDLER_FAILED` WebhookError whose
   * `errors` lists what each failing handler threw, and the event.
   */
  onError(handler: ErrorHandler): this {
    this.#router.onError(handler)
    return this
  }

  /** Removes a handler registered with `on()`; `off('*', handler)` removes an `onAny`/`onError` one. */
  off<const N extends EventName>(
    name: N | readonly N[] | '*',
    handler: EventHandler<N> | AnyEventHandler | ErrorHandler,
  ): this {
    this.#router.off(name, handler as AnyEventHandler)
    return this
  }

  /** True when the signature header value is valid for the raw body under any secret. */
  verify(rawBody: Uint8Array | string, signature: unknown): boolean {
    const bytes = decodeSignature(signature)
    return bytes !== undefined && matchesAnySecret(rawBody, bytes, this.#secrets)
  }

  /** Dispatches an event that was already verified. Rejects with `HANDLER_FAILED`. */
  receive(event: AnyWebhookEvent): Promise<void> {
    return this.#router.dispatch(event)
  }

  /**
   * Verifies the raw body against the signature, parses it and dispatches it. Throws a
   * `WebhookError` (`SIGNATURE_MISSING`, `SIGNATURE_INVALID`, `INVALID_JSON`, `INVALID_EVENT`,
   * `HANDLER_FAILED`).
   */
  async verifyAndReceive(input: {
    rawBody: Uint8Array | string
    signature: unknown
  }): Promise<void> {
    const { rawBody, signature } = input
    // The same test as handle(): whitespace only counts as missing.
    if (signature == null || (typeof signature === 'string' && signature.trim() === '')) {
      throw new WebhookError('SIGNATURE_MISSING', 'The x-eCampus-signature header is missing.')
    }
    if (!this.verify(rawBody, signature)) {
      throw new WebhookError('SIGNATURE_INVALID', 'The signature does not match the body.')
    }
    await this.receiveVerified(rawBody)
  }

  /** The framework-agnostic request handler every adapter calls. Never throws. */
  handle(request: WebhookRequest): Promise<WebhookResponse> {
    return handleWebhook(this, request)
  }

  /** True when a request path (query string ignored) is this instance's webhook path. */
  matchesPath(url: string): boolean {
    const query = url.indexOf('?')
    return trimSlash(query === -1 ? url : url.slice(0, query)) === trimSlash(this.path)
  }

  /** @internal */
  verifyBytes(rawBody: Uint8Array | string, signature: Buffer): boolean {
    return matchesAnySecret(rawBody, signature, this.#secrets)
  }

  /** @internal */
  async receiveVerified(rawBody: Uint8Array | string): Promise<void> {
    await this.#router.dispatch(parseEvent(rawBody))
  }
}

/** Same as `new Webhooks(options)`. */
export function createWebhooks(options: WebhooksOptions): Webhooks {
  return new Webhooks(options)
}

function positiveInteger(
  value: unknown,
  fallback: number,
  name: string,
  zeroAllowed = false,
): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (zeroAllowed ? 0 : 1)) {
    throw new TypeError(
      `@ecampus-webhooks/core: ${name} must be a ${zeroAllowed ? 'non-negative' : 'positive'} integer, got ${typeof value === 'number' ? value : typeof value}.`,
    )
  }
  return value
}

/** `/a/` and `/a` are one path (as Express and Koa routers treat them by default); `` is `/`. */
function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path || '/'
}
