// Plays eCampus: signs COUNT events and delivers each one to every receiver at once, as when a
// retry races the original delivery. Then waits for the worker and shows each was handled once.
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { sign } from '@ecampus-webhooks/core'
import { HANDLED_KEY, REDIS_URL, SECRET } from './config.js'

const receivers = (
  process.env.RECEIVERS ?? 'http://127.0.0.1:3001/webhooks,http://127.0.0.1:3002/webhooks'
).split(',')
const count = Number(process.env.COUNT ?? 20)
const run = randomUUID().slice(0, 8)

function event(i) {
  const now = Math.floor(Date.now() / 1000)
  return {
    id: `evt-${run}-${i}`,
    type: 'message.created',
    payload: {
      id: `msg-${run}-${i}`,
      conversation_id: 'conv-1',
      contact: {
        id: 'c-1',
        username: 'ada',
        phone_number: null,
        avatar_url: null,
        last_active_at: null,
        created_at: now,
      },
      message: `Hello #${i}`,
      reactions: [],
      attachments: [],
      read_at: null,
      created_at: now,
      updated_at: now,
    },
  }
}

async function deliver(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ecampus-signature': sign(body, SECRET) },
    body,
  })
  await response.arrayBuffer()
  return response.status
}

const ids = []
const statuses = {}
await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    const body = JSON.stringify(event(i))
    ids.push(`evt-${run}-${i}`)
    for (const status of await Promise.all(receivers.map((url) => deliver(url, body)))) {
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  }),
)
console.log(`${count} events, ${count * receivers.length} deliveries: ${JSON.stringify(statuses)}`)

// The tally the worker keeps: wait until every event shows up (or 30 s pass).
const redis = new Redis(REDIS_URL)
const deadline = Date.now() + 30_000
let counts = []
do {
  await new Promise((resolve) => setTimeout(resolve, 100))
  counts = (await redis.hmget(HANDLED_KEY, ...ids)).map(Number)
} while (counts.some((n) => n === 0) && Date.now() < deadline)
await redis.quit()

const once = counts.filter((n) => n === 1).length
console.log(
  `handled once: ${once} of ${count}; never: ${counts.filter((n) => n === 0).length}; more than once: ${counts.filter((n) => n > 1).length}`,
)
process.exitCode = once === count && statuses[202] === count * receivers.length ? 0 : 1
