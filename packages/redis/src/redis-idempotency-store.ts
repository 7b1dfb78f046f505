import { createHash, randomUUID } from 'node:crypto'
import type { ClaimResult, IdempotencyStore } from '@ecampus-webhooks/core'
import type { Cluster, Redis } from 'ioredis'

const OWNER = '@ecampus-webhooks/redis'

/**
 * The value of a handled id. Tokens are UUIDs, so no claim can ever look like it.
 */
const DONE = 'done'

// One script, so the NX attempt and the read that follows a refusal see the same value: a claim
// released or expired in between would otherwise read as nothing at all.
const CLAIM = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[3] then return 0 end
return -1 - math.max(redis.call('PTTL', KEYS[1]), 0)
`
// Compare-and-set / compare-and-delete: a delivery whose lease expired (its handlers outran it)
// must not complete or release the claim of the delivery that took over.
const COMPLETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) and 1 or 0
end
return 0
`
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

interface Script {
  source: string
  sha: string
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

const SCRIPTS = { claim: script(CLAIM), complete: script(COMPLETE), release: script(RELEASE) }

/** Options of `RedisIdempotencyStore`. */
export interface RedisIdempotencyStoreOptions {
  /**
   * Prepended to every key, so several apps (or test runs) can share one Redis. Keys are
   * `${prefix}{${id}}`: the braces are a Cluster hash tag, so each id maps to one slot.
   * @default 'ecampus-webhooks:idempotency:'
   */
  prefix?: string
}

/**
 * An `IdempotencyStore` in Redis, shared by every receiver process that uses the same Redis and
 * prefix, so a redelivered event runs its handlers once across all of them. A claim is
 * `SET key token NX PX lease`; `complete` and `release` compare the token and write or delete in
 * one Lua script. A process that dies mid-handler leaves a claim that expires after its lease.
 *
 * The client is yours: this store never connects, quits or configures it (it adds no commands to
 * it), so one client can serve the whole app. A `Cluster` client works too.
 *
 * @example
 * import { Redis } from 'ioredis'
 * import { Webhooks } from '@ecampus-webhooks/core'
 * import { RedisIdempotencyStore } from '@ecampus-webhooks/redis'
 *
 * const redis = new Redis(process.env.REDIS_URL)
 * const webhooks = new Webhooks({
 *   secret: process.env.ECAMPUS_WEBHOOK_SECRET!,
 *   idempotency: { store: new RedisIdempotencyStore(redis), lease: 60_000 },
 * })
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #client: Redis | Cluster
  readonly #prefix: string

  constructor(client: Redis | Cluster, options: RedisIdempotencyStoreOptions = {}) {
    const candidate = client as Partial<Redis> | null | undefined
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      typeof candidate.evalsha !== 'function' ||
      typeof candidate.eval !== 'function'
    ) {
      throw new TypeError(
        `${OWNER}: RedisIdempotencyStore needs an ioredis client, e.g. new RedisIdempotencyStore(new Redis(process.env.REDIS_URL)).`,
      )
    }
    const prefix = options.prefix ?? 'ecampus-webhooks:idempotency:'
    if (typeof prefix !== 'string') {
      throw new TypeError(
        `${OWNER}: RedisIdempotencyStore prefix must be a string, got ${typeof prefix}.`,
      )
    }
    this.#client = client
    this.#prefix = prefix
  }

  /** The Redis key of an event id. */
  key(id: string): string {
    return `${this.#prefix}{${id}}`
  }

  /** `SET key token NX PX lease`; when taken, `done` or `in-progress` with the lease's PTTL. */
  async claim(id: string, leaseMs: number): Promise<ClaimResult> {
    const token = randomUUID()
    const reply = Number(await this.#run(SCRIPTS.claim, id, token, String(leaseMs), DONE))
    if (reply === 1) return { status: 'claimed', token }
    if (reply === 0) return { status: 'done' }
    const retryAfterMs = -1 - reply
    return retryAfterMs > 0 ? { status: 'in-progress', retryAfterMs } : { status: 'in-progress' }
  }

  /** Sets the id to `done` for `ttlMs` if `token` still owns the claim. */
  async complete(id: string, token: string, ttlMs: number): Promise<void> {
    await this.#run(SCRIPTS.complete, id, token, DONE, String(ttlMs))
  }

  /** Deletes the claim if `token` still owns it. */
  async release(id: string, token: string): Promise<void> {
    await this.#run(SCRIPTS.release, id, token)
  }

  // EVALSHA first so each call sends 40 bytes instead of the script; Redis loses its script cache
  // on restart or failover (and each Cluster node has its own), so NOSCRIPT falls back to EVAL,
  // which caches it again. Not defineCommand: that would add methods to the app's client.
  async #run(script: Script, id: string, ...args: string[]): Promise<unknown> {
    const key = this.key(id)
    try {
      return await this.#client.evalsha(script.sha, 1, key, ...args)
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
      return this.#client.eval(script.source, 1, key, ...args)
    }
  }
}
