/** What a store says when a delivery of an event id asks to run its handlers. */
export type ClaimResult =
  /** Nobody ran this id yet (or its earlier run failed): this delivery runs the handlers. */
  | { status: 'claimed'; token: string }
  /**
   * Another delivery of this id is running its handlers now. `retryAfterMs`, when the store knows
   * it, is how long that claim still holds.
   */
  | { status: 'in-progress'; retryAfterMs?: number }
  /** The handlers of this id completed; it is remembered for the TTL. */
  | { status: 'done' }

/**
 * Remembers which event ids were handled, so a redelivered event runs its handlers once. All
 * methods are async so a shared store (Redis) can implement them; a store that throws on `claim`
 * makes the receiver answer 503 so the sender retries.
 *
 * A claim's `token` proves ownership: a delivery whose lease expired (its handlers ran too long)
 * must not complete or release the claim of the delivery that took over. In Redis: `claim` is
 * `SET key token NX PX lease`, `complete` and `release` compare the token and write or delete in
 * one script.
 *
 * @example
 * const webhooks = new Webhooks({ secret, idempotency: { store: new MemoryIdempotencyStore() } })
 */
export interface IdempotencyStore {
  /**
   * Atomically claims an id for `leaseMs`. A claim that is neither completed nor released within
   * its lease (the process died) expires, so a redelivery can run the handlers.
   */
  claim(id: string, leaseMs: number): Promise<ClaimResult>
  /** Marks an id as handled, remembered for `ttlMs`, if `token` still owns its claim. */
  complete(id: string, token: string, ttlMs: number): Promise<void>
  /** Drops a claim after its handlers failed, so a redelivery runs them again; if `token` owns it. */
  release(id: string, token: string): Promise<void>
}

/** Options of `MemoryIdempotencyStore`. */
export interface MemoryIdempotencyStoreOptions {
  /**
   * The most ids kept; past it the least recently used are forgotten first, so memory stays
   * bounded whatever is sent.
   * @default 100000
   */
  maxEntries?: number
  /** The clock, in milliseconds. @default Date.now */
  now?: () => number
}

interface Entry {
  /** The owner's token while in progress; `undefined` once done. */
  token: string | undefined
  expiresAt: number
}

/**
 * A bounded in-memory store (LRU + TTL) for one process: what `idempotency: true` uses. Several
 * receiver processes behind a load balancer need a shared store instead, or each one handles a
 * duplicate the others already handled.
 *
 * @example
 * const store = new MemoryIdempotencyStore({ maxEntries: 10_000 })
 * const webhooks = new Webhooks({ secret, idempotency: { store, ttl: 3_600_000 } })
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  // A Map keeps insertion order: re-inserting on every use makes its first key the LRU one.
  readonly #entries = new Map<string, Entry>()
  readonly #maxEntries: number
  readonly #now: () => number
  // Tokens only need to be unique within this store, so a counter beats random bytes.
  #lastToken = 0

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000
    if (typeof maxEntries !== 'number' || !Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError(
        `@ecampus-webhooks/core: MemoryIdempotencyStore maxEntries must be a positive integer, got ${String(maxEntries)}.`,
      )
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new TypeError(
        '@ecampus-webhooks/core: MemoryIdempotencyStore now must be a function returning milliseconds, e.g. Date.now.',
      )
    }
    this.#maxEntries = maxEntries
    this.#now = options.now ?? Date.now
  }

  /** How many ids are held (in progress or done); expired ones count until they are pruned. */
  get size(): number {
    return this.#entries.size
  }

  claim(id: string, leaseMs: number): Promise<ClaimResult> {
    const now = this.#now()
    const entry = this.#entries.get(id)
    if (entry !== undefined && entry.expiresAt > now) {
      this.#touch(id, entry, now)
      return Promise.resolve(
        entry.token === undefined
          ? { status: 'done' }
          : { status: 'in-progress', retryAfterMs: entry.expiresAt - now },
      )
    }
    const token = String(++this.#lastToken)
    this.#touch(id, { token, expiresAt: now + leaseMs }, now)
    return Promise.resolve({ status: 'claimed', token })
  }

  complete(id: string, token: string, ttlMs: number): Promise<void> {
    const entry = this.#entries.get(id)
    if (entry !== undefined && entry.token === token) {
      const now = this.#now()
      this.#touch(id, { token: undefined, expiresAt: now + ttlMs }, now)
    }
    return Promise.resolve()
  }

  release(id: string, token: string): Promise<void> {
    if (this.#entries.get(id)?.token === token) this.#entries.delete(id)
    return Promise.resolve()
  }

  /** Makes `id` the most recently used, then enforces the bound. */
  #touch(id: string, entry: Entry, now: number): void {
    this.#entries.delete(id)
    this.#entries.set(id, entry)
    // Forget the least recently used: past the bound always, and while they have expired anyway,
    // so an idle store shrinks as it is used instead of holding dead ids until it is full.
    for (const [oldest, value] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && value.expiresAt > now) break
      if (oldest === id) break
      this.#entries.delete(oldest)
    }
  }
}
