/**
 * `@ecampus-webhooks/core/web`: the receiver for Web-standard runtimes (Next.js route handlers,
 * Hono, Bun, Deno, Cloudflare Workers). No node: module: HMAC-SHA256 with Web Crypto
 * (`crypto.subtle.verify`, constant-time), UTF-8 with a fatal `TextDecoder`.
 *
 * @example
 * import { Webhooks, toFetchHandler } from '@ecampus-webhooks/core/web'
 *
 * const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * webhooks.on('message.created', async (event) => {
 *   console.log(event.payload.contact.username, event.payload.message)
 * })
 * export const POST = toFetchHandler(webhooks)
 *
 * @packageDocumentation
 */
export { Webhooks, createWebhooks } from './web-webhooks.js'
export { WebhooksBase } from './webhooks.js'
export { toFetchHandler } from './fetch-handler.js'
export { sign, verifySignature, parseEvent } from './web-platform.js'
export { SIGNATURE_HEADER } from './signature.js'
export { WebhookError, isWebhookError, PermanentWebhookError, ERROR_STATUS } from './errors.js'
export { MemoryIdempotencyStore } from './idempotency.js'
export { EVENT_TYPES } from './router.js'
export type { FetchHandler } from './fetch-handler.js'
export type { WebhookErrorCode, WebhookErrorOptions } from './errors.js'
export type { ErrorHandler, RejectionHandler } from './router.js'
export type { ClaimResult, IdempotencyStore, MemoryIdempotencyStoreOptions } from './idempotency.js'
export type {
  AnyEventHandler,
  AnyWebhookEvent,
  Attachment,
  Contact,
  Conversation,
  ErrorDecision,
  ErrorInfo,
  EventAction,
  EventName,
  EventPattern,
  EventPayloadMap,
  EventType,
  EventTypesOf,
  Group,
  IdempotencyOptions,
  Message,
  RejectionInfo,
  ResourceName,
  RespondMode,
  UnixSeconds,
  UnknownWebhookEvent,
  WebhookEvent,
  WebhookResponse,
  WebhookSecret,
  WebhooksOptions,
} from './types.js'
