import type { WebhookError, WebhookErrorCode } from './errors.js'
import type { IdempotencyStore } from './idempotency.js'

/** The kinds of resource eCampus sends events about. */
export type ResourceName = 'contact' | 'conversation' | 'message' | 'group' | 'attachment'

/** What happened to the resource. */
export type EventAction = 'created' | 'updated' | 'deleted'

/** Unix time in seconds, as eCampus sends it. */
export type UnixSeconds = number

/**
 * A contact (a person) as documented by eCampus. Undocumented fields are kept as `unknown`.
 */
export interface Contact {
  id: string
  username: string
  phone_number: string | null
  avatar_url: string | null
  last_active_at: UnixSeconds | null
  created_at: UnixSeconds
  [field: string]: unknown
}

/** An attachment. eCampus documents only its `id`; every other field is open. */
export interface Attachment {
  id: string
  [field: string]: unknown
}

/** A message as documented by eCampus. Undocumented fields are kept as `unknown`. */
export interface Message {
  id: string
  conversation_id: string
  contact: Contact
  message: string
  reactions: unknown[]
  attachments: Attachment[]
  read_at: UnixSeconds | null
  created_at: UnixSeconds
  updated_at: UnixSeconds
  [field: string]: unknown
}

/** A conversation. eCampus documents only its `id`; every other field is open. */
export interface Conversation {
  id: string
  [field: string]: unknown
}

/** A group. eCampus documents only its `id`; every other field is open. */
export interface Group {
  id: string
  [field: string]: unknown
}

/**
 * Maps each event type to its payload. It is an interface so an app can add event types that
 * eCampus introduces before this package knows them, by declaration merging:
 *
 * @example
 * declare module '@ecampus-webhooks/core' {
 *   interface EventPayloadMap {
 *     'poll.created': { id: string; question: string }
 *   }
 * }
 */
export interface EventPayloadMap {
  'contact.created': Contact
  'contact.updated': Contact
  'contact.deleted': Contact
  'conversation.created': Conversation
  'conversation.updated': Conversation
  'conversation.deleted': Conversation
  'message.created': Message
  'message.updated': Message
  'message.deleted': Message
  'group.created': Group
  'group.updated': Group
  'group.deleted': Group
  'attachment.created': Attachment
  'attachment.updated': Attachment
  'attachment.deleted': Attachment
}

/** Every event type the app knows: the 15 built-in ones plus any added to `EventPayloadMap`. */
export type EventType = Extract<keyof EventPayloadMap, string>

type ResourceOf<T extends string> = T extends `${infer R}.${string}` ? R : never
type ActionOf<T extends string> = T extends `${string}.${infer A}` ? A : never

/** A pattern over event types: `'message.*'` (one resource) or `'*.deleted'` (one action). */
export type EventPattern = `${ResourceOf<EventType>}.*` | `*.${ActionOf<EventType>}`

/** What `webhooks.on()` accepts: an event type or a pattern. A misspelt name is a type error. */
export type EventName = EventType | EventPattern

/** The event types an `EventName` stands for. */
export type EventTypesOf<N extends EventName> = N extends EventType
  ? N
  : N extends `${infer R}.*`
    ? Extract<EventType, `${R}.${string}`>
    : N extends `*.${infer A}`
      ? Extract<EventType, `${string}.${A}`>
      : never

/**
 * A verified eCampus event. For a union of types it is a union of events, so checking
 * `event.type` narrows `event.payload`.
 */
export type WebhookEvent<T extends EventType = EventType> = T extends EventType
  ? { id: string; type: T; payload: EventPayloadMap[T] }
  : never

/** An event whose type this app does not know (eCampus may add types at any time). */
export interface UnknownWebhookEvent {
  id: string
  type: string
  payload: Record<string, unknown>
}

/** What `onAny` handlers receive: any verified event, known or not. */
export type AnyWebhookEvent = WebhookEvent | UnknownWebhookEvent

/** A handler for the events `N` names. It may be async; the request waits for it. */
export type EventHandler<N extends EventName = EventType> = (
  event: WebhookEvent<EventTypesOf<N>>,
) => unknown

/** A handler for every verified event. */
export type AnyEventHandler = (event: AnyWebhookEvent) => unknown

/** A webhook secret: the string shown by eCampus, or its bytes. */
export type WebhookSecret = string | Uint8Array

/** Options of `new Webhooks(options)`. */
export interface WebhooksOptions {
  /**
   * The webhook secret, or several during a rotation (a signature made with any one is accepted).
   */
  secret: WebhookSecret | readonly WebhookSecret[]
  /**
   * The path the framework adapters answer on, relative to where they are mounted.
   * @default '/webhooks'
   */
  path?: string
  /**
   * The largest body accepted, in bytes. Checked against Content-Length before reading and
   * enforced while the body streams in.
   * @default 1048576 (1 MiB)
   */
  maxBodySize?: number
  /**
   * How long, in milliseconds, a client may take to send the body before it gets 408.
   * @default 30000
   */
  bodyTimeout?: number
  /**
   * Remember event ids so a redelivered event runs its handlers once. `true` uses a bounded
   * in-memory store (one per instance, so per process); pass `{ store }` to share one between
   * processes. Off by default.
   * @default false
   */
  idempotency?: boolean | IdempotencyOptions
  /**
   * Milliseconds the handlers of one event may run before the request is answered 500
   * `HANDLER_TIMEOUT` (so the sender retries). The handlers are not stopped; their late outcome
   * goes to `onError` and settles the idempotency claim. `0` disables it.
   * @default 0
   */
  handlerTimeout?: number
  /**
   * When `handle()` answers: `'after-handlers'` once every handler succeeded (a failure is a 500
   * and the sender retries), or `'on-verify'` with 202 as soon as the event is verified and parsed
   * (and claimed), running the handlers afterwards. `'on-verify'` gives up redelivery: a failure
   * only reaches `onError`, and an event in flight when the process dies is lost.
   * @default 'after-handlers'
   */
  respond?: RespondMode
  /**
   * The bytes all requests of this instance may buffer at once while reading bodies. A read
   * reserves its declared length (or `maxBodySize` when none is declared) first, waiting in line
   * while the budget is short; the wait counts against `bodyTimeout`. Keeps memory bounded when
   * many clients send large bodies at once.
   * @default 16777216 (16 MiB)
   */
  maxBufferedBytes?: number
  /**
   * Queue mode: hand each verified event to durable storage instead of running handlers in the
   * request. `handle()` answers 202 once the returned promise resolves (the event is stored), and
   * 503 `QUEUE_UNAVAILABLE` with `Retry-After` when it rejects, so the sender retries. Handlers
   * registered on this instance do not run; run them where the queue is consumed (e.g.
   * `createWorker()` of `@ecampus-webhooks/bullmq`, which also builds this function). Cannot be
   * combined with `idempotency` (deduplicate where the handlers run) or `respond: 'on-verify'`.
   * @default undefined (handlers run in the request)
   */
  enqueue?: (event: AnyWebhookEvent) => Promise<unknown>
}

/** When `handle()` answers; see `WebhooksOptions.respond`. */
export type RespondMode = 'after-handlers' | 'on-verify'

/** The object form of `WebhooksOptions.idempotency`. */
export interface IdempotencyOptions {
  /**
   * Where claims and handled ids are kept.
   * @default new MemoryIdempotencyStore()
   */
  store?: IdempotencyStore
  /**
   * Milliseconds a handled id is remembered; a duplicate arriving later runs the handlers again.
   * @default 86400000 (24 hours)
   */
  ttl?: number
  /**
   * Milliseconds a claim holds while its handlers run. A claim neither completed nor released by
   * then (its process died) expires, so a redelivery may run the handlers: keep it longer than
   * any handler runs.
   * @default Math.max(60000, 2 * handlerTimeout)
   */
  lease?: number
}

/**
 * What the receiver did about a handler failure:
 * - `'retry'`: answered 5xx, so the sender retries;
 * - `'acknowledged'`: answered 2xx (a permanent failure, or the store failed to record a success);
 * - `'background'`: `respond: 'on-verify'`, already answered 202;
 * - `'late'`: the handlers had timed out and settled afterwards;
 * - `'failed'`: the last attempt failed and nothing will retry it (`receive(event, { lastAttempt:
 *   true })`; in queue mode the job stays in the queue's failed set).
 */
export type ErrorDecision = 'retry' | 'acknowledged' | 'background' | 'late' | 'failed'

/** Options of `webhooks.receive()`. */
export interface ReceiveOptions {
  /**
   * This is the last attempt at this event (a queue worker's final try): a failure is reported to
   * `onError` with decision `'failed'` instead of `'retry'`.
   * @default false
   */
  lastAttempt?: boolean
  /**
   * Reject with the `EVENT_REJECTED` WebhookError when every failing handler failed permanently,
   * instead of resolving (an HTTP receiver answers that 2xx; a queue worker fails the job without
   * retrying it).
   * @default false
   */
  rejectPermanent?: boolean
}

/** The third argument of an `onError` handler. */
export interface ErrorInfo {
  /** The id of the event whose handlers failed. */
  eventId: string
  /** What the receiver did about it. */
  decision: ErrorDecision
}

/** The second argument of an `onRejected` handler. Never holds the secret, a signature or the body. */
export interface RejectionInfo {
  /** The HTTP status answered. */
  status: number
  /** The error code answered. */
  code: WebhookErrorCode
  /** The request method. */
  method: string
  /** The event id, when the body was verified and parsed. */
  eventId?: string
  /** The event type, when the body was verified and parsed. */
  eventType?: string
}

/** The response `handle()` decided on; adapters write `status`, `headers` and `body` as is. */
export interface WebhookResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** For an error response, the error behind it (with its `cause`), for logging. */
  error?: WebhookError
}

/**
 * The framework an adapter serves (`'fetch'`: the Web-standard fetch handler); used only to word
 * advice in error messages.
 */
export type Framework = 'express' | 'koa' | 'fastify' | 'node' | 'fetch'

/** A request header map: Node's `IncomingHttpHeaders` or any record of header values. */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | number | undefined>>

/** A readable byte stream such as Node's `IncomingMessage`. */
export type BodyStream = NodeJS.ReadableStream & {
  readableEnded?: boolean
  readableDidRead?: boolean
  destroyed?: boolean
}

/** The framework-agnostic request that adapters pass to `handle()`. */
export interface WebhookRequest {
  /** HTTP method, e.g. `'POST'`. */
  method: string
  /** Request headers; names are matched case-insensitively. */
  headers: HeaderMap
  /**
   * The body: the request stream to read (the limit is enforced while reading), or the exact raw
   * bytes when a body parser kept a copy. `undefined` when the stream was consumed without one.
   */
  body: BodyStream | Uint8Array | string | undefined
  /** The framework, to word `BODY_ALREADY_PARSED` advice for it. @default 'node' */
  framework?: Framework
}
