import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { Webhooks, createWebhooks, sign, verifySignature } from '../src/index.js'

interface Vector {
  name: string
  body?: string
  bodyGenerator?: 'bytes-mod-256'
  bodyLength?: number
  secret?: string
  secretHex?: string
  command: string
  signature: string
}

const fixture = JSON.parse(
  readFileSync(new URL('fixtures/signature-vectors.json', import.meta.url), 'utf8'),
) as { vectors: Vector[] }

function bodyOf(vector: Vector): string | Uint8Array {
  if (vector.bodyGenerator === 'bytes-mod-256') {
    return Uint8Array.from({ length: vector.bodyLength ?? 0 }, (_, i) => i % 256)
  }
  return vector.body ?? ''
}

function secretOf(vector: Vector): string | Uint8Array {
  return vector.secretHex === undefined
    ? (vector.secret ?? '')
    : new Uint8Array(Buffer.from(vector.secretHex, 'hex'))
}

const ascii = fixture.vectors.find((v) => v.name === 'ASCII JSON envelope')!
const BODY = ascii.body!
const SECRET = ascii.secret!
const GOOD = ascii.signature

describe('known-answer vectors (computed with openssl)', () => {
  it('covers every case the suite promises', () => {
    const names = fixture.vectors.map((v) => v.name).join('\n')
    for (const needle of [
      'empty body',
      'ASCII',
      'UTF-8 multi-byte body',
      '64 KiB',
      'binary secret',
      'long secret',
    ]) {
      expect(names).toContain(needle)
    }
    expect(fixture.vectors.every((v) => v.command.startsWith('openssl dgst -sha256 '))).toBe(true)
  })

  it.each(fixture.vectors.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    const body = bodyOf(vector)
    const secret = secretOf(vector)
    if (vector.bodyLength !== undefined) expect(body).toHaveLength(vector.bodyLength)

    expect(sign(body, secret)).toBe(vector.signature)
    expect(verifySignature(body, vector.signature, secret)).toBe(true)
    expect(new Webhooks({ secret }).verify(body, vector.signature)).toBe(true)

    // The same bytes given the other way round (string <-> bytes) sign the same.
    const other = typeof body === 'string' ? new TextEncoder().encode(body) : Buffer.from(body)
    expect(sign(other, secret)).toBe(vector.signature)
  })

  it('the 64 KiB vector really is binary, not text', () => {
    const vector = fixture.vectors.find((v) => v.bodyGenerator === 'bytes-mod-256')!
    const body = bodyOf(vector)
    // As a (lossy) UTF-8 string it is different bytes, so the signature must not match.
    expect(verifySignature(Buffer.from(body).toString('utf8'), vector.signature, SECRET)).toBe(
      false,
    )
  })

  it('a binary secret is not the same as its UTF-8 decoding', () => {
    const vector = fixture.vectors.find(
      (v) => v.secretHex !== undefined && v.name.includes('binary'),
    )!
    const lossy = Buffer.from(vector.secretHex!, 'hex').toString('utf8')
    expect(verifySignature(bodyOf(vector), vector.signature, lossy)).toBe(false)
  })
})

describe('sign()', () => {
  it('outputs 64 lowercase hex digits', () => {
    for (const vector of fixture.vectors) {
      expect(sign(bodyOf(vector), secretOf(vector))).toMatch(/^[0-9a-f]{64}$/)
    }
  })
})

describe('verifySignature()', () => {
  it('accepts upper-case and mixed-case hex (compared as bytes)', () => {
    expect(verifySignature(BODY, GOOD.toUpperCase(), SECRET)).toBe(true)
    const mixed = [...GOOD].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c)).join('')
    expect(verifySignature(BODY, mixed, SECRET)).toBe(true)
  })

  it('ignores surrounding whitespace', () => {
    for (const padded of [` ${GOOD}`, `${GOOD} `, `\t${GOOD}\r\n`, `  ${GOOD}\n\n`]) {
      expect(verifySignature(BODY, padded, SECRET)).toBe(true)
    }
  })

  it.each([
    ['missing (undefined)', undefined],
    ['empty', ''],
    ['whitespace only', '   '],
    ['an array of the good value twice (header sent twice)', [GOOD, GOOD]],
    ['an array of one good value', [GOOD]],
    ['63 hex digits', GOOD.slice(0, 63)],
    ['65 hex digits', `${GOOD}0`],
    ['64 chars with a non-hex digit', `${GOOD.slice(0, 63)}g`],
    ['64 chars with inner whitespace', `${GOOD.slice(0, 32)} ${GOOD.slice(33)}`],
    ['a sha256= prefix', `sha256=${GOOD}`],
    ['base64 of the right bytes', Buffer.from(GOOD, 'hex').toString('base64')],
    ['a number', 12345],
    ['a bigint', 10n],
    ['an object', { toString: () => GOOD }],
    ['a String object', new String(GOOD)],
    ['null', null],
    ['a Buffer of the hex', Buffer.from(GOOD)],
    ['the 32 raw bytes', Buffer.from(GOOD, 'hex')],
  ])('is false, without throwing, for %s', (_name, value) => {
    expect(() => verifySignature(BODY, value, SECRET)).not.toThrow()
    expect(verifySignature(BODY, value, SECRET)).toBe(false)
    expect(new Webhooks({ secret: SECRET }).verify(BODY, value)).toBe(false)
  })

  it('is false for a signature of another body or another secret', () => {
    expect(verifySignature(`${BODY} `, GOOD, SECRET)).toBe(false)
    expect(verifySignature(BODY, GOOD, `${SECRET}x`)).toBe(false)
    expect(verifySignature(BODY, sign(BODY, 'other'), SECRET)).toBe(false)
  })

  describe('secret rotation', () => {
    const oldSecret = 'whsec_old_rotation_1'
    const newSecret = new Uint8Array([1, 2, 3, 4, 250, 251])

    it('accepts a signature made with any one of the secrets', () => {
      const secrets = [newSecret, SECRET, oldSecret]
      expect(verifySignature(BODY, GOOD, secrets)).toBe(true)
      expect(verifySignature(BODY, sign(BODY, oldSecret), secrets)).toBe(true)
      expect(verifySignature(BODY, sign(BODY, newSecret), secrets)).toBe(true)
      expect(new Webhooks({ secret: secrets }).verify(BODY, sign(BODY, newSecret))).toBe(true)
    })

    it('rejects a signature made with none of them', () => {
      const secrets = [newSecret, oldSecret]
      expect(verifySignature(BODY, GOOD, secrets)).toBe(false)
      expect(new Webhooks({ secret: secrets }).verify(BODY, GOOD)).toBe(false)
    })
  })

  describe('setup mistakes throw a TypeError that says how to fix them', () => {
    it.each([
      ['an empty string', ''],
      ['an empty Uint8Array', new Uint8Array()],
      ['an empty list', []],
      ['a list holding an empty secret', [SECRET, '']],
      ['undefined (unset env var)', undefined],
      ['null', null],
      ['a number', 42],
    ])('%s', (_name, secret) => {
      const bad = secret as unknown as string
      const check = (fn: () => unknown): void => {
        expect(fn).toThrow(TypeError)
        expect(fn).toThrow(/^@ecampus-webhooks\/core: .*secret/)
        expect(fn).toThrow(/ECAMPUS_WEBHOOK_SECRET/)
      }
      // Whatever the header holds, good or garbage: the mistake is in the setup.
      check(() => verifySignature(BODY, GOOD, bad))
      check(() => verifySignature(BODY, 'not a signature', bad))
      check(() => verifySignature(BODY, undefined, bad))
      check(() => new Webhooks({ secret: bad }))
      check(() => createWebhooks({ secret: bad }))
    })

    it('new Webhooks() without options', () => {
      const make = (): unknown => new Webhooks(undefined as never)
      expect(make).toThrow(TypeError)
      expect(make).toThrow(/^@ecampus-webhooks\/core: .*secret/)
    })
  })
})
