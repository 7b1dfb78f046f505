import { invalidUtf8, parseEnvelope } from './parse-event.js'
import type { Platform, Verifier } from './platform.js'
import { decodeSignature, normalizeSecrets } from './signature.js'
import type { AnyWebhookEvent, WebhookSecret } from './types.js'

const encoder = new TextEncoder()
// fatal: invalid UTF-8 throws instead of becoming U+FFFD, like isUtf8 in the Node entry.
const decoder = new TextDecoder('utf-8', { fatal: true })
const HMAC = { name: 'HMAC', hash: 'SHA-256' } as const
// Named from the global rather than the DOM lib, which a Node project does not load.
type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>

function bytesOf(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value
}

/** A non-extractable HMAC-SHA256 key; string secrets are UTF-8, as node:crypto reads them. */
function importKey(secret: WebhookSecret): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', bytesOf(secret), HMAC, false, ['sign', 'verify'])
}

function toHex(digest: ArrayBuffer): string {
  let hex = ''
  for (const byte of new Uint8Array(digest)) hex += byte.toString(16).padStart(2, '0')
  return hex
}

/**
 * Checks decoded signature bytes against every secret with `crypto.subtle.verify`, which compares
 * in constant time. Keys are imported once per verifier (per instance), on first use.
 */
function webVerifier(secrets: readonly WebhookSecret[]): Verifier {
  let keys: Promise<CryptoKey[]> | undefined
  return async (payload, signature) => {
    keys ??= Promise.all(secrets.map(importKey))
    let imported: CryptoKey[]
    try {
      imported = await keys
    } catch (error) {
      // Not cached: the next request tries again.
      keys = undefined
      throw error
    }
    const data = bytesOf(payload)
    // Every secret is checked (no early exit), like the Node entry.
    const results = await Promise.all(
      imported.map((key) => crypto.subtle.verify('HMAC', key, signature, data)),
    )
    return results.includes(true)
  }
}

/**
 * Signs a payload the way eCampus does (lowercase hex HMAC-SHA256 of the exact bytes), with Web
 * Crypto: asynchronous, and available on every edge runtime.
 *
 * @example
 * const signature = await sign(body, env.ECAMPUS_WEBHOOK_SECRET)
 */
export async function sign(payload: string | Uint8Array, secret: WebhookSecret): Promise<string> {
  const key = await importKey(normalizeSecrets(secret)[0]!)
  return toHex(await crypto.subtle.sign('HMAC', key, bytesOf(payload)))
}

/**
 * Verifies a signature header value against the raw body with Web Crypto. Resolves `false` for a
 * missing, empty, wrong-length or non-hex value; an empty secret is a setup mistake and throws a
 * TypeError.
 *
 * @example
 * const ok = await verifySignature(body, request.headers.get('x-ecampus-signature'), secret)
 */
export async function verifySignature(
  payload: string | Uint8Array,
  signature: unknown,
  secretOrSecrets: WebhookSecret | readonly WebhookSecret[],
): Promise<boolean> {
  const secrets = normalizeSecrets(secretOrSecrets)
  const bytes = decodeSignature(signature)
  return bytes !== undefined && webVerifier(secrets)(payload, bytes)
}

/**
 * Parses a verified body into an event envelope `{ id, type, payload }`, decoding with a fatal
 * `TextDecoder` (invalid UTF-8 is `INVALID_JSON`). Call it only after the signature holds.
 *
 * @example
 * const event = parseEvent(new Uint8Array(await request.arrayBuffer()))
 */
export function parseEvent(rawBody: Uint8Array | string): AnyWebhookEvent {
  if (typeof rawBody === 'string') return parseEnvelope(rawBody)
  let text: string
  try {
    text = decoder.decode(rawBody)
  } catch (error) {
    throw invalidUtf8(error)
  }
  return parseEnvelope(text)
}

/** The web entry's platform: Web Crypto and TextDecoder, no node: module. */
export const webPlatform: Platform = { verifier: webVerifier, parse: parseEvent }
