import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import type { Contact, Message, WebhookEvent } from '@ecampus-webhooks/core'
import Koa from 'koa'
import type { Next, ParameterizedContext, Request } from 'koa'
import { describe, expectTypeOf, it } from 'vitest'
import { ecampusWebhooks, type EcampusWebhooksMiddleware } from '../src/index.js'

const webhooks = ecampusWebhooks('secret')

describe('event routing', () => {
  it('narrows the payload from the event name', () => {
    webhooks.on('message.created', (event) => {
      expectTypeOf(event).toEqualTypeOf<WebhookEvent<'message.created'>>()
      expectTypeOf(event.payload.contact.username).toBeString()
    })
    webhooks.on('message.*', (event) => expectTypeOf(event.payload).toEqualTypeOf<Message>())
    webhooks.on(['contact.created', 'contact.updated'], (event) => {
      expectTypeOf(event.payload).toEqualTypeOf<Contact>()
    })
  })

  it('rejects misspelt event names', () => {
    // @ts-expect-error 'message.create' is not an event type
    webhooks.on('message.create', () => undefined)
  })

  it('chains and exposes the core instance', () => {
    expectTypeOf(
      webhooks.on('contact.deleted', () => undefined),
    ).toEqualTypeOf<EcampusWebhooksMiddleware>()
    expectTypeOf(
      webhooks.onAny(() => undefined).onError(() => undefined),
    ).toEqualTypeOf<EcampusWebhooksMiddleware>()
    expectTypeOf(webhooks.webhooks.path).toBeString()
  })
})

describe('fits Koa', () => {
  it('is a Koa middleware for plain and typed apps', () => {
    expectTypeOf(webhooks).toBeCallableWith(
      {} as ParameterizedContext,
      (() => Promise.resolve()) as Next,
    )
    new Koa().use(webhooks)
    new Koa<{ user?: string }, { requestId: string }>().use(webhooks)
  })

  it('is an @koa/router route handler', () => {
    new Router().post('/hooks/ecampus', webhooks)
    new Router<{ user?: string }>({ prefix: '/tenants' }).post('/:tenant/ecampus', webhooks)
  })

  it('declares ctx.request.rawBody exactly as @koa/bodyparser does, so both merge', () => {
    new Koa().use(bodyParser()).use(webhooks)
    expectTypeOf<Request['rawBody']>().toEqualTypeOf<string>()
  })
})
