import { createHmac } from 'node:crypto'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import * as core from '@ecampus-webhooks/core'
import type { AnyWebhookEvent, HeaderMap, WebhookRequest } from '@ecampus-webhooks/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DOCUMENTED_TYPES, ReferenceModel } from '../src/model.js'
import type { HandlerName, ModelBody, ModelOutcome } from '../src/model.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000)
const SECRET = 'whsec_fuzz-current'
const OLD_SECRET = 'whsec_fuzz-rotated-out'
const MAX_BODY = 2048

// Issue-4 features appear in the core while this suite runs against it; the model follows.
const IDEMPOTENCY = 'EVENT_IN_PROGRESS' in core.ERROR_STATUS
const PermanentError = (core as Record<string, unknown>).PermanentWebhookError as
  (new (message: string) => Error) | undefined

const hmac = (body: Uint8Array | string, secret = SECRET): string =>
  createHmac('sha256', secret).update(body).digest('hex')

// ---- arbitraries -------------------------------------------------------------------------------

/** `arbitrary` in about `percent` % of the runs, `undefined` otherwise. */
const sometimes = <T>(percent: number, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof(
    { weight: 100 - percent, arbitrary: fc.constant(undefined) },
    { weight: percent, arbitrary },
  )

const randomCase = (name: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((upper) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''))

const headerName = (name: string): fc.Arbitrary<string> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(name) }, { weight: 1, arbitrary: randomCase(name) })

const eventId = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('evt-1', 'evt-2', 'evt-3') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
)

const eventType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...DOCUMENTED_TYPES) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'message.pinned',
      'poll.created',
      'message.*',
      '*.deleted',
      '*',
      'constructor',
      '__proto__',
      'toString',
      'contact.',
      '.created',
      'a.b.c',
      'message.created ',
      'MESSAGE.CREATED',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
)

const payload = fc.record({
  id: fc.string({ maxLength: 8 }),
  fail: sometimes(10, fc.constantFrom('sync', 'async', 'permanent')),
  extra: sometimes(30, fc.jsonValue({ maxDepth: 2 })),
})

const event = fc.record({ id: eventId, type: eventType, payload })

/** Bodies of every shape, as bytes, with whether the generator meant them to verify. */
const bodyText: fc.Arbitrary<{ bytes: Buffer; label: string }> = fc.oneof(
  {
    weight: 6,
    arbitrary: event.map((e) => ({ bytes: Buffer.from(JSON.stringify(e)), label: 'event' })),
  },
  {
    weight: 1,
    arbitrary: event.map((e) => ({
      bytes: Buffer.from(`\ufeff${JSON.stringify(e)}`),
      label: 'bom',
    })),
  },
  {
    weight: 1,
    arbitrary: event.map((e) => ({
      bytes: Buffer.from(JSON.stringify(e) + ' '.repeat(MAX_BODY)),
      label: 'oversize',
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(event, fc.nat(), fc.constantFrom([0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff]))
      .map(([e, at, bad]) => {
        const text = Buffer.from(JSON.stringify(e))
        const cut = at % (text.length + 1)
        return {
          bytes: Buffer.concat([text.subarray(0, cut), Buffer.from(bad), text.subarray(cut)]),
          label: 'bad-utf8',
        }
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => ({ bytes: Buffer.from(JSON.stringify(v) ?? 'null'), label: 'json' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record(
        {
          id: fc.oneof(eventId, fc.constant(''), fc.integer(), fc.constant(null)),
          type: fc.oneof(eventType, fc.constant(''), fc.integer(), fc.boolean()),
          payload: fc.oneof(payload, fc.array(fc.integer()), fc.constant(null), fc.string()),
        },
        { requiredKeys: [] },
      )
      .map((v) => ({ bytes: Buffer.from(JSON.stringify(v)), label: 'envelope' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 64 }))
      .map((s) => ({ bytes: Buffer.from(s), label: 'text' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ maxLength: 64 })
      .map((b) => ({ bytes: Buffer.from(b), label: 'bytes' })),
  },
  { weight: 1, arbitrary: fc.constant({ bytes: Buffer.alloc(0), label: 'empty' }) },
)

/**
 * How to make the signature header from the body: right, right in another form, or wrong. A
 * recipe, so the arbitrary does not depend on the body (chain() would rebuild it every run).
 */
type SignatureRecipe = (bytes: Buffer) => unknown
const signatureRecipe: fc.Arbitrary<SignatureRecipe> = fc.oneof(
  { weight: 8, arbitrary: fc.constant((b: Buffer) => hmac(b)) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => hmac(b, OLD_SECRET)) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => hmac(b).toUpperCase()) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => ` \t${hmac(b)}\t `) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => [hmac(b)]) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => [hmac(b), hmac(b)]) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => `sha256=${hmac(b)}`) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => `${hmac(b)}, ${hmac(b)}`) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => hmac(b, 'a wrong secret')) },
  { weight: 1, arbitrary: fc.constant((b: Buffer) => hmac(b).repeat(128)) },
  {
    weight: 1,
    arbitrary: fc.nat(63).map((at) => (b: Buffer) => {
      const sig = hmac(b)
      return sig.slice(0, at) + (sig[at] === '0' ? '1' : '0') + sig.slice(at + 1)
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constantFrom<unknown>('', '   ', '\t', [], ['', ''], 12345),
        fc.string({ maxLength: 70 }),
        fc.string({
          unit: fc.constantFrom(...'0123456789abcdefABCDEF'),
          minLength: 63,
          maxLength: 65,
        }),
      )
      .map((value) => () => value),
  },
)

type BodyShape = 'buffer' | 'uint8array' | 'string' | 'stream' | 'none' | 'consumed'

interface Generated {
  method: string
  headers: Record<string, unknown>
  bytes: Buffer
  shape: BodyShape
  /** Chunk boundaries of a stream body. */
  cuts: number[]
  stringChunks: boolean
  /** The body tampered after signing: one byte flipped at this index (mod length). */
  flip: number | undefined
}

const request: fc.Arbitrary<Generated> = fc
  .record({
    body: bodyText,
    method: fc.oneof(
      { weight: 30, arbitrary: fc.constant('POST') },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'GET',
          'PUT',
          'post',
          'Post',
          'HEAD',
          'OPTIONS',
          'DELETE',
          'POST ',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
    ),
    signature: sometimes(92, signatureRecipe),
    signatureName: headerName('x-ecampus-signature'),
    // Two keys differing only in case: the header sent twice.
    signatureTwice: sometimes(10, fc.tuple(randomCase('x-ecampus-signature'), signatureRecipe)),
    encoding: sometimes(
      15,
      fc.tuple(
        headerName('content-encoding'),
        fc.constantFrom<unknown>(
          'identity',
          'IDENTITY',
          ' identity ',
          '',
          'gzip',
          'br',
          'deflate',
          'gzip, identity',
          'identity, identity',
          ['identity'],
          ['gzip'],
          ['identity', 'identity'],
        ),
      ),
    ),
    length: sometimes(
      50,
      fc.tuple(
        headerName('content-length'),
        fc.oneof(
          { weight: 4, arbitrary: fc.constant((n: number): unknown => String(n)) },
          { weight: 1, arbitrary: fc.constant((n: number): unknown => n) },
          { weight: 1, arbitrary: fc.constant((n: number): unknown => [String(n)]) },
          { weight: 1, arbitrary: fc.constant((n: number): unknown => ` ${n} `) },
          { weight: 1, arbitrary: fc.nat(4 * MAX_BODY).map((d) => (): unknown => String(d)) },
          {
            weight: 1,
            arbitrary: fc
              .constantFrom<unknown>('', 'abc', '-1', '99999999999999', 10 * 1024 * 1024)
              .map((v) => (): unknown => v),
          },
        ),
      ),
    ),
    chunked: fc.boolean(),
    noise: fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom('content-type', 'Content-Type', 'x-request-id', 'cookie'),
          fc.string(),
        ),
        fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constant('v'.repeat(16 * 1024)),
          fc.array(fc.string()),
        ),
      ),
      { maxLength: 3 },
    ),
    shape: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom<BodyShape>('buffer', 'uint8array', 'string') },
      { weight: 6, arbitrary: fc.constant<BodyShape>('stream') },
      { weight: 1, arbitrary: fc.constantFrom<BodyShape>('none', 'consumed') },
    ),
    cuts: fc.array(fc.nat(MAX_BODY * 2), { maxLength: 6 }),
    stringChunks: fc.boolean(),
    flip: sometimes(8, fc.nat()),
  })
  .map((g) => {
    // Noise first, so the headers under test win a name clash.
    const entries: [string, unknown][] = [...g.noise]
    const { bytes } = g.body
    if (g.signature !== undefined) entries.push([g.signatureName, g.signature(bytes)])
    if (g.signatureTwice !== undefined) {
      entries.push([g.signatureTwice[0], g.signatureTwice[1](bytes)])
    }
    if (g.encoding !== undefined) entries.push(g.encoding)
    if (g.length !== undefined) entries.push([g.length[0], g.length[1](bytes.length)])
    if (g.chunked) entries.push(['transfer-encoding', 'chunked'])
    let body = bytes
    if (g.flip !== undefined && bytes.length > 0) {
      body = Buffer.from(bytes)
      body[g.flip % body.length] = body[g.flip % body.length]! ^ 0x01
    }
    // Object.fromEntries defines own properties, so a `__proto__` name stays a header.
    const generated: Generated = {
      method: g.method,
      headers: Object.fromEntries(entries),
      bytes: body,
      shape: g.shape,
      cuts: g.cuts,
      stringChunks: g.stringChunks,
      flip: g.flip,
    }
    return Object.assign(generated, { [fc.toStringMethod]: () => describeRequest(generated) })
  })

/** A counterexample as a reader wants it: the body as text, long runs elided. */
function describeRequest(g: Generated): string {
  const elide = (text: string): string =>
    text.length > 300 ? `${text.slice(0, 200)}…(${text.length} chars)…${text.slice(-60)}` : text
  const headers = JSON.stringify(g.headers, (_, v: unknown) =>
    typeof v === 'string' ? elide(v) : v,
  )
  return `{ method: ${JSON.stringify(g.method)}, headers: ${headers}, shape: ${g.shape}, cuts: [${g.cuts.join(',')}], stringChunks: ${g.stringChunks}, body (${g.bytes.length} bytes): ${JSON.stringify(elide(g.bytes.toString('latin1')))} }`
}

const scenario = fc
  .record({
    idempotency: IDEMPOTENCY ? fc.boolean() : fc.constant(false),
    requests: fc.array(request, { minLength: 1, maxLength: 4 }),
    // Redeliveries: copies of earlier requests, as eCampus retries them (same bytes, same id).
    replays: fc.array(fc.nat(), { maxLength: 3 }),
  })
  .map(({ idempotency, requests, replays }) => ({
    idempotency,
    requests: [...requests, ...replays.map((i) => requests[i % requests.length]!)],
  }))

// ---- running one request through the core and the model --------------------------------------

function chunksOf(g: Generated): Buffer[] {
  const cuts = [...new Set(g.cuts.filter((c) => c > 0 && c < g.bytes.length))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let start = 0
  for (const cut of [...cuts, g.bytes.length]) {
    chunks.push(g.bytes.subarray(start, cut))
    start = cut
  }
  return chunks.filter((c) => c.length > 0)
}

/** The request for the core, and the same request described for the model. */
async function build(g: Generated): Promise<{ input: WebhookRequest; body: ModelBody }> {
  const headers = g.headers as HeaderMap
  const text = g.bytes.toString('utf8')
  // Strings only where they round-trip to the same bytes.
  const utf8 = Buffer.from(text).equals(g.bytes)
  switch (g.shape) {
    case 'buffer':
      return {
        input: { method: g.method, headers, body: g.bytes },
        body: { kind: 'raw', bytes: g.bytes },
      }
    case 'uint8array': {
      const copy = new Uint8Array(g.bytes)
      return {
        input: { method: g.method, headers, body: copy },
        body: { kind: 'raw', bytes: copy },
      }
    }
    case 'string':
      if (!utf8) return build({ ...g, shape: 'buffer' })
      return {
        input: { method: g.method, headers, body: text },
        body: { kind: 'raw', bytes: text },
      }
    case 'stream':
    case 'consumed': {
      const chunks: (Buffer | string)[] = chunksOf(g).map((c) =>
        g.stringChunks && Buffer.from(c.toString('utf8')).equals(c) ? c.toString('utf8') : c,
      )
      const stream = new Readable({ read() {} })
      for (const c of chunks) stream.push(c)
      stream.push(null)
      const consumed = g.shape === 'consumed'
      if (consumed) {
        // A body parser got there first and read to the end.
        stream.resume()
        await once(stream, 'end')
      }
      return {
        input: { method: g.method, headers, body: stream },
        body: { kind: 'stream', chunks, consumed },
      }
    }
    case 'none':
      return { input: { method: g.method, headers, body: undefined }, body: { kind: 'none' } }
  }
}

interface Observed {
  status: number
  code?: string
  duplicate: boolean
  handlers: HandlerName[]
  eventIds: string[]
}

/** A receiver with the handlers the model knows, logging what ran. */
function receiver(idempotency: boolean): { webhooks: core.Webhooks; log: [HandlerName, string][] } {
  const options = { secret: [SECRET, OLD_SECRET], maxBodySize: MAX_BODY, bodyTimeout: 5_000 }
  const webhooks = new core.Webhooks(idempotency ? { ...options, idempotency: true } : options)
  const log: [HandlerName, string][] = []
  const record = (name: HandlerName) => (e: AnyWebhookEvent) => void log.push([name, e.id])
  webhooks.on('message.created', record('exact'))
  webhooks.on('message.*', record('resource'))
  webhooks.on('*.deleted', record('action'))
  webhooks.on(['contact.created', 'contact.*'], record('twice'))
  webhooks.onAny(async (e) => {
    log.push(['any', e.id])
    const fail = e.payload.fail
    if (fail === 'sync') throw new Error('handler failed (sync)')
    if (fail === 'async') {
      await Promise.resolve()
      throw new Error('handler failed (async)')
    }
    if (fail === 'permanent') {
      throw PermanentError
        ? new PermanentError('rejected for good')
        : Object.assign(new Error('rejected for good'), { permanent: true })
    }
  })
  return { webhooks, log }
}

async function observe(
  webhooks: core.Webhooks,
  log: [HandlerName, string][],
  input: WebhookRequest,
): Promise<Observed> {
  const before = log.length
  const response = await webhooks.handle(input)
  const ran = log.slice(before)
  let parsed: { error?: { code?: string }; duplicate?: boolean }
  try {
    parsed = JSON.parse(response.body) as typeof parsed
  } catch {
    throw new Error(`response body is not JSON: ${response.body}`)
  }
  if (response.status === 405 && response.headers.allow !== 'POST') {
    throw new Error('405 without Allow: POST')
  }
  if (response.body.includes(SECRET) || response.body.includes(OLD_SECRET)) {
    throw new Error('a secret leaked into the response')
  }
  return {
    status: response.status,
    code: parsed.error?.code,
    duplicate: parsed.duplicate === true,
    handlers: ran.map(([name]) => name).sort(),
    eventIds: [...new Set(ran.map(([, id]) => id))],
  }
}

function expected(outcome: ModelOutcome): Observed {
  return {
    status: outcome.status,
    code: outcome.code,
    duplicate: outcome.duplicate === true,
    handlers: outcome.handlers,
    eventIds: outcome.handlers.length > 0 ? [outcome.eventId!] : [],
  }
}

// ---- the property ------------------------------------------------------------------------------

describe('fuzzing handle() against the reference model', () => {
  const rejections: unknown[] = []
  const onRejection = (reason: unknown): void => void rejections.push(reason)
  beforeAll(() => {
    process.on('unhandledRejection', onRejection)
  })
  afterAll(() => {
    process.off('unhandledRejection', onRejection)
  })

  it(
    `${RUNS} generated scenarios: same status and code as the model, handlers exactly for verified first-seen events`,
    async () => {
      let requests = 0
      const seen = new Map<string, number>()
      await fc.assert(
        fc.asyncProperty(scenario, async ({ idempotency, requests: list }) => {
          const model = new ReferenceModel({
            secrets: [SECRET, OLD_SECRET],
            maxBodySize: MAX_BODY,
            idempotency,
            permanentFailures: PermanentError !== undefined,
          })
          const { webhooks, log } = receiver(idempotency)
          for (const g of list) {
            const { input, body } = await build(g)
            const want = expected(model.expect({ method: g.method, headers: g.headers, body }))
            let got: Observed
            try {
              got = await observe(webhooks, log, input)
            } catch (error) {
              throw new Error(`handle() threw or answered badly: ${String(error)}`, {
                cause: error,
              })
            }
            requests += 1
            expect(got).toEqual(want)
            const key = `${got.status}${got.code ? ` ${got.code}` : ''}${got.duplicate ? ' duplicate' : ''}`
            seen.set(key, (seen.get(key) ?? 0) + 1)
          }
        }),
        { numRuns: RUNS, endOnFailure: process.env.FUZZ_NO_SHRINK === '1' },
      )
      // Give late rejections (drains, background work) a turn to surface.
      await new Promise((resolve) => setImmediate(resolve))
      expect(rejections).toEqual([])
      expect(requests).toBeGreaterThanOrEqual(RUNS)
      if (process.env.FUZZ_STATS) console.log([...seen].sort((a, b) => b[1] - a[1]))
      // The generator must keep reaching every row of the table, or the property proves little.
      const rows = [
        '200',
        '401 SIGNATURE_MISSING',
        '401 SIGNATURE_INVALID',
        '413 BODY_TOO_LARGE',
        '415 UNSUPPORTED_ENCODING',
        '400 INVALID_JSON',
        '400 INVALID_EVENT',
        '405 METHOD_NOT_ALLOWED',
        '500 HANDLER_FAILED',
        '500 BODY_ALREADY_PARSED',
        ...(IDEMPOTENCY ? ['200 duplicate'] : []),
        ...(PermanentError ? ['200 EVENT_REJECTED'] : []),
      ]
      if (RUNS >= 1000) for (const row of rows) expect(seen.get(row) ?? 0, row).toBeGreaterThan(0)
    },
    Math.max(60_000, RUNS * 5),
  )
})
