import type { ByteBudget } from './byte-budget.js'
import { WebhookError, isWebhookError } from './errors.js'
import type { DeliveryResult } from './pipeline.js'
import type { Verifier } from './platform.js'
import { tooLarge, type ReadBodyOptions, type ReadRawBodyOptions } from './raw-body.js'
import { signatureFromHeader, signatureMismatch } from './signature.js'
import type { AnyWebhookEvent, Framework, RejectionInfo, WebhookResponse } from './types.js'

/** What `handleWebhook` needs from a `Webhooks` instance. */
export interface WebhookContext {
  readonly maxBodySize: number
  readonly bodyTimeout: number
  /** `respond: 'on-verify'`: answer 202 once the event is claimed, run handlers afterwards. */
  readonly background: boolean
  /** `maxBufferedBytes`: what all body reads of the instance may buffer at once. */
  readonly budget: ByteBudget
  /** Verifies decoded signature bytes against the raw body (Web Crypto answers with a promise). */
  readonly verify: Verifier
  /** Decodes verified bytes and parses the envelope. */
  parse(rawBody: Uint8Array | string): AnyWebhookEvent
  /** Claims and runs a verified event; rejects with the WebhookError to answer. */
  deliver(event: AnyWebhookEvent, background: boolean): Promise<DeliveryResult>
  /** Tells the `onRejected` hooks. */
  reportRejected(error: WebhookError, info: RejectionInfo): void
}

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * The headers of every JSON answer. `Content-Length` lets a server that writes them with
 * `writeHead()` send one plain body instead of chunked encoding (fewer writes per response), and
 * tells the sender where the answer ends.
 */
function jsonHeaders(body: string): Record<string, string> {
  return { 'content-type': JSON_TYPE, 'content-length': String(utf8Length(body)) }
}

function success(status: number, body: string): WebhookResponse {
  return Object.freeze({ status, headers: Object.freeze(jsonHeaders(body)), body })
}

/** The UTF-8 byte length of a string, without Buffer (the web entry shares this file). */
function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i)
    if (code < 0x80) continue
    if (code < 0x800) {
      bytes += 1
    } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      // A surrogate pair: 2 UTF-16 units, 4 bytes. A lone surrogate is written as U+FFFD (3).
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2
        i += 1
      } else {
        bytes += 2
      }
    } else {
      bytes += 2
    }
  }
  return bytes
}

const OK = success(200, '{"ok":true}')
const DUPLICATE = success(200, '{"ok":true,"duplicate":true}')
const ACCEPTED = success(202, '{"ok":true,"accepted":true}')

/** The headers the decisions need, as a runtime's header reader found them. */
export interface FoundHeaders {
  contentEncoding?: HeaderValue
  contentLength?: HeaderValue
  transferEncoding?: HeaderValue
  signature?: HeaderValue
}

/** One header value, or several when it was sent more than once. */
export type HeaderValue = string | readonly string[]

/**
 * What a runtime supplies to the shared request pipeline (the octokit/webhooks.js shape): how to
 * read its headers and its body stream. Node supplies `IncomingMessage`-like streams and header
 * maps (node-request.ts), the fetch handler Web `Headers` and `ReadableStream`s
 * (fetch-request.ts). Every decision stays in `handleWebhook`.
 */
export interface RequestIo<H, S> {
  /** Finds the four headers, names matched case-insensitively; a repeated header as a list. */
  readHeaders(headers: H): FoundHeaders
  /** True when something already read the stream, so its bytes are gone. */
  isConsumed(stream: S): boolean
  /** Reads the whole body under the limit, timeout and buffer budget. */
  read(stream: S, options: ReadBodyOptions): Promise<Uint8Array>
  /** After an early answer: reads and drops the rest (bounded) so the client gets the answer. */
  discard(stream: S, options: ReadRawBodyOptions): void
  /** The UTF-8 length of a raw body a body parser kept as text. */
  byteLength(text: string): number
}

/** A request as the pipeline takes it: `WebhookRequest` over any runtime's header and body types. */
export interface PipelineRequest<H, S> {
  method: string
  headers: H
  /** A stream to read, the raw bytes a body parser kept, or `undefined` (consumed, no copy). */
  body: S | Uint8Array | string | undefined
  framework?: Framework | undefined
}

/**
 * Where the request body stands when an answer is decided:
 * `none` (no body, or the framework already read it), `unread`, `partial` (reading stopped).
 */
type BodyState = 'none' | 'unread' | 'partial'

/**
 * The request pipeline: every HTTP decision of DESIGN.md in one place, for every runtime. Checks
 * run cheapest first — method, encoding, declared size, signature header syntax — so most bad
 * requests are answered before a byte of body is read; then the body is read under the limit and
 * the instance's buffer budget, verified, and only then parsed and delivered (idempotency,
 * handlers). It never throws: every outcome is a response.
 */
export async function handleWebhook<H, S>(
  context: WebhookContext,
  io: RequestIo<H, S>,
  request: PipelineRequest<H, S>,
): Promise<WebhookResponse> {
  const { body, headers } = request
  // Either a stream to read, or the raw bytes a body parser kept (undefined: consumed, no copy).
  const given = isBytes(body) ? body : undefined
  const stream = isBytes(body) || body == null ? undefined : (body as S)
  let state: BodyState = 'none'
  let event: AnyWebhookEvent | undefined
  try {
    const found = io.readHeaders(headers)
    // Only a stream's headers describe a body still to come (RFC 9112 section 6.3).
    if (
      stream !== undefined &&
      (found.transferEncoding !== undefined ||
        (found.contentLength !== undefined && found.contentLength !== '0'))
    ) {
      state = 'unread'
    }
    if (request.method !== 'POST') {
      throw new WebhookError(
        'METHOD_NOT_ALLOWED',
        `Use POST to deliver webhooks, not ${methodName(request.method)}.`,
      )
    }

    const encoding = found.contentEncoding
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
        ? declaredLength(found.contentLength)
        : typeof given === 'string'
          ? io.byteLength(given)
          : given.byteLength
    if (size > context.maxBodySize) throw tooLarge(context.maxBodySize)

    const signature = signatureFromHeader(found.signature)

    let raw: Uint8Array | string
    if (given !== undefined) {
      raw = given
    } else if (stream === undefined) {
      throw alreadyParsed(request.framework)
    } else {
      if (io.isConsumed(stream)) {
        state = 'none'
        throw alreadyParsed(request.framework)
      }
      state = 'partial'
      raw = await io.read(stream, {
        limit: context.maxBodySize,
        timeout: context.bodyTimeout,
        budget: context.budget,
        // What this body can buffer at most: its declared length (Node's parser holds a client
        // to it), or the limit for a chunked body.
        reserve:
          found.transferEncoding === undefined && Number.isFinite(size) && size >= 0
            ? size
            : context.maxBodySize,
      })
      state = 'none'
    }

    const verified = context.verify(raw, signature)
    // A synchronous verifier (node:crypto) answers without an async hop; Web Crypto is awaited.
    if (verified !== true && (verified === false || !(await verified))) throw signatureMismatch()
    event = context.parse(raw)
    const result = await context.deliver(event, context.background)
    if (result === 'handled') return OK
    if (result === 'duplicate') return DUPLICATE
    if (result === 'accepted') return ACCEPTED
    // EVENT_REJECTED: a permanent failure, answered 2xx so the sender stops retrying.
    return errorResponse(result)
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
        io.discard(stream, { limit: context.maxBodySize, timeout: context.bodyTimeout })
      }
    }
    // Handler failures went to onError; everything else was refused before any handler ran.
    if (error.code !== 'HANDLER_FAILED' && error.code !== 'HANDLER_TIMEOUT') {
      context.reportRejected(error, rejectionInfo(error, request, event))
    }
    return errorResponse(error, close)
  }
}

/**
 * The JSON response for an error: `{"error":{"code","message"}}` (with `"ok":false` first when the
 * status is a 2xx, `EVENT_REJECTED`), `Retry-After` when the error says when to retry, and the
 * error itself.
 */
export function errorResponse(error: WebhookError, closeConnection = false): WebhookResponse {
  const problem = { code: error.code, message: error.message }
  const body = JSON.stringify(
    error.status < 300 ? { ok: false, error: problem } : { error: problem },
  )
  const headers = jsonHeaders(body)
  if (error.code === 'METHOD_NOT_ALLOWED') headers.allow = 'POST'
  if (error.retryAfter !== undefined) headers['retry-after'] = String(error.retryAfter)
  if (closeConnection) headers.connection = 'close'
  return { status: error.status, headers, body, error }
}

function rejectionInfo(
  error: WebhookError,
  request: { method: unknown },
  event: AnyWebhookEvent | undefined,
): RejectionInfo {
  const info: RejectionInfo = {
    status: error.status,
    code: error.code,
    method: methodName(request.method),
  }
  if (event !== undefined) {
    info.eventId = event.id
    info.eventType = event.type
  }
  return info
}

/** The method as text for messages; a JavaScript caller may pass anything, even a bad object. */
function methodName(method: unknown): string {
  return typeof method === 'string' ? method : typeof method
}

function isBytes(body: unknown): body is Uint8Array | string {
  return typeof body === 'string' || body instanceof Uint8Array
}

/** A declared Content-Length as a number; NaN unless it is digits (no `1e9`, no `0x10`). */
function declaredLength(value: HeaderValue | undefined): number {
  return typeof value === 'string' && /^\s*[0-9]+\s*$/.test(value) ? Number(value) : Number.NaN
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
  fetch:
    'Pass the Request before anything reads its body (request.json(), request.text(), or c.req.json() in Hono), or pass request.clone().',
}

function alreadyParsed(framework: Framework = 'node'): WebhookError {
  return new WebhookError(
    'BODY_ALREADY_PARSED',
    `The request body was already read by a body parser and no raw copy is available, so the signature cannot be checked. ${PARSER_ADVICE[framework]}`,
  )
}
