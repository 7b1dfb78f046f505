import { WebhookError } from './errors.js'
import type { ReadBodyOptions, ReadRawBodyOptions } from './raw-body.js'
import { tooLarge } from './raw-body.js'
import { ReadGuard } from './read-guard.js'
import { unrefTimer } from './timers.js'

/**
 * Reads a Web `ReadableStream` body into one Uint8Array: the counterpart of `readBody` for the
 * fetch handler, with the same rules. The bytes are reserved from the budget first (waiting first
 * in, first out), the limit is enforced as chunks arrive (nothing past it is kept), and the timeout
 * covers the wait and the read. A client that goes away is `REQUEST_ABORTED` however the runtime
 * says so: an aborted `signal` (noticed while waiting too) or a stream error. After a failure the
 * stream is left unlocked when no read is pending, so the rest can be drained.
 */
export function readWebBody(
  stream: ReadableStream<Uint8Array>,
  options: ReadBodyOptions,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = []
    let received = 0
    let settled = false
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined

    function cleanup(): void {
      settled = true
      guard.release()
      // Once the body is read, the client leaving is no longer this reader's business.
      signal?.removeEventListener('abort', onAbort)
    }

    function fail(error: WebhookError): void {
      if (settled) return
      cleanup()
      chunks.length = 0
      reject(error)
    }

    function onAbort(): void {
      if (settled) return
      fail(
        new WebhookError(
          'REQUEST_ABORTED',
          'The client closed the request before the body was sent.',
          { cause: signal?.reason },
        ),
      )
      // The client is gone: stop the source (a pending read then ends) rather than wait for a
      // stream a runtime may never end. Nothing drains after REQUEST_ABORTED.
      cancel(reader ?? stream)
    }

    async function pump(): Promise<void> {
      try {
        reader = stream.getReader()
      } catch (error) {
        fail(
          new WebhookError('INTERNAL_ERROR', 'The request body stream could not be read.', {
            cause: error,
          }),
        )
        return
      }
      try {
        for (;;) {
          const { done, value } = await reader.read()
          // Timed out while this read was pending: the answer is sent, drop what came.
          if (settled) return
          if (done) break
          // A chunk of another realm is still a view; anything else is not a request body.
          if (!ArrayBuffer.isView(value)) {
            reader.releaseLock()
            fail(
              new WebhookError(
                'INTERNAL_ERROR',
                'The body stream yielded a chunk that is not bytes.',
              ),
            )
            return
          }
          received += value.byteLength
          if (received > options.limit) {
            // No read is pending, so the stream can be handed back for draining.
            reader.releaseLock()
            fail(tooLarge(options.limit))
            return
          }
          chunks.push(value)
        }
      } catch (error) {
        fail(
          new WebhookError(
            'REQUEST_ABORTED',
            'The request stream failed before the body was read.',
            { cause: error },
          ),
        )
        return
      }
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : concat(chunks, received))
    }

    function start(): void {
      void pump()
    }

    // The timer and the budget share: released by every outcome from here on.
    const guard = new ReadGuard(options, fail)
    // An already aborted request fails at once (the failure releases the guard); a later abort is
    // listened to before the budget wait, so a client that leaves while waiting is noticed.
    if (signal?.aborted === true) {
      onAbort()
      return
    }
    signal?.addEventListener('abort', onAbort)
    guard.begin(start)
  })
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/**
 * Reads and drops what is left of a body after an early answer, so the client (which may still be
 * sending) receives that answer instead of a reset. Bounded like `discardBody`: past `limit` more
 * bytes or `timeout` ms the stream is cancelled, which lets the server close the connection.
 */
export function discardWebBody(
  stream: ReadableStream<Uint8Array>,
  options: ReadRawBodyOptions,
  signal?: AbortSignal,
): void {
  // Locked: a read is still pending (it settles when the client goes away); nothing to do.
  if (stream.locked) return
  // A client that left sends nothing more: stop at once, not at the timeout.
  if (signal?.aborted === true) {
    cancel(stream)
    return
  }
  const reader = stream.getReader()
  let discarded = 0
  let stopped = false
  const timer = options.timeout > 0 ? setTimeout(stop, options.timeout) : undefined
  if (timer !== undefined) unrefTimer(timer)
  signal?.addEventListener('abort', stop)

  function stop(): void {
    if (stopped) return
    stopped = true
    if (timer !== undefined) clearTimeout(timer)
    signal?.removeEventListener('abort', stop)
    cancel(reader)
  }

  async function drain(): Promise<void> {
    for (;;) {
      const { done, value } = await reader.read()
      if (done || stopped) break
      discarded += value.byteLength
      if (discarded > options.limit) break
    }
  }
  drain().then(stop, stop)
}

/** Cancels a stream or reader; a failure to cancel changes nothing for the answer. */
function cancel(
  target: ReadableStream<Uint8Array> | ReadableStreamDefaultReader<Uint8Array>,
): void {
  try {
    target.cancel().catch(ignore)
  } catch {
    // Not a standard stream (a hand-made Request): there is nothing more to stop.
  }
}

function ignore(): void {}
