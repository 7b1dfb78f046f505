import { sign } from './node-platform.js'
import type {
  Attachment,
  Contact,
  EventPayloadMap,
  EventType,
  Message,
  WebhookEvent,
  WebhookSecret,
} from './types.js'
import { EVENT_TYPES } from './router.js'

export { sign }
export { EVENT_TYPES }

const NOW = 1_764_806_400 // 2025-12-04T00:00:00Z, fixed so samples are reproducible

let counter = 0
/** A 16-character id shaped like eCampus's (`a056V7R7NmNRjl70`), unique within the process. */
export function sampleId(): string {
  counter += 1
  return `a056V7R7${counter.toString(36).padStart(8, '0')}`.slice(0, 16)
}

function contact(): Contact {
  return {
    id: 'c9Q2kLm4Xa81TzPw',
    username: 'ada.lovelace',
    phone_number: '+4915112345678',
    avatar_url: 'https://cdn.ecampus.example/avatars/c9Q2kLm4Xa81TzPw.png',
    last_active_at: NOW - 60,
    created_at: NOW - 86_400 * 30,
  }
}

function attachment(): Attachment {
  return {
    id: 'f3Hh8sPq0LwE2nYc',
    filename: 'syllabus.pdf',
    mime_type: 'application/pdf',
    size: 48_213,
  }
}

function message(): Message {
  return {
    id: 'm7Rt2VbX9kQe4LsA',
    conversation_id: 'v2Nn6YpC1dWq8ZrF',
    contact: contact(),
    message: 'Hi! Is the lecture on Thursday still in room B12?',
    reactions: [],
    attachments: [attachment()],
    read_at: null,
    created_at: NOW,
    updated_at: NOW,
  }
}

const SAMPLE_PAYLOADS: { [R in string]: () => Record<string, unknown> } = {
  contact,
  message,
  attachment,
  conversation: () => ({
    id: 'v2Nn6YpC1dWq8ZrF',
    title: 'Algorithms I — questions',
    created_at: NOW,
  }),
  group: () => ({ id: 'g5Kd3MwT7pBz1QxE', name: 'Study group 42', created_at: NOW }),
}

/** What can be overridden in a sample event. */
export interface SampleEventOverrides<T extends EventType> {
  id?: string
  payload?: Partial<EventPayloadMap[T]>
}

/**
 * A realistic event of the given type, with the documented fields filled in. Override the `id` or
 * any payload field.
 *
 * @example
 * const event = createSampleEvent('message.created', { payload: { message: 'hello' } })
 */
export function createSampleEvent<T extends EventType>(
  type: T,
  overrides: SampleEventOverrides<T> = {},
): WebhookEvent<T> {
  const resource = type.slice(0, type.indexOf('.'))
  const base = SAMPLE_PAYLOADS[resource]?.() ?? { id: sampleId() }
  return {
    id: overrides.id ?? sampleId(),
    type,
    payload: { ...base, ...overrides.payload },
  } as unknown as WebhookEvent<T>
}

/** One sample event of each of the 15 documented types. */
export function createSampleEvents(): WebhookEvent[] {
  return EVENT_TYPES.map((type) => createSampleEvent(type))
}

/** A request body and headers exactly as eCampus would send them. */
export interface SignedRequest {
  body: string
  headers: { 'content-type': 'application/json'; 'x-ecampus-signature': string }
}

/**
 * Serialises an event (or takes a raw body as is) and signs it like eCampus does.
 *
 * @example
 * const { body, headers } = createSignedRequest(createSampleEvent('contact.created'), secret)
 * await fetch('http://127.0.0.1:3000/webhooks', { method: 'POST', body, headers })
 */
export function createSignedRequest(
  eventOrBody: object | string,
  secret: WebhookSecret,
): SignedRequest {
  const body = typeof eventOrBody === 'string' ? eventOrBody : JSON.stringify(eventOrBody)
  return {
    body,
    headers: { 'content-type': 'application/json', 'x-ecampus-signature': sign(body, secret) },
  }
}
