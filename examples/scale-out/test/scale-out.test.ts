import { execFile, fork, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'

// Like the Redis package suites: without REDIS_URL outside CI this skips, loudly; with CI=true
// it runs against the local default.
const redisUrl =
  process.env.REDIS_URL ?? (process.env.CI === 'true' ? 'redis://127.0.0.1:6379' : undefined)
if (redisUrl === undefined) {
  console.warn(
    '[example-scale-out] REDIS_URL is not set: skipping. Run with REDIS_URL=redis://127.0.0.1:6379.',
  )
}

const here = (file: string): string => fileURLToPath(new URL(`../${file}`, import.meta.url))
const run = randomUUID()
const env = {
  ...process.env,
  REDIS_URL: redisUrl,
  QUEUE_NAME: `scale-out-test-${run}`,
  KEY_PREFIX: `scale-out-test:${run}`,
  PORTS: '0,0',
}

async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
}

describe.skipIf(redisUrl === undefined)('examples/scale-out', () => {
  let start: ChildProcess
  let receivers: string[]
  let redis: Redis

  beforeAll(async () => {
    redis = new Redis(redisUrl!)
    start = fork(here('start.js'), { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    const [message] = (await Promise.race([
      once(start, 'message'),
      once(start, 'exit').then(([code]) => {
        throw new Error(`start.js exited with ${String(code)}`)
      }),
    ])) as [{ receivers: string[] }]
    receivers = message.receivers
  })

  afterAll(async () => {
    if (start !== undefined && start.exitCode === null) {
      const exited = once(start, 'exit')
      start.kill('SIGTERM')
      await exited
    }
    if (redis !== undefined) {
      await deleteKeys(redis, `bull:${env.QUEUE_NAME}:*`)
      await deleteKeys(redis, `${env.KEY_PREFIX}:*`)
      await redis.quit()
    }
  })

  it('starts two receivers and a worker; each event sent to both is handled once', async () => {
    expect(receivers).toHaveLength(2)
    const { stdout } = await promisify(execFile)('node', [here('send.js')], {
      env: { ...env, RECEIVERS: receivers.join(','), COUNT: '50' },
    })
    expect(stdout).toContain('50 events, 100 deliveries: {"202":100}')
    expect(stdout).toContain('handled once: 50 of 50')
    const handled = await redis.hgetall(`${env.KEY_PREFIX}:handled`)
    expect(Object.keys(handled)).toHaveLength(50)
    expect(Object.values(handled).every((n) => n === '1')).toBe(true)
  })

  it('stops every process gracefully on SIGTERM', async () => {
    const exited = once(start, 'exit')
    start.kill('SIGTERM')
    expect(await exited).toEqual([0, null])
  })
})
