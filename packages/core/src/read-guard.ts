import type { BudgetWaiter } from './byte-budget.js'
import { WebhookError } from './errors.js'
import type { ReadBodyOptions } from './raw-body.js'
import { unrefTimer } from './timers.js'

/**
 * What every body reader holds while it reads, whatever the runtime: the `bodyTimeout` timer and
 * the body's share of the buffer budget (`maxBufferedBytes`). One place for both, so the Node and
 * the fetch readers time out and wait in line alike.
 */
export class ReadGuard {
  readonly #options: ReadBodyOptions
  #timer: ReturnType<typeof setTimeout> | undefined
  #waiter: BudgetWaiter | undefined
  #reserved = 0

  /** Arms the timer (when `timeout` > 0): `fail` gets `REQUEST_TIMEOUT` when it fires. */
  constructor(options: ReadBodyOptions, fail: (error: WebhookError) => void) {
    this.#options = options
    const { timeout } = options
    if (timeout > 0) {
      this.#timer = setTimeout(() => {
        fail(
          new WebhookError(
            'REQUEST_TIMEOUT',
            this.#waiter === undefined
              ? `The request body did not arrive within ${timeout} ms.`
              : `The request body could not be read within ${timeout} ms: the receiver was busy reading other bodies (maxBufferedBytes).`,
          ),
        )
      }, timeout)
      // A pending request keeps the process alive by its socket; this timer must not.
      unrefTimer(this.#timer)
    }
  }

  /**
   * Reserves the body's bytes (its declared length, else the limit), then calls `start`; while
   * the budget is short it waits in line (first in, first out) and `start` runs when granted.
   */
  begin(start: () => void): void {
    const { budget } = this.#options
    const bytes = this.#options.reserve ?? this.#options.limit
    if (budget === undefined || budget.tryReserve(bytes)) {
      if (budget !== undefined) this.#reserved = bytes
      start()
      return
    }
    this.#waiter = {
      bytes,
      grant: () => {
        this.#waiter = undefined
        this.#reserved = bytes
        start()
      },
    }
    budget.wait(this.#waiter)
  }

  /** Clears the timer and returns the reservation (or leaves the line). Safe to call twice. */
  release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    const { budget } = this.#options
    if (this.#waiter !== undefined) budget?.cancel(this.#waiter)
    this.#waiter = undefined
    if (this.#reserved > 0) budget?.release(this.#reserved)
    this.#reserved = 0
  }
}
