import type { AnyWebhookEvent } from '@ecampus-webhooks/core'
import type { DefaultJobOptions, Queue } from 'bullmq'
import { jobIdOf } from './job-id.js'

const OWNER = '@ecampus-webhooks/bullmq'

/**
 * The job options every event gets unless the queue's `defaultJobOptions` set them: the queue is
 * the one place to configure retries and retention (the worker reads `attempts` from each job).
 *
 * - `attempts: 5` with exponential `backoff` from 5 s: retries after about 5, 10, 20 and 40 s.
 * - `removeOnComplete: { age: 86400 }`: a handled job is kept 24 h, so a redelivery within 24 h
 *   collapses onto it (the same window as the core's idempotency `ttl`).
 * - `removeOnFail: false`: a job that failed for good stays in the failed set to inspect or retry.
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 5_000 },
  removeOnComplete: { age: 24 * 60 * 60 },
  removeOnFail: false,
} as const satisfies DefaultJobOptions

/** Options of `enqueueTo()`. */
export interface EnqueueOptions {
  /**
   * Milliseconds to wait for Redis to store an event before giving up, so the sender gets 503
   * `QUEUE_UNAVAILABLE` instead of a hung request (and retries; the retry collapses onto the job if
   * the slow write landed after all). `0` waits as long as the queue's connection does.
   * @default 5000
   */
  timeout?: number
}

/**
 * Builds the `enqueue` option of `new Webhooks()`: each verified event is added to `queue` as a
 * job named after its type, with the id `jobIdOf(event.id)`. The promise resolves once Redis
 * stored the job (or already held one with that id: a duplicate delivery collapses onto it while
 * the job is retained), so the sender gets 202 only for a stored event.
 *
 * Retries and retention are the queue's `defaultJobOptions`, over `DEFAULT_JOB_OPTIONS`. For a
 * quick 503 when Redis is down, give the queue a connection with `enableOfflineQueue: false`
 * (`createQueue()` does); `timeout` bounds the wait either way.
 *
 * @example
 * import { Webhooks } from '@ecampus-webhooks/core'
 * import { createQueue, enqueueTo } from '@ecampus-webhooks/bullmq'
 *
 * const queue = createQueue({ connection: { url: process.env.REDIS_URL } })
 * const webhooks = new Webhooks({
 *   secret: process.env.ECAMPUS_WEBHOOK_SECRET!,
 *   enqueue: enqueueTo(queue),
 * })
 * app.use(ecampusWebhooks(webhooks)) // @ecampus-webhooks/express: 202 once stored
 */
export function enqueueTo(
  queue: Queue,
  options: EnqueueOptions = {},
): (event: AnyWebhookEvent) => Promise<void> {
  if (typeof queue !== 'object' || queue === null || typeof queue.add !== 'function') {
    throw new TypeError(
      `${OWNER}: enqueueTo() needs a BullMQ Queue, e.g. enqueueTo(createQueue({ connection: { url: process.env.REDIS_URL } })).`,
    )
  }
  const timeout = options.timeout ?? 5_000
  if (!Number.isSafeInteger(timeout) || timeout < 0) {
    throw new TypeError(
      `${OWNER}: enqueueTo() timeout must be a non-negative integer (ms), got ${String(timeout)}.`,
    )
  }
  return async (event) => {
    // Read on every call: defaultJobOptions is a copy, and an app may change the queue's.
    const added = queue.add(event.type, event, {
      ...DEFAULT_JOB_OPTIONS,
      ...queue.defaultJobOptions,
      jobId: jobIdOf(event.id),
    })
    await (timeout === 0 ? added : within(added, timeout, event.id))
  }
}

/** Rejects after `ms` unless `work` settled; a late rejection of `work` is dropped. */
function within(work: Promise<unknown>, ms: number, id: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${OWNER}: Redis did not store event ${id} within ${ms} ms.`))
    }, ms)
    work.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(error)
      },
    )
  })
}
