import type { ByteBudget } from './byte-budget.js'
import { WebhookError } from './errors.js'
import { ReadGuard } from './read-guard.js'
import { unrefTimer } from './timers.js'
import type { BodyStream } from './types.js'

/** Limits of `readRawBody`. */
export interface ReadRawBodyOptions {
  /** Largest accepted body in bytes. */
  limit: number
  /** Milliseconds the whole body may take to arrive; 0 disables the timer. */
  timeout: number
}

/** `readRawBody`'s options plus the instance's buffer budget, which `handle()` passes. */
export interface ReadBodyOptions extends ReadRawBodyOptions {
  /** The budget to reserve `reserve` bytes from before reading. */
  budget?: ByteBudget | undefined
  /** Bytes to reserve: the declared length, or the limit when none is declared. */
  reserve?: number
}

/** True when something already read this stream, so its bytes are gone. */
export function isConsumed(stream: BodyStream): boolean {
  return stream.readableEnded === true || stream.readableDidRead === true
}

/**
 * Reads a request stream into one Buffer. The limit is enforced while chunks arrive (nothing past
 * it is buffered) and chunks are concatenated once. A client abort, a stream error or the timeout
 * rejects with a `WebhookError`; every listener and timer is removed whatever happens.
 *
 * @example
 * const raw = await readRawBody(req, { limit: 1024 * 1024, timeout: 30_000 })
 */
export function readRawBody(stream: BodyStream, options: ReadRawBodyOptions): Promise<Buffer> {
  return readBody(stream, options)
}

/**
 * `readRawBody` that first reserves its bytes from a budget, waiting (first in, first out) while
 * the budget is short. The timeout covers the wait, and an abort while waiting is noticed; the
 * reservation is returned on every outcome.
 */
export function readBody(stream: BodyStream, options: ReadBodyOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let received = 0
    let settled = false

    function cleanup(): void {
      settled = true
      guard.release()
      stream.removeListener('data', onData)
      stream.removeListener('end', onEnd)
      stream.removeListener('error', onError)
      stream.removeListener('close', onClose)
    }

    function fail(error: WebhookError): void {
      if (settled) return
      cleanup()
      // Stop pulling bytes; handleWebhook decides whether to drain the rest or close.
      stream.pause()
      chunks.length = 0
      reject(error)
    }

    function onData(chunk: unknown): void {
      // An object-mode stream is not a request body; failing here beats a throw in 'end'.
      if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
        fail(
          new WebhookError('INTERNAL_ERROR', 'The body stream yielded a chunk that is not bytes.'),
        )
        return
      }
      const bytes =
        typeof chunk === 'string'
          ? Buffer.from(chunk)
          : Buffer.isBuffer(chunk)
            ? chunk
            : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      received += bytes.length
      if (received > options.limit) {
        fail(tooLarge(options.limit))
        return
      }
      chunks.push(bytes)
    }

    function onEnd(): void {
      if (settled) return
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received))
    }

    function onError(error: unknown): void {
      fail(
        new WebhookError('REQUEST_ABORTED', 'The request stream failed before the body was read.', {
          cause: error,
        }),
      )
    }

    function onClose(): void {
      fail(
        new WebhookError(
          'REQUEST_ABORTED',
          'The client closed the request before the body was sent.',
        ),
      )
    }

    function start(): void {
      try {
        stream.on('data', onData)
        stream.on('end', onEnd)
        // A 'data' listener does not restart a stream someone paused explicitly.
        stream.resume()
      } catch (error) {
        // Also when a budget grant calls this: the line must move on whatever this stream does.
        fail(
          new WebhookError('INTERNAL_ERROR', 'The request body stream could not be read.', {
            cause: error,
          }),
        )
      }
    }

    // Checked before any listener or timer exists, so nothing is left behind to fire later.
    if (!isReadable(stream)) {
      settled = true
      reject(new WebhookError('INTERNAL_ERROR', 'The request body is not a readable stream.'))
      return
    }
    // The timer and the budget share: released by every outcome from here on.
    const guard = new ReadGuard(options, fail)
    // Abort and error listeners go first, so a client that leaves while waiting is noticed.
    stream.on('error', onError)
    // No 'aborted' listener: it is deprecated, and since Node 16 an aborted IncomingMessage is
    // destroyed with an ECONNRESET error, so 'error' and 'close' arrive anyway. Each listener is
    // added and removed per request: the one less measured about 1.5 us of CPU per request.
    stream.on('close', onClose)
    if (stream.destroyed === true) {
      onClose()
      return
    }
    guard.begin(start)
  })
}

function isReadable(stream: unknown): boolean {
  const candidate = stream as Partial<Record<'on' | 'removeListener' | 'pause' | 'resume', unknown>>
  return (
    typeof candidate?.on === 'function' &&
    typeof candidate.removeListener === 'function' &&
    typeof candidate.pause === 'function' &&
    typeof candidate.resume === 'function'
  )
}

/** The error for a body over the limit. */
export function tooLarge(limit: number): WebhookError {
  return new WebhookError(
    'BODY_TOO_LARGE',
    `The request body is larger than the limit of ${limit} bytes (maxBodySize).`,
  )
}

/**
 * Reads and drops what is left of a body after an early answer, so the client (which may still be
 * sending) receives that answer: closing a socket with unread bytes makes the kernel send a reset,
 * and the reset can destroy the answer before the client reads it. Bounded like a read: past
 * `limit` more bytes or `timeout` ms the stream is destroyed, which closes the connection.
 */
export function discardBody(stream: BodyStream, options: ReadRawBodyOptions): void {
  if (!isReadable(stream)) return
  let discarded = 0
  const timer = options.timeout > 0 ? setTimeout(stop, options.timeout) : undefined
  if (timer !== undefined) unrefTimer(timer)

  function onData(chunk: { length: number }): void {
    discarded += chunk.length
    if (discarded > options.limit) stop()
  }
  function done(): void {
    if (timer !== undefined) clearTimeout(timer)
    stream.removeListener('data', onData)
    stream.removeListener('end', done)
    stream.removeListener('close', done)
    stream.removeListener('error', done)
  }
  function stop(): void {
    done()
    ;(stream as { destroy?: () => void }).destroy?.()
  }

  stream.on('data', onData)
  stream.on('end', done)
  stream.on('close', done)
  stream.on('error', done)
  stream.resume()
}
