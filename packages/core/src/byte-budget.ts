/** A request waiting for its share of the budget. */
export interface BudgetWaiter {
  readonly bytes: number
  /** Called once, when the bytes are reserved for this waiter. */
  readonly grant: () => void
}

/**
 * The bytes all body reads of one instance may buffer at once (`maxBufferedBytes`). Reads reserve
 * before they start and release when they end, whatever the outcome. Waiters are served strictly
 * first in, first out, so a large body is not starved by a stream of small ones; a reservation
 * larger than the whole budget is granted when nothing else is held, so it cannot deadlock.
 */
export class ByteBudget {
  readonly capacity: number
  #used = 0
  readonly #queue: BudgetWaiter[] = []

  constructor(capacity: number) {
    this.capacity = capacity
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.#used
  }

  /** Requests waiting now. */
  get waiting(): number {
    return this.#queue.length
  }

  /** Reserves `bytes` at once if nobody waits and they fit; false means call `wait()`. */
  tryReserve(bytes: number): boolean {
    if (bytes === 0) return true
    if (this.#queue.length > 0 || !this.#fits(bytes)) return false
    this.#used += bytes
    return true
  }

  /** Queues a waiter; its `grant` runs when its bytes are reserved. */
  wait(waiter: BudgetWaiter): void {
    this.#queue.push(waiter)
  }

  /** Removes a waiter that gave up (timeout, abort) before it was granted. */
  cancel(waiter: BudgetWaiter): void {
    const index = this.#queue.indexOf(waiter)
    if (index === -1) return
    this.#queue.splice(index, 1)
    // The head may have been what held the others back.
    if (index === 0) this.#pump()
  }

  /** Returns bytes taken by `tryReserve` or granted to a waiter. */
  release(bytes: number): void {
    this.#used -= bytes
    if (this.#queue.length > 0) this.#pump()
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#fits(this.#queue[0]!.bytes)) {
      const waiter = this.#queue.shift()!
      this.#used += waiter.bytes
      waiter.grant()
    }
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.capacity
  }
}
