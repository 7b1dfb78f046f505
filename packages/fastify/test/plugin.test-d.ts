// Written as a consumer would: through the package's own name, so these types come from the shipped
// dist/index.d.ts (including its `declare module 'fastify'` augmentation), not from src/.
import type { Message } from '@ecampus-webhooks/core'
import defaultPlugin, {
  ecampusWebhooks,
  Webhooks,
  type EcampusWebhooksOptions,
  type WebhookEvent,
} from '@ecampus-webhooks/fastify'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'

const app = Fastify()

describe('@ecampus-webhooks/fastify types', () => {
  it('is a Fastify plugin taking secret options or an instance', () => {
    expectTypeOf(ecampusWebhooks).toEqualTypeOf<FastifyPluginAsync<EcampusWebhooksOptions>>()
    expectTypeOf(defaultPlugin).toEqualTypeOf(ecampusWebhooks)

    void app.register(ecampusWebhooks, { secret: 's' })
    void app.register(ecampusWebhooks, {
      secret: ['old', new Uint8Array([1, 2])],
      path: '/hooks',
      maxBodySize: 65_536,
      bodyTimeout: 10_000,
      prefix: '/ecampus',
      logLevel: 'warn',
    })
    void app.register(ecampusWebhooks, { webhooks: new Webhooks({ secret: 's' }) })
    // @ts-expect-error -- a secret (or an instance) is required
    void app.register(ecampusWebhooks, {})
    // @ts-expect-error -- the two forms do not mix
    void app.register(ecampusWebhooks, { webhooks: new Webhooks({ secret: 's' }), secret: 's' })
    // @ts-expect-error -- maxBodySize is a number of bytes
    void app.register(ecampusWebhooks, { secret: 's', maxBodySize: '1mb' })
  })

  it('types the decorator on every FastifyInstance, with narrowed payloads and no casts', () => {
    expectTypeOf(app.ecampusWebhooks).toEqualTypeOf<Webhooks>()
    app.ecampusWebhooks.on('message.created', (e) => {
      expectTypeOf(e).toEqualTypeOf<WebhookEvent<'message.created'>>()
      expectTypeOf(e.payload).toEqualTypeOf<Message>()
      expectTypeOf(e.payload.contact.username).toEqualTypeOf<string>()
      return e.payload.contact.username
    })
    app.ecampusWebhooks.on('*.deleted', (e) => {
      expectTypeOf(e.type).toEqualTypeOf<
        | 'contact.deleted'
        | 'conversation.deleted'
        | 'message.deleted'
        | 'group.deleted'
        | 'attachment.deleted'
      >()
    })
    // @ts-expect-error -- a misspelt event type is caught
    app.ecampusWebhooks.on('message.create', () => {})

    // Inside an encapsulated plugin too: the augmentation is on the interface, not one instance.
    const routes = (instance: FastifyInstance, _options: unknown, done: () => void): void => {
      instance.ecampusWebhooks.onAny((event) => {
        expectTypeOf(event.id).toEqualTypeOf<string>()
      })
      done()
    }
    void app.register(routes)
  })
})
