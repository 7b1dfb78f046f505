import {
  isWebhookError,
  type AnyWebhookEvent,
  type Webhooks,
  type WebhookError,
} from '@ecampus-webhooks/core'
import { UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq'
import { DEFAULT_QUEUE_NAME } from './create-queue.js'

const OWNER = '@ecampus-webhooks/bullmq'

/** A job of the webhook queue: its data is the verified event, its name the event type. */
export type EventJob = Job<AnyWebhookEvent, void>

/** Options of `createWorker()`: BullMQ's `WorkerOptions` plus the queue's name. */
export interface CreateWorkerOptions extends WorkerOptions {
  /**
   * The BullMQ queue to consume; the same name (and `prefix`) as the receivers' queue.
   * @default 'ecampus-webhooks'
   */
  queueName?: string
}

/**
 * A BullMQ `Worker` that runs each queued event through `webhooks.receive()`: the same typed
 * handlers (`webhooks.on(...)`), idempotency store and `handlerTimeout` as in a receiver.
 *
 * - A handler failure fails the attempt; BullMQ retries it with the job's `attempts` and `backoff`
 *   (set on the queue's `defaultJobOptions`, see `DEFAULT_JOB_OPTIONS`). The last attempt runs
 *   with `lastAttempt`, so `onError` hears `'retry'` before it and `'failed'` once at the end; the
 *   job then stays in the failed set.
 * - `EVENT_REJECTED` (every failing handler threw a `PermanentWebhookError`) fails the job at once
 *   with BullMQ's `UnrecoverableError`: no retry, kept in the failed set to inspect.
 * - `await worker.close()` stops taking jobs and waits for the running ones.
 *
 * `webhooks` must not have `enqueue` (it would queue the event again instead of handling it):
 * that is a TypeError. Give the worker's Webhooks an idempotency store
 * (`RedisIdempotencyStore`) to dedupe beyond the queue's job retention and across stalled retries.
 *
 * @example
 * import { Webhooks } from '@ecampus-webhooks/core'
 * import { createWorker } from '@ecampus-webhooks/bullmq'
 *
 * const webhooks = new Webhooks({ secret: process.env.ECAMPUS_WEBHOOK_SECRET! })
 * webhooks.on('message.created', async ({ payload }) => saveMessage(payload))
 * webhooks.onError((error, event, { decision }) => console.error(decision, event.id, error))
 *
 * const worker = createWorker(webhooks, { connection: { url: process.env.REDIS_URL }, concurrency: 10 })
 * process.on('SIGTERM', () => void worker.close().then(() => webhooks.drain()))
 */
export function createWorker(
  webhooks: Webhooks,
  options: CreateWorkerOptions,
): Worker<AnyWebhookEvent, void> {
  if (
    typeof webhooks !== 'object' ||
    webhooks === null ||
    typeof webhooks.receive !== 'function' ||
    typeof webhooks.onError !== 'function'
  ) {
    throw new TypeError(
      `${OWNER}: createWorker() needs a Webhooks instance of @ecampus-webhooks/core with the handlers, e.g. createWorker(webhooks, { connection }).`,
    )
  }
  if (webhooks.queueMode) {
    // It would put every job's event back into the queue (collapsing onto the running job) and
    // complete it without running a handler.
    throw new TypeError(
      `${OWNER}: the Webhooks given to createWorker() has an enqueue option, so it would queue each event again instead of running its handlers. Give the worker its own Webhooks without enqueue.`,
    )
  }
  const { queueName = DEFAULT_QUEUE_NAME, ...workerOptions } = options

  const processor = async (job: EventJob): Promise<void> => {
    // attemptsMade counts finished failed attempts; a stalled run that was restarted is not one.
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
    try {
      await webhooks.receive(job.data, { lastAttempt, rejectPermanent: true })
    } catch (error) {
      if (!isWebhookError(error)) throw error
      // EVENT_REJECTED: no retry can help; failing (not completing) the job keeps it in the
      // failed set to inspect.
      throw failureOf(error, error.code === 'EVENT_REJECTED' ? UnrecoverableError : Error)
    }
  }

  return new Worker<AnyWebhookEvent, void>(queueName, processor, workerOptions)
}

/**
 * What BullMQ records of a failure is its message and stack (`failedReason`, `stacktrace`), so
 * the error thrown to it carries the code and what each handler threw, with the first handler
 * error's stack. The WebhookError itself, already given to `onError`, is the `cause`.
 */
function failureOf(error: WebhookError, As: new (message: string) => Error): Error {
  const reasons = error.errors.map((e) => (e instanceof Error ? e.message : String(e)))
  const failure = new As(
    `${error.code}: ${error.message}${reasons.length > 0 ? ` Thrown: ${reasons.join('; ')}` : ''}`,
  )
  failure.cause = error
  const [first] = error.errors
  if (first instanceof Error && first.stack !== undefined) failure.stack = first.stack
  return failure
}
