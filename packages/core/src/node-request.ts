import type { FoundHeaders, HeaderValue, RequestIo } from './handle-webhook.js'
import { discardBody, isConsumed, readBody } from './raw-body.js'
import { SIGNATURE_HEADER } from './signature.js'
import type { BodyStream, HeaderMap } from './types.js'

const HEADER_NAMES = {
  contentEncoding: 'content-encoding',
  contentLength: 'content-length',
  transferEncoding: 'transfer-encoding',
  signature: SIGNATURE_HEADER,
} as const

/**
 * The headers the decisions need, in one pass over a Node header map, with names matched
 * case-insensitively. A name present under two casings (a hand-built map) counts as sent twice,
 * so a second signature can never hide behind the first.
 */
function readHeaders(headers: HeaderMap): FoundHeaders {
  const found: FoundHeaders = {}
  for (const key in headers) {
    let name: keyof FoundHeaders
    // The length first: most headers are rejected without lower-casing their name.
    switch (key.length) {
      case 16:
        name = 'contentEncoding'
        break
      case 14:
        name = 'contentLength'
        break
      case 17:
        name = 'transferEncoding'
        break
      case 19:
        name = 'signature'
        break
      default:
        continue
    }
    if (key.toLowerCase() !== HEADER_NAMES[name]) continue
    const raw = headers[key]
    if (raw === undefined) continue
    const value: HeaderValue =
      typeof raw === 'number'
        ? String(raw)
        : Array.isArray(raw) && raw.length === 1
          ? (raw[0] as string)
          : (raw as HeaderValue)
    const before = found[name]
    found[name] = before === undefined ? value : [before, value].flat()
  }
  return found
}

/** What `handle()` reads: Node header maps and `IncomingMessage`-like streams. */
export const nodeRequestIo: RequestIo<HeaderMap, BodyStream> = {
  readHeaders,
  isConsumed,
  read: readBody,
  discard: discardBody,
  byteLength: (text) => Buffer.byteLength(text),
}
