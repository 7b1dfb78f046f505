import { createHmac } from 'node:crypto'
import { Webhooks } from '@ecampus-webhooks/core'
import type { HeaderMap } from '@ecampus-webhooks/core'
import { createSampleEvent } from '@ecampus-webhooks/core/testing'
import { RawConnection } from '@ecampus-webhooks/conformance/client'
import { targets } from '@ecampus-webhooks/conformance/targets'
import type { RunningTarget } from '@ecampus-webhooks/conformance/targets'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const SECRET = 'whsec_signature-header-corpus'
const BODY = JSON.stringify(createSampleEvent('contact.created', { id: 'sigCorpus0000001' }))
const VALID = createHmac('sha256', SECRET).update(BODY).digest('hex')
const OTHER_SECRET = createHmac('sha256', 'another secret').update(BODY).digest('hex')

type Outcome =
  | { status: 200 }
  | { status: 401; code: 'SIGNATURE_MISSING' | 'SIGNATURE_INVALID' }
  /** Node's own HTTP parser refuses the request line or header before any app code runs. */
  | { status: 400; code: 'PARSER' }

const ACCEPTED: Outcome = { status: 200 }
const MISSING: Outcome = { status: 401, code: 'SIGNATURE_MISSING' }
const INVALID: Outcome = { status: 401, code: 'SIGNATURE_INVALID' }
const PARSER: Outcome = { status: 400, code: 'PARSER' }

interface Entry {
  name: string
  /** `undefined`: no header; an array: the header sent that many times. */
  value: string | readonly string[] | number | undefined
  /** The outcome through `handle()`: the contract. */
  expected: Outcome
  /**
   * Over HTTP, when it differs: the value is written as UTF-8 bytes, Node decodes header values
   * as latin1 and strips only SP/HTAB around them, and its parser refuses NUL. `null`: the value
   * cannot be framed as a header at all (CR/LF, an empty list, a number), so it is `handle()` only.
   */
  wire?: Outcome | null
}

const replaceAt = (text: string, index: number, char: string): string =>
  text.slice(0, index) + char + text.slice(index + 1)

// Expected outcomes follow packages/core/README.md "Decisions": whitespace only is missing; a
// `sha256=` prefix, a repeated header and anything but 64 hex digits is invalid; surrounding
// whitespace (as String.prototype.trim defines it) is ignored; hex is compared as bytes.
const CORPUS: readonly Entry[] = [
  { name: 'absent', value: undefined, expected: MISSING },
  { name: 'empty', value: '', expected: MISSING },
  { name: 'one space', value: ' ', expected: MISSING },
  { name: 'spaces and tabs', value: '  \t \t ', expected: MISSING },
  { name: 'one tab', value: '\t', expected: MISSING },
  { name: 'one-element array of spaces', value: ['   '], expected: MISSING, wire: null },
  { name: 'empty array', value: [], expected: INVALID, wire: null },
  { name: 'prefix only sha256=', value: 'sha256=', expected: INVALID },
  { name: 'sha256=<valid hex>', value: `sha256=${VALID}`, expected: INVALID },
  { name: 'sha1=<40 hex>', value: `sha1=${VALID.slice(0, 40)}`, expected: INVALID },
  { name: 'sha1=<valid hex>', value: `sha1=${VALID}`, expected: INVALID },
  { name: 'v1,<valid hex> (Svix style)', value: `v1,${VALID}`, expected: INVALID },
  { name: 't=…,v1=<valid hex> (Stripe style)', value: `t=1,v1=${VALID}`, expected: INVALID },
  { name: '0x-prefixed', value: `0x${VALID}`, expected: INVALID },
  { name: 'quoted', value: `"${VALID}"`, expected: INVALID },
  { name: '32 hex (half)', value: VALID.slice(0, 32), expected: INVALID },
  { name: '63 hex (valid minus last)', value: VALID.slice(0, 63), expected: INVALID },
  { name: '65 hex (valid plus one)', value: `${VALID}0`, expected: INVALID },
  { name: '128 hex (valid twice)', value: VALID + VALID, expected: INVALID },
  { name: '64 x g (non-hex)', value: 'g'.repeat(64), expected: INVALID },
  { name: 'valid with one g', value: replaceAt(VALID, 17, 'g'), expected: INVALID },
  { name: 'valid with one -', value: replaceAt(VALID, 0, '-'), expected: INVALID },
  { name: 'valid + junk suffix', value: `${VALID}zz`, expected: INVALID },
  { name: 'valid + ;', value: `${VALID};`, expected: INVALID },
  { name: 'valid + NUL', value: `${VALID}\0`, expected: INVALID, wire: PARSER },
  { name: 'NUL + valid', value: `\0${VALID}`, expected: INVALID, wire: PARSER },
  { name: 'NUL x 64', value: '\0'.repeat(64), expected: INVALID, wire: PARSER },
  {
    name: 'non-ASCII, same string length (é, 2 bytes in UTF-8)',
    value: replaceAt(VALID, 10, 'é'),
    expected: INVALID,
  },
  {
    name: 'non-ASCII, same string length (€, 3 bytes in UTF-8)',
    value: replaceAt(VALID, 63, '€'),
    expected: INVALID,
  },
  { name: 'fullwidth digit (U+FF10)', value: replaceAt(VALID, 5, '０'), expected: INVALID },
  { name: 'Arabic-Indic digit (U+0660)', value: replaceAt(VALID, 5, '٠'), expected: INVALID },
  { name: 'latin1 0xFF char', value: replaceAt(VALID, 30, 'ÿ'), expected: INVALID },
  { name: '8 KiB of hex', value: VALID.repeat(128), expected: INVALID },
  { name: '8 KiB of spaces then valid', value: ' '.repeat(8192) + VALID, expected: ACCEPTED },
  { name: '8 KiB of junk', value: 'z'.repeat(8192), expected: INVALID },
  { name: 'comma-joined valid, valid', value: `${VALID}, ${VALID}`, expected: INVALID },
  { name: 'comma-joined valid,junk', value: `${VALID},junk`, expected: INVALID },
  { name: 'array of 2 valid', value: [VALID, VALID], expected: INVALID },
  { name: 'array valid + junk', value: [VALID, 'junk'], expected: INVALID },
  { name: 'array junk + valid', value: ['junk', VALID], expected: INVALID },
  { name: 'array of 2 empty', value: ['', ''], expected: INVALID },
  { name: 'array of 1 valid (sent once)', value: [VALID], expected: ACCEPTED },
  { name: 'upper-case valid', value: VALID.toUpperCase(), expected: ACCEPTED },
  {
    name: 'mixed-case valid',
    value: [...VALID].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join(''),
    expected: ACCEPTED,
  },
  { name: 'spaces around valid', value: `  ${VALID}  `, expected: ACCEPTED },
  { name: 'tabs around valid', value: `\t${VALID}\t`, expected: ACCEPTED },
  {
    name: 'tab inside valid',
    value: `${VALID.slice(0, 32)}\t${VALID.slice(32)}`,
    expected: INVALID,
  },
  {
    name: 'space inside valid',
    value: `${VALID.slice(0, 32)} ${VALID.slice(32)}`,
    expected: INVALID,
  },
  { name: 'trailing LF (handle() only)', value: `${VALID}\n`, expected: ACCEPTED, wire: null },
  {
    name: 'CRLF inside (handle() only)',
    value: `${VALID.slice(0, 8)}\r\n${VALID.slice(8)}`,
    expected: INVALID,
    wire: null,
  },
  // U+00A0 and U+2003 are whitespace to String.prototype.trim, so handle() ignores them around
  // the value; on the wire their UTF-8 bytes arrive as two latin1 characters, the first not
  // whitespace, so the same value is invalid there.
  { name: 'NBSP around valid', value: `\u00a0${VALID}\u00a0`, expected: ACCEPTED, wire: INVALID },
  { name: 'em spaces only', value: '\u2003\u2003', expected: MISSING, wire: INVALID },
  { name: 'em space before valid', value: `\u2003${VALID}`, expected: ACCEPTED, wire: INVALID },
  { name: 'BOM before valid', value: `\ufeff${VALID}`, expected: ACCEPTED, wire: INVALID },
  {
    name: 'zero-width space before valid (not whitespace)',
    value: `\u200b${VALID}`,
    expected: INVALID,
  },
  { name: 'valid for another secret', value: OTHER_SECRET, expected: INVALID },
  { name: 'all zeros', value: '0'.repeat(64), expected: INVALID },
  {
    name: 'base64 of the right digest',
    value: createHmac('sha256', SECRET).update(BODY).digest('base64'),
    expected: INVALID,
  },
  { name: 'the word null', value: 'null', expected: INVALID },
  { name: 'the word undefined', value: 'undefined', expected: INVALID },
  { name: 'a number (handle() only)', value: 12345, expected: INVALID, wire: null },
]

function outcomeOf(status: number, body: string): Outcome {
  if (status === 200) return ACCEPTED
  try {
    const code = (JSON.parse(body) as { error?: { code?: string } }).error?.code
    return { status, code } as Outcome
  } catch {
    // Node's parser answers 400 with its own non-JSON body, before any app code runs.
    return { status, code: 'PARSER' } as Outcome
  }
}

describe('malformed signature header corpus', () => {
  it(`has at least 40 named entries, unique names`, () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(40)
    expect(new Set(CORPUS.map((entry) => entry.name)).size).toBe(CORPUS.length)
  })

  describe('through handle()', () => {
    let calls = 0
    const webhooks = new Webhooks({ secret: SECRET })
    webhooks.onAny(() => {
      calls += 1
    })

    it.each(CORPUS)('$name', async (entry) => {
      const before = calls
      const headers: Record<string, HeaderMap[string]> = { 'content-type': 'application/json' }
      if (entry.value !== undefined) headers['x-ecampus-signature'] = entry.value
      let response
      try {
        response = await webhooks.handle({ method: 'POST', headers, body: Buffer.from(BODY) })
      } catch (error) {
        expect.fail(`handle() threw: ${String(error)}`)
      }
      expect(outcomeOf(response.status, response.body)).toEqual(entry.expected)
      expect(calls - before).toBe(entry.expected.status === 200 ? 1 : 0)
      expect(response.body).not.toContain(VALID)
    })
  })

  describe('over HTTP (Express 5, raw sockets)', () => {
    const express5 = targets.find((target) => target.name === 'Express 5')!
    const webhooks = new Webhooks({ secret: SECRET })
    let calls = 0
    webhooks.onAny(() => {
      calls += 1
    })
    let app: RunningTarget
    beforeAll(async () => {
      app = await express5.start(webhooks)
    })
    afterAll(async () => {
      await app?.close()
    })

    const onTheWire = CORPUS.filter((entry) => entry.wire !== null)

    it('sends most of the corpus', () => {
      expect(onTheWire.length).toBeGreaterThanOrEqual(40)
    })

    it.each(onTheWire)('$name', async (entry) => {
      const before = calls
      const lines = ['POST /webhooks HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close']
      lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(BODY)}`)
      const values =
        entry.value === undefined ? [] : Array.isArray(entry.value) ? entry.value : [entry.value]
      for (const value of values) lines.push(`X-eCampus-Signature: ${String(value)}`)
      const connection = await RawConnection.open(app.url)
      try {
        await connection.write(Buffer.from(`${lines.join('\r\n')}\r\n\r\n${BODY}`, 'utf8'))
        const response = await connection.response
        const expected = entry.wire ?? entry.expected
        expect(outcomeOf(response.status, response.body)).toEqual(expected)
        expect(response.status).toBeLessThan(500)
        expect(calls - before).toBe(expected.status === 200 ? 1 : 0)
        expect(response.raw).not.toContain(VALID)
      } finally {
        connection.destroy()
      }
    })
  })
})
