import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Queue } from 'bullmq'

// Issue 7: without REDIS_URL outside CI these suites skip, loudly; with CI=true they always run
// (against the local default when REDIS_URL is unset), so a missing Redis fails CI.
const ci = process.env.CI === 'true'
export const redisUrl = process.env.REDIS_URL ?? (ci ? 'redis://127.0.0.1:6379' : undefined)
export const skipRedis = redisUrl === undefined

if (skipRedis) {
  console.warn(
    '[@ecampus-webhooks/bullmq] REDIS_URL is not set: skipping the BullMQ suites. Run them with REDIS_URL=redis://127.0.0.1:6379.',
  )
}

export const SECRET = 'whsec_bullmq_test_secret'

/** BullMQ's key prefix for every test queue; each run also gets a queue name of its own. */
export const PREFIX = 'ecampus-webhooks-test'

/** What every test Queue and Worker connects with: the shared Redis, a test-only prefix. */
export function config(queueName: string): {
  queueName: string
  prefix: string
  connection: { url: string }
} {
  return { queueName, prefix: PREFIX, connection: { url: redisUrl ?? 'redis://127.0.0.1:6379' } }
}

export function connect(): Redis {
  return new Redis(redisUrl ?? 'redis://127.0.0.1:6379', { lazyConnect: true })
}

/** A queue name no other run uses (BullMQ refuses ':' in queue names). */
export function uniqueName(suite: string): string {
  return `bullmq-${suite}-${randomUUID()}`
}

/** Deletes every key under `prefix` (the test's own counters). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
}

/** Removes a test queue and all its jobs, then closes it. */
export async function destroy(queue: Queue): Promise<void> {
  await queue.obliterate({ force: true })
  await queue.close()
}

/** Resolves once `check` returns true; rejects after `timeoutMs` (a hang guard, not a timing claim). */
export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length)
  let next = 0
  const run = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++
      results[index] = await tasks[index]!()
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, run))
  return results
}
