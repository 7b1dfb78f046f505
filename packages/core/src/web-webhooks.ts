import type { WebhooksOptions } from './types.js'
import { webPlatform } from './web-platform.js'
import { WebhooksBase } from './webhooks.js'

/**
 * Verifies, parses and routes eCampus webhooks with Web Crypto and no node: module, for edge
 * runtimes (Next.js, Hono, Bun, Deno, Cloudflare Workers). The same API as the Node entry's
 * `Webhooks`, except that `verify()` resolves a promise.
 *
 * @example
 * const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * webhooks.on('message.created', (event) => console.log(event.payload.message))
 * export const POST = toFetchHandler(webhooks)
 */
export class Webhooks extends WebhooksBase {
  constructor(options: WebhooksOptions) {
    super(options, webPlatform)
  }

  /** Resolves true when the signature header value is valid for the raw body under any secret. */
  override verify(rawBody: Uint8Array | string, signature: unknown): Promise<boolean> {
    return Promise.resolve(super.verify(rawBody, signature))
  }
}

/** Same as `new Webhooks(options)`. */
export function createWebhooks(options: WebhooksOptions): Webhooks {
  return new Webhooks(options)
}
