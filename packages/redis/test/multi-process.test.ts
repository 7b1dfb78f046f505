import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import { RedisIdempotencyStore } from '../src/index.js'
import { connect, deleteKeys, redisUrl, skipRedis, uniquePrefix } from './redis-env.js'

const SECRET = 'whsec_multi_process_test_secret'
const FIXTURE = fileURLToPath(new URL('fixtures/receiver.mjs', import.meta.url))
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))

/** Each receiver process is a real app of one adapter; the four cover all three. */
const ADAPTERS = ['express', 'koa', 'fastify', 'express'] as const
type Adapter = (typeof ADAPTERS)[number]

interface Receiver {
  child: ChildProcess
  url: string
}

async function startReceiver(
  prefix: string,
  adapter: Adapter,
  leaseMs?: number,
): Promise<Receiver> {
  const child = fork(FIXTURE, {
    env: {
      ...process.env,
      ADAPTER: adapter,
      REDIS_URL: redisUrl,
      PREFIX: prefix,
      SECRET,
      ...(leaseMs === undefined ? {} : { LEASE_MS: String(leaseMs) }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`receiver exited with ${String(code)} before listening`)
    }),
  ])) as [{ port: number }]
  return { child, url: `http://127.0.0.1:${message.port}/webhooks` }
}

async function stop(receiver: Receiver): Promise<void> {
  if (receiver.child.exitCode !== null || receiver.child.signalCode !== null) return
  const exited = once(receiver.child, 'exit')
  receiver.child.kill('SIGKILL')
  await exited
}

interface Delivery {
  status: number
  duplicate: boolean
}

async function post(url: string, id: string): Promise<Delivery> {
  const event = createSampleEvent('message.created', { id })
  const { body, headers } = createSignedRequest(event, SECRET)
  const response = await fetch(url, { method: 'POST', body, headers })
  const json = (await response.json()) as { duplicate?: boolean }
  return { status: response.status, duplicate: json.duplicate === true }
}

/**
 * Delivers like eCampus does: retries any non-2xx (409 while another delivery runs, 503) until a
 * 2xx. Retry-After is in whole seconds and the lease is long, so it polls instead of honouring it.
 */
async function deliver(url: string, id: string): Promise<Delivery & { attempts: number[] }> {
  const attempts: number[] = []
  for (;;) {
    const result = await post(url, id)
    attempts.push(result.status)
    if (result.status >= 200 && result.status < 300) return { ...result, attempts }
    if (attempts.length > 2_000) throw new Error(`${id}: no 2xx after ${attempts.length} tries`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++
      results[index] = await tasks[index]!()
    }
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return results
}

describe.skipIf(skipRedis)(
  '4 receiver processes (Express, Koa, Fastify apps) sharing the Redis store',
  () => {
    const prefix = uniquePrefix('multi-process')
    let redis: Redis
    const receivers: Receiver[] = []
    const handled = async (id: string) => Number(await redis.get(`${prefix}handled:{${id}}`))
    const started = async (id: string) => Number(await redis.get(`${prefix}started:{${id}}`))

    beforeAll(async () => {
      if (!existsSync(DIST)) {
        throw new Error('Build first: pnpm --filter @ecampus-webhooks/redis build')
      }
      redis = connect()
      await redis.connect()
      receivers.push(
        ...(await Promise.all(ADAPTERS.map((adapter) => startReceiver(prefix, adapter)))),
      )
    })

    afterAll(async () => {
      await Promise.all(receivers.map(stop))
      if (redis !== undefined) {
        await deleteKeys(redis, prefix)
        await redis.quit()
      }
    })

    it('runs the handler once when the same event reaches all 4 at once', async () => {
      const id = 'evt-same-to-all'
      const results = await Promise.all(receivers.map((r) => deliver(r.url, id)))
      for (const result of results) {
        for (const status of result.attempts.slice(0, -1)) expect(status).toBe(409)
      }
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
      expect(results.filter((r) => r.duplicate)).toHaveLength(3)
      expect(await handled(id)).toBe(1)
      expect(await started(id)).toBe(1)
    })

    it('handles each of 1,000 events once with 20% duplicates spread over the 4', async () => {
      const ids = Array.from({ length: 1_000 }, (_, i) => `evt-bulk-${i}`)
      // Every fifth id is sent twice, to two different processes, interleaved with the rest.
      const sends = ids.flatMap((id, i) => (i % 5 === 0 ? [id, id] : [id]))
      for (let i = sends.length - 1; i > 0; i--) {
        const j = (i * 7919) % (i + 1)
        ;[sends[i], sends[j]] = [sends[j]!, sends[i]!]
      }
      expect(sends).toHaveLength(1_200)
      const results = await pool(
        sends.map((id, i) => () => deliver(receivers[i % receivers.length]!.url, id)),
        64,
      )
      expect(results.every((r) => r.attempts.every((s) => s === 409 || s === 200))).toBe(true)
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1_000)

      const counts = await redis.mget(ids.map((id) => `${prefix}handled:{${id}}`))
      const wrong = ids.filter((_, i) => counts[i] !== '1')
      expect(wrong).toEqual([])
      const store = new RedisIdempotencyStore(redis, { prefix })
      const values = await redis.mget(ids.map((id) => store.key(id)))
      expect(values.every((v) => v === 'done')).toBe(true)
    })
  },
)

describe.skipIf(skipRedis)('a receiver process killed mid-handler', () => {
  const prefix = uniquePrefix('kill')
  const LEASE_MS = 1_000
  let redis: Redis
  const receivers: Receiver[] = []

  beforeAll(async () => {
    if (!existsSync(DIST)) {
      throw new Error('Build first: pnpm --filter @ecampus-webhooks/redis build')
    }
    redis = connect()
    await redis.connect()
    receivers.push(
      ...(await Promise.all(
        (['express', 'fastify'] as const).map((adapter) =>
          startReceiver(prefix, adapter, LEASE_MS),
        ),
      )),
    )
  })

  afterAll(async () => {
    await Promise.all(receivers.map(stop))
    if (redis !== undefined) {
      await deleteKeys(redis, prefix)
      await redis.quit()
    }
  })

  it('lets the redelivery run after the lease, and only once after it succeeded', async () => {
    const [victim, survivor] = receivers as [Receiver, Receiver]
    const id = 'hang-killed-mid-handler'
    const store = new RedisIdempotencyStore(redis, { prefix })
    const startedMessage = once(victim.child, 'message')
    // The victim never answers: its request fails when the process dies.
    const lost = post(victim.url, id).catch((error: unknown) => error)
    expect((await startedMessage)[0]).toEqual({ started: id })
    expect(await redis.get(store.key(id))).not.toBe('done')

    const exited = once(victim.child, 'exit')
    victim.child.kill('SIGKILL')
    await exited
    expect(await lost).toBeInstanceOf(Error)

    // eCampus redelivers until a 2xx: 409 while the dead process's claim holds, then it runs.
    const redelivery = await deliver(survivor.url, id)
    expect(redelivery.attempts.slice(0, -1).every((status) => status === 409)).toBe(true)
    expect(redelivery).toMatchObject({ status: 200, duplicate: false })
    expect(await redis.get(store.key(id))).toBe('done')
    expect(await redis.get(`${prefix}started:{${id}}`)).toBe('2')
    expect(await redis.get(`${prefix}handled:{${id}}`)).toBe('1')

    // Handled for good: later deliveries, to either process, are duplicates.
    const replacement = await startReceiver(prefix, 'koa', LEASE_MS)
    receivers.push(replacement)
    for (const url of [survivor.url, replacement.url]) {
      expect(await deliver(url, id)).toMatchObject({ status: 200, duplicate: true })
    }
    expect(await redis.get(`${prefix}handled:{${id}}`)).toBe('1')
  })
})
