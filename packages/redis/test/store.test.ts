import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Redis } from 'ioredis'
import { RedisIdempotencyStore } from '../src/index.js'
import { connect, deleteKeys, skipRedis, uniquePrefix, until } from './redis-env.js'

describe('RedisIdempotencyStore options', () => {
  it('rejects a missing client and a non-string prefix with a TypeError', () => {
    expect(() => new RedisIdempotencyStore(undefined as never)).toThrow(
      /^@ecampus-webhooks\/redis: RedisIdempotencyStore needs an ioredis client/,
    )
    expect(
      () => new RedisIdempotencyStore({ eval() {}, evalsha() {} } as never, { prefix: 1 as never }),
    ).toThrow(TypeError)
  })

  it('puts the id in a Cluster hash tag under the prefix', () => {
    const fake = { eval() {}, evalsha() {} } as never
    expect(new RedisIdempotencyStore(fake).key('evt_1')).toBe(
      'ecampus-webhooks:idempotency:{evt_1}',
    )
    expect(new RedisIdempotencyStore(fake, { prefix: 'app:' }).key('evt_1')).toBe('app:{evt_1}')
  })
})

describe.skipIf(skipRedis)('RedisIdempotencyStore against Redis', () => {
  const prefix = uniquePrefix('store')
  let redis: Redis
  let store: RedisIdempotencyStore
  let n = 0
  const nextId = () => `evt_${++n}`

  beforeAll(async () => {
    redis = connect()
    await redis.connect()
    store = new RedisIdempotencyStore(redis, { prefix })
  })

  afterAll(async () => {
    await deleteKeys(redis, prefix)
    await redis.quit()
  })

  it('claims an id once: a second claim is in progress with the remaining lease', async () => {
    const id = nextId()
    const first = await store.claim(id, 60_000)
    expect(first).toEqual({ status: 'claimed', token: expect.any(String) })
    const second = await store.claim(id, 60_000)
    expect(second.status).toBe('in-progress')
    const retryAfterMs = second.status === 'in-progress' ? second.retryAfterMs : undefined
    expect(retryAfterMs).toBeGreaterThan(0)
    expect(retryAfterMs).toBeLessThanOrEqual(60_000)
    const pttl = await redis.pttl(store.key(id))
    expect(pttl).toBeGreaterThan(0)
    expect(pttl).toBeLessThanOrEqual(60_000)
  })

  it('gives each claim its own token', async () => {
    const a = await store.claim(nextId(), 60_000)
    const b = await store.claim(nextId(), 60_000)
    expect(a.status === 'claimed' && b.status === 'claimed' && a.token !== b.token).toBe(true)
  })

  it('completes a claim: later claims are done, remembered for the TTL', async () => {
    const id = nextId()
    const claim = await store.claim(id, 60_000)
    if (claim.status !== 'claimed') throw new Error('not claimed')
    await store.complete(id, claim.token, 3_600_000)
    expect(await store.claim(id, 60_000)).toEqual({ status: 'done' })
    expect(await redis.get(store.key(id))).toBe('done')
    const pttl = await redis.pttl(store.key(id))
    expect(pttl).toBeGreaterThan(60_000)
    expect(pttl).toBeLessThanOrEqual(3_600_000)
  })

  it('forgets a done id after its TTL', async () => {
    const id = nextId()
    const claim = await store.claim(id, 60_000)
    if (claim.status !== 'claimed') throw new Error('not claimed')
    await store.complete(id, claim.token, 50)
    await until(async () => (await redis.exists(store.key(id))) === 0, 'the TTL to expire')
    expect((await store.claim(id, 60_000)).status).toBe('claimed')
  })

  it('releases a claim so the next delivery claims it again', async () => {
    const id = nextId()
    const claim = await store.claim(id, 60_000)
    if (claim.status !== 'claimed') throw new Error('not claimed')
    await store.release(id, claim.token)
    expect(await redis.exists(store.key(id))).toBe(0)
    expect((await store.claim(id, 60_000)).status).toBe('claimed')
  })

  it('ignores complete and release with a token that does not own the claim', async () => {
    const id = nextId()
    const claim = await store.claim(id, 60_000)
    if (claim.status !== 'claimed') throw new Error('not claimed')
    await store.complete(id, 'someone-else', 3_600_000)
    await store.release(id, 'someone-else')
    expect(await redis.get(store.key(id))).toBe(claim.token)
    expect((await store.claim(id, 60_000)).status).toBe('in-progress')
  })

  it('lets a redelivery claim an id whose lease expired, and keeps the late owner out', async () => {
    const id = nextId()
    const crashed = await store.claim(id, 50)
    if (crashed.status !== 'claimed') throw new Error('not claimed')
    await until(async () => (await redis.exists(store.key(id))) === 0, 'the lease to expire')
    const next = await store.claim(id, 60_000)
    if (next.status !== 'claimed') throw new Error('the expired claim still holds')
    // The first delivery's handlers finish late: neither outcome may touch the new claim.
    await store.complete(id, crashed.token, 3_600_000)
    expect(await redis.get(store.key(id))).toBe(next.token)
    await store.release(id, crashed.token)
    expect(await redis.get(store.key(id))).toBe(next.token)
    await store.complete(id, next.token, 3_600_000)
    expect(await store.claim(id, 60_000)).toEqual({ status: 'done' })
  })

  it('does not release a done id (a late release after complete is a no-op)', async () => {
    const id = nextId()
    const claim = await store.claim(id, 60_000)
    if (claim.status !== 'claimed') throw new Error('not claimed')
    await store.complete(id, claim.token, 3_600_000)
    await store.release(id, claim.token)
    expect(await store.claim(id, 60_000)).toEqual({ status: 'done' })
  })

  it('grants exactly one of many concurrent claims', async () => {
    const id = nextId()
    const results = await Promise.all(Array.from({ length: 50 }, () => store.claim(id, 60_000)))
    expect(results.filter((r) => r.status === 'claimed')).toHaveLength(1)
    expect(results.filter((r) => r.status === 'in-progress')).toHaveLength(49)
  })

  it('reloads its scripts after Redis forgot them (restart, failover)', async () => {
    await redis.script('FLUSH')
    const id = nextId()
    const claim = await store.claim(id, 60_000)
    if (claim.status !== 'claimed') throw new Error('not claimed')
    await redis.script('FLUSH')
    await store.complete(id, claim.token, 3_600_000)
    expect(await store.claim(id, 60_000)).toEqual({ status: 'done' })
  })

  it('rejects when Redis does, so the receiver answers 503', async () => {
    const broken = connect()
    // Never connected and no offline queue: every command fails at once.
    broken.options.enableOfflineQueue = false
    const failing = new RedisIdempotencyStore(broken, { prefix })
    await expect(failing.claim(nextId(), 60_000)).rejects.toThrow()
    broken.disconnect()
  })
})
