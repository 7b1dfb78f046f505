/**
 * Every error code and the HTTP status it is answered with. The one table for statuses: the
 * README's status table documents it row by row.
 */
export const ERROR_STATUS = {
  SIGNATURE_MISSING: 401,
  SIGNATURE_INVALID: 401,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_ENCODING: 415,
  INVALID_JSON: 400,
  INVALID_EVENT: 400,
  REQUEST_ABORTED: 400,
  REQUEST_TIMEOUT: 408,
  METHOD_NOT_ALLOWED: 405,
  EVENT_IN_PROGRESS: 409,
  HANDLER_FAILED: 500,
  HANDLER_TIMEOUT: 500,
  BODY_ALREADY_PARSED: 500,
  INTERNAL_ERROR: 500,
  IDEMPOTENCY_UNAVAILABLE: 503,
  QUEUE_UNAVAILABLE: 503,
  // A failure answered with a 2xx on purpose: eCampus retries every non-2xx, and a handler said
  // retrying cannot help. The body says `"ok":false` so nobody mistakes it for a success.
  EVENT_REJECTED: 200,
} as const

/** A stable, machine-readable error code. */
export type WebhookErrorCode = keyof typeof ERROR_STATUS

/** Options of `new WebhookError()`. */
export interface WebhookErrorOptions {
  cause?: unknown
  /** The handler failures behind a `HANDLER_FAILED` or `EVENT_REJECTED` error. */
  errors?: readonly unknown[]
  /** Seconds the sender should wait before retrying; answered as `Retry-After`. */
  retryAfter?: number
}

/**
 * The one error type of the library. `status`, `statusCode` and `expose` are the fields
 * Express's finalhandler, Koa and Fastify read, so an escaped error still gets the right status.
 */
export class WebhookError extends Error {
  override readonly name = 'WebhookError'
  readonly code: WebhookErrorCode
  readonly status: number
  readonly statusCode: number
  /** True below 500: the message is safe to show to the client. */
  readonly expose: boolean
  /** For `HANDLER_FAILED` and `EVENT_REJECTED`: what each failing handler threw. Empty otherwise. */
  readonly errors: readonly unknown[]
  /**
   * For `EVENT_IN_PROGRESS`, `IDEMPOTENCY_UNAVAILABLE` and `QUEUE_UNAVAILABLE`: whole seconds (at least 1) to wait
   * before a retry, sent as the `Retry-After` header.
   */
  readonly retryAfter: number | undefined

  constructor(code: WebhookErrorCode, message: string, options: WebhookErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = ERROR_STATUS[code]
    this.statusCode = this.status
    this.expose = this.status < 500
    this.errors = options.errors ?? []
    this.retryAfter = options.retryAfter
  }
}

/**
 * True for a `WebhookError`, also one created by another copy of this package (duplicate
 * installs), which `instanceof` would miss.
 */
export function isWebhookError(value: unknown): value is WebhookError {
  return (
    value instanceof WebhookError ||
    (value instanceof Error &&
      value.name === 'WebhookError' &&
      typeof (value as Partial<WebhookError>).code === 'string' &&
      typeof (value as Partial<WebhookError>).status === 'number')
  )
}

/**
 * Thrown by a handler to say an event can never be processed (it refers to something deleted,
 * say), so retrying is pointless. If no other handler failed in an ordinary way, the sender gets a
 * 2xx `EVENT_REJECTED` answer and stops retrying, and with idempotency on the id is marked
 * handled. Any error with `permanent === true` counts the same, so your own error classes can opt
 * in without importing this one.
 *
 * @example
 * webhooks.on('message.deleted', async (event) => {
 *   if (!(await db.has(event.payload.id))) throw new PermanentWebhookError('unknown message')
 * })
 */
export class PermanentWebhookError extends Error {
  override readonly name = 'PermanentWebhookError'
  /** Marks the failure as permanent; what the receiver checks. */
  readonly permanent = true

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options)
  }
}

/** True for a failure a handler marked as permanent: a `PermanentWebhookError` or `permanent: true`. */
export function isPermanentError(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { permanent?: unknown }).permanent === true
  )
}
