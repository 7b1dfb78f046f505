import { WebhookError, isWebhookError } from './errors.js'
import { isConsumed, readRawBody, tooLarge } from './raw-body.js'
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
  const streaming = body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)
  // Answering before the body is read: the connection must close, or the unread bytes would be
  // taken for the next request's.
  let unread = streaming
  try {
    if (request.method !== 'POST') {
      return errorResponse(
        new WebhookError(
          'METHOD_NOT_ALLOWED',
          `Use POST to deliver webhooks, not ${String(request.method)}.`,
        ),
        unread,
        { allow: 'POST' },
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
    const size = streaming
      ? Number(header(headers, 'content-length'))
      : typeof body === 'string'
        ? Buffer.byteLength(body)
        : (body?.byteLength ?? 0)
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
    if (body === undefined) {
      throw alreadyParsed(request.framework)
    } else if (streaming) {
      const stream = body
      if (isConsumed(stream)) throw alreadyParsed(request.framework)
      raw = await readRawBody(stream, {
        limit: processor.maxBodySize,
        timeout: processor.bodyTimeout,
      })
      unread = false
    } else {
      raw = body
    }

    if (!processor.verifyBytes(raw, signature)) {
      throw new WebhookError(
        'SIGNATURE_INVALID',
        'The x-eCampus-signature header does not match the body under any configured secret.',
      )
    }
    await processor.receiveVerified(raw)
    return OK
  } catch (error) {
    // `unread` is still true when the read itself failed (limit, timeout, abort): those bytes
    // are left unread too. A raw body was read by the framework, so it never closes.
    if (isWebhookError(error)) return errorResponse(error, unread)
    return errorResponse(
      new WebhookError('INTERNAL_ERROR', 'The webhook receiver failed unexpectedly.', {
        cause: error,
      }),
      unread,
    )
  }
}

/** The JSON error response for an error: `{"error":{"code","message"}}`. */
export function errorResponse(
  error: WebhookError,
  closeConnection = false,
  extraHeaders: Record<string, string> = {},
): WebhookResponse {
  const headers: Record<string, string> = { 'content-type': JSON_TYPE, ...extraHeaders }
  if (closeConnection) headers.connection = 'close'
  return {
    status: error.status,
    headers,
    body: JSON.stringify({ error: { code: error.code, message: error.message } }),
  }
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
  koa: 'Mount the webhook middleware before the body parser, or keep a raw copy with bodyParser({ rawBody: true }) from @koa/bodyparser (ctx.request.rawBody).',
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
