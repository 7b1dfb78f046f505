import { WebhookError, isWebhookError } from './errors.js'
import { discardBody, isConsumed, readRawBody, tooLarge } from './raw-body.js'
import { SIGNATURE_HEADER, decodeSignature } from './signature.js'
import type { Framework, HeaderMap, WebhookRequest, WebhookResponse } from './types.js'

/** What `handleWebhook` needs from a `Webhooks` instance. */
export interface WebhookProcessor {
  readonly maxBodySize: number
  readonly bodyTimeout: number
  /** Verifies decoded signature bytes against the raw body. */
  verifyBytes(rawBody: Uint8Array | string, signature: Buffer): boolean
  /** Parses a verified body and runs its handlers; rejects with a WebhookError. */
  receiveVerified(rawBody: Uint8Array | string): Promise<void>
}

const JSON_TYPE = 'application/json; charset=utf-8'
const OK: WebhookResponse = Object.freeze({
  status: 200,
  headers: Object.freeze({ 'content-type': JSON_TYPE }),
  body: '{"ok":true}',
})

/**
 * Where the request body stands when an answer is decided:
 * `none` (no body, or the framework already read it), `unread`, `partial` (reading stopped).
 */
type BodyState = 'none' | 'unread' | 'partial'

/**
 * The framework-agnostic request handler: every HTTP decision of DESIGN.md in one place. Checks
 * run cheapest first — method, encoding, declared size, signature header syntax — so most bad
 * requests are answered before a byte of body is read; then the body is read under the limit,
 * verified, and only then parsed and dispatched. It never throws: every outcome is a response.
 */
export async function handleWebhook(
  processor: WebhookProcessor,
  request: WebhookRequest,
): Promise<WebhookResponse> {
  const { body, headers } = request
  // Either a stream to read, or the raw bytes a body parser kept (undefined: consumed, no copy).
  const given = isBytes(body) ? body : undefined
  const stream = isBytes(body) || body == null ? undefined : body
  let state: BodyState = 'none'
  try {
    if (stream !== undefined && hasBody(headers)) state = 'unread'
    if (request.method !== 'POST') {
      throw new WebhookError(
        'METHOD_NOT_ALLOWED',
        `Use POST to deliver webhooks, not ${String(request.method)}.`,
      )
    }

    const encoding = header(headers, 'content-encoding')
    if (encoding !== undefined && !isIdentity(encoding)) {
      throw new WebhookError(
        'UNSUPPORTED_ENCODING',
        'Compressed bodies are not accepted: the signature covers the bytes as sent. Send Content-Encoding: identity.',
      )
    }

    // A raw body's size is known up front, like a stream's declared one: both are checked
    // before the signature, as the contract orders (size -> signature -> JSON).
    const size =
      given === undefined
        ? Number(header(headers, 'content-length'))
        : typeof given === 'string'
          ? Buffer.byteLength(given)
          : given.byteLength
    if (size > processor.maxBodySize) throw tooLarge(processor.maxBodySize)

    const signatureValue = header(headers, SIGNATURE_HEADER)
    if (
      signatureValue === undefined ||
      (typeof signatureValue === 'string' && signatureValue.trim() === '')
    ) {
      throw new WebhookError('SIGNATURE_MISSING', 'The x-eCampus-signature header is missing.')
    }
    const signature = decodeSignature(signatureValue)
    if (signature === undefined) {
      throw new WebhookError(
        'SIGNATURE_INVALID',
        'The x-eCampus-signature header must be one value of 64 hex digits.',
      )
    }

    let raw: Uint8Array | string
    if (given !== undefined) {
      raw = given
    } else if (stream === undefined) {
      throw alreadyParsed(request.framework)
    } else {
      if (isConsumed(stream)) {
        state = 'none'
        throw alreadyParsed(request.framework)
      }
      state = 'partial'
      raw = await readRawBody(stream, {
        limit: processor.maxBodySize,
        timeout: processor.bodyTimeout,
      })
      state = 'none'
    }

    if (!processor.verifyBytes(raw, signature)) {
      throw new WebhookError(
        'SIGNATURE_INVALID',
        'The x-eCampus-signature header does not match the body under any configured secret.',
      )
    }
    await processor.receiveVerified(raw)
    return OK
  } catch (caught) {
    const error = isWebhookError(caught)
      ? caught
      : new WebhookError('INTERNAL_ERROR', 'The webhook receiver failed unexpectedly.', {
          cause: caught,
        })
    let close = false
    if (stream !== undefined && state !== 'none' && error.code !== 'REQUEST_ABORTED') {
      // A body we know is over the limit, or a client too slow to send it, is not worth reading:
      // say we close. Anything else left unread is drained (bounded) so the answer arrives.
      close =
        error.code === 'REQUEST_TIMEOUT' || (error.code === 'BODY_TOO_LARGE' && state === 'unread')
      if (!close) {
        discardBody(stream, { limit: processor.maxBodySize, timeout: processor.bodyTimeout })
      }
    }
    return errorResponse(error, close)
  }
}

/** The JSON error response for an error: `{"error":{"code","message"}}`, and the error itself. */
export function errorResponse(error: WebhookError, closeConnection = false): WebhookResponse {
  const headers: Record<string, string> = { 'content-type': JSON_TYPE }
  if (error.code === 'METHOD_NOT_ALLOWED') headers.allow = 'POST'
  if (closeConnection) headers.connection = 'close'
  return {
    status: error.status,
    headers,
    body: JSON.stringify({ error: { code: error.code, message: error.message } }),
    error,
  }
}

function isBytes(body: WebhookRequest['body']): body is Uint8Array | string {
  return typeof body === 'string' || body instanceof Uint8Array
}

/** True when the request says a body follows (RFC 9112 section 6.3: length or chunked). */
function hasBody(headers: HeaderMap): boolean {
  const length = header(headers, 'content-length')
  return (
    header(headers, 'transfer-encoding') !== undefined || (length !== undefined && length !== '0')
  )
}

/** Reads a header by name, case-insensitively; a repeated header comes back as an array. */
function header(headers: HeaderMap, name: string): string | readonly string[] | undefined {
  let value = headers[name]
  if (value === undefined) {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === name) {
        value = headers[key]
        break
      }
    }
  }
  if (typeof value === 'number') return String(value)
  if (Array.isArray(value) && value.length === 1) return value[0] as string
  return value as string | readonly string[] | undefined
}

function isIdentity(encoding: string | readonly string[]): boolean {
  return typeof encoding === 'string' && /^\s*(?:identity)?\s*$/i.test(encoding)
}

const PARSER_ADVICE: Record<Framework, string> = {
  express:
    'Mount the webhook middleware before express.json(), or keep a raw copy with express.json({ verify: rawBodySaver }) from @ecampus-webhooks/express.',
  koa: 'Mount the webhook middleware before the body parser, or use a parser that keeps the raw text in ctx.request.rawBody (@koa/bodyparser and koa-bodyparser do; koa-body with includeUnparsed: true).',
  fastify:
    'Register the @ecampus-webhooks/fastify plugin: its route has its own raw content-type parser.',
  node: 'Pass the request stream before anything reads it, or pass the exact raw bytes as the body.',
}

function alreadyParsed(framework: Framework = 'node'): WebhookError {
  return new WebhookError(
    'BODY_ALREADY_PARSED',
    `The request body was already read by a body parser and no raw copy is available, so the signature cannot be checked. ${PARSER_ADVICE[framework]}`,
  )
}
