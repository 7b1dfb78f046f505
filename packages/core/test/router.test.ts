import { describe, expect, it, vi } from 'vitest'
import type { AnyWebhookEvent, EventName } from '../src/index.js'
import { EVENT_TYPES, Webhooks, WebhookError } from '../src/index.js'
import { SECRET } from './helpers.js'

function event(type: string): AnyWebhookEvent {
  return { id: `id-${type}`, type, payload: { id: 'x' } }
}

function webhooks(): Webhooks {
  return new Webhooks({ secret: SECRET })
}

/** Receives one event of each type and returns the types each named spy saw. */
async function route(
  register: (hooks: Webhooks, spy: (name: string) => () => void) => void,
  types: readonly string[] = EVENT_TYPES,
): Promise<Record<string, string[]>> {
  const seen: Record<string, string[]> = {}
  const hooks = webhooks()
  register(hooks, (name) => {
    seen[name] = []
    return function (this: unknown, ...args: unknown[]) {
      seen[name]!.push((args[0] as AnyWebhookEvent).type)
    }
  })
  for (const type of types) await hooks.receive(event(type))
  return seen
}

describe('on()', () => {
  it('an exact name gets only that type', async () => {
    const seen = await route((hooks, spy) => {
      hooks.on('message.created', spy('exact'))
      hooks.on('contact.deleted', spy('other'))
    })
    expect(seen).toEqual({ exact: ['message.created'], other: ['contact.deleted'] })
  })

  it('an array of names gets each of them', async () => {
    const seen = await route((hooks, spy) => {
      hooks.on(['message.created', 'group.updated', 'attachment.deleted'], spy('list'))
    })
    expect(seen.list).toEqual(['message.created', 'group.updated', 'attachment.deleted'])
  })

  it("'message.*' gets the three message types", async () => {
    const seen = await route((hooks, spy) => hooks.on('message.*', spy('p')))
    expect(seen.p).toEqual(['message.created', 'message.updated', 'message.deleted'])
  })

  it("'*.deleted' gets the five deleted types", async () => {
    const seen = await route((hooks, spy) => hooks.on('*.deleted', spy('p')))
    expect(seen.p).toEqual([
      'contact.deleted',
      'conversation.deleted',
      'message.deleted',
      'group.deleted',
      'attachment.deleted',
    ])
  })

  it('a handler registered under several matching names runs once per event', async () => {
    const handler = vi.fn()
    const hooks = webhooks()
    hooks.on('message.deleted', handler)
    hooks.on(['message.*', '*.deleted', 'message.deleted'], handler)
    hooks.onAny(handler)
    await hooks.receive(event('message.deleted'))
    expect(handler).toHaveBeenCalledOnce()
  })

  it('runs handlers in registration order of their names (exact, resource, action, any)', async () => {
    const order: string[] = []
    const hooks = webhooks()
    hooks.onAny(() => order.push('any'))
    hooks.on('*.created', () => order.push('action'))
    hooks.on('contact.*', () => order.push('resource'))
    hooks.on('contact.created', () => order.push('exact'))
    await hooks.receive(event('contact.created'))
    expect(order).toEqual(['exact', 'resource', 'action', 'any'])
  })

  it.each([
    '',
    'message',
    'message.',
    '.created',
    '*',
    '*.*',
    'message.**',
    'mess*.created',
    'message.created.extra',
    'message created',
    ' message.created',
    42,
    null,
  ])('rejects the invalid name %j with a TypeError', (name) => {
    const register = (): unknown => webhooks().on(name as EventName, () => undefined)
    expect(register).toThrow(TypeError)
    expect(register).toThrow(/^@ecampus-webhooks\/core: on\(\) got the event name .*'message\.\*'/)
    expect(() => webhooks().on(['message.created', name] as EventName[], () => undefined)).toThrow(
      TypeError,
    )
  })

  it.each([
    ['on', (h: Webhooks, f: unknown) => h.on('message.created', f as () => void)],
    ['onAny', (h: Webhooks, f: unknown) => h.onAny(f as () => void)],
    ['onError', (h: Webhooks, f: unknown) => h.onError(f as () => void)],
  ])('%s() without a function throws a TypeError', (method, register) => {
    for (const notAFunction of [undefined, null, 'handler', {}]) {
      expect(() => register(webhooks(), notAFunction)).toThrow(
        new TypeError(`@ecampus-webhooks/core: ${method}() needs a handler function.`),
      )
    }
  })

  it('is chainable', () => {
    const hooks = webhooks()
    expect(hooks.on('message.created', () => undefined)).toBe(hooks)
    expect(hooks.onAny(() => undefined)).toBe(hooks)
    expect(hooks.onError(() => undefined)).toBe(hooks)
    expect(hooks.off('message.created', () => undefined)).toBe(hooks)
  })
})

describe('onAny() and unknown types', () => {
  it('gets every known type', async () => {
    const seen = await route((hooks, spy) => hooks.onAny(spy('any')))
    expect(seen.any).toEqual([...EVENT_TYPES])
  })

  it.each([
    'constructor',
    '__proto__',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'message.pinned',
    'poll.created',
    'nodot',
    'message.constructor',
    '__proto__.deleted',
    '*.deleted',
    'message.*',
    '.',
  ])('%j reaches only onAny', async (type) => {
    const seen = await route(
      (hooks, spy) => {
        hooks.onAny(spy('any'))
        hooks.on('message.*', spy('resource'))
        hooks.on('*.deleted', spy('action'))
        hooks.on('*.created', spy('created'))
        hooks.on(['message.created', 'contact.deleted'], spy('exact'))
      },
      [type],
    )
    expect(seen).toEqual({ any: [type], resource: [], action: [], created: [], exact: [] })
    expect(Object.prototype).not.toHaveProperty('polluted')
  })

  it('a type the app named exactly also reaches the patterns that cover it', async () => {
    const seen = await route(
      (hooks, spy) => {
        hooks.on('message.pinned' as EventName, spy('exact'))
        hooks.on('message.*', spy('resource'))
        hooks.on('*.pinned' as EventName, spy('action'))
      },
      ['message.pinned'],
    )
    expect(seen).toEqual({
      exact: ['message.pinned'],
      resource: ['message.pinned'],
      action: ['message.pinned'],
    })
  })

  it('a pattern over an undocumented resource or action gets every type it names', async () => {
    // Such patterns only type-check after EventPayloadMap was extended (declaration merging),
    // so the app asked for exactly these types.
    const seen = await route(
      (hooks, spy) => {
        hooks.on('poll.*' as EventName, spy('poll'))
        hooks.on('*.pinned' as EventName, spy('pinned'))
        hooks.on('message.*', spy('message'))
        hooks.on('*.created', spy('created'))
      },
      ['poll.created', 'poll.closed', 'message.pinned', 'pollx.created'],
    )
    expect(seen).toEqual({
      poll: ['poll.created', 'poll.closed'],
      pinned: ['message.pinned'],
      // Documented resource or action: the unknown types stay out.
      message: [],
      created: [],
    })
  })

  it('an event with no handler at all resolves', async () => {
    await expect(webhooks().receive(event('message.created'))).resolves.toBeUndefined()
  })
})

describe('concurrency', () => {
  it('runs the handlers of one event concurrently', async () => {
    // Each handler waits until the other one has started: run one after the other, this
    // would never settle.
    let startA!: () => void
    let startB!: () => void
    const aStarted = new Promise<void>((resolve) => (startA = resolve))
    const bStarted = new Promise<void>((resolve) => (startB = resolve))
    const hooks = webhooks()
      .on('message.created', async () => {
        startA()
        await bStarted
      })
      .onAny(async () => {
        startB()
        await aStarted
      })
    await expect(hooks.receive(event('message.created'))).resolves.toBeUndefined()
  })

  it('waits for every handler before it settles', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let settled = false
    const pending = webhooks()
      .onAny(() => gate)
      .receive(event('message.created'))
      .then(() => (settled = true))
    await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(false)
    release()
    await pending
    expect(settled).toBe(true)
  })
})

describe('off()', () => {
  it('removes a handler from an exact name, a pattern and an array of names', async () => {
    const handler = vi.fn()
    const kept = vi.fn()
    const hooks = webhooks()
      .on('message.created', handler)
      .on('*.deleted', handler)
      .on(['group.created', 'group.updated'], handler)
      .on('message.created', kept)
    hooks
      .off('message.created', handler)
      .off('*.deleted', handler)
      .off(['group.created', 'group.updated'], handler)
    for (const type of ['message.created', 'contact.deleted', 'group.created', 'group.updated']) {
      await hooks.receive(event(type))
    }
    expect(handler).not.toHaveBeenCalled()
    expect(kept).toHaveBeenCalledOnce()
  })

  it('removes only the name given', async () => {
    const handler = vi.fn()
    const hooks = webhooks().on(['message.created', 'message.updated'], handler)
    hooks.off('message.created', handler)
    await hooks.receive(event('message.created'))
    await hooks.receive(event('message.updated'))
    expect(handler).toHaveBeenCalledOnce()
  })

  it("off('*', handler) removes an onAny or onError handler", async () => {
    const any = vi.fn()
    const onError = vi.fn()
    const hooks = webhooks()
      .onAny(any)
      .on('message.created', () => Promise.reject(new Error('x')))
      .onError(onError)
    hooks.off('*', any).off('*', onError)
    await expect(hooks.receive(event('message.created'))).rejects.toBeInstanceOf(WebhookError)
    expect(any).not.toHaveBeenCalled()
    expect(onError).not.toHaveBeenCalled()
  })

  it('ignores a handler or name that was never registered', () => {
    expect(() => webhooks().off('message.created', () => undefined)).not.toThrow()
    expect(() => webhooks().off('*', () => undefined)).not.toThrow()
  })
})

describe('failures and onError()', () => {
  it('rejects with HANDLER_FAILED carrying every thrown value and tells onError', async () => {
    const boom = new Error('boom')
    const onError = vi.fn()
    const hooks = webhooks()
      .on('message.created', () => {
        throw boom
      })
      .onAny(() => undefined)
      .onError(onError)
    const e = event('message.created')
    const failure = await hooks.receive(e).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(WebhookError)
    expect(failure).toMatchObject({
      code: 'HANDLER_FAILED',
      status: 500,
      expose: false,
      errors: [boom],
    })
    expect((failure as WebhookError).cause).toBeInstanceOf(AggregateError)
    // The third argument says what the receiver did: receive() rejects, so the caller may retry.
    expect(onError).toHaveBeenCalledExactlyOnceWith(failure, e, {
      eventId: e.id,
      decision: 'retry',
    })
  })

  it('an onError handler that throws or rejects breaks nothing', async () => {
    const later = vi.fn()
    const hooks = webhooks()
      .on('message.created', () => Promise.reject(new Error('handler')))
      .onError(() => {
        throw new Error('onError threw')
      })
      .onError(() => Promise.reject(new Error('onError rejected')))
      .onError(later)
    await expect(hooks.receive(event('message.created'))).rejects.toMatchObject({
      code: 'HANDLER_FAILED',
      errors: [new Error('handler')],
    })
    expect(later).toHaveBeenCalledOnce()
    // The next event is routed as usual.
    const next = vi.fn()
    hooks.on('contact.created', next)
    await hooks.receive(event('contact.created'))
    expect(next).toHaveBeenCalledOnce()
  })

  it('handle() still answers 500 when onError throws', async () => {
    const { createSignedRequest, createSampleEvent } = await import('../src/testing.js')
    const { body, headers } = createSignedRequest(createSampleEvent('message.created'), SECRET)
    const response = await webhooks()
      .on('message.created', () => {
        throw new Error('x')
      })
      .onError(() => {
        throw new Error('y')
      })
      .handle({ method: 'POST', headers, body })
    expect(response.status).toBe(500)
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'HANDLER_FAILED' } })
  })
})
