import type { WebhookError } from './errors.js'
import type { AnyEventHandler, AnyWebhookEvent, ErrorInfo, RejectionInfo } from './types.js'

/** The 15 event types eCampus documents. */
export const EVENT_TYPES = [
  'contact.created',
  'contact.updated',
  'contact.deleted',
  'conversation.created',
  'conversation.updated',
  'conversation.deleted',
  'message.created',
  'message.updated',
  'message.deleted',
  'group.created',
  'group.updated',
  'group.deleted',
  'attachment.created',
  'attachment.updated',
  'attachment.deleted',
] as const

/**
 * Called with every handler failure (`HANDLER_FAILED`, `HANDLER_TIMEOUT`, `EVENT_REJECTED`, or
 * `IDEMPOTENCY_UNAVAILABLE` when a success could not be recorded), the event it happened on, and
 * what the receiver decided.
 */
export type ErrorHandler = (error: WebhookError, event: AnyWebhookEvent, info: ErrorInfo) => unknown

/** Called with every request refused before its handlers ran, and what was answered. */
export type RejectionHandler = (error: WebhookError, info: RejectionInfo) => unknown

/** What the handlers of one event threw, of how many. */
export interface Failures {
  /** What each failing handler threw; empty when all succeeded. */
  readonly errors: readonly unknown[]
  /** How many handlers ran. */
  readonly total: number
}

/** Shared by every success, so succeeding allocates nothing. */
export const NO_FAILURES: Failures = Object.freeze({ errors: Object.freeze([]), total: 0 })

type Handler = AnyEventHandler

const RESOURCES = new Set(EVENT_TYPES.map((type) => type.slice(0, type.indexOf('.'))))
const ACTIONS = new Set(EVENT_TYPES.map((type) => type.slice(type.indexOf('.') + 1)))

const NAME = /^(?:[^.*\s]+\.[^.*\s]+|[^.*\s]+\.\*|\*\.[^.*\s]+)$/

/**
 * Holds the handlers and dispatches events to them. Names are an event type (`'message.created'`)
 * or a pattern (`'message.*'`, `'*.deleted'`). Patterns over documented resources and actions
 * match the types this app knows — the 15 documented ones and any type a handler was registered
 * for by its exact name — so `'message.pinned'`, added by eCampus later, reaches neither
 * `'message.*'` nor typed handlers that do not expect it, only `onAny`, until the app names it.
 * A pattern over an undocumented resource or action (`'poll.*'`) matches every type it names.
 */
export class Router {
  // Maps, not objects: event types come from the network ('__proto__', 'constructor').
  readonly #byName = new Map<string, Set<Handler>>()
  readonly #any = new Set<Handler>()
  readonly #onError = new Set<ErrorHandler>()
  readonly #onRejected = new Set<RejectionHandler>()
  readonly #known = new Set<string>(EVENT_TYPES)
  // The handler list of each known type, built on first use and dropped on every change. Unknown
  // types are not cached, so what senders send cannot grow it.
  readonly #cache = new Map<string, readonly Handler[]>()

  on(names: string | readonly string[], handler: Handler): void {
    assertHandler(handler, 'on')
    for (const name of toNames(names)) {
      if (typeof name !== 'string' || !NAME.test(name)) {
        throw new TypeError(
          `@ecampus-webhooks/core: on() got the event name ${JSON.stringify(name)}. ` +
            "Use an event type like 'message.created' or a pattern like 'message.*' or '*.deleted'.",
        )
      }
      if (!name.includes('*')) this.#known.add(name)
      this.#cache.clear()
      let set = this.#byName.get(name)
      if (set === undefined) this.#byName.set(name, (set = new Set()))
      set.add(handler)
    }
  }

  onAny(handler: Handler): void {
    assertHandler(handler, 'onAny')
    this.#any.add(handler)
    this.#cache.clear()
  }

  onError(handler: ErrorHandler): void {
    assertHandler(handler, 'onError')
    this.#onError.add(handler)
  }

  onRejected(handler: RejectionHandler): void {
    assertHandler(handler, 'onRejected')
    this.#onRejected.add(handler)
  }

  off(names: string | readonly string[], handler: Handler | ErrorHandler | RejectionHandler): void {
    this.#cache.clear()
    for (const name of toNames(names)) {
      this.#byName.get(name)?.delete(handler as Handler)
    }
    if (names === '*') {
      this.#any.delete(handler as Handler)
      this.#onError.delete(handler as ErrorHandler)
      this.#onRejected.delete(handler as RejectionHandler)
    }
  }

  /** The handlers for an event type, each once, in registration order of their names. */
  handlersFor(type: string): readonly Handler[] {
    const cached = this.#cache.get(type)
    if (cached !== undefined) return cached
    const handlers = this.#collect(type)
    if (this.#known.has(type)) this.#cache.set(type, handlers)
    return handlers
  }

  #collect(type: string): Handler[] {
    const found = new Set<Handler>()
    const add = (set: Set<Handler> | undefined): void => set?.forEach((h) => found.add(h))
    const dot = type.indexOf('.')
    // A type from the network is never a pattern: 'message.*' must not reach pattern handlers.
    if (!type.includes('*')) {
      add(this.#byName.get(type))
      const resource = type.slice(0, dot)
      const action = type.slice(dot + 1)
      const known = this.#known.has(type)
      // A pattern over an undocumented resource or action ('poll.*', '*.pinned') only type-checks
      // after declaration merging added such types, so it gets every type it names.
      if (dot > 0 && (known || !RESOURCES.has(resource))) add(this.#byName.get(`${resource}.*`))
      if (dot > 0 && (known || !ACTIONS.has(action))) add(this.#byName.get(`*.${action}`))
    }
    add(this.#any)
    return [...found]
  }

  /**
   * Runs every handler for the event concurrently and waits for all of them; one failure does not
   * stop the others. Gives what the failing ones threw, in handler order, and never rejects:
   * directly when every handler returned without a promise (no async hop for synchronous
   * handlers), else as a promise; `undefined` when no handler matches.
   */
  settle(event: AnyWebhookEvent): Failures | Promise<Failures> | undefined {
    const handlers = this.handlersFor(event.type)
    if (handlers.length === 0) return undefined
    let outcomes: unknown[] | undefined
    let async = false
    for (let i = 0; i < handlers.length; i += 1) {
      let outcome: unknown
      try {
        const value = handlers[i]!(event)
        if (isThenable(value)) {
          async = true
          outcome = Promise.resolve(value).then(ok, failed)
        } else {
          outcome = OK
        }
      } catch (error) {
        outcome = failed(error)
      }
      if (outcome !== OK || outcomes !== undefined) {
        outcomes ??= new Array<unknown>(handlers.length).fill(OK, 0, i)
        outcomes[i] = outcome
      }
    }
    if (outcomes === undefined) return NO_FAILURES
    const total = handlers.length
    return async
      ? Promise.all(outcomes).then((settled) => failures(settled, total))
      : failures(outcomes, total)
  }

  /** Tells every error handler; their own failures are swallowed so they cannot mask the first. */
  reportError(error: WebhookError, event: AnyWebhookEvent, info: ErrorInfo): void {
    for (const handler of this.#onError) {
      run(handler as unknown as Handler, error, event, info).catch(ignore)
    }
  }

  /** Tells every rejection hook; their own failures are swallowed. */
  reportRejected(error: WebhookError, info: RejectionInfo): void {
    for (const handler of this.#onRejected) {
      run(handler as unknown as Handler, error, info).catch(ignore)
    }
  }
}

const OK = Symbol('ok')

/** A handler failure, told apart from a value by its wrapper. */
interface Failed {
  readonly error: unknown
}

function ok(): typeof OK {
  return OK
}

function failed(error: unknown): Failed {
  return { error }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

function failures(outcomes: readonly unknown[], total: number): Failures {
  const errors: unknown[] = []
  for (const outcome of outcomes) if (outcome !== OK) errors.push((outcome as Failed).error)
  return errors.length === 0 ? NO_FAILURES : { errors, total }
}

function ignore(): void {}

function toNames(names: string | readonly string[]): readonly string[] {
  // Anything but an array is one name, so a JavaScript caller's `on(undefined)` gets the
  // helpful TypeError, not "not iterable".
  return Array.isArray(names) ? (names as readonly string[]) : [names as string]
}

function assertHandler(handler: unknown, method: string): void {
  if (typeof handler !== 'function') {
    throw new TypeError(`@ecampus-webhooks/core: ${method}() needs a handler function.`)
  }
}

/** Calls a handler so that a synchronous throw becomes a rejection. */
function run(handler: Handler, ...args: unknown[]): Promise<unknown> {
  try {
    return Promise.resolve((handler as (...a: unknown[]) => unknown)(...args))
  } catch (error) {
    // Handlers may throw anything; it is passed on as is, inside HANDLER_FAILED's `errors`.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error)
  }
}
