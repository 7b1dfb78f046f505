export { ecampusWebhooks, rawBodySaver } from './middleware.js'
export type {
  EcampusWebhooksInput,
  EcampusWebhooksMiddleware,
  RawBodyRequest,
} from './middleware.js'
export type {
  AnyWebhookEvent,
  EventName,
  EventType,
  WebhookEvent,
  WebhooksOptions,
} from '@ecampus-webhooks/core'
