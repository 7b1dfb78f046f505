import { describe, expectTypeOf, it } from 'vitest'
import type {
  AnyWebhookEvent,
  Attachment,
  Contact,
  Conversation,
  EventName,
  EventType,
  Group,
  Message,
  UnknownWebhookEvent,
  ErrorDecision,
  IdempotencyStore,
  RejectionInfo,
  WebhookError,
  WebhookErrorCode,
  WebhookEvent,
  WebhookResponse,
} from '../src/index.js'
import { MemoryIdempotencyStore, Webhooks, createWebhooks } from '../src/index.js'
import { createSampleEvent } from '../src/testing.js'

const webhooks = new Webhooks({ secret: 'whsec_types' })

describe('on() narrows the event from the name', () => {
  it('an exact name gives its payload with no casts', () => {
    webhooks.on('message.created', (e) => {
      expectTypeOf(e.payload.contact.username).toEqualTypeOf<string>()
      expectTypeOf(e.payload).toEqualTypeOf<Message>()
      expectTypeOf(e.type).toEqualTypeOf<'message.created'>()
      expectTypeOf(e.id).toEqualTypeOf<string>()
    })
    webhooks.on('contact.updated', (e) => {
      expectTypeOf(e.payload).toEqualTypeOf<Contact>()
      expectTypeOf(e.payload.phone_number).toEqualTypeOf<string | null>()
      expectTypeOf(e.payload.created_at).toEqualTypeOf<number>()
    })
    webhooks.on('group.deleted', (e) => {
      expectTypeOf(e.payload).toEqualTypeOf<Group>()
      // Only the id is documented; the rest is open but not `any`.
      expectTypeOf(e.payload.id).toEqualTypeOf<string>()
      expectTypeOf(e.payload.name).toEqualTypeOf<unknown>()
    })
  })

  it("'message.*' gives Message and the union of the three message types", () => {
    webhooks.on('message.*', (e) => {
      expectTypeOf(e.payload).toEqualTypeOf<Message>()
      expectTypeOf(e.type).toEqualTypeOf<
        'message.created' | 'message.updated' | 'message.deleted'
      >()
      expectTypeOf(e.payload.contact.username).toEqualTypeOf<string>()
    })
  })

  it("'*.deleted' gives the union of the five deleted payloads", () => {
    webhooks.on('*.deleted', (e) => {
      expectTypeOf(e.payload).toEqualTypeOf<Contact | Conversation | Message | Group | Attachment>()
      expectTypeOf(e.type).toEqualTypeOf<
        | 'contact.deleted'
        | 'conversation.deleted'
        | 'message.deleted'
        | 'group.deleted'
        | 'attachment.deleted'
      >()
      expectTypeOf(e.payload.id).toEqualTypeOf<string>()
    })
  })

  it('an array of names gives the union of their events', () => {
    webhooks.on(['message.created', 'contact.created'], (e) => {
      expectTypeOf(e.type).toEqualTypeOf<'message.created' | 'contact.created'>()
      expectTypeOf(e.payload).toEqualTypeOf<Message | Contact>()
    })
    webhooks.on(['group.*', 'conversation.updated'], (e) => {
      expectTypeOf(e.type).toEqualTypeOf<
        'group.created' | 'group.updated' | 'group.deleted' | 'conversation.updated'
      >()
    })
    const names = ['attachment.created', 'attachment.updated'] as const
    webhooks.on(names, (e) => {
      expectTypeOf(e.payload).toEqualTypeOf<Attachment>()
    })
  })

  it('checking e.type narrows the payload (WebhookEvent<T> is a discriminated union)', () => {
    webhooks.on(['message.created', 'contact.created'], (e) => {
      if (e.type === 'message.created') {
        expectTypeOf(e.payload).toEqualTypeOf<Message>()
        expectTypeOf(e.payload.conversation_id).toEqualTypeOf<string>()
      } else {
        expectTypeOf(e.type).toEqualTypeOf<'contact.created'>()
        expectTypeOf(e.payload).toEqualTypeOf<Contact>()
      }
    })
    const event = {} as WebhookEvent
    if (event.type === 'attachment.updated') expectTypeOf(event.payload).toEqualTypeOf<Attachment>()
    expectTypeOf<WebhookEvent<'group.created'>>().toEqualTypeOf<{
      id: string
      type: 'group.created'
      payload: Group
    }>()
    expectTypeOf<WebhookEvent['type']>().toEqualTypeOf<EventType>()
  })

  it('misspelt or invalid names are type errors', () => {
    // @ts-expect-error 'messages' is not a resource
    webhooks.on('messages.created', () => undefined)
    // @ts-expect-error 'create' is not an action
    webhooks.on('message.create', () => undefined)
    // @ts-expect-error a pattern over an unknown resource
    webhooks.on('poll.*', () => undefined)
    // @ts-expect-error a pattern over an unknown action
    webhooks.on('*.removed', () => undefined)
    // @ts-expect-error a bare wildcard is not a name (use onAny)
    webhooks.on('*', () => undefined)
    // @ts-expect-error one misspelt name in an array
    webhooks.on(['message.created', 'contact.craeted'], () => undefined)
    // Undocumented fields are open, as `unknown`: reading one needs a check, not a cast.
    webhooks.on('contact.created', (e) => expectTypeOf(e.payload.contact).toEqualTypeOf<unknown>())
    expectTypeOf<'message.created'>().toExtend<EventName>()
    expectTypeOf<'message.*'>().toExtend<EventName>()
    expectTypeOf<'*.updated'>().toExtend<EventName>()
    expectTypeOf<'message.creat'>().not.toExtend<EventName>()
  })

  it('a handler typed for a wider event is accepted; one for a narrower event is not', () => {
    webhooks.on('message.*', (e: AnyWebhookEvent) =>
      expectTypeOf(e).toEqualTypeOf<AnyWebhookEvent>(),
    )
    // @ts-expect-error the handler expects only contact events but gets message events
    webhooks.on('message.created', (e: WebhookEvent<'contact.created'>) => e)
  })
})

describe('the rest of the surface', () => {
  it('onAny gets AnyWebhookEvent (known or unknown types)', () => {
    webhooks.onAny((e) => {
      expectTypeOf(e).toEqualTypeOf<AnyWebhookEvent>()
      expectTypeOf(e.type).toEqualTypeOf<string>()
      expectTypeOf(e.payload).toExtend<Record<string, unknown>>()
    })
    expectTypeOf<AnyWebhookEvent>().toEqualTypeOf<WebhookEvent | UnknownWebhookEvent>()
  })

  it('onError gets a WebhookError and the event', () => {
    webhooks.onError((error, event) => {
      expectTypeOf(error).toEqualTypeOf<WebhookError>()
      expectTypeOf(error.errors).toEqualTypeOf<readonly unknown[]>()
      expectTypeOf(event).toEqualTypeOf<AnyWebhookEvent>()
    })
  })

  it("onError's third argument is { eventId, decision }", () => {
    webhooks.onError((_error, _event, info) => {
      expectTypeOf(info.eventId).toEqualTypeOf<string>()
      expectTypeOf(info.decision).toEqualTypeOf<ErrorDecision>()
      expectTypeOf<ErrorDecision>().toEqualTypeOf<
        'retry' | 'acknowledged' | 'background' | 'late' | 'failed'
      >()
    })
  })

  it('onRejected gets the error and { status, code, method, eventId?, eventType? }', () => {
    webhooks.onRejected((error, info) => {
      expectTypeOf(error).toEqualTypeOf<WebhookError>()
      expectTypeOf(info).toEqualTypeOf<RejectionInfo>()
      expectTypeOf(info.code).toEqualTypeOf<WebhookErrorCode>()
      expectTypeOf(info.eventId).toEqualTypeOf<string | undefined>()
    })
    expectTypeOf(webhooks.drain()).toEqualTypeOf<Promise<void>>()
  })

  it('the new options are typed', () => {
    expectTypeOf<MemoryIdempotencyStore>().toExtend<IdempotencyStore>()
    new Webhooks({
      secret: 's',
      idempotency: { store: new MemoryIdempotencyStore(), ttl: 1, lease: 2 },
      handlerTimeout: 10,
      respond: 'on-verify',
      maxBufferedBytes: 1,
    })
    new Webhooks({ secret: 's', idempotency: true })
    // @ts-expect-error not a respond mode
    new Webhooks({ secret: 's', respond: 'later' })
    // @ts-expect-error a store needs claim, complete and release
    new Webhooks({ secret: 's', idempotency: { store: { claim: () => Promise.resolve() } } })
  })

  it('methods chain and return what the contract says', () => {
    expectTypeOf(webhooks.on('message.created', () => undefined)).toEqualTypeOf<Webhooks>()
    expectTypeOf(webhooks.verify('body', 'sig')).toEqualTypeOf<boolean>()
    expectTypeOf(webhooks.handle({ method: 'POST', headers: {}, body: '' })).toEqualTypeOf<
      Promise<WebhookResponse>
    >()
    expectTypeOf(webhooks.verifyAndReceive({ rawBody: '', signature: undefined })).toEqualTypeOf<
      Promise<void>
    >()
    expectTypeOf(createWebhooks).returns.toEqualTypeOf<Webhooks>()
    // @ts-expect-error the secret is required
    new Webhooks({})
    // @ts-expect-error a number is not a secret
    new Webhooks({ secret: 42 })
    new Webhooks({
      secret: [new Uint8Array([1]), 'old'],
      maxBodySize: 1,
      bodyTimeout: 0,
      path: '/x',
    })
  })

  it('createSampleEvent is typed by its type, overrides too', () => {
    expectTypeOf(createSampleEvent('message.updated')).toEqualTypeOf<
      WebhookEvent<'message.updated'>
    >()
    createSampleEvent('contact.created', { payload: { username: 'ada' } })
    // @ts-expect-error username is a string
    createSampleEvent('contact.created', { payload: { username: 1 } })
    // @ts-expect-error not an event type
    createSampleEvent('contact.*')
  })
})
