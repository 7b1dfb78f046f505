// The worker: runs the handlers for every queued event, with retries (BullMQ), and an idempotency
// store in Redis so an event is handled once even if it is queued again after its job is gone.
import { Redis } from 'ioredis'
import { Webhooks } from '@ecampus-webhooks/core'
import { RedisIdempotencyStore } from '@ecampus-webhooks/redis'
import { createWorker } from '@ecampus-webhooks/bullmq'
import { HANDLED_KEY, KEY_PREFIX, QUEUE, REDIS_URL, SECRET, tell } from './config.js'

const redis = new Redis(REDIS_URL)
const webhooks = new Webhooks({
  secret: SECRET,
  handlerTimeout: 10_000,
  idempotency: {
    store: new RedisIdempotencyStore(redis, { prefix: `${KEY_PREFIX}:idempotency:` }),
  },
})

webhooks.on('message.created', async (event) => {
  // The app's real work goes here; the demo tallies how often each event was handled.
  await redis.hincrby(HANDLED_KEY, event.id, 1)
  console.log(`[worker ${process.pid}] ${event.type} ${event.id}: ${event.payload.message}`)
})
webhooks.onError((error, event, { decision }) => {
  console.error(`[worker ${process.pid}] ${event.id} ${error.code} (${decision})`)
})

const worker = createWorker(webhooks, { ...QUEUE, concurrency: 10 })
worker.on('error', (error) => console.error(`[worker ${process.pid}] redis: ${error.message}`))
await worker.waitUntilReady()
console.log(`[worker ${process.pid}] consuming queue "${QUEUE.queueName}"`)
tell({ worker: process.pid })

process.on('SIGTERM', () => {
  // close() waits for the jobs running now; drain() for handlers that outlived handlerTimeout.
  void worker
    .close()
    .then(() => webhooks.drain())
    .then(() => redis.quit())
    .then(() => process.exit(0))
})
