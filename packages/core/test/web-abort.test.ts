import { getEventListeners } from 'node:events'
import type http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { sign as nodeSign } from '../src/index.js'
import {
  Webhooks,
  toFetchHandler,
  type FetchHandler,
  type RejectionInfo,
  type WebhooksOptions,
} from '../src/web.js'
import { BODY, EVENT, SECRET } from './helpers.js'

// How the fetch handler learns that a client went away: a fetch runtime aborts `request.signal`
// (Hono on Node, Deno, Bun) and/or errors the body stream. Either one, alone, must be decided as
// 400 REQUEST_ABORTED with no handler call, exactly like a Node adapter's closed request.

const URL_ = 'http://127.0.0.1/webhooks'
const encoder = new TextEncoder()

/** A hang guard only: every answer here comes long before it, or never without the code under test. */
const GUARD = 5_000

interface Receiver {
  webhooks: Webhooks
  handler: FetchHandler
  seen: string[]
  rejected: RejectionInfo[]
  /** Resolves with the next rejection the instance reports. */
  nextRejection(): Promise<RejectionInfo>
}

function receiver(options: Partial<WebhooksOptions> = {}): Receiver {
  const webhooks = new Webhooks({ secret: SECRET, ...options })
  const seen: string[] = []
  const rejected: RejectionInfo[] = []
  const waiting: ((info: RejectionInfo) => void)[] = []
  webhooks.onAny((event) => {
    seen.push(event.id)
  })
  webhooks.onRejected((_error, info) => {
    rejected.push(info)
    waiting.shift()?.(info)
  })
  return {
    webhooks,
    handler: toFetchHandler(webhooks),
    seen,
    rejected,
    nextRejection: () => new Promise((resolve) => waiting.push(resolve)),
  }
}

/**
 * A signed POST whose body sends `sent` and then neither ends nor errors: only `abort` (the
 * request's signal) can tell the receiver the client left, as on a runtime that reports a
 * disconnect through the signal alone. `declared`: send a Content-Length (else it is chunked).
 */
function stalledRequest(
  sent: readonly Uint8Array[],
  headers: Record<string, string> = {},
  declared = true,
): { request: Request; abort: () => void; pulls: () => number; cancelled: () => boolean } {
  const controller = new AbortController()
  let pulls = 0
  let cancelled = false
  const body = new ReadableStream<Uint8Array>(
    {
      pull(stream) {
        pulls += 1
        const next = sent[pulls - 1]
        if (next === undefined) return new Promise<void>(() => {}) // stalls
        stream.enqueue(next)
        return undefined
      },
      cancel() {
        cancelled = true
      },
    },
    { highWaterMark: 0 },
  )
  const request = new Request(URL_, {
    method: 'POST',
    body,
    headers: {
      ...(declared ? { 'content-length': String(BODY.length) } : {}),
      'x-ecampus-signature': nodeSign(BODY, SECRET),
      ...headers,
    },
    signal: controller.signal,
    duplex: 'half',
  })
  return {
    request,
    abort: () => controller.abort(new Error('client went away')),
    pulls: () => pulls,
    cancelled: () => cancelled,
  }
}

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code
}

describe('request.signal: a client that goes away', () => {
  it('mid-body, the stream just stopping → 400 REQUEST_ABORTED, stream cancelled, no handler', async () => {
    const { handler, seen, rejected } = receiver()
    const { request, abort, pulls, cancelled } = stalledRequest([encoder.encode(BODY.slice(0, 10))])
    const answer = handler(request)
    // The first chunk was taken and the read of the next is pending: the client leaves now.
    await expect.poll(pulls).toBe(2)
    abort()
    const response = await answer
    expect(response.status).toBe(400)
    expect(await codeOf(response)).toBe('REQUEST_ABORTED')
    // The reader stopped the source instead of waiting on a stream that never ends.
    expect(cancelled()).toBe(true)
    expect(getEventListeners(request.signal, 'abort')).toHaveLength(0)
    expect(seen).toEqual([])
    expect(rejected).toEqual([{ status: 400, code: 'REQUEST_ABORTED', method: 'POST' }])
  })

  it('before the body is read (signal already aborted) → 400 REQUEST_ABORTED, nothing pulled', async () => {
    const { handler, seen } = receiver()
    const { request, abort, pulls } = stalledRequest([encoder.encode(BODY)])
    abort()
    const response = await handler(request)
    expect(response.status).toBe(400)
    expect(await codeOf(response)).toBe('REQUEST_ABORTED')
    expect(pulls()).toBe(0)
    expect(seen).toEqual([])
  })

  it('the answers decided from the headers alone stay as they are (405 before the abort is looked at)', async () => {
    const { handler } = receiver()
    const controller = new AbortController()
    controller.abort()
    const response = await handler(new Request(URL_, { signal: controller.signal }))
    expect(response.status).toBe(405)
    expect(await codeOf(response)).toBe('METHOD_NOT_ALLOWED')
  })

  it('while its body waits for the buffer budget → 400 REQUEST_ABORTED, the budget is not touched', async () => {
    const { handler, seen } = receiver({ maxBufferedBytes: BODY.length, bodyTimeout: 0 })
    // Holds the whole budget: its body has not arrived yet.
    let feed!: ReadableStreamDefaultController<Uint8Array>
    const held = handler(
      new Request(URL_, {
        method: 'POST',
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            feed = controller
          },
        }),
        headers: {
          'content-length': String(BODY.length),
          'x-ecampus-signature': nodeSign(BODY, SECRET),
        },
        duplex: 'half',
      }),
    )
    // No Content-Length: it reserves maxBodySize, more than is left, so it waits in line.
    const waiting = stalledRequest([encoder.encode(BODY)], {}, false)
    const waitingAnswer = handler(waiting.request)
    waiting.abort()
    const response = await waitingAnswer
    expect(response.status).toBe(400)
    expect(await codeOf(response)).toBe('REQUEST_ABORTED')
    expect(waiting.pulls()).toBe(0)
    // The first body still gets its reservation and is handled.
    feed.enqueue(encoder.encode(BODY))
    feed.close()
    expect((await held).status).toBe(200)
    expect(seen).toEqual([EVENT.id])
  })

  it('after the body was read, it does not stop the handlers: 200, the listener is gone', async () => {
    const { webhooks, handler, seen, rejected } = receiver()
    let entered!: () => void
    const handlerStarted = new Promise<void>((resolve) => {
      entered = resolve
    })
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    webhooks.on('message.created', async () => {
      entered()
      await released
    })
    const controller = new AbortController()
    const request = new Request(URL_, {
      method: 'POST',
      body: BODY,
      headers: { 'x-ecampus-signature': nodeSign(BODY, SECRET) },
      signal: controller.signal,
    })
    const answer = handler(request)
    await handlerStarted
    // The body reader listens only while it reads.
    expect(getEventListeners(request.signal, 'abort')).toHaveLength(0)
    controller.abort()
    release()
    const response = await answer
    expect(response.status).toBe(200)
    expect(seen).toEqual([EVENT.id])
    expect(rejected).toEqual([])
  })

  it('after an early answer, the drain stops when the client leaves, not at bodyTimeout', async () => {
    const { handler } = receiver({ bodyTimeout: 60_000 })
    const { request, abort, cancelled } = stalledRequest([encoder.encode(BODY.slice(0, 10))], {
      // Answered from the headers: the signature is malformed; the rest is drained.
      'x-ecampus-signature': 'sha256=abc',
    })
    const response = await handler(request)
    expect(response.status).toBe(401)
    expect(cancelled()).toBe(false)
    abort()
    await expect.poll(cancelled).toBe(true)
    expect(getEventListeners(request.signal, 'abort')).toHaveLength(0)
  })
})

describe('a stream that errors without the signal', () => {
  it('mid-body → 400 REQUEST_ABORTED, no handler (the signal never aborted)', async () => {
    const { handler, seen } = receiver()
    const controller = new AbortController()
    const request = new Request(URL_, {
      method: 'POST',
      body: new ReadableStream<Uint8Array>({
        start(stream) {
          stream.enqueue(encoder.encode(BODY))
          stream.error(new Error('connection reset'))
        },
      }),
      headers: {
        'content-length': String(BODY.length + 100),
        'x-ecampus-signature': nodeSign(BODY, SECRET),
      },
      signal: controller.signal,
      duplex: 'half',
    })
    const response = await handler(request)
    expect(response.status).toBe(400)
    expect(await codeOf(response)).toBe('REQUEST_ABORTED')
    expect(getEventListeners(request.signal, 'abort')).toHaveLength(0)
    expect(seen).toEqual([])
  })
})

describe('a real fetch host: Hono on @hono/node-server, client sockets closed mid-request', () => {
  let server: http.Server
  let port: number
  const app = receiver()
  const holds = new Map<string, { entered: () => void; release: Promise<void> }>()
  const finished: string[] = []
  app.webhooks.onAny(async (event) => {
    const hold = holds.get(event.id)
    if (hold !== undefined) {
      hold.entered()
      await hold.release
    }
    finished.push(event.id)
  })

  beforeAll(async () => {
    const [{ Hono }, { serve }] = await Promise.all([import('hono'), import('@hono/node-server')])
    const hono = new Hono()
    hono.post('/webhooks', (c) => app.handler(c.req.raw))
    server = await new Promise<http.Server>((resolve) => {
      const started = serve({ fetch: hono.fetch, hostname: '127.0.0.1', port: 0 }, () =>
        resolve(started as http.Server),
      )
    })
    port = (server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  })
  afterEach(() => {
    app.seen.length = 0
    app.rejected.length = 0
    finished.length = 0
  })

  /** A raw connection that sent `data`; the test destroys it to play a client that leaves. */
  async function connect(data: string): Promise<net.Socket> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    socket.on('error', () => {})
    await new Promise<void>((resolve) => socket.write(data, () => resolve()))
    return socket
  }

  function head(body: string, declared: number, signatureBody = body): string {
    return (
      'POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${declared}\r\nX-eCampus-Signature: ${nodeSign(signatureBody, SECRET)}\r\n\r\n`
    )
  }

  it('a whole signed event, but the declared length says more was coming → 400 REQUEST_ABORTED', async () => {
    const rejection = app.nextRejection()
    const socket = await connect(head(BODY, BODY.length + 100) + BODY)
    socket.destroy()
    expect(await within(rejection)).toEqual({
      status: 400,
      code: 'REQUEST_ABORTED',
      method: 'POST',
    })
    expect(app.seen).toEqual([])
  })

  it('while the handler runs: it finishes once, nothing is refused', async () => {
    const id = 'during-handler'
    const body = JSON.stringify({ ...EVENT, id })
    let entered!: () => void
    const started = new Promise<void>((resolve) => {
      entered = resolve
    })
    let release!: () => void
    holds.set(id, { entered, release: new Promise<void>((resolve) => (release = resolve)) })
    try {
      const socket = await connect(head(body, Buffer.byteLength(body)) + body)
      await within(started)
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      socket.destroy()
      await within(closed)
      release()
      await expect.poll(() => finished, { timeout: GUARD }).toEqual([id])
      expect(app.seen).toEqual([id])
      expect(app.rejected).toEqual([])
    } finally {
      release()
      holds.delete(id)
    }
  })
})

describe('where setTimeout returns a number (Deno, Workers)', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  /** Node's timers, handed out as their numeric ids: no `unref` to call. */
  function numericTimers(): void {
    const real = globalThis.setTimeout
    vi.stubGlobal('setTimeout', (callback: () => void, ms?: number) => Number(real(callback, ms)))
  }

  it('bodyTimeout and handlerTimeout run their timers: 200, 408, 500 HANDLER_TIMEOUT', async () => {
    numericTimers()
    const { webhooks, handler } = receiver({ bodyTimeout: 50, handlerTimeout: 50 })
    expect(typeof setTimeout(() => {}, 0)).toBe('number')
    const ok = await handler(
      new Request(URL_, {
        method: 'POST',
        body: BODY,
        headers: { 'x-ecampus-signature': nodeSign(BODY, SECRET) },
      }),
    )
    expect(ok.status).toBe(200)

    const slow = stalledRequest([])
    const timedOut = await handler(slow.request)
    expect(timedOut.status).toBe(408)
    expect(await codeOf(timedOut)).toBe('REQUEST_TIMEOUT')

    webhooks.on('message.created', () => new Promise<void>(() => {}))
    const stuck = await handler(
      new Request(URL_, {
        method: 'POST',
        body: BODY,
        headers: { 'x-ecampus-signature': nodeSign(BODY, SECRET) },
      }),
    )
    expect(stuck.status).toBe(500)
    expect(await codeOf(stuck)).toBe('HANDLER_TIMEOUT')
  })

  it('the bounded drain after an early answer starts its timer: 401', async () => {
    numericTimers()
    const { handler } = receiver({ bodyTimeout: 50 })
    const { request, cancelled } = stalledRequest([], { 'x-ecampus-signature': 'sha256=abc' })
    const response = await handler(request)
    expect(response.status).toBe(401)
    // The drain's timer stops the stalled body.
    await expect.poll(cancelled).toBe(true)
  })
})

/** Rejects when `promise` has not settled within the guard: a hang becomes a failure. */
async function within<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`gave up after ${GUARD} ms`)), GUARD)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
