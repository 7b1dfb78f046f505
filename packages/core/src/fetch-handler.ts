import type { WebhooksBase } from './webhooks.js'

/** A Web-standard request handler, as Next.js route handlers, Hono, Bun, Deno and Workers take. */
export type FetchHandler = (request: Request) => Promise<Response>

/**
 * Turns a `Webhooks` instance (from either entry) into a Web-standard handler,
 * `(request: Request) => Promise<Response>`, with the HTTP behaviour of every adapter: the same
 * statuses, error bodies, limits, idempotency and hooks. It answers every request it gets (a
 * method other than POST is 405), so mount it on the webhook route; it never rejects.
 *
 * @example
 * // app/api/ecampus/route.ts (Next.js)
 * import { Webhooks, toFetchHandler } from '@ecampus-webhooks/core/web'
 * const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * webhooks.on('message.created', async (event) => { ... })
 * export const POST = toFetchHandler(webhooks)
 */
export function toFetchHandler(webhooks: WebhooksBase): FetchHandler {
  // Duck-typed: an instance from the other entry (or another copy of the package) is welcome.
  if (typeof (webhooks as Partial<WebhooksBase> | null)?.handleFetch !== 'function') {
    throw new TypeError(
      '@ecampus-webhooks/core/web: toFetchHandler() needs a Webhooks instance, e.g. ' +
        'toFetchHandler(new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET })).',
    )
  }
  return (request) => webhooks.handleFetch(request)
}
