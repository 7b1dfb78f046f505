import type { AnyWebhookEvent, WebhookSecret } from './types.js'

/** Checks 32 decoded signature bytes against a raw body under any of an instance's secrets. */
export type Verifier = (
  payload: Uint8Array | string,
  signature: Uint8Array,
) => boolean | Promise<boolean>

/**
 * What differs between the Node and the web entry of a `Webhooks` instance: how HMAC-SHA256 is
 * checked and how verified bytes become text. Everything else (checks, limits, order, statuses,
 * delivery) is shared. The Node platform answers synchronously, so the Node path takes no extra
 * async hop; Web Crypto can only answer with a promise.
 */
export interface Platform {
  /** A verifier bound to the instance's secrets (it may prepare keys once, lazily). */
  verifier(secrets: readonly WebhookSecret[]): Verifier
  /** Decodes verified bytes as UTF-8 (`INVALID_JSON` when invalid) and parses the envelope. */
  readonly parse: (payload: Uint8Array | string) => AnyWebhookEvent
}
