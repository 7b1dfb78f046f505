export { Webhooks, createWebhooks } from './webhooks.js'
export { toWebhooks, withRouting, isWebhooks } from './adapter.js'
export { sign, verifySignature, SIGNATURE_HEADER } from './signature.js'
export { WebhookError, isWebhookError, ERROR_STATUS } from './errors.js'
export { EVENT_TYPES } from './router.js'
export { parseEvent } from './parse-event.js'
export { readRawBody } from './raw-body.js'
export type { WebhookErrorCode, WebhookErrorOptions } from './errors.js'
export type { ErrorHandler } from './router.js'
export type { WebhooksInput, WebhooksRouting } from './adapter.js'
export type { ReadRawBodyOptions } from './raw-body.js'
export type {
  AnyEventHandler,
  AnyWebhookEvent,
  Attachment,
  BodyStream,
  Contact,
  Conversation,
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
  Message,
  ResourceName,
  UnixSeconds,
  UnknownWebhookEvent,
  WebhookEvent,
  WebhookRequest,
  WebhookResponse,
  WebhookSecret,
  WebhooksOptions,
} from './types.js'
