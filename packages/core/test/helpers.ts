import { Readable } from 'node:stream'
import { expect } from 'vitest'
import type { WebhookResponse } from '../src/index.js'
import { sign } from '../src/index.js'

/** Distinctive, so a leak into an error body is unmistakable. */
export const SECRET = 'whsec_LEAK-CANARY_7f3a9c1e5b2d4f60'

export const EVENT = {
  id: 'a056V7R7NmNRjl70',
  type: 'message.created',
  payload: { id: 'm1', message: 'hello' },
} as const

export const BODY = JSON.stringify(EVENT)

/** The headers eCampus sends for a body. */
export function signedHeaders(
  body: string | Uint8Array,
  secret: string | Uint8Array = SECRET,
): Record<string, string> {
  return { 'content-type': 'application/json', 'x-ecampus-signature': sign(body, secret) }
}

/** The three body inputs handle() accepts for the same bytes. */
export const BODY_KINDS = ['string', 'buffer', 'stream'] as const
export type BodyKind = (typeof BODY_KINDS)[number]

export function bodyAs(kind: BodyKind, body: string | Buffer): string | Buffer | Readable {
  if (kind === 'string') return typeof body === 'string' ? body : body.toString('utf8')
  if (kind === 'buffer') return Buffer.from(body)
  return Readable.from([Buffer.from(body)])
}

/** Parses an error response and checks its shape: exactly `{"error":{"code","message"}}`. */
export function errorOf(response: WebhookResponse): { code: string; message: string } {
  expect(response.headers['content-type']).toBe('application/json; charset=utf-8')
  const parsed = JSON.parse(response.body) as { error: { code: string; message: string } }
  expect(Object.keys(parsed)).toEqual(['error'])
  expect(Object.keys(parsed.error).sort()).toEqual(['code', 'message'])
  expect(typeof parsed.error.message).toBe('string')
  expect(parsed.error.message.length).toBeGreaterThan(0)
  return parsed.error
}

/** Resolves on the next turn of the event loop, after pending I/O callbacks. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
