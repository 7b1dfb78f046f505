// A receiver: an Express app that verifies each eCampus webhook and answers 202 once BullMQ
// stored it in Redis (503 if Redis is down, so eCampus retries). It runs no handlers.
import express from 'express'
import { Webhooks } from '@ecampus-webhooks/core'
import { ecampusWebhooks } from '@ecampus-webhooks/express'
import { createQueue, enqueueTo } from '@ecampus-webhooks/bullmq'
import { QUEUE, SECRET, tell } from './config.js'

const queue = createQueue(QUEUE)
queue.on('error', (error) => console.error(`[receiver ${process.pid}] redis: ${error.message}`))
const webhooks = new Webhooks({ secret: SECRET, enqueue: enqueueTo(queue) })
webhooks.onRejected((_error, { status, code, eventId }) => {
  console.warn(`[receiver ${process.pid}] ${status} ${code}${eventId ? ` ${eventId}` : ''}`)
})

const app = express()
app.use(ecampusWebhooks(webhooks))
const server = app.listen(Number(process.env.PORT ?? 3001), '127.0.0.1', () => {
  const { port } = server.address()
  console.log(`[receiver ${process.pid}] http://127.0.0.1:${port}/webhooks`)
  tell({ receiver: port })
})

process.on('SIGTERM', () => {
  // Stop accepting, let the enqueues in flight finish, then close the queue's connection.
  server.close(() => {
    void webhooks
      .drain()
      .then(() => queue.close())
      .then(() => process.exit(0))
  })
  server.closeIdleConnections()
})
