import { WebhookError } from './errors.js'
import type { AnyWebhookEvent } from './types.js'

/**
 * The error for a body that is not valid UTF-8. Decoding is the platform's (node:buffer in the Node
 * entry, a fatal TextDecoder in the web entry); the answer is decided here, once.
 */
export function invalidUtf8(cause?: unknown): WebhookError {
  return new WebhookError('INVALID_JSON', 'The request body is not valid UTF-8.', { cause })
}

/**
 * Parses verified, decoded text into an event envelope `{ id, type, payload }`. Call it only after
 * the signature holds. `__proto__` keys and `constructor.prototype` pairs are removed after parsing
 * (the rules of secure-json-parse, the parser Fastify uses), so merging a payload cannot poison
 * prototypes.
 */
export function parseEnvelope(decoded: string): AnyWebhookEvent {
  // A byte-order mark is not JSON; the signature still covers it.
  const text = decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new WebhookError('INVALID_JSON', 'The request body is not valid JSON.', { cause: error })
  }
  removePrototypeKeys(value)

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

/**
 * Deletes own `__proto__` keys and `constructor` objects holding a `prototype`, everywhere in a
 * parsed value. JSON.parse makes them plain own properties (nothing is polluted yet), but a later
 * merge or `Object.assign` of the payload would follow them. Walking the parsed objects costs a
 * fraction of scanning the text with secure-json-parse's regexes (BENCHMARKS.md), and escaped keys
 * (`"\u005f_proto__"`) are already decoded here.
 */
function removePrototypeKeys(root: unknown): void {
  if (typeof root !== 'object' || root === null) return
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown>
    if (Array.isArray(node)) {
      for (const item of node as unknown[]) {
        if (typeof item === 'object' && item !== null) stack.push(item)
      }
      continue
    }
    if (Object.hasOwn(node, '__proto__')) Reflect.deleteProperty(node, '__proto__')
    const ctor: unknown = Object.hasOwn(node, 'constructor') ? node.constructor : undefined
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype')) {
      Reflect.deleteProperty(node, 'constructor')
    }
    for (const key in node) {
      const item = node[key]
      if (typeof item === 'object' && item !== null) stack.push(item)
    }
  }
}
