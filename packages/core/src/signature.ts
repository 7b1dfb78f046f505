import { createHmac, timingSafeEqual } from 'node:crypto'
import { WebhookError } from './errors.js'
import type { WebhookSecret } from './types.js'

const SIGNATURE_BYTES = 32

/** The name of the header eCampus signs with (Node lowercases header names). */
export const SIGNATURE_HEADER = 'x-ecampus-signature'

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
 * Decodes a signature header value to its 32 bytes, or `undefined` when it is not exactly 64 hex
 * digits (surrounding whitespace ignored). Arrays (a header sent twice) are never accepted.
 */
export function decodeSignature(header: unknown): Buffer | undefined {
  if (typeof header !== 'string') return undefined
  const hex = header.length === 64 ? header : header.trim()
  if (hex.length !== 64) return undefined
  // Buffer.from stops at the first pair that is not hex: fewer than 32 bytes means "not hex".
  const bytes = Buffer.from(hex, 'hex')
  return bytes.length === SIGNATURE_BYTES ? bytes : undefined
}

/** Normalises the `secret` option to a non-empty list, or throws a TypeError that says why. */
export function normalizeSecrets(
  secretOrSecrets: WebhookSecret | readonly WebhookSecret[],
  owner = '@ecampus-webhooks/core',
): readonly WebhookSecret[] {
  const list: readonly unknown[] = Array.isArray(secretOrSecrets)
    ? (secretOrSecrets as readonly unknown[])
    : [secretOrSecrets]
  if (list.length === 0) {
    throw new TypeError(
      `${owner}: the secret list is empty. Pass the webhook secret from your eCampus settings, ` +
        'e.g. { secret: process.env.ECAMPUS_WEBHOOK_SECRET }.',
    )
  }
  for (const secret of list) {
    if (typeof secret !== 'string' && !(secret instanceof Uint8Array)) {
      throw new TypeError(
        `${owner}: the secret must be a string or a Uint8Array, got ${secret === null ? 'null' : typeof secret}. ` +
          'Is ECAMPUS_WEBHOOK_SECRET set?',
      )
    }
    if (secret.length === 0) {
      throw new TypeError(
        `${owner}: the secret is empty, so any sender could sign requests. ` +
          'Pass the webhook secret from your eCampus settings, e.g. process.env.ECAMPUS_WEBHOOK_SECRET.',
      )
    }
  }
  return list as readonly WebhookSecret[]
}

/** Checks decoded signature bytes against every secret in constant time per comparison. */
export function matchesAnySecret(
  payload: string | Uint8Array,
  signature: Buffer,
  secrets: readonly WebhookSecret[],
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

/** True when a header value is absent, empty or only whitespace. */
function isBlank(value: unknown): boolean {
  return value == null || (typeof value === 'string' && value.trim() === '')
}

/**
 * The signature header's 32 bytes, or the WebhookError that answers it: `SIGNATURE_MISSING` when
 * absent or blank, `SIGNATURE_INVALID` when not one value of 64 hex digits. One place for both
 * `handle()` and `verifyAndReceive()`.
 */
export function signatureFromHeader(value: unknown): Buffer {
  if (isBlank(value)) {
    throw new WebhookError('SIGNATURE_MISSING', 'The x-eCampus-signature header is missing.')
  }
  const bytes = decodeSignature(value)
  if (bytes === undefined) {
    throw new WebhookError(
      'SIGNATURE_INVALID',
      'The x-eCampus-signature header must be one value of 64 hex digits.',
    )
  }
  return bytes
}

/** The error for a well-formed signature that matches none of the secrets. */
export function signatureMismatch(): WebhookError {
  return new WebhookError(
    'SIGNATURE_INVALID',
    'The x-eCampus-signature header does not match the body under any configured secret.',
  )
}
