import { describe, expect, it, vi } from 'vitest'
import type { AnyWebhookEvent } from '../src/index.js'
import { Webhooks, verifySignature } from '../src/index.js'
import {
  EVENT_TYPES,
  createSampleEvent,
  createSampleEvents,
  createSignedRequest,
  sign,
} from '../src/testing.js'
import { SECRET } from './helpers.js'

describe('createSampleEvent', () => {
  it.each(EVENT_TYPES)('%s is an envelope the core accepts (200) and routes', async (type) => {
    const event = createSampleEvent(type)
    expect(event.type).toBe(type)
    expect(event.id).toMatch(/^[A-Za-z0-9]{16}$/)
    expect(typeof event.payload.id).toBe('string')

    const exact = vi.fn()
    const any = vi.fn()
    const hooks = new Webhooks({ secret: SECRET }).on(type, exact).onAny(any)
    const { body, headers } = createSignedRequest(event, SECRET)
    const response = await hooks.handle({ method: 'POST', headers, body })
    expect(response.status).toBe(200)
    expect(exact).toHaveBeenCalledExactlyOnceWith(event)
    expect(any).toHaveBeenCalledOnce()
  })

  it('fills the documented Contact and Message fields', () => {
    const { payload: contact } = createSampleEvent('contact.updated')
    expect(contact).toMatchObject({
      id: expect.any(String),
      username: expect.any(String),
      created_at: expect.any(Number),
    })
    for (const key of ['phone_number', 'avatar_url', 'last_active_at']) {
      expect(contact).toHaveProperty(key)
    }
    const { payload: message } = createSampleEvent('message.created')
    expect(message).toMatchObject({
      id: expect.any(String),
      conversation_id: expect.any(String),
      contact: { username: expect.any(String) },
      message: expect.any(String),
      reactions: expect.any(Array),
      attachments: expect.any(Array),
      created_at: expect.any(Number),
      updated_at: expect.any(Number),
    })
    expect(message).toHaveProperty('read_at')
    // Unix seconds, not milliseconds.
    expect(message.created_at).toBeLessThan(10_000_000_000)
  })

  it('applies overrides of the id and of payload fields, keeping the others', () => {
    const event = createSampleEvent('message.created', {
      id: 'custom0000000001',
      payload: { message: 'overridden', read_at: 1 },
    })
    expect(event.id).toBe('custom0000000001')
    expect(event.payload.message).toBe('overridden')
    expect(event.payload.read_at).toBe(1)
    expect(event.payload.contact.username).toBe(
      createSampleEvent('message.created').payload.contact.username,
    )
  })

  it('gives each event a fresh id and a fresh payload object', () => {
    const a = createSampleEvent('message.created')
    const b = createSampleEvent('message.created')
    expect(a.id).not.toBe(b.id)
    a.payload.contact.username = 'mutated'
    expect(b.payload.contact.username).not.toBe('mutated')
  })
})

describe('createSampleEvents', () => {
  it('returns one event of each of the 15 types, all accepted by the core', async () => {
    const events = createSampleEvents()
    expect(events.map((e) => e.type)).toEqual([...EVENT_TYPES])
    expect(new Set(events.map((e) => e.id)).size).toBe(15)
    const seen: AnyWebhookEvent[] = []
    const hooks = new Webhooks({ secret: SECRET }).onAny((event) => {
      seen.push(event)
    })
    for (const event of events) {
      const { body, headers } = createSignedRequest(event, SECRET)
      expect((await hooks.handle({ method: 'POST', headers, body })).status).toBe(200)
    }
    expect(seen).toEqual(events)
  })
})

describe('createSignedRequest', () => {
  it('serialises an event and signs the exact body', () => {
    const event = createSampleEvent('group.created')
    const { body, headers } = createSignedRequest(event, SECRET)
    expect(JSON.parse(body)).toEqual(event)
    expect(headers['content-type']).toBe('application/json')
    expect(headers['x-ecampus-signature']).toMatch(/^[0-9a-f]{64}$/)
    expect(verifySignature(body, headers['x-ecampus-signature'], SECRET)).toBe(true)
    expect(new Webhooks({ secret: SECRET }).verify(body, headers['x-ecampus-signature'])).toBe(true)
  })

  it('takes a raw string body as is', () => {
    const raw = '{"id":"x",  "type":"contact.created", "payload":{}}'
    const { body, headers } = createSignedRequest(raw, SECRET)
    expect(body).toBe(raw)
    expect(headers['x-ecampus-signature']).toBe(sign(raw, SECRET))
  })

  it('signs with a binary secret, and only that secret verifies', () => {
    const secret = new Uint8Array([0, 1, 2, 254, 255])
    const { body, headers } = createSignedRequest(createSampleEvent('attachment.deleted'), secret)
    expect(verifySignature(body, headers['x-ecampus-signature'], secret)).toBe(true)
    expect(verifySignature(body, headers['x-ecampus-signature'], SECRET)).toBe(false)
  })

  it('a request signed with the old secret verifies during a rotation', () => {
    const { body, headers } = createSignedRequest(
      createSampleEvent('contact.created'),
      'old-secret',
    )
    const rotating = new Webhooks({ secret: ['new-secret', 'old-secret'] })
    expect(rotating.verify(body, headers['x-ecampus-signature'])).toBe(true)
    expect(
      new Webhooks({ secret: 'new-secret' }).verify(body, headers['x-ecampus-signature']),
    ).toBe(false)
  })
})
