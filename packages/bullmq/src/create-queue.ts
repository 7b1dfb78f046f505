import type { AnyWebhookEvent } from '@ecampus-webhooks/core'
import { Queue, type ConnectionOptions, type QueueOptions } from 'bullmq'

/** The queue name `createQueue()` and `createWorker()` use unless given `queueName`. */
export const DEFAULT_QUEUE_NAME = 'ecampus-webhooks'

/** Options of `createQueue()`: BullMQ's `QueueOptions` plus the queue's name. */
export interface CreateQueueOptions extends QueueOptions {
  /**
   * The BullMQ queue name; the workers must use the same one (and the same `prefix`).
   * @default 'ecampus-webhooks'
   */
  queueName?: string
}

/**
 * A BullMQ `Queue` for the receiving side (pass it to `enqueueTo()`). When `connection` is
 * options rather than a client, it gets `enableOfflineQueue: false` unless set: BullMQ otherwise
 * holds `add()` until Redis is back, and the request would hang instead of answering 503 (see
 * BullMQ's "Failing fast when Redis is down"). A client you pass is used as is. Everything else
 * is BullMQ's; `defaultJobOptions` is where retries and retention are configured.
 *
 * @example
 * const queue = createQueue({
 *   connection: { url: process.env.REDIS_URL },
 *   defaultJobOptions: { attempts: 8 },
 * })
 * queue.on('error', (error) => console.error('queue', error.message))
 */
export function createQueue(options: CreateQueueOptions): Queue<AnyWebhookEvent, void> {
  const { queueName = DEFAULT_QUEUE_NAME, ...queueOptions } = options
  return new Queue<AnyWebhookEvent, void>(queueName, {
    ...queueOptions,
    connection: failFast(queueOptions.connection),
  })
}

function failFast(connection: ConnectionOptions): ConnectionOptions {
  const isClient =
    typeof connection === 'object' &&
    connection !== null &&
    typeof (connection as { duplicate?: unknown }).duplicate === 'function'
  return isClient ? connection : { enableOfflineQueue: false, ...connection }
}
