import { Readable } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import type { HeaderMap, WebhookRequest } from '../src/index.js'
import { ERROR_STATUS, Webhooks, sign, verifySignature } from '../src/index.js'
import { SECRET } from './helpers.js'

const body = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.uint8Array({ maxLength: 512 }),
)
const secret = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1 }),
  fc.uint8Array({ minLength: 1, maxLength: 200 }),
)

function bytesOf(value: string | Uint8Array): Buffer {
  return Buffer.from(value)
}

/** Flips one byte at `index` (modulo the length) by a non-zero xor. */
function flipByte(value: Uint8Array, index: number, xor: number): Buffer {
  const copy = Buffer.from(value)
  const at = index % copy.length
  copy[at] = copy[at]! ^ xor
  return copy
}

describe('sign() and verifySignature()', () => {
  it('a signature verifies for any body and any non-empty secret', () => {
    fc.assert(
      fc.property(body, secret, (payload, key) => {
        const signature = sign(payload, key)
        expect(signature).toMatch(/^[0-9a-f]{64}$/)
        expect(verifySignature(payload, signature, key)).toBe(true)
        // Bytes and string forms of the same content agree.
        expect(verifySignature(bytesOf(payload), signature, key)).toBe(true)
        expect(verifySignature(payload, ` ${signature.toUpperCase()}\n`, key)).toBe(true)
        expect(new Webhooks({ secret: key }).verify(payload, signature)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('any single-byte change of the body fails', () => {
    fc.assert(
      fc.property(
        body.map(bytesOf).filter((b) => b.length > 0),
        secret,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (payload, key, index, xor) => {
          const signature = sign(payload, key)
          expect(verifySignature(flipByte(payload, index, xor), signature, key)).toBe(false)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('any change of one hex digit of the signature fails', () => {
    fc.assert(
      fc.property(
        body,
        secret,
        fc.nat(63),
        fc.integer({ min: 1, max: 15 }),
        (payload, key, at, delta) => {
          const signature = sign(payload, key)
          const digit = (parseInt(signature[at]!, 16) + delta) % 16
          const changed = signature.slice(0, at) + digit.toString(16) + signature.slice(at + 1)
          expect(changed).not.toBe(signature)
          expect(verifySignature(payload, changed, key)).toBe(false)
          expect(verifySignature(payload, changed.toUpperCase(), key)).toBe(false)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('any single-byte change of the secret fails', () => {
    fc.assert(
      fc.property(
        body,
        secret.map(bytesOf),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (payload, key, index, xor) => {
          const signature = sign(payload, key)
          const other = flipByte(key, index, xor)
          expect(verifySignature(payload, signature, other)).toBe(false)
          expect(verifySignature(payload, signature, [other, other])).toBe(false)
          // ...and adding the right one to a rotation list makes it pass again.
          expect(verifySignature(payload, signature, [other, key])).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('never throws for any header value', () => {
    const hooks = new Webhooks({ secret: SECRET })
    const header = fc.oneof(
      fc.anything({
        withBigInt: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withTypedArray: true,
      }),
      fc.string(),
      fc.stringMatching(/^\s*[0-9a-fA-F]{60,68}\s*$/),
      fc.array(fc.string()),
      fc.array(fc.stringMatching(/^[0-9a-f]{64}$/)),
    )
    fc.assert(
      fc.property(body, header, (payload, value) => {
        expect(typeof verifySignature(payload, value, SECRET)).toBe('boolean')
        expect(typeof hooks.verify(payload, value)).toBe('boolean')
      }),
      { numRuns: 500 },
    )
  })
})

describe('handle()', () => {
  const STATUSES = new Set<number>([200, ...Object.values(ERROR_STATUS)])

  const headerName = fc.oneof(
    fc.constantFrom(
      'x-ecampus-signature',
      'X-eCampus-Signature',
      'content-length',
      'Content-Length',
      'content-encoding',
      'content-type',
    ),
    fc.string(),
  )
  const headerValue = fc.oneof(
    fc.string(),
    fc.constantFrom('', '   ', 'gzip', 'identity', '0', '-1', '1e9', 'NaN', 'a'.repeat(64)),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.integer(),
    fc.constant(undefined),
    fc.anything(),
  )
  const headers = fc.oneof(
    { weight: 5, arbitrary: fc.dictionary(headerName, headerValue, { maxKeys: 6 }) },
    { weight: 1, arbitrary: fc.anything() },
  )
  const method = fc.oneof(
    { weight: 4, arbitrary: fc.constant('POST') },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'HEAD', 'post', '') },
    { weight: 1, arbitrary: fc.anything() },
  )
  const content = fc.oneof(
    fc.string(),
    fc.json(),
    fc
      .record({ id: fc.string(), type: fc.string(), payload: fc.object() })
      .map((value) => JSON.stringify(value)),
    fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  )
  /** How the body is passed; streams are built inside the property so every run gets a fresh one. */
  const bodyKind = fc.constantFrom(
    'string',
    'buffer',
    'uint8array',
    'stream',
    'chunks',
    'undefined',
    'consumed',
  )
  /** Mostly a real body; sometimes any value at all in its place. */
  const strangeBody = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ strange: false as const }) },
    { weight: 1, arbitrary: fc.anything().map((value) => ({ strange: true as const, value })) },
  )

  function makeBody(kind: string, text: string): WebhookRequest['body'] {
    const bytes = Buffer.from(text, 'latin1')
    switch (kind) {
      case 'string':
        return text
      case 'buffer':
        return bytes
      case 'uint8array':
        return new Uint8Array(bytes)
      case 'stream':
        return Readable.from([bytes])
      case 'chunks':
        return Readable.from([...bytes].map((b) => Buffer.from([b])))
      case 'consumed': {
        const stream = Readable.from([bytes])
        stream.resume()
        stream.read()
        return stream
      }
      default:
        return undefined
    }
  }

  it('never throws or rejects, and always answers a known status with a JSON body', async () => {
    await fc.assert(
      fc.asyncProperty(
        method,
        headers,
        content,
        bodyKind,
        strangeBody,
        fc.boolean(),
        fc.boolean(),
        async (verb, rawHeaders, text, kind, strange, signIt, handlerThrows) => {
          const hooks = new Webhooks({ secret: SECRET, maxBodySize: 200 })
          hooks.onAny(() => {
            if (handlerThrows) throw new Error('handler')
          })
          const requestHeaders =
            signIt && typeof rawHeaders === 'object' && rawHeaders !== null
              ? {
                  ...(rawHeaders as HeaderMap),
                  'x-ecampus-signature': sign(Buffer.from(text, 'latin1'), SECRET),
                }
              : rawHeaders
          const request = {
            method: verb,
            headers: requestHeaders,
            body: strange.strange ? strange.value : makeBody(kind, text),
          } as WebhookRequest

          let response
          try {
            response = await hooks.handle(request)
          } catch (error) {
            expect.fail(`handle() rejected: ${String(error)}`)
          }
          expect(STATUSES.has(response.status)).toBe(true)
          expect(typeof response.headers).toBe('object')
          const parsed = JSON.parse(response.body) as Record<string, unknown>
          if (response.status === 200) {
            expect(parsed).toEqual({ ok: true })
          } else {
            expect(parsed).toEqual({
              error: { code: expect.any(String), message: expect.any(String) },
            })
            expect(response.body).not.toContain(SECRET)
          }
          if (response.status === 405) expect(response.headers.allow).toBe('POST')
        },
      ),
      { numRuns: 400 },
    )
  })

  it('any signed envelope with string id and type is acknowledged and reaches onAny', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        fc.object(),
        fc.constantFrom('string', 'buffer', 'stream'),
        async (id, type, payload, kind) => {
          const text = JSON.stringify({ id, type, payload })
          const any = vi.fn()
          const hooks = new Webhooks({ secret: SECRET }).onAny(any)
          const raw = Buffer.from(text)
          const input = kind === 'string' ? text : kind === 'buffer' ? raw : Readable.from([raw])
          const response = await hooks.handle({
            method: 'POST',
            headers: { 'x-ecampus-signature': sign(text, SECRET) },
            body: input,
          })
          expect(response.status).toBe(200)
          expect(any).toHaveBeenCalledOnce()
          expect(any.mock.calls[0]?.[0]).toMatchObject({ id, type })
        },
      ),
      { numRuns: 200 },
    )
  })
})
