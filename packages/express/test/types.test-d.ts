import type { IncomingMessage, ServerResponse } from 'node:http'
import express from 'express'
import type { RequestHandler } from 'express'
import { describe, expectTypeOf, it } from 'vitest'
import { Webhooks } from '@ecampus-webhooks/core'
import type { Contact, Message, WebhookError, WebhookEvent } from '@ecampus-webhooks/core'
import { ecampusWebhooks, rawBodySaver } from '../src/index.js'
import type { EcampusWebhooksMiddleware, RawBodyRequest } from '../src/index.js'

const webhooks = ecampusWebhooks('secret')

describe('with @types/express 5', () => {
  it('is accepted by app.use, app.post, app.all and Router methods', () => {
    const app = express()
    const router = express.Router()
    app.use(webhooks)
    app.use('/ecampus', webhooks)
    app.post('/hooks/ecampus', webhooks)
    app.post('/hooks/ecampus', express.json({ verify: rawBodySaver }), webhooks)
    app.all('/hooks', webhooks)
    router.post('/ecampus', webhooks)
    router.use(webhooks)
    app.use('/api', router)
    expectTypeOf(webhooks).toExtend<RequestHandler>()
  })

  it('offers rawBodySaver as a body-parser verify hook', () => {
    express.json({ verify: rawBodySaver })
    express.raw({ verify: rawBodySaver })
    express.text({ verify: rawBodySaver })
    express.urlencoded({ verify: rawBodySaver, extended: false })
    expectTypeOf<RawBodyRequest['rawBody']>().toEqualTypeOf<
      Buffer | Uint8Array | string | undefined
    >()
  })
})

describe('the middleware object', () => {
  it('narrows payloads by event name and pattern', () => {
    webhooks.on('message.created', (event) => {
      expectTypeOf(event.payload.contact.username).toEqualTypeOf<string>()
      expectTypeOf(event).toEqualTypeOf<WebhookEvent<'message.created'>>()
    })
    webhooks.on('contact.*', (event) => {
      expectTypeOf(event.payload).toEqualTypeOf<Contact>()
    })
    webhooks.on(['message.updated', 'message.deleted'], (event) => {
      expectTypeOf(event.payload).toEqualTypeOf<Message>()
    })
    // @ts-expect-error a misspelt event type
    webhooks.on('message.create', () => undefined)
    // @ts-expect-error the payload of a message has no username
    webhooks.on('message.created', (event) => event.payload.username.toUpperCase())
  })

  it('chains and exposes the core instance', () => {
    expectTypeOf(
      webhooks.on('group.created', () => undefined),
    ).toEqualTypeOf<EcampusWebhooksMiddleware>()
    expectTypeOf(webhooks.onAny(() => undefined)).toEqualTypeOf<EcampusWebhooksMiddleware>()
    expectTypeOf(webhooks.onError(() => undefined)).toEqualTypeOf<EcampusWebhooksMiddleware>()
    webhooks.onError((error) => {
      expectTypeOf(error).toEqualTypeOf<WebhookError>()
    })
    expectTypeOf(webhooks.off('*', () => undefined)).toEqualTypeOf<EcampusWebhooksMiddleware>()
    expectTypeOf(webhooks.webhooks).toEqualTypeOf<Webhooks>()
  })

  it('takes a secret, secrets, options or an instance', () => {
    ecampusWebhooks(new Uint8Array([1, 2, 3]))
    ecampusWebhooks(['old', 'new'])
    ecampusWebhooks({ secret: 'secret', path: '/', maxBodySize: 65_536 })
    ecampusWebhooks(new Webhooks({ secret: 'secret' }))
    // As DESIGN.md writes it: an unset variable type-checks and throws a TypeError at startup.
    expectTypeOf(ecampusWebhooks).toBeCallableWith(process.env.ECAMPUS_WEBHOOK_SECRET)
    // @ts-expect-error unknown option
    ecampusWebhooks({ secret: 'secret', pathname: '/' })
  })

  it('fits a plain node:http server', () => {
    expectTypeOf(webhooks).toBeCallableWith(
      {} as IncomingMessage,
      {} as ServerResponse,
      () => undefined,
    )
  })
})
