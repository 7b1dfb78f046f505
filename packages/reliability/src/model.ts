import { createHmac } from 'node:crypto'

/**
 * An independent reference model of the HTTP table in DESIGN.md, the "Decisions" of
 * packages/core/README.md and the issue-4 outcomes. It is written from those documents, not from
 * the core's code, and shares none of it: the fuzz test compares the two, so a rule that drifts in
 * either one shows up as a counterexample.
 */

/** The 15 documented event types. */
export const DOCUMENTED_TYPES: readonly string[] = [
  'contact',
  'conversation',
  'message',
  'group',
  'attachment',
].flatMap((resource) => ['created', 'updated', 'deleted'].map((action) => `${resource}.${action}`))

/** How the model receives the body, mirroring the three shapes `handle()` accepts. */
export type ModelBody =
  /** The exact raw bytes a body parser kept. */
  | { kind: 'raw'; bytes: Uint8Array | string }
  /** A fresh stream that will yield these chunks; `consumed` when something already read it. */
  | { kind: 'stream'; chunks: readonly (Uint8Array | string)[]; consumed: boolean }
  /** Consumed by a body parser that kept no copy. */
  | { kind: 'none' }

/** One request as the model sees it. */
export interface ModelRequest {
  method: string
  headers: Readonly<Record<string, unknown>>
  body: ModelBody
}

/**
 * The handlers the fuzz test registers, by name: `exact` on `message.created`, `resource` on
 * `message.*`, `action` on `*.deleted`, `twice` (one function) on both `contact.created` and
 * `contact.*`, and `any` via `onAny`. The `any` handler fails when the payload's `fail` field says
 * so: `'sync'` (throws), `'async'` (rejects), `'permanent'` (throws a permanent error).
 */
export type HandlerName = 'exact' | 'resource' | 'action' | 'twice' | 'any'

/** What the model expects from one request. */
export interface ModelOutcome {
  status: number
  /** `error.code` of the JSON body, if any. */
  code?: string
  /** `true` when the body must say `{"ok":true,"duplicate":true}`. */
  duplicate?: boolean
  /** The handlers that must run for this request, each once, sorted. */
  handlers: HandlerName[]
  /** The event id the handlers get, when they run. */
  eventId?: string
}

/** What the model is configured with, mirroring the options given to the core. */
export interface ModelConfig {
  secrets: readonly (string | Uint8Array)[]
  maxBodySize: number
  /** Idempotency on (default in-memory store), with requests handled one after another. */
  idempotency: boolean
  /** The core exports `PermanentWebhookError` (issue 4); otherwise `'permanent'` is ordinary. */
  permanentFailures: boolean
}

/** The model's early answer, thrown to stop at the first rule that refuses the request. */
class Refusal extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string) {
    super(code)
    this.status = status
    this.code = code
  }
}

const refuse = (status: number, code: string): never => {
  throw new Refusal(status, code)
}

/**
 * The reference receiver. Stateful only for idempotency: `expect()` must be called once per
 * request, in the order the requests are handled.
 */
export class ReferenceModel {
  readonly #config: ModelConfig
  readonly #completed = new Set<string>()

  constructor(config: ModelConfig) {
    this.#config = config
  }

  expect(request: ModelRequest): ModelOutcome {
    try {
      return this.#decide(request)
    } catch (caught) {
      if (caught instanceof Refusal)
        return { status: caught.status, code: caught.code, handlers: [] }
      throw caught
    }
  }

  #decide(request: ModelRequest): ModelOutcome {
    const { method, headers, body } = request
    const { maxBodySize } = this.#config

    // DESIGN.md: 405 for any method but POST; RFC 9110 methods are case-sensitive.
    if (method !== 'POST') refuse(405, 'METHOD_NOT_ALLOWED')

    // Content-Encoding other than identity -> 415. An absent or empty value is identity.
    // A list of codings, or the header sent twice, is not identity either.
    const encoding = single(lookup(headers, 'content-encoding'))
    const identity =
      encoding.kind === 'absent' ||
      (encoding.kind === 'one' && ['', 'identity'].includes(encoding.value.trim().toLowerCase()))
    if (!identity) refuse(415, 'UNSUPPORTED_ENCODING')

    // Size before the signature: a raw body's real length, a stream's declared length.
    if (body.kind === 'raw') {
      if (byteLength(body.bytes) > maxBodySize) refuse(413, 'BODY_TOO_LARGE')
    } else {
      const declared = single(lookup(headers, 'content-length'))
      if (declared.kind === 'one' && /^\s*\d+\s*$/.test(declared.value)) {
        if (Number(declared.value) > maxBodySize) refuse(413, 'BODY_TOO_LARGE')
      }
    }

    // The signature header's syntax, before a byte of body is read.
    const header = single(lookup(headers, 'x-ecampus-signature'))
    if (header.kind === 'absent') refuse(401, 'SIGNATURE_MISSING')
    // Sent twice, an empty list, or not text at all: not one value of 64 hex digits.
    if (header.kind !== 'one') return refuse(401, 'SIGNATURE_INVALID')
    const trimmed = header.value.trim()
    if (trimmed === '') refuse(401, 'SIGNATURE_MISSING')
    if (!/^[0-9a-f]{64}$/i.test(trimmed)) refuse(401, 'SIGNATURE_INVALID')

    // Only now is the body read, under the limit.
    let raw: Buffer
    if (body.kind === 'raw') {
      raw = Buffer.from(body.bytes)
    } else if (body.kind === 'none' || body.consumed) {
      return refuse(500, 'BODY_ALREADY_PARSED')
    } else {
      raw = Buffer.concat(body.chunks.map((chunk) => Buffer.from(chunk)))
      if (raw.length > maxBodySize) refuse(413, 'BODY_TOO_LARGE')
    }

    const presented = Buffer.from(trimmed, 'hex')
    const matches = this.#config.secrets.some((secret) =>
      createHmac('sha256', secret).update(raw).digest().equals(presented),
    )
    if (!matches) refuse(401, 'SIGNATURE_INVALID')

    const event = parseEnvelope(raw)

    if (this.#config.idempotency && this.#completed.has(event.id)) {
      return { status: 200, duplicate: true, handlers: [] }
    }
    const handlers = handlersFor(event.type)
    const fail = event.payload.fail
    const failure =
      fail === 'sync' || fail === 'async'
        ? 'ordinary'
        : fail === 'permanent'
          ? this.#config.permanentFailures
            ? 'permanent'
            : 'ordinary'
          : undefined
    if (failure === 'ordinary') {
      return { status: 500, code: 'HANDLER_FAILED', handlers, eventId: event.id }
    }
    if (this.#config.idempotency) this.#completed.add(event.id)
    if (failure === 'permanent') {
      return { status: 200, code: 'EVENT_REJECTED', handlers, eventId: event.id }
    }
    return { status: 200, handlers, eventId: event.id }
  }
}

type HeaderValue =
  | { kind: 'absent' }
  | { kind: 'one'; value: string }
  /** The header sent more than once (an array, or several keys differing only in case). */
  | { kind: 'many' }
  /** An empty list, or a value that is neither text nor a number. */
  | { kind: 'junk' }

/** Every value of a header, whatever the case of its name; `undefined` values do not count. */
function lookup(headers: Readonly<Record<string, unknown>>, name: string): unknown[] {
  const values: unknown[] = []
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && value !== undefined) values.push(value)
  }
  return values
}

/** One value, or many: an array of one is the header sent once, an empty array is junk. */
function single(values: unknown[]): HeaderValue {
  const flat: unknown[] = []
  for (const value of values) {
    if (Array.isArray(value)) {
      if (value.length === 0) return { kind: 'junk' }
      flat.push(...(value as unknown[]))
    } else {
      flat.push(value)
    }
  }
  if (flat.length === 0) return { kind: 'absent' }
  if (flat.length > 1) return { kind: 'many' }
  const [value] = flat
  if (typeof value === 'number') return { kind: 'one', value: String(value) }
  if (typeof value !== 'string') return { kind: 'junk' }
  return { kind: 'one', value }
}

function byteLength(bytes: Uint8Array | string): number {
  return typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength
}

interface Envelope {
  id: string
  type: string
  payload: Record<string, unknown>
}

/** UTF-8 (strict), one optional leading BOM, JSON, then the `{id, type, payload}` envelope. */
function parseEnvelope(raw: Buffer): Envelope {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw)
  } catch {
    return refuse(400, 'INVALID_JSON')
  }
  if (text.startsWith('\ufeff')) text = text.slice(1)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return refuse(400, 'INVALID_JSON')
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
  if (!isObject(value)) return refuse(400, 'INVALID_EVENT')
  const { id, type, payload } = value
  if (typeof id !== 'string' || id === '') return refuse(400, 'INVALID_EVENT')
  if (typeof type !== 'string' || type === '') return refuse(400, 'INVALID_EVENT')
  if (!isObject(payload)) return refuse(400, 'INVALID_EVENT')
  return { id, type, payload }
}

/**
 * Which of the fuzz test's handlers an event type reaches. Patterns over documented resources and
 * actions match documented types only (and types registered by exact name, none here); a type
 * with `*` or without a dot reaches `onAny` only; a handler matching twice runs once.
 */
function handlersFor(type: string): HandlerName[] {
  const names = new Set<HandlerName>(['any'])
  if (DOCUMENTED_TYPES.includes(type)) {
    const [resource, action] = type.split('.') as [string, string]
    if (type === 'message.created') names.add('exact')
    if (resource === 'message') names.add('resource')
    if (action === 'deleted') names.add('action')
    if (resource === 'contact') names.add('twice')
  }
  return [...names].sort()
}
