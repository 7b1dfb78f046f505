import { WebhookError, isPermanentError } from './errors.js'
import type { ClaimResult, IdempotencyStore } from './idempotency.js'
import { NO_FAILURES, type Failures, type Router } from './router.js'
import { unrefTimer } from './timers.js'
import type { AnyWebhookEvent, ErrorDecision } from './types.js'

/**
 * How a delivery ended when the answer is a 2xx: handlers succeeded (or none matched), the id was
 * already handled, the handlers were started in the background or the event was queued, or an `EVENT_REJECTED` error (a
 * permanent failure, answered 2xx). Outcomes the sender must retry are thrown as WebhookErrors.
 */
export type DeliveryResult = 'handled' | 'duplicate' | 'accepted' | WebhookError

/** Settings of a `Pipeline`, already validated by `Webhooks`. */
export interface PipelineOptions {
  /** `undefined` when idempotency is off. */
  store: IdempotencyStore | undefined
  ttl: number
  lease: number
  /** 0: no timeout. */
  handlerTimeout: number
  /** Queue mode: stores events instead of running handlers; `undefined` otherwise. */
  enqueue: ((event: AnyWebhookEvent) => Promise<unknown>) | undefined
}

type Decision = 'retry' | 'background' | 'late' | 'failed'

export const HANDLED = Promise.resolve<DeliveryResult>('handled')
const ACCEPTED = Promise.resolve<DeliveryResult>('accepted')

/** Whole seconds for `Retry-After`, at least 1; `fallback` when a store gave no usable figure. */
function seconds(ms: unknown, fallback: number): number {
  const wait = typeof ms === 'number' && Number.isFinite(ms) ? ms : fallback
  return Math.max(1, Math.ceil(wait / 1000))
}

/** How long a store or queue outage is likely to last, as far as a sender needs to know. */
const UNAVAILABLE_RETRY_AFTER = 5

/**
 * What happens to a verified event, in one place for `handle()`, `receive()` and
 * `verifyAndReceive()`: claim its id (idempotency), run its handlers (bounded by
 * `handlerTimeout`), settle the claim on the handlers' real outcome, classify failures (permanent
 * or not) and report them to `onError` with the decision taken. Every feature that is off costs
 * nothing: no store call, no timer.
 */
export class Pipeline {
  readonly #router: Router
  readonly #store: IdempotencyStore | undefined
  readonly #ttl: number
  readonly #lease: number
  readonly #timeout: number
  readonly #enqueue: ((event: AnyWebhookEvent) => Promise<unknown>) | undefined
  /** Every handler run not yet settled (with its claim), for `drain()`. */
  readonly #running = new Set<Promise<unknown>>()

  constructor(router: Router, options: PipelineOptions) {
    this.#router = router
    this.#store = options.store
    this.#ttl = options.ttl
    this.#lease = options.lease
    this.#timeout = options.handlerTimeout
    this.#enqueue = options.enqueue
  }

  /**
   * Delivers a verified event. With `background`, resolves `'accepted'` once the id is claimed
   * and lets the handlers run on; their failures only reach `onError`. With `lastAttempt`, a
   * failure is reported as `'failed'`: nothing will retry it.
   */
  deliver(
    event: AnyWebhookEvent,
    background = false,
    lastAttempt = false,
  ): Promise<DeliveryResult> {
    try {
      if (this.#enqueue !== undefined) return this.#handOff(this.#enqueue, event)
      const decision = background ? 'background' : lastAttempt ? 'failed' : 'retry'
      return this.#store === undefined
        ? this.#run(event, undefined, decision)
        : this.#claimAndRun(this.#store, event, decision)
    } catch (error) {
      // receive() takes events from app code: a malformed one rejects, it does not throw.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error)
    }
  }

  /** Resolves when every handler run started so far has settled, claims included. */
  async drain(): Promise<void> {
    // allSettled reads the set now: runs started while draining are not waited for.
    await Promise.allSettled(this.#running)
  }

  /**
   * Queue mode: `'accepted'` only once the queue says the event is stored; any failure to store
   * it is a 503 so the sender retries (an acknowledged event must never be lost).
   */
  #handOff(
    enqueue: (event: AnyWebhookEvent) => Promise<unknown>,
    event: AnyWebhookEvent,
  ): Promise<DeliveryResult> {
    const stored = attempt(() => enqueue(event)).then(
      () => 'accepted' as const,
      (cause: unknown) => {
        throw new WebhookError(
          'QUEUE_UNAVAILABLE',
          `The queue did not store event ${event.id}; retry later.`,
          { cause, retryAfter: UNAVAILABLE_RETRY_AFTER },
        )
      },
    )
    return this.#track(stored)
  }

  async #claimAndRun(
    store: IdempotencyStore,
    event: AnyWebhookEvent,
    decision: Decision,
  ): Promise<DeliveryResult> {
    let claim: ClaimResult
    try {
      claim = await store.claim(event.id, this.#lease)
    } catch (cause) {
      throw unavailable('could not claim', event, cause)
    }
    switch (claim?.status) {
      case 'claimed':
        return this.#run(event, claim.token, decision)
      case 'done':
        return 'duplicate'
      case 'in-progress':
        // Not a 2xx: if the first delivery fails, the sender must still be retrying this one.
        throw new WebhookError(
          'EVENT_IN_PROGRESS',
          `Event ${event.id} is being handled by another delivery; retry later.`,
          { retryAfter: seconds(claim.retryAfterMs, this.#lease) },
        )
      default:
        throw unavailable('returned an invalid claim result', event, claim)
    }
  }

  #run(
    event: AnyWebhookEvent,
    token: string | undefined,
    decision: Decision,
  ): Promise<DeliveryResult> {
    const background = decision === 'background'
    const settled = this.#router.settle(event)
    // Nothing to record, and nothing ran or every handler returned synchronously without failing:
    // the common case answers without an async hop.
    if (token === undefined && (settled === undefined || settled === NO_FAILURES)) {
      return background ? ACCEPTED : HANDLED
    }
    const work = settled instanceof Promise ? settled : Promise.resolve(settled ?? NO_FAILURES)
    const outcome =
      this.#timeout === 0
        ? this.#settle(event, token, work, decision)
        : this.#settleWithin(event, token, work, decision)
    if (!background) return outcome
    // Failures were reported to onError; nobody waits for this answer.
    outcome.catch(ignore)
    return ACCEPTED
  }

  #settle(
    event: AnyWebhookEvent,
    token: string | undefined,
    work: Promise<Failures>,
    decision: Decision,
  ): Promise<DeliveryResult> {
    return this.#track(work.then((failures) => this.#finish(event, token, failures, decision)))
  }

  /**
   * Answers `HANDLER_TIMEOUT` if the handlers are still running after `handlerTimeout`. They are
   * not stopped: when they settle, the claim follows their real outcome and a failure is reported
   * as `'late'`.
   */
  #settleWithin(
    event: AnyWebhookEvent,
    token: string | undefined,
    work: Promise<Failures>,
    decision: Decision,
  ): Promise<DeliveryResult> {
    const timeout = this.#timeout
    return new Promise<DeliveryResult>((resolve, reject) => {
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        const error = new WebhookError(
          'HANDLER_TIMEOUT',
          `The handlers for event ${event.id} (${event.type}) did not settle within ${timeout} ms (handlerTimeout).`,
        )
        this.#router.reportError(error, event, { eventId: event.id, decision })
        reject(error)
      }, timeout)
      // A number where setTimeout returns one (Deno, Workers): nothing to unref there.
      unrefTimer(timer)
      const settled = work.then((failures) => {
        clearTimeout(timer)
        return this.#finish(event, token, failures, timedOut ? 'late' : decision)
      })
      // After a timeout these are no-ops; a late failure was reported, never thrown.
      this.#track(settled).then(resolve, reject)
    })
  }

  /** Settles the claim on the handlers' outcome, reports failures, and throws the retryable ones. */
  #finish(
    event: AnyWebhookEvent,
    token: string | undefined,
    { errors, total }: Failures,
    decision: Decision,
  ): DeliveryResult | Promise<DeliveryResult> {
    if (errors.length === 0) {
      return token === undefined ? 'handled' : this.#complete(event, token, decision, 'handled')
    }
    const info = { eventId: event.id, decision: acknowledged(decision) }
    const cause = new AggregateError(errors, 'Webhook handler failures')
    if (errors.every(isPermanentError)) {
      const error = new WebhookError(
        'EVENT_REJECTED',
        `${errors.length} of ${total} handler(s) rejected event ${event.id} (${event.type}) permanently; do not retry it.`,
        { cause, errors },
      )
      this.#router.reportError(error, event, info)
      return token === undefined ? error : this.#complete(event, token, decision, error)
    }
    // One ordinary failure among permanent ones: a retry may succeed, so it is not acknowledged.
    const error = new WebhookError(
      'HANDLER_FAILED',
      `${errors.length} of ${total} handler(s) failed for event ${event.id} (${event.type}).`,
      { cause, errors },
    )
    this.#router.reportError(error, event, { eventId: event.id, decision })
    if (token === undefined) throw error
    return this.#release(event, token).then(() => {
      throw error
    })
  }

  /** Records a handled id; a store failure is reported, never answered (the work is done). */
  #complete<T extends DeliveryResult>(
    event: AnyWebhookEvent,
    token: string,
    decision: Decision,
    result: T,
  ): Promise<T> {
    const store = this.#store!
    return attempt(() => store.complete(event.id, token, this.#ttl)).then(
      () => result,
      (cause: unknown) => {
        this.#router.reportError(
          unavailable('could not record the handled event', event, cause),
          event,
          { eventId: event.id, decision: acknowledged(decision) },
        )
        return result
      },
    )
  }

  /**
   * Drops the claim so a redelivery runs the handlers again. A store failure is not reported on
   * its own: the handler failure already is, and the claim expires with its lease.
   */
  #release(event: AnyWebhookEvent, token: string): Promise<void> {
    const store = this.#store!
    return attempt(() => store.release(event.id, token)).then(ignore, ignore)
  }

  #track<T>(run: Promise<T>): Promise<T> {
    const running = this.#running
    running.add(run)
    const untrack = (): void => {
      running.delete(run)
    }
    run.then(untrack, untrack)
    return run
  }
}

/** A 2xx answer goes with `'acknowledged'`; an answer already sent keeps its own decision. */
function acknowledged(decision: Decision): ErrorDecision {
  return decision === 'retry' || decision === 'failed' ? 'acknowledged' : decision
}

function unavailable(what: string, event: AnyWebhookEvent, cause: unknown): WebhookError {
  return new WebhookError(
    'IDEMPOTENCY_UNAVAILABLE',
    `The idempotency store ${what} for event ${event.id}.`,
    { cause, retryAfter: UNAVAILABLE_RETRY_AFTER },
  )
}

/** Calls a store or queue function so that a synchronous throw becomes a rejection. */
function attempt(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return Promise.resolve(call())
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error)
  }
}

function ignore(): void {}
