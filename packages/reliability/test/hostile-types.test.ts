import { createHmac } from 'node:crypto'
import { Readable } from 'node:stream'
import { Webhooks } from '@ecampus-webhooks/core'
import type { AnyWebhookEvent } from '@ecampus-webhooks/core'
import { EVENT_TYPES } from '@ecampus-webhooks/core/testing'
import { describe, expect, it } from 'vitest'

const SECRET = 'whsec_hostile-types'
const sign = (body: Uint8Array | string): string =>
  createHmac('sha256', SECRET).update(body).digest('hex')

const PROTOTYPE_NAMES = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupSetter__',
  // Dotted forms reach the resource/action lookups of pattern routing.
  'constructor.prototype',
  '__proto__.created',
  'message.__proto__',
  'toString.constructor',
  'hasOwnProperty.deleted',
] as const

/** Every own property of Object.prototype with its descriptor, to prove nothing changed. */
function prototypeSnapshot(): Record<string, unknown> {
  const snapshot: Record<string, unknown> = {}
  for (const key of Reflect.ownKeys(Object.prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(Object.prototype, key)!
    snapshot[String(key)] = { ...descriptor }
  }
  return snapshot
}

/** A receiver with a handler on every documented type and pattern, each logging its name. */
function receiver(): { webhooks: Webhooks; log: string[] } {
  const webhooks = new Webhooks({ secret: SECRET })
  const log: string[] = []
  for (const type of EVENT_TYPES) webhooks.on(type, () => void log.push(type))
  for (const resource of ['contact', 'conversation', 'message', 'group', 'attachment'] as const) {
    webhooks.on(`${resource}.*`, () => void log.push(`${resource}.*`))
  }
  for (const action of ['created', 'updated', 'deleted'] as const) {
    webhooks.on(`*.${action}`, () => void log.push(`*.${action}`))
  }
  webhooks.onAny((event: AnyWebhookEvent) => void log.push(`any:${event.type}`))
  return { webhooks, log }
}

describe('event types that are Object.prototype names', () => {
  it.each(PROTOTYPE_NAMES)('%s is an unknown type: 200, onAny only', async (type) => {
    const before = prototypeSnapshot()
    const { webhooks, log } = receiver()
    // Written as text: in an object literal `__proto__` would set the prototype, not a key.
    const body =
      `{"id":${JSON.stringify(`proto-${type}`)},"type":${JSON.stringify(type)},` +
      '"payload":{"id":"x","__proto__":{"polluted":true},"constructor":{"prototype":{"p":1}}}}'
    const response = await webhooks.handle({
      method: 'POST',
      headers: { 'x-ecampus-signature': sign(body) },
      body: Buffer.from(body),
    })
    expect(response.status).toBe(200)
    expect(log).toEqual([`any:${type}`])
    expect(prototypeSnapshot()).toEqual(before)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(({} as Record<string, unknown>).p).toBeUndefined()
  })

  it('the same types in one instance, one after another, leave routing and prototypes intact', async () => {
    const before = prototypeSnapshot()
    const { webhooks, log } = receiver()
    for (const type of PROTOTYPE_NAMES) {
      const body = JSON.stringify({ id: `seq-${type}`, type, payload: {} })
      const response = await webhooks.handle({
        method: 'POST',
        headers: { 'x-ecampus-signature': sign(body) },
        body,
      })
      expect(response.status).toBe(200)
    }
    expect(log).toEqual(PROTOTYPE_NAMES.map((type) => `any:${type}`))
    // A known type still routes normally afterwards.
    log.length = 0
    const body = JSON.stringify({ id: 'after', type: 'message.deleted', payload: { id: 'm' } })
    await webhooks.handle({ method: 'POST', headers: { 'x-ecampus-signature': sign(body) }, body })
    expect(log.sort()).toEqual(['*.deleted', 'any:message.deleted', 'message.*', 'message.deleted'])
    expect(prototypeSnapshot()).toEqual(before)
  })
})

/** Signed JSON bodies carrying one malformed UTF-8 sequence inside a string value. */
const INVALID_UTF8: ReadonlyArray<readonly [string, readonly number[]]> = [
  ['lone continuation byte', [0x80]],
  ['overlong slash (C0 AF)', [0xc0, 0xaf]],
  ['overlong NUL (C0 80)', [0xc0, 0x80]],
  ['truncated 3-byte sequence', [0xe2, 0x82]],
  ['truncated 4-byte sequence', [0xf0, 0x9f, 0x98]],
  ['UTF-16 surrogate encoded (ED A0 80)', [0xed, 0xa0, 0x80]],
  ['above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
  ['byte FF', [0xff]],
  ['byte FE', [0xfe]],
  ['latin1 é (E9) followed by ASCII', [0xe9, 0x41]],
]

function bodyWith(bytes: readonly number[]): Buffer {
  return Buffer.concat([
    Buffer.from('{"id":"utf8-check","type":"message.created","payload":{"id":"m","message":"a'),
    Buffer.from(bytes),
    Buffer.from('b"}}'),
  ])
}

describe('invalid UTF-8 inside a signed body', () => {
  it('the same body with valid UTF-8 is accepted (control)', async () => {
    const { webhooks, log } = receiver()
    const body = bodyWith([0xc3, 0xa9])
    const response = await webhooks.handle({
      method: 'POST',
      headers: { 'x-ecampus-signature': sign(body) },
      body,
    })
    expect(response.status).toBe(200)
    expect(log).toContain('message.created')
  })

  it.each(INVALID_UTF8)(
    '%s -> 400 INVALID_JSON, no handler (raw bytes and stream)',
    async (_, bytes) => {
      const { webhooks, log } = receiver()
      const body = bodyWith(bytes)
      for (const input of [body, Readable.from([body.subarray(0, 70), body.subarray(70)])]) {
        const response = await webhooks.handle({
          method: 'POST',
          headers: { 'x-ecampus-signature': sign(body), 'transfer-encoding': 'chunked' },
          body: input,
        })
        expect(response.status).toBe(400)
        expect(response.error?.code).toBe('INVALID_JSON')
      }
      expect(log).toEqual([])
    },
  )
})
