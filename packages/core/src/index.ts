export { Webhooks, createWebhooks } from './node-webhooks.js'
export { WebhooksBase } from './webhooks.js'
export { toWebhooks, withRouting, isWebhooks } from './adapter.js'
export { sign, verifySignature, parseEvent } from './node-platform.js'
export { SIGNATURE_HEADER } from './signature.js'
export { WebhookError, isWebhookError, PermanentWebhookError, ERROR_STATUS } from './errors.js'
export { MemoryIdempotencyStore } from './idempotency.js'
export { EVENT_TYPES } from './router.js'
export { readRawBody } from './raw-body.js'
export type { WebhookErrorCode, WebhookErrorOptions } from './errors.js'
export type { ErrorHandler, RejectionHandler } from './router.js'
export type { ClaimResult, IdempotencyStore, MemoryIdempotencyStoreOptions } from './idempotency.js'
export type { WebhooksInput, WebhooksRouting } from './adapter.js'
export type { ReadRawBodyOptions } from './raw-body.js'
export type {
  AnyEventHandler,
  AnyWebhookEvent,
  Attachment,
  BodyStream,
  Contact,
  Conversation,
  ErrorDecision,
  ErrorInfo,
  EventAction,
  EventHandler,
  EventName,
  EventPattern,
  EventPayloadMap,
  EventType,
  EventTypesOf,
  Framework,
  Group,
  HeaderMap,
  IdempotencyOptions,
  Message,
  ReceiveOptions,
  RejectionInfo,
  ResourceName,
  RespondMode,
  UnixSeconds,
  UnknownWebhookEvent,
  WebhookEvent,
  WebhookRequest,
  WebhookResponse,
  WebhookSecret,
  WebhooksOptions,
} from './types.js'
