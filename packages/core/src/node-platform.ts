import { isUtf8 } from 'node:buffer'
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { invalidUtf8, parseEnvelope } from './parse-event.js'
import type { Platform } from './platform.js'
import { SIGNATURE_BYTES, decodeSignature, normalizeSecrets } from './signature.js'
import type { AnyWebhookEvent, WebhookSecret } from './types.js'

/**
 * Signs a payload the way eCampus does: lowercase hex HMAC-SHA256 of the exact bytes.
 *
 * @example
 * const signature = sign(JSON.stringify(event), process.env.ECAMPUS_WEBHOOK_SECRET!)
 */
export function sign(payload: string | Uint8Array, secret: WebhookSecret): string {
  return createHmac('sha256', secret).update(payload).digest('hex')
}

/**
 * Checks decoded signature bytes against every secret, each comparison in constant time
 * (`timingSafeEqual`). node:crypto is the Node entry's choice because it is synchronous and, for
 * the bodies eCampus sends, faster than Web Crypto (packages/bench/src/crypto-compare.ts).
 */
export function matchesAnySecret(
  payload: string | Uint8Array,
  signature: Uint8Array,
  secrets: readonly (WebhookSecret | KeyObject)[],
): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false
  let matched = false
  // No early exit: the time taken does not depend on which secret matched.
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(payload).digest()
    if (timingSafeEqual(expected, signature)) matched = true
  }
  return matched
}

/**
 * Verifies a signature header value against the raw body. Never throws on bad input: a missing,
 * empty, duplicated (array), wrong-length or non-hex value is simply `false`. An empty secret is a
 * setup mistake and throws a TypeError.
 *
 * @example
 * verifySignature(rawBody, req.headers['x-ecampus-signature'], secret) // true or false
 */
export function verifySignature(
  payload: string | Uint8Array,
  signature: unknown,
  secretOrSecrets: WebhookSecret | readonly WebhookSecret[],
): boolean {
  // Secrets first: an empty secret is a setup mistake whatever the header holds.
  const secrets = normalizeSecrets(secretOrSecrets)
  const bytes = decodeSignature(signature)
  return bytes !== undefined && matchesAnySecret(payload, bytes, secrets)
}

/**
 * Parses a verified body into an event envelope `{ id, type, payload }`. Call it only after the
 * signature holds. Invalid UTF-8 is `INVALID_JSON` (decoding would replace it silently and hand
 * handlers altered text); `__proto__` keys and `constructor.prototype` pairs are removed.
 *
 * @example
 * const event = parseEvent(rawBody) // after verifySignature(rawBody, header, secret)
 */
export function parseEvent(rawBody: Uint8Array | string): AnyWebhookEvent {
  if (typeof rawBody === 'string') return parseEnvelope(rawBody)
  if (!isUtf8(rawBody)) throw invalidUtf8()
  const bytes = Buffer.isBuffer(rawBody)
    ? rawBody
    : Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength)
  return parseEnvelope(bytes.toString('utf8'))
}

/** The Node entry's platform: node:crypto and node:buffer, both synchronous. */
export const nodePlatform: Platform = {
  verifier: (secrets) => {
    // Each secret becomes a KeyObject once per instance: createHmac then skips converting and
    // copying the key on every request (about 12 % fewer instructions per HMAC at 1 KiB).
    const keys = secrets.map((secret) =>
      createSecretKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret),
    )
    return (payload, signature) => matchesAnySecret(payload, signature, keys)
  },
  parse: parseEvent,
}
