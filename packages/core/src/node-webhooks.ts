import { nodePlatform } from './node-platform.js'
import type { WebhooksOptions } from './types.js'
import { WebhooksBase } from './webhooks.js'

/**
 * Verifies, parses and routes eCampus webhooks, with node:crypto. Framework adapters wrap one
 * instance; it can also be used on its own with `handle()`, `verifyAndReceive()`, or in a fetch
 * handler with `toFetchHandler()` from `@ecampus-webhooks/core/web`.
 *
 * @example
 * const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * webhooks.on('message.created', (event) => console.log(event.payload.contact.username))
 * const response = await webhooks.handle({ method: req.method, headers: req.headers, body: req })
 */
export class Webhooks extends WebhooksBase {
  constructor(options: WebhooksOptions) {
    super(options, nodePlatform)
  }

  /** True when the signature header value is valid for the raw body under any secret. */
  override verify(rawBody: Uint8Array | string, signature: unknown): boolean {
    // The Node platform verifies synchronously.
    return super.verify(rawBody, signature) as boolean
  }
}

/** Same as `new Webhooks(options)`. */
export function createWebhooks(options: WebhooksOptions): Webhooks {
  return new Webhooks(options)
}
