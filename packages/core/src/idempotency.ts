/** What a store says when a delivery of an event id asks to run its handlers. */
export type ClaimResult =
  /** Nobody ran this id yet (or its earlier run failed): this delivery runs the handlers. */
  | 'claimed'
  /** Another delivery of this id is running its handlers now. */
  | 'in-progress'
  /** The handlers of this id completed; it is remembered for the TTL. */
  | 'done'

/**
 * Remembers which event ids were handled, so a redelivered event runs its handlers once. All
 * methods are async so a shared store (Redis) can implement them; a store that throws makes the
 * receiver answer 503 so the sender retries.
 */
export interface IdempotencyStore {
  /**
   * Atomically claims an id for `leaseMs`. A claim that is neither completed nor released within
   * its lease (the process died) expires, so a redelivery can run the handlers.
   */
  claim(id: string, leaseMs: number): Promise<ClaimResult>
  /** Marks an id as handled, remembered for `ttlMs`. */
  complete(id: string, ttlMs: number): Promise<void>
  /** Drops a claim after its handlers failed, so a redelivery runs them again. */
  release(id: string): Promise<void>
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
  state: 'in-progress' | 'done'
  expiresAt: number
}

/**
 * A bounded in-memory store (LRU + TTL) for one process. Several receiver processes need a shared
 * store instead (see @ecampus-webhooks/redis).
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  // A Map keeps insertion order: re-inserting on every write makes its first key the LRU one.
  readonly #entries = new Map<string, Entry>()
  readonly #maxEntries: number
  readonly #now: () => number

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new TypeError(
        `@ecampus-webhooks/core: maxEntries must be a positive integer, got ${maxEntries}.`,
      )
    }
    this.#maxEntries = maxEntries
    this.#now = options.now ?? Date.now
  }

  /** How many ids are remembered (in progress or done), expired ones included until touched. */
  get size(): number {
    return this.#entries.size
  }

  claim(id: string, leaseMs: number): Promise<ClaimResult> {
    const now = this.#now()
    const entry = this.#entries.get(id)
    if (entry !== undefined && entry.expiresAt > now) return Promise.resolve(entry.state)
    this.#set(id, { state: 'in-progress', expiresAt: now + leaseMs })
    return Promise.resolve('claimed')
  }

  complete(id: string, ttlMs: number): Promise<void> {
    this.#set(id, { state: 'done', expiresAt: this.#now() + ttlMs })
    return Promise.resolve()
  }

  release(id: string): Promise<void> {
    this.#entries.delete(id)
    return Promise.resolve()
  }

  #set(id: string, entry: Entry): void {
    this.#entries.delete(id)
    this.#entries.set(id, entry)
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next()
      if (oldest.done === true) break
      this.#entries.delete(oldest.value)
    }
  }
}
