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
  HANDLER_FAILED: 500,
  BODY_ALREADY_PARSED: 500,
  INTERNAL_ERROR: 500,
} as const

/** A stable, machine-readable error code. */
export type WebhookErrorCode = keyof typeof ERROR_STATUS

/** Options of `new WebhookError()`. */
export interface WebhookErrorOptions {
  cause?: unknown
  /** The handler failures behind a `HANDLER_FAILED` error. */
  errors?: readonly unknown[]
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
  /** True for 4xx: the message is safe to show to the client. */
  readonly expose: boolean
  /** For `HANDLER_FAILED`: what each failing handler threw. Empty otherwise. */
  readonly errors: readonly unknown[]

  constructor(code: WebhookErrorCode, message: string, options: WebhookErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = ERROR_STATUS[code]
    this.statusCode = this.status
    this.expose = this.status < 500
    this.errors = options.errors ?? []
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
