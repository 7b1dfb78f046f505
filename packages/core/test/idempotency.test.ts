import { describe, expect, it } from 'vitest'
import type { ClaimResult } from '../src/index.js'
import { MemoryIdempotencyStore } from '../src/index.js'

function clock(start = 1_000): { now: () => number; advance: (ms: number) => void } {
  let time = start
  return { now: () => time, advance: (ms) => void (time += ms) }
}

async function claimToken(
  store: MemoryIdempotencyStore,
  id: string,
  lease = 1_000,
): Promise<string> {
  const result = await store.claim(id, lease)
  if (result.status !== 'claimed')
    throw new Error(`expected a claim of ${id}, got ${result.status}`)
  return result.token
}

describe('MemoryIdempotencyStore', () => {
  it('claims a new id, says in-progress while claimed, done once completed', async () => {
    const time = clock()
    const store = new MemoryIdempotencyStore({ now: time.now })
    const token = await claimToken(store, 'a', 10_000)
    time.advance(4_000)
    expect(await store.claim('a', 10_000)).toEqual({ status: 'in-progress', retryAfterMs: 6_000 })
    await store.complete('a', token, 60_000)
    expect(await store.claim('a', 10_000)).toEqual({ status: 'done' })
  })

  it('gives each claim its own token', async () => {
    const store = new MemoryIdempotencyStore()
    const a = await claimToken(store, 'a')
    const b = await claimToken(store, 'b')
    await store.release('a', a)
    const again = await claimToken(store, 'a')
    expect(new Set([a, b, again]).size).toBe(3)
  })

  it('release lets the next delivery claim the id again', async () => {
    const store = new MemoryIdempotencyStore()
    const token = await claimToken(store, 'a')
    await store.release('a', token)
    expect((await store.claim('a', 1_000)).status).toBe('claimed')
  })

  describe('TTL and lease expiry (injected clock)', () => {
    it('forgets a completed id after its TTL, not before', async () => {
      const time = clock()
      const store = new MemoryIdempotencyStore({ now: time.now })
      await store.complete('a', await claimToken(store, 'a'), 5_000)
      time.advance(4_999)
      expect(await store.claim('a', 1_000)).toEqual({ status: 'done' })
      time.advance(1)
      expect((await store.claim('a', 1_000)).status).toBe('claimed')
    })

    it('lets a redelivery claim an id whose lease expired (its process died)', async () => {
      const time = clock()
      const store = new MemoryIdempotencyStore({ now: time.now })
      await claimToken(store, 'a', 2_000)
      time.advance(1_999)
      expect((await store.claim('a', 2_000)).status).toBe('in-progress')
      time.advance(1)
      expect((await store.claim('a', 2_000)).status).toBe('claimed')
    })

    it('drops expired entries as it is used, so an idle store shrinks', async () => {
      const time = clock()
      const store = new MemoryIdempotencyStore({ now: time.now })
      for (const id of ['a', 'b', 'c']) await store.complete(id, await claimToken(store, id), 100)
      expect(store.size).toBe(3)
      time.advance(100)
      await claimToken(store, 'd')
      expect(store.size).toBe(1)
    })
  })

  describe('token ownership', () => {
    it("an expired claim's old token cannot complete the new owner's claim", async () => {
      const time = clock()
      const store = new MemoryIdempotencyStore({ now: time.now })
      const old = await claimToken(store, 'a', 1_000)
      time.advance(1_000)
      const current = await claimToken(store, 'a', 1_000)
      expect(current).not.toBe(old)

      await store.complete('a', old, 60_000)
      // Still the new owner's claim: neither done nor free.
      expect((await store.claim('a', 1_000)).status).toBe('in-progress')
      await store.complete('a', current, 60_000)
      expect(await store.claim('a', 1_000)).toEqual({ status: 'done' })
    })

    it("an expired claim's old token cannot release the new owner's claim", async () => {
      const time = clock()
      const store = new MemoryIdempotencyStore({ now: time.now })
      const old = await claimToken(store, 'a', 1_000)
      time.advance(1_000)
      const current = await claimToken(store, 'a', 1_000)
      await store.release('a', old)
      expect((await store.claim('a', 1_000)).status).toBe('in-progress')
      await store.release('a', current)
      expect((await store.claim('a', 1_000)).status).toBe('claimed')
    })

    it('a token cannot release a completed id, nor complete it twice', async () => {
      const time = clock()
      const store = new MemoryIdempotencyStore({ now: time.now })
      const token = await claimToken(store, 'a')
      await store.complete('a', token, 5_000)
      await store.release('a', token)
      expect(await store.claim('a', 1_000)).toEqual({ status: 'done' })
      time.advance(4_000)
      // A second complete would extend the TTL if the token still counted.
      await store.complete('a', token, 5_000)
      time.advance(1_000)
      expect((await store.claim('a', 1_000)).status).toBe('claimed')
    })

    it('complete and release of an unknown id do nothing', async () => {
      const store = new MemoryIdempotencyStore()
      await store.complete('nobody', '1', 1_000)
      await store.release('nobody', '1')
      expect(store.size).toBe(0)
      expect((await store.claim('nobody', 1_000)).status).toBe('claimed')
    })
  })

  describe('LRU bound', () => {
    it('never holds more than maxEntries ids, forgetting the least recently used', async () => {
      const store = new MemoryIdempotencyStore({ maxEntries: 3 })
      for (const id of ['a', 'b', 'c'])
        await store.complete(id, await claimToken(store, id), 60_000)
      // Touch 'a': now 'b' is the least recently used.
      expect(await store.claim('a', 1_000)).toEqual({ status: 'done' })
      await claimToken(store, 'd')
      expect(store.size).toBe(3)
      expect((await store.claim('b', 1_000)).status).toBe('claimed') // forgotten, so claimable
      expect(store.size).toBe(3)
      // 'b' pushed out 'c' (the LRU after 'b' was evicted); 'a' and 'd' remain.
      const states: Record<string, ClaimResult['status']> = {}
      for (const id of ['a', 'd']) states[id] = (await store.claim(id, 1_000)).status
      expect(states).toEqual({ a: 'done', d: 'in-progress' })
    })

    it('stays bounded under a flood of distinct ids', async () => {
      const store = new MemoryIdempotencyStore({ maxEntries: 100 })
      for (let i = 0; i < 10_000; i += 1) {
        await store.complete(`id-${i}`, await claimToken(store, `id-${i}`), 60_000)
      }
      expect(store.size).toBe(100)
      expect(await store.claim('id-9999', 1_000)).toEqual({ status: 'done' })
      expect((await store.claim('id-0', 1_000)).status).toBe('claimed')
    })
  })

  it.each([
    [{ maxEntries: 0 }, /maxEntries must be a positive integer, got 0/],
    [{ maxEntries: 1.5 }, /maxEntries must be a positive integer/],
    [{ maxEntries: '10' }, /maxEntries must be a positive integer, got 10/],
    [{ now: 5 }, /now must be a function/],
  ])('%j throws a TypeError', (options, message) => {
    expect(() => new MemoryIdempotencyStore(options as never)).toThrow(TypeError)
    expect(() => new MemoryIdempotencyStore(options as never)).toThrow(message)
  })
})
