import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { WebhookResponse } from '../src/index.js'
import { Webhooks, readRawBody, sign } from '../src/index.js'
import { BODY, SECRET, signedHeaders, tick } from './helpers.js'

const EVENTS = ['data', 'end', 'error', 'close', 'aborted'] as const
const NO_TIMEOUT = { limit: 1024 * 1024, timeout: 0 }

function listenerCounts(stream: NodeJS.EventEmitter): number[] {
  return EVENTS.map((event) => stream.listenerCount(event))
}

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false
  const tracked = promise.then(
    (value) => {
      settled = true
      return value
    },
    (error: unknown) => {
      settled = true
      throw error
    },
  )
  return { settled: () => settled, promise: tracked }
}

const unhandled = vi.fn()
beforeAll(() => {
  process.on('unhandledRejection', unhandled)
})
afterAll(() => {
  process.off('unhandledRejection', unhandled)
})
afterEach(async () => {
  vi.useRealTimers()
  await tick()
  expect(unhandled).not.toHaveBeenCalled()
})

describe('readRawBody', () => {
  it('returns a single chunk as is, without copying it', async () => {
    const chunk = Buffer.from(BODY)
    const stream = new Readable({ read() {} })
    stream.push(chunk)
    stream.push(null)
    const body = await readRawBody(stream, NO_TIMEOUT)
    expect(body).toBe(chunk)
  })

  it('concatenates many chunks in order', async () => {
    const chunks = Array.from({ length: 500 }, (_, i) =>
      Buffer.from([i % 256, (i * 7) % 256, 0x0a]),
    )
    const stream = new PassThrough()
    const pending = readRawBody(stream, NO_TIMEOUT)
    for (const chunk of chunks) stream.write(chunk)
    stream.end()
    const body = await pending
    expect(body.equals(Buffer.concat(chunks))).toBe(true)
    expect(body.byteLength).toBe(1500)
  })

  it('accepts string chunks and encodes them as UTF-8', async () => {
    const fromStrings = await readRawBody(Readable.from(['Grü', 'ße 🎓', '']), NO_TIMEOUT)
    expect(fromStrings.equals(Buffer.from('Grüße 🎓'))).toBe(true)

    // A stream someone called setEncoding() on also yields strings.
    const decoded = new PassThrough()
    decoded.setEncoding('utf8')
    const pending = readRawBody(decoded, NO_TIMEOUT)
    decoded.end(Buffer.from('{"ü":1}'))
    expect((await pending).toString()).toBe('{"ü":1}')
  })

  it('accepts plain Uint8Array chunks and returns a Buffer', async () => {
    const body = await readRawBody(
      Readable.from([new Uint8Array([1, 2]), new Uint8Array([3])]),
      NO_TIMEOUT,
    )
    expect(Buffer.isBuffer(body)).toBe(true)
    expect([...body]).toEqual([1, 2, 3])
    const single = await readRawBody(Readable.from([new Uint8Array([9, 8])]), NO_TIMEOUT)
    expect(Buffer.isBuffer(single)).toBe(true)
    expect([...single]).toEqual([9, 8])
  })

  it('rejects (does not throw later) for an object-mode stream of non-bytes', async () => {
    const stream = Readable.from([{ not: 'bytes' }])
    await expect(readRawBody(stream, NO_TIMEOUT)).rejects.toMatchObject({ code: 'INTERNAL_ERROR' })
  })

  it('reads a stream that was paused explicitly before', async () => {
    const stream = new PassThrough()
    stream.pause()
    const pending = readRawBody(stream, NO_TIMEOUT)
    stream.end(BODY)
    expect((await pending).toString()).toBe(BODY)
  })

  it('accepts a body of exactly the limit', async () => {
    const body = await readRawBody(Readable.from([Buffer.alloc(10), Buffer.alloc(6)]), {
      limit: 16,
      timeout: 0,
    })
    expect(body.byteLength).toBe(16)
  })

  describe('limit', () => {
    it('rejects as soon as the limit is crossed, without waiting for the end', async () => {
      const stream = new PassThrough()
      const baseline = listenerCounts(stream)
      const read = track(readRawBody(stream, { limit: 250, timeout: 0 }))
      stream.write(Buffer.alloc(100))
      stream.write(Buffer.alloc(100))
      await tick()
      expect(read.settled()).toBe(false)
      stream.write(Buffer.alloc(100))
      // The stream is never ended: only the limit can settle the read.
      await expect(read.promise).rejects.toMatchObject({
        name: 'WebhookError',
        code: 'BODY_TOO_LARGE',
        status: 413,
      })
      expect(listenerCounts(stream)).toEqual(baseline)
      stream.destroy()
    })

    it('counts bytes, not characters, for string chunks', async () => {
      // 3 characters, 6 bytes.
      await expect(
        readRawBody(Readable.from(['ééé']), { limit: 5, timeout: 0 }),
      ).rejects.toMatchObject({
        code: 'BODY_TOO_LARGE',
      })
    })

    it('stops pulling from the source once over the limit', async () => {
      // An endless source: if reading went on, `produced` would grow without bound.
      let produced = 0
      const endless = new Readable({
        read() {
          produced += 1024
          this.push(Buffer.alloc(1024, 0x61))
        },
      })
      await expect(readRawBody(endless, { limit: 10 * 1024, timeout: 0 })).rejects.toMatchObject({
        code: 'BODY_TOO_LARGE',
      })
      for (let i = 0; i < 50; i += 1) await tick()
      // At most the limit plus what refills the stream's own buffer (highWaterMark 16 KiB).
      expect(produced).toBeLessThanOrEqual(10 * 1024 + 2 * endless.readableHighWaterMark)
      expect(endless.isPaused()).toBe(true)
      endless.destroy()
    })
  })

  describe('client abort', () => {
    it.each([
      ['destroyed mid-body', (s: PassThrough) => s.destroy()],
      ['destroyed with an error', (s: PassThrough) => s.destroy(new Error('ECONNRESET'))],
      // What an IncomingMessage does when its client leaves (Node 16+): 'aborted', then destroy
      // with an ECONNRESET error, so 'error' and 'close' follow.
      [
        "'aborted' then destroyed with ECONNRESET (IncomingMessage)",
        (s: PassThrough) => {
          s.emit('aborted')
          s.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
        },
      ],
      ['an error emitted', (s: PassThrough) => s.emit('error', new Error('socket hang up'))],
    ])('%s -> REQUEST_ABORTED, listeners removed', async (_name, abort) => {
      const stream = new PassThrough()
      const baseline = listenerCounts(stream)
      const read = readRawBody(stream, { limit: 1024, timeout: 60_000 })
      stream.write('{"id":')
      await tick()
      abort(stream)
      await expect(read).rejects.toMatchObject({ code: 'REQUEST_ABORTED', status: 400 })
      expect(listenerCounts(stream)).toEqual(baseline)
      stream.destroy()
    })

    it('keeps the stream error as the cause', async () => {
      const stream = new PassThrough()
      const read = readRawBody(stream, NO_TIMEOUT)
      const cause = new Error('boom')
      stream.destroy(cause)
      await expect(read).rejects.toMatchObject({ code: 'REQUEST_ABORTED', cause })
    })

    it('rejects at once for a stream destroyed before reading', async () => {
      const stream = new PassThrough()
      stream.destroy()
      await expect(readRawBody(stream, NO_TIMEOUT)).rejects.toMatchObject({
        code: 'REQUEST_ABORTED',
      })
    })

    it('ignores events after it settled', async () => {
      const stream = new PassThrough()
      const read = readRawBody(stream, NO_TIMEOUT)
      stream.end(BODY)
      expect((await read).toString()).toBe(BODY)
      // A late close or abort must not turn a finished read into a rejection.
      stream.emit('aborted')
      stream.destroy()
      await tick()
    })
  })

  describe('not a stream', () => {
    it.each([
      ['a plain object', { foo: 1 }],
      ['an emitter without pause/resume', { on: () => undefined, removeListener: () => undefined }],
    ])('%s -> INTERNAL_ERROR at once, and no timer left to fire later', async (_name, value) => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      await expect(
        readRawBody(value as unknown as PassThrough, { limit: 10, timeout: 5_000 }),
      ).rejects.toMatchObject({ code: 'INTERNAL_ERROR' })
      expect(vi.getTimerCount()).toBe(0)
    })

    it('handle() answers 500 INTERNAL_ERROR and leaves no timer behind', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      const response = await new Webhooks({ secret: SECRET, bodyTimeout: 50 }).handle({
        method: 'POST',
        headers: signedHeaders(BODY),
        body: { not: 'a stream' } as unknown as PassThrough,
      })
      expect(response.status).toBe(500)
      expect(response.error?.code).toBe('INTERNAL_ERROR')
      // A timer left behind would fire after the request and throw from inside Node's timers.
      expect(vi.getTimerCount()).toBe(0)
    })

    it('a stream whose resume() throws is INTERNAL_ERROR, with nothing left behind', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      const stream = new PassThrough()
      stream.resume = () => {
        throw new Error('broken stream')
      }
      const baseline = listenerCounts(stream)
      await expect(readRawBody(stream, { limit: 10, timeout: 5_000 })).rejects.toMatchObject({
        code: 'INTERNAL_ERROR',
        cause: new Error('broken stream'),
      })
      expect(vi.getTimerCount()).toBe(0)
      expect(listenerCounts(stream)).toEqual(baseline)
    })
  })

  describe('timeout', () => {
    it('rejects with REQUEST_TIMEOUT for a body that never ends', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      const stream = new PassThrough()
      const baseline = listenerCounts(stream)
      const read = track(readRawBody(stream, { limit: 1024, timeout: 5_000 }))
      stream.write('{"id":')
      vi.advanceTimersByTime(4_999)
      await Promise.resolve()
      expect(read.settled()).toBe(false)
      vi.advanceTimersByTime(1)
      await expect(read.promise).rejects.toMatchObject({ code: 'REQUEST_TIMEOUT', status: 408 })
      expect(listenerCounts(stream)).toEqual(baseline)
      stream.destroy()
    })

    it('clears its timer once the body arrived', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      const stream = new PassThrough()
      const read = readRawBody(stream, { limit: 1024, timeout: 5_000 })
      expect(vi.getTimerCount()).toBe(1)
      stream.end(BODY)
      await read
      expect(vi.getTimerCount()).toBe(0)
    })

    it('timeout 0 sets no timer', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
      const stream = new PassThrough()
      const read = track(readRawBody(stream, NO_TIMEOUT))
      expect(vi.getTimerCount()).toBe(0)
      vi.advanceTimersByTime(24 * 3600 * 1000)
      await tick()
      expect(read.settled()).toBe(false)
      stream.end(BODY)
      expect((await read.promise).toString()).toBe(BODY)
    })
  })
})

describe('a real node:http server', () => {
  let server: Server
  let port: number
  const handler = vi.fn()
  const hooks = new Webhooks({ secret: SECRET }).onAny(handler)
  /** Resolvers waiting for the next request to arrive / be answered. */
  let onArrived: (() => void) | undefined
  let onHandled: ((response: WebhookResponse) => void) | undefined

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      onArrived?.()
      void hooks
        .handle({ method: req.method ?? 'GET', headers: req.headers, body: req })
        .then((response) => {
          onHandled?.(response)
          if (!res.destroyed) res.writeHead(response.status, response.headers).end(response.body)
        })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })

  afterAll(async () => {
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })

  it('answers REQUEST_ABORTED when the client aborts mid-body, and keeps serving', async () => {
    const arrived = new Promise<void>((resolve) => (onArrived = resolve))
    const handled = new Promise<WebhookResponse>((resolve) => (onHandled = resolve))

    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write(
      'POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Content-Length: 1000\r\nX-eCampus-Signature: ${sign('x'.repeat(1000), SECRET)}\r\n\r\n` +
        '{"id":"a056V7R7NmNRjl70",',
    )
    await arrived
    socket.destroy()

    const response = await handled
    expect(response.status).toBe(400)
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'REQUEST_ABORTED' } })
    expect(handler).not.toHaveBeenCalled()

    // The next request is served normally.
    onArrived = undefined
    const next = new Promise<WebhookResponse>((resolve) => (onHandled = resolve))
    const reply = await fetch(`http://127.0.0.1:${port}/webhooks`, {
      method: 'POST',
      headers: signedHeaders(BODY),
      body: BODY,
    })
    expect(reply.status).toBe(200)
    expect(await reply.json()).toEqual({ ok: true })
    expect((await next).status).toBe(200)
    expect(handler).toHaveBeenCalledOnce()
  })
})
