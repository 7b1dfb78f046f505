export { ecampusWebhooks } from './middleware.js'
export type { EcampusWebhooksInput, EcampusWebhooksMiddleware } from './middleware.js'
export type {
  AnyWebhookEvent,
  EventName,
  EventType,
  WebhookEvent,
  WebhooksOptions,
} from '@ecampus-webhooks/core'
