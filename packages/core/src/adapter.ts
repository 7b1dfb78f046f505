import type { ErrorHandler, RejectionHandler } from './router.js'
import type {
  AnyEventHandler,
  EventHandler,
  EventName,
  WebhookSecret,
  WebhooksOptions,
} from './types.js'
import { Webhooks } from './node-webhooks.js'

/**
 * What a framework adapter accepts: the webhook secret(s), options, or an existing instance.
 * `undefined` type-checks so `ecampusWebhooks(process.env.ECAMPUS_WEBHOOK_SECRET)` reads as in the
 * docs; at startup it throws a TypeError that says to set the variable.
 */
export type WebhooksInput =
  WebhookSecret | readonly WebhookSecret[] | WebhooksOptions | Webhooks | undefined

/**
 * The routing methods an adapter's middleware carries. Each delegates to the core instance and
 * returns the middleware, so calls chain.
 */
export interface WebhooksRouting<Self> {
  /** The core `Webhooks` instance behind this middleware. */
  readonly webhooks: Webhooks
  /** Registers a handler for an event type, a pattern (`'message.*'`, `'*.deleted'`) or a list. */
  on<const N extends EventName>(name: N | readonly N[], handler: EventHandler<N>): Self
  /** Registers a handler for every verified event, including types this app does not know. */
  onAny(handler: AnyEventHandler): Self
  /** Registers a handler for handler failures, with the event and the decision taken. */
  onError(handler: ErrorHandler): Self
  /** Registers a hook for every request refused before its handlers ran (to log or count). */
  onRejected(handler: RejectionHandler): Self
  /** Removes a handler; `off('*', handler)` removes an `onAny`/`onError`/`onRejected` one. */
  off<const N extends EventName>(
    name: N | readonly N[] | '*',
    handler: EventHandler<N> | AnyEventHandler | ErrorHandler | RejectionHandler,
  ): Self
}

/**
 * The core instance for an adapter's argument. Setup mistakes throw a TypeError that names the
 * adapter (`owner`) the user called.
 */
export function toWebhooks(input: WebhooksInput, owner: string): Webhooks {
  if (isWebhooks(input)) return input
  // A bare secret (or an unset environment variable) goes through the core's checks, so the
  // user gets its "is ECAMPUS_WEBHOOK_SECRET set?" message.
  const options =
    typeof input === 'object' &&
    input !== null &&
    !Array.isArray(input) &&
    !(input instanceof Uint8Array)
      ? (input as WebhooksOptions)
      : { secret: input as WebhookSecret | readonly WebhookSecret[] }
  try {
    return new Webhooks(options)
  } catch (error) {
    if (error instanceof TypeError) {
      throw new TypeError(error.message.replace('@ecampus-webhooks/core', owner), { cause: error })
    }
    throw error
  }
}

/** Adds the routing methods and `webhooks` to an adapter's middleware function. */
export function withRouting<Self extends WebhooksRouting<Self>>(
  target: object,
  webhooks: Webhooks,
): Self {
  const self = target as Self
  return Object.assign(target, {
    webhooks,
    on(name: EventName | readonly EventName[], handler: EventHandler<EventName>) {
      webhooks.on(name, handler)
      return self
    },
    onAny(handler: AnyEventHandler) {
      webhooks.onAny(handler)
      return self
    },
    onError(handler: ErrorHandler) {
      webhooks.onError(handler)
      return self
    },
    onRejected(handler: RejectionHandler) {
      webhooks.onRejected(handler)
      return self
    },
    off(
      name: EventName | readonly EventName[] | '*',
      handler: AnyEventHandler | ErrorHandler | RejectionHandler,
    ) {
      webhooks.off(name, handler)
      return self
    },
  }) as Self
}

/** Duck-typed rather than `instanceof`, which a second installed copy of the core would defeat. */
export function isWebhooks(value: unknown): value is Webhooks {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Webhooks).handle === 'function' &&
    typeof (value as Webhooks).matchesPath === 'function'
  )
}
