// A consumer's point of view: imports by package name, so this checks the built dist types
// (run `pnpm --filter @ecampus-webhooks/core build` first). The augmentation below is global to
// the type-check program, which is why it lives alone in this file and the other type tests
// import from ../src.
import { describe, expectTypeOf, it } from 'vitest'
import type { EventName, EventType, Message, WebhookEvent } from '@ecampus-webhooks/core'
import { Webhooks } from '@ecampus-webhooks/core'
import { createSampleEvent } from '@ecampus-webhooks/core/testing'

interface Poll {
  id: string
  question: string
  options: string[]
}

declare module '@ecampus-webhooks/core' {
  interface EventPayloadMap {
    'poll.created': Poll
    'poll.closed': Poll
    'message.pinned': Message
  }
}

const webhooks = new Webhooks({ secret: 'whsec_types' })

describe('EventPayloadMap declaration merging', () => {
  it('adds the new types to EventType and EventName', () => {
    expectTypeOf<'poll.created'>().toExtend<EventType>()
    expectTypeOf<'poll.*'>().toExtend<EventName>()
    expectTypeOf<'*.closed'>().toExtend<EventName>()
    expectTypeOf<'*.pinned'>().toExtend<EventName>()
    expectTypeOf<'poll.deleted'>().not.toExtend<EventType>()
  })

  it('types handlers of the new exact names', () => {
    webhooks.on('poll.created', (e) => {
      expectTypeOf(e.payload).toEqualTypeOf<Poll>()
      expectTypeOf(e.payload.question).toEqualTypeOf<string>()
    })
  })

  it('patterns include the new types', () => {
    webhooks.on('poll.*', (e) => {
      expectTypeOf(e.type).toEqualTypeOf<'poll.created' | 'poll.closed'>()
      expectTypeOf(e.payload).toEqualTypeOf<Poll>()
    })
    webhooks.on('message.*', (e) => {
      expectTypeOf(e.type).toEqualTypeOf<
        'message.created' | 'message.updated' | 'message.deleted' | 'message.pinned'
      >()
    })
    webhooks.on('*.created', (e) => {
      if (e.type === 'poll.created') expectTypeOf(e.payload).toEqualTypeOf<Poll>()
    })
  })

  it('reaches WebhookEvent and the /testing helpers', () => {
    expectTypeOf<WebhookEvent<'poll.closed'>['payload']>().toEqualTypeOf<Poll>()
    expectTypeOf(createSampleEvent('poll.created').payload.options).toEqualTypeOf<string[]>()
  })

  it('still rejects names that were not added', () => {
    // @ts-expect-error 'poll.deleted' was not declared
    webhooks.on('poll.deleted', () => undefined)
  })
})
