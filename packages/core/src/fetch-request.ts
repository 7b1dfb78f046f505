import type { FoundHeaders, RequestIo } from './handle-webhook.js'
import { SIGNATURE_HEADER } from './signature.js'
import type { WebhookResponse } from './types.js'
import { discardWebBody, readWebBody } from './web-body.js'

const encoder = new TextEncoder()

/**
 * The four headers from Web `Headers`. `get()` is case-insensitive and joins a header sent twice
 * with ", ", so a doubled signature is not one value of 64 hex digits (401), as in Node.
 */
function readHeaders(headers: Headers): FoundHeaders {
  const found: FoundHeaders = {}
  const contentEncoding = headers.get('content-encoding')
  if (contentEncoding !== null) found.contentEncoding = contentEncoding
  const contentLength = headers.get('content-length')
  if (contentLength !== null) found.contentLength = contentLength
  const transferEncoding = headers.get('transfer-encoding')
  if (transferEncoding !== null) found.transferEncoding = transferEncoding
  const signature = headers.get(SIGNATURE_HEADER)
  if (signature !== null) found.signature = signature
  return found
}

/**
 * A fetch request's body as the pipeline reads it: the stream, and the request's `signal`, which
 * is how a fetch runtime says the client went away (Hono on Node, Deno, Bun abort it; the stream
 * may also error, or may just stop).
 */
export interface FetchBody {
  readonly stream: ReadableStream<Uint8Array>
  readonly signal: AbortSignal | undefined
}

/** What the fetch handler reads: Web `Headers`, and a `ReadableStream` body with its signal. */
export const fetchRequestIo: RequestIo<Headers, FetchBody> = {
  readHeaders,
  // A consumed body (request.json() ran) is a locked, disturbed stream.
  isConsumed: (body) => body.stream.locked,
  read: (body, options) => readWebBody(body.stream, options, body.signal),
  discard: (body, options) => discardWebBody(body.stream, options, body.signal),
  byteLength: (text) => encoder.encode(text).byteLength,
}

/** A request without a body (`request.body === null`) is an empty body, not a consumed one. */
const EMPTY_BODY = new Uint8Array(0)

/** The body of a fetch `Request` for the pipeline: read once, with the signal it reports aborts on. */
export function fetchBody(request: Request): FetchBody | Uint8Array {
  const stream = request.body
  return stream === null ? EMPTY_BODY : { stream, signal: request.signal }
}

/** The pipeline's answer as a Web `Response`. */
export function toResponse(response: WebhookResponse): Response {
  return new Response(response.body, { status: response.status, headers: response.headers })
}
