import http from 'node:http'
import net from 'node:net'

/**
 * How long any single network wait may take before the helper gives up with a message saying
 * what it was waiting for. It only turns a hang into a readable failure; no test asserts on time.
 */
export const WAIT_LIMIT_MS = 15_000

/** A complete HTTP response as the client saw it. */
export interface HttpResponse {
  status: number
  /** Header names lower-cased; a repeated header keeps its last value. */
  headers: Record<string, string>
  /** The body as UTF-8 text. */
  body: string
  /** Status line, header block and body exactly as received, to search for leaked secrets. */
  raw: string
}

/** Rejects with `what` in the message when `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`gave up after ${ms} ms waiting for ${what}`))
    }, ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

/** Options of `send()`. */
export interface SendOptions {
  method?: string
  headers?: http.OutgoingHttpHeaders
  body?: string | Uint8Array
  /** An agent to share connections between requests; a fresh connection per request otherwise. */
  agent?: http.Agent
}

/**
 * One ordinary request with node:http. `path` is resolved against `baseUrl`, so a query string
 * may be part of it.
 */
export function send(
  baseUrl: string,
  path: string,
  options: SendOptions = {},
): Promise<HttpResponse> {
  const url = new URL(path, baseUrl)
  const { method = 'POST', headers = {}, body, agent } = options
  const exchange = new Promise<HttpResponse>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        const head = [`HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage}`]
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          head.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`)
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: lastValues(res.headers),
          body: text,
          raw: `${head.join('\r\n')}\r\n\r\n${text}`,
        })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
  return within(exchange, `the response to ${method} ${url.pathname}${url.search}`)
}

function lastValues(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? (value.at(-1) ?? '') : value
  }
  return out
}

/** A header line as written on the wire: the name keeps its case, repeats are kept. */
export type RawHeader = readonly [name: string, value: string]

/** The request line and header block of a raw request, ending with the blank line. */
export function requestHead(method: string, path: string, headers: readonly RawHeader[]): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1']
  for (const [name, value] of headers) lines.push(`${name}: ${value}`)
  return `${lines.join('\r\n')}\r\n\r\n`
}

/** One chunk of a `Transfer-Encoding: chunked` body. */
export function chunk(data: Uint8Array | string): Buffer {
  const bytes = Buffer.from(data)
  return Buffer.concat([
    Buffer.from(`${bytes.length.toString(16)}\r\n`),
    bytes,
    Buffer.from('\r\n'),
  ])
}

/** The chunk that ends a chunked body. */
export const LAST_CHUNK = '0\r\n\r\n'

/**
 * A raw TCP connection to the server, for what node:http will not do: a header sent twice on the
 * wire, header names in any case, headers with no body yet, an endless chunked body, an abort in
 * the middle of the body. It parses the first final response that comes back, noting interim
 * (1xx) ones on the way.
 */
export class RawConnection {
  readonly socket: net.Socket
  /** Resolves with the first complete response; rejects when the connection ends before it. */
  readonly response: Promise<HttpResponse>
  /** Resolves when the connection is fully closed, by either side. */
  readonly closed: Promise<void>
  #buffer = Buffer.alloc(0)
  #isClosed = false
  #hasResponse = false
  #resolveResponse!: (response: HttpResponse) => void
  #rejectResponse!: (error: Error) => void
  #lastError: Error | undefined
  readonly #pendingWrites = new Set<(written: boolean) => void>()
  readonly #interim: number[] = []
  #resolveContinue!: () => void
  /** Resolves when the server sends `100 Continue`. */
  readonly continued: Promise<void>
  readonly #bodyless: boolean

  private constructor(socket: net.Socket, bodyless: boolean) {
    this.socket = socket
    this.#bodyless = bodyless
    this.response = new Promise<HttpResponse>((resolve, reject) => {
      this.#resolveResponse = resolve
      this.#rejectResponse = reject
    })
    // The response may be awaited late, or never (abort tests): keep Node from reporting it.
    this.response.catch(() => undefined)
    this.continued = new Promise<void>((resolve) => {
      this.#resolveContinue = resolve
    })
    this.closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        this.#isClosed = true
        for (const settle of this.#pendingWrites) settle(false)
        this.#parse(true)
        if (!this.#hasResponse) {
          this.#rejectResponse(
            new Error(
              `the connection closed before a complete response arrived` +
                (this.#lastError ? ` (${this.#lastError.message})` : '') +
                `; received: ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 300))}`,
            ),
          )
        }
        resolve()
      })
    })
    socket.on('data', (data: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, data])
      this.#parse(false)
    })
    // Resets and broken pipes are expected once the server hangs up on an oversized body; they
    // are kept only to explain a missing response.
    socket.on('error', (error) => {
      this.#lastError = error
    })
  }

  /**
   * Opens a connection to the host and port of `baseUrl`. `bodyless` is for a HEAD request,
   * whose response has headers only.
   */
  static open(baseUrl: string, options: { bodyless?: boolean } = {}): Promise<RawConnection> {
    const { hostname, port } = new URL(baseUrl)
    const connected = new Promise<RawConnection>((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port) })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new RawConnection(socket, options.bodyless ?? false))
      })
    })
    return within(connected, `a connection to ${baseUrl}`)
  }

  /** True once the connection is closed. */
  get isClosed(): boolean {
    return this.#isClosed
  }

  /** The statuses of the interim (1xx) responses received so far. */
  get interimStatuses(): readonly number[] {
    return this.#interim
  }

  /** True once a complete response has been parsed. */
  get hasResponse(): boolean {
    return this.#hasResponse
  }

  /**
   * Writes bytes; resolves `true` once the kernel took them, `false` when the connection is gone
   * (the server hung up), so a sender loop can stop.
   */
  write(data: string | Uint8Array): Promise<boolean> {
    if (this.#isClosed || this.socket.destroyed || !this.socket.writable) {
      return Promise.resolve(false)
    }
    return new Promise<boolean>((resolve) => {
      const settle = (written: boolean): void => {
        this.#pendingWrites.delete(settle)
        resolve(written)
      }
      // A write stuck behind a full window settles when the socket closes.
      this.#pendingWrites.add(settle)
      this.socket.write(data, (error) => settle(error == null))
    })
  }

  /** Drops the connection at once, as a crashing or impatient client would. */
  destroy(): void {
    this.socket.destroy()
  }

  #parse(atEnd: boolean): void {
    if (this.#hasResponse) return
    const headEnd = this.#buffer.indexOf('\r\n\r\n')
    if (headEnd === -1) return
    const headText = this.#buffer.subarray(0, headEnd).toString('latin1')
    const [statusLine = '', ...lines] = headText.split('\r\n')
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0)
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    const rest = this.#buffer.subarray(headEnd + 4)
    if (status >= 100 && status < 200) {
      // An interim response (100 Continue): note it and parse on for the final one.
      this.#interim.push(status)
      if (status === 100) this.#resolveContinue()
      this.#buffer = rest
      this.#parse(atEnd)
      return
    }
    let body: Buffer | undefined
    if (this.#bodyless || status === 204 || status === 304) {
      body = Buffer.alloc(0)
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      body = decodeChunked(rest)
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length'])
      if (rest.length >= length) body = rest.subarray(0, length)
    } else if (atEnd) {
      body = rest
    }
    if (body === undefined) return
    this.#hasResponse = true
    const text = body.toString('utf8')
    this.#resolveResponse({ status, headers, body: text, raw: `${headText}\r\n\r\n${text}` })
  }
}

/** Decodes a complete chunked body, or returns undefined while it is still incomplete. */
function decodeChunked(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = []
  let offset = 0
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset)
    if (lineEnd === -1) return undefined
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16)
    if (Number.isNaN(size)) return undefined
    const start = lineEnd + 2
    if (size === 0) return Buffer.concat(parts)
    if (data.length < start + size + 2) return undefined
    parts.push(data.subarray(start, start + size))
    offset = start + size + 2
  }
}
