import { afterEach, describe, expect, it } from 'vitest'
import { Webhooks, WebhookError, parseEvent } from '../src/index.js'
import { SECRET, signedHeaders } from './helpers.js'

function codeOf(body: string | Uint8Array): string | undefined {
  try {
    parseEvent(body)
    return undefined
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookError)
    return (error as WebhookError).code
  }
}

const PROTO_KEYS = ['polluted', 'isAdmin', 'prototype']

afterEach(() => {
  // Whatever a test did, the global prototype must be untouched.
  for (const key of PROTO_KEYS) expect(Object.prototype).not.toHaveProperty(key)
  expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
})

describe('parseEvent', () => {
  it('returns the envelope for a valid body, given as a string or bytes', () => {
    const body = '{"id":"e1","type":"contact.created","payload":{"id":"c1","username":"ada"}}'
    const expected = { id: 'e1', type: 'contact.created', payload: { id: 'c1', username: 'ada' } }
    expect(parseEvent(body)).toEqual(expected)
    expect(parseEvent(Buffer.from(body))).toEqual(expected)
    expect(parseEvent(new TextEncoder().encode(body))).toEqual(expected)
  })

  it('reads a Uint8Array view at an offset of a larger buffer', () => {
    const body = '{"id":"e1","type":"t.x","payload":{}}'
    const backing = Buffer.from(`garbage${body}garbage`)
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, Buffer.byteLength(body))
    expect(parseEvent(view)).toEqual({ id: 'e1', type: 't.x', payload: {} })
  })

  it('keeps extra envelope fields (eCampus may add some)', () => {
    const event = parseEvent(
      '{"id":"e1","type":"message.updated","payload":{"id":"m"},"created_at":1764806400,"version":2}',
    )
    expect(event).toEqual({
      id: 'e1',
      type: 'message.updated',
      payload: { id: 'm' },
      created_at: 1764806400,
      version: 2,
    })
  })

  describe('prototype poisoning', () => {
    it.each([
      [
        '__proto__ in the envelope',
        '{"id":"e","type":"t.x","payload":{},"__proto__":{"isAdmin":true}}',
      ],
      [
        '__proto__ in the payload',
        '{"id":"e","type":"t.x","payload":{"__proto__":{"isAdmin":true}}}',
      ],
      [
        '__proto__ deep inside the payload',
        '{"id":"e","type":"t.x","payload":{"a":[{"b":{"__proto__":{"isAdmin":true}}}]}}',
      ],
      [
        '__proto__ spelt with \\u005f escapes',
        '{"id":"e","type":"t.x","payload":{"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}}}',
      ],
      [
        '__proto__ spelt with upper-case \\u005F escapes',
        '{"id":"e","type":"t.x","payload":{"\\u005F_proto_\\u005F":{"isAdmin":true}}}',
      ],
      [
        '__proto__ with every letter escaped',
        '{"id":"e","type":"t.x","payload":{"\\u005f\\u005f\\u0070\\u0072\\u006f\\u0074\\u006f\\u005f\\u005f":{"isAdmin":true}}}',
      ],
    ])('%s is removed', (_name, body) => {
      const event = parseEvent(body)
      const json = JSON.stringify(event)
      expect(json).not.toContain('isAdmin')
      expect(json).not.toContain('__proto__')
      // Own keys only: nothing reached any prototype either.
      expect(Object.getPrototypeOf(event)).toBe(Object.prototype)
      expect(Object.getPrototypeOf(event.payload)).toBe(Object.prototype)
      // Merging the payload into a fresh object, as handlers often do, stays harmless.
      const merged = Object.assign({}, event.payload, event)
      expect((merged as Record<string, unknown>).isAdmin).toBeUndefined()
    })

    it.each([
      [
        'constructor.prototype in the payload',
        '{"id":"e","type":"t.x","payload":{"constructor":{"prototype":{"isAdmin":true}}}}',
      ],
      [
        'constructor.prototype with escapes',
        '{"id":"e","type":"t.x","payload":{"\\u0063onstructor":{"\\u0070rototype":{"isAdmin":true}}}}',
      ],
    ])('%s is removed', (_name, body) => {
      const event = parseEvent(body)
      expect(JSON.stringify(event)).not.toContain('isAdmin')
      expect(Object.hasOwn(event.payload, 'constructor')).toBe(false)
    })

    it('keeps a harmless "constructor" field that has no prototype key', () => {
      const event = parseEvent('{"id":"e","type":"t.x","payload":{"constructor":"Ada"}}')
      expect(event.payload).toEqual({ constructor: 'Ada' })
    })

    it('keeps the event valid when the poisoned key was the only extra one', async () => {
      const body = '{"id":"e1","type":"message.created","payload":{"id":"m","__proto__":{"x":1}}}'
      const hooks = new Webhooks({ secret: SECRET })
      const seen: unknown[] = []
      hooks.on('message.created', (event) => {
        seen.push(event.payload)
      })
      const response = await hooks.handle({ method: 'POST', headers: signedHeaders(body), body })
      expect(response.status).toBe(200)
      expect(seen).toEqual([{ id: 'm' }])
    })
  })

  describe('invalid input', () => {
    it.each([
      ['a lone continuation byte', [0x80]],
      ['an invalid start byte', [0xff]],
      ['a truncated multi-byte sequence', [0xe2, 0x82]],
      ['an overlong encoding of "/"', [0xc0, 0xaf]],
      ['a UTF-16 surrogate encoded in UTF-8', [0xed, 0xa0, 0x80]],
    ])('bytes that are not UTF-8 (%s) are INVALID_JSON', (_name, bad) => {
      const body = Buffer.concat([
        Buffer.from('{"id":"e","type":"t.x","payload":{"m":"'),
        Buffer.from(bad),
        Buffer.from('"}}'),
      ])
      expect(codeOf(body)).toBe('INVALID_JSON')
      // Node would otherwise replace the bytes with U+FFFD and parse fine.
      expect(() => JSON.parse(body.toString('utf8')) as unknown).not.toThrow()
    })

    it('keeps the parser error as the cause of INVALID_JSON', () => {
      try {
        parseEvent('{')
        expect.unreachable()
      } catch (error) {
        expect(error).toMatchObject({ code: 'INVALID_JSON', status: 400, expose: true })
        expect((error as Error).cause).toBeInstanceOf(SyntaxError)
      }
    })

    it.each([
      ['empty', ''],
      ['whitespace', ' \n'],
      ['truncated', '{"id":"e"'],
      ['single quotes', "{'id':'e'}"],
      ['NaN', 'NaN'],
      ['two documents', '{}{}'],
    ])('%s is INVALID_JSON', (_name, body) => {
      expect(codeOf(body)).toBe('INVALID_JSON')
    })
  })

  describe('byte order mark', () => {
    // Decision: a leading UTF-8 BOM is skipped, as secure-json-parse (and so Fastify) does. The
    // signature still covers the bytes as sent, BOM included.
    const body = '{"id":"e1","type":"contact.created","payload":{"id":"c"}}'

    it('a leading BOM is ignored, as a string or as bytes', () => {
      const expected = { id: 'e1', type: 'contact.created', payload: { id: 'c' } }
      expect(parseEvent(`\uFEFF${body}`)).toEqual(expected)
      expect(
        parseEvent(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)])),
      ).toEqual(expected)
    })

    it('a BOM anywhere else is INVALID_JSON', () => {
      expect(codeOf(` \uFEFF${body}`)).toBe('INVALID_JSON')
      expect(codeOf(`\uFEFF\uFEFF${body}`)).toBe('INVALID_JSON')
    })

    it('the signature covers the BOM', async () => {
      const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)])
      const hooks = new Webhooks({ secret: SECRET })
      const ok = await hooks.handle({
        method: 'POST',
        headers: signedHeaders(withBom),
        body: withBom,
      })
      expect(ok.status).toBe(200)
      const stripped = await hooks.handle({
        method: 'POST',
        headers: signedHeaders(body),
        body: withBom,
      })
      expect(stripped.status).toBe(401)
    })
  })
})
