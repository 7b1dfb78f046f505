import { isUtf8 } from 'node:buffer'
import secureJson from 'secure-json-parse'
import { WebhookError } from './errors.js'
import type { AnyWebhookEvent } from './types.js'

/**
 * Parses a verified body into an event envelope `{ id, type, payload }`. Call it only after the
 * signature holds. `__proto__` keys and `constructor.prototype` pairs are removed while parsing
 * (secure-json-parse, the parser Fastify uses), so merging a payload cannot poison prototypes.
 */
export function parseEvent(rawBody: Uint8Array | string): AnyWebhookEvent {
  let text: string
  if (typeof rawBody === 'string') {
    text = rawBody
  } else {
    // toString() would replace invalid UTF-8 silently and hand handlers altered text.
    if (!isUtf8(rawBody)) {
      throw new WebhookError('INVALID_JSON', 'The request body is not valid UTF-8.')
    }
    text = Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength).toString('utf8')
  }

  let value: unknown
  try {
    value = secureJson.parse(text, undefined, {
      protoAction: 'remove',
      constructorAction: 'remove',
    })
  } catch (error) {
    throw new WebhookError('INVALID_JSON', 'The request body is not valid JSON.', { cause: error })
  }

  if (!isPlainObject(value)) {
    throw new WebhookError('INVALID_EVENT', 'The request body must be a JSON object.')
  }
  const { id, type, payload } = value
  if (typeof id !== 'string' || id.length === 0) {
    throw new WebhookError('INVALID_EVENT', 'The event must have a non-empty string "id".')
  }
  if (typeof type !== 'string' || type.length === 0) {
    throw new WebhookError('INVALID_EVENT', 'The event must have a non-empty string "type".')
  }
  if (!isPlainObject(payload)) {
    throw new WebhookError('INVALID_EVENT', 'The event must have an object "payload".')
  }
  // Keep every envelope field: eCampus may add some, and nothing verified is dropped.
  return value as unknown as AnyWebhookEvent
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
