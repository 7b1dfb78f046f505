import { ecampusWebhooks } from './plugin.js'

export { ecampusWebhooks }
export default ecampusWebhooks
export type { EcampusWebhooksOptions } from './plugin.js'
// `Webhooks` for the `{ webhooks: instance }` form, so one install is enough.
export { Webhooks, WebhookError, isWebhookError } from '@ecampus-webhooks/core'
export type {
  AnyWebhookEvent,
  EventName,
  EventType,
  WebhookEvent,
  WebhooksOptions,
} from '@ecampus-webhooks/core'
