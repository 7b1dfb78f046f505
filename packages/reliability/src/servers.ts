// The conformance targets import Express 4 and Koa 2 under pnpm aliases; their declarations live
// in that package. One shared file (not a copy) so the declarations never clash.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- a global declaration file cannot be imported
/// <reference path="../../conformance/src/framework-aliases.d.ts" />
import type { Webhooks, WebhookRequest, WebhookResponse } from '@ecampus-webhooks/core'

/**
 * A promise with its settle functions outside, so a test decides when a handler finishes instead
 * of sleeping: nothing in these tests depends on how fast the machine is.
 */
export interface Gate<T = void> {
  promise: Promise<T>
  resolve(value: T): void
  reject(reason: unknown): void
  /** True once resolve or reject was called. */
  readonly settled: boolean
}

/** Creates a `Gate`. */
export function gate<T = void>(): Gate<T> {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  let settled = false
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A gate rejected on purpose (a handler failing late) must not count as unhandled here.
  promise.catch(() => undefined)
  return {
    promise,
    resolve: (value) => {
      settled = true
      resolve(value)
    },
    reject: (reason) => {
      settled = true
      reject(reason)
    },
    get settled() {
      return settled
    },
  }
}

/** Every `handle()` call an adapter made on an instance, and what it answered. */
export interface HandleLog {
  /** The answers in the order they were decided. */
  readonly responses: readonly WebhookResponse[]
  /** How many `handle()` calls started (a request reached the core). */
  readonly started: number
  /** Resolves once `count` answers were decided in total (counted since the log was made). */
  settled(count: number): Promise<readonly WebhookResponse[]>
  /** Resolves once `count` `handle()` calls started in total. */
  entered(count: number): Promise<void>
}

/**
 * Wraps `webhooks.handle` and `webhooks.handleFetch` on this instance so a test can wait for the
 * core's decision about a request whose client is gone (no response to read) instead of sleeping.
 * The adapters call `webhooks.handle(...)` on the instance, the fetch targets `handleFetch(...)`
 * (`toFetchHandler` looks it up per request), so an own property shadows the class method.
 */
export function observeHandle(webhooks: Webhooks): HandleLog {
  const responses: WebhookResponse[] = []
  let started = 0
  const waiters = new Set<() => void>()
  const wake = (): void => {
    for (const waiter of [...waiters]) waiter()
  }
  const until = (done: () => boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      if (done()) {
        resolve()
        return
      }
      const waiter = (): void => {
        if (!done()) return
        waiters.delete(waiter)
        resolve()
      }
      waiters.add(waiter)
    })
  const original = webhooks.handle.bind(webhooks)
  Object.defineProperty(webhooks, 'handle', {
    configurable: true,
    writable: true,
    value: async (request: WebhookRequest): Promise<WebhookResponse> => {
      started += 1
      wake()
      const response = await original(request)
      responses.push(response)
      wake()
      return response
    },
  })
  // The same decisions answered as a Response: its status, headers and body are logged alike.
  const originalFetch = webhooks.handleFetch.bind(webhooks)
  Object.defineProperty(webhooks, 'handleFetch', {
    configurable: true,
    writable: true,
    value: async (request: Request): Promise<Response> => {
      started += 1
      wake()
      const response = await originalFetch(request)
      responses.push({
        status: response.status,
        headers: Object.fromEntries(response.headers),
        body: await response.clone().text(),
      })
      wake()
      return response
    },
  })
  return {
    responses,
    get started() {
      return started
    },
    settled: async (count) => {
      await until(() => responses.length >= count)
      return responses
    },
    entered: (count) => until(() => started >= count),
  }
}

/**
 * Collects unhandled rejections and uncaught exceptions while installed: a fault test passes only
 * when none happened, whatever Vitest's own reporting does with them.
 */
export interface CrashWatch {
  readonly problems: readonly unknown[]
  uninstall(): void
}

/** Starts a `CrashWatch`. */
export function watchCrashes(): CrashWatch {
  const problems: unknown[] = []
  const onProblem = (error: unknown): void => {
    problems.push(error)
  }
  process.on('unhandledRejection', onProblem)
  process.on('uncaughtException', onProblem)
  return {
    problems,
    uninstall: () => {
      process.off('unhandledRejection', onProblem)
      process.off('uncaughtException', onProblem)
    },
  }
}

/** Lets every pending callback of the current turn run: I/O callbacks and microtasks. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
