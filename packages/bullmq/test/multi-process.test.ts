import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import type { Queue } from 'bullmq'
import { createSampleEvent } from '@ecampus-webhooks/core/testing'
import { createQueue, enqueueTo, jobIdOf } from '../src/index.js'
import {
  PREFIX,
  config,
  connect,
  deleteKeys,
  destroy,
  pool,
  redisUrl,
  skipRedis,
  uniqueName,
  until,
} from './redis-env.js'

const FIXTURE = fileURLToPath(new URL('fixtures/worker.mjs', import.meta.url))
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))

interface WorkerProcess {
  child: ChildProcess
  pid: number
}

async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  const child = fork(FIXTURE, {
    env: { ...process.env, REDIS_URL: redisUrl, PREFIX, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`worker exited with ${String(code)} before it was ready`)
    }),
  ])) as [{ ready: number }]
  return { child, pid: message.ready }
}

async function kill(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return
  const exited = once(worker.child, 'exit')
  worker.child.kill('SIGKILL')
  await exited
}

function requireDist(): void {
  if (!existsSync(DIST))
    throw new Error('Build first: pnpm --filter @ecampus-webhooks/bullmq build')
}

describe.skipIf(skipRedis)('10,000 events through 4 worker processes', () => {
  const queueName = uniqueName('scale')
  const counters = `ecampus-webhooks-test:bullmq:${queueName}:`
  let redis: Redis
  let queue: Queue
  const workers: WorkerProcess[] = []

  beforeAll(async () => {
    requireDist()
    redis = connect()
    await redis.connect()
    queue = createQueue(config(queueName))
    const env = { QUEUE: queueName, COUNTERS: counters, CONCURRENCY: '25' }
    workers.push(...(await Promise.all([0, 1, 2, 3].map(() => startWorker(env)))))
  })

  afterAll(async () => {
    await Promise.all(workers.map(kill))
    if (queue !== undefined) await destroy(queue)
    if (redis !== undefined) {
      await deleteKeys(redis, counters)
      await redis.quit()
    }
  })

  it('handles every event once, duplicates collapsed', { timeout: 60_000 }, async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `evt-scale-${i}`)
    // Every tenth event is delivered twice, the second time later in the stream.
    const sends = [...ids, ...ids.filter((_, i) => i % 10 === 0)]
    const enqueue = enqueueTo(queue)
    await pool(
      sends.map((id) => () => enqueue(createSampleEvent('message.created', { id }))),
      100,
    )
    await until(
      async () => (await queue.getJobCounts('completed')).completed === ids.length,
      'all jobs to complete',
      50_000,
    )
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed')
    expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0, completed: 10_000 })

    const handled = await redis.mget(ids.map((id) => `${counters}handled:{${id}}`))
    const started = await redis.mget(ids.map((id) => `${counters}started:{${id}}`))
    expect(ids.filter((_, i) => handled[i] !== '1')).toEqual([])
    expect(ids.filter((_, i) => started[i] !== '1')).toEqual([])
    // All four processes took part.
    const perWorker = await redis.mget(workers.map((w) => `${counters}worker:${w.pid}`))
    expect(perWorker.map(Number).reduce((a, b) => a + b, 0)).toBe(ids.length)
    expect(perWorker.every((n) => Number(n) > 0)).toBe(true)
  })
})

describe.skipIf(skipRedis)('a worker process killed (SIGKILL) mid-job', () => {
  const queueName = uniqueName('kill')
  const counters = `ecampus-webhooks-test:bullmq:${queueName}:`
  let redis: Redis
  let queue: Queue
  const workers: WorkerProcess[] = []
  // Short locks so BullMQ's stalled-job check notices the dead worker within a second or two.
  const env = {
    QUEUE: queueName,
    COUNTERS: counters,
    LOCK_DURATION: '1000',
    STALLED_INTERVAL: '500',
  }

  beforeAll(async () => {
    requireDist()
    redis = connect()
    await redis.connect()
    queue = createQueue(config(queueName))
    workers.push(...(await Promise.all([0, 1].map(() => startWorker(env)))))
  })

  afterAll(async () => {
    await Promise.all(workers.map(kill))
    if (queue !== undefined) await destroy(queue)
    if (redis !== undefined) {
      await deleteKeys(redis, counters)
      await redis.quit()
    }
  })

  it(
    'retries the job on another worker; handled once after success',
    { timeout: 30_000 },
    async () => {
      const event = createSampleEvent('message.created', { id: 'hang-killed-mid-job' })
      const started = Promise.race(
        workers.map((worker) =>
          once(worker.child, 'message').then(([message]) => ({
            worker,
            message: message as unknown,
          })),
        ),
      )
      const enqueue = enqueueTo(queue)
      await enqueue(event)
      const { worker: victim, message } = await started
      expect(message).toEqual({ started: event.id })
      expect(await queue.getJobState(jobIdOf(event.id))).toBe('active')
      await kill(victim)

      await until(
        async () => (await queue.getJobState(jobIdOf(event.id))) === 'completed',
        'the stalled job to be retried and complete',
      )
      expect(await redis.get(`${counters}started:{${event.id}}`)).toBe('2')
      expect(await redis.get(`${counters}handled:{${event.id}}`)).toBe('1')
      const survivor = workers.find((w) => w !== victim)!
      expect(await redis.get(`${counters}worker:${survivor.pid}`)).toBe('1')

      // Redelivered after success, to a fresh worker too: collapses onto the completed job.
      workers.push(await startWorker(env))
      await enqueue(event)
      const next = createSampleEvent('message.created', { id: 'after-the-kill' })
      await enqueue(next)
      await until(
        async () => (await queue.getJobState(jobIdOf(next.id))) === 'completed',
        'a later job to complete',
      )
      expect(await redis.get(`${counters}handled:{${event.id}}`)).toBe('1')
    },
  )
})
