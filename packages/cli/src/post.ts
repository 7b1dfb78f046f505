import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { CliError, EXIT } from './cli-error.js'

/** What the receiver answered. */
export interface PostResult {
  status: number
  statusText: string
  /** The response body, cut at `MAX_SHOWN` bytes. */
  body: string
  /** Bytes of the response body beyond what `body` holds. */
  omitted: number
  /** Milliseconds from sending the request to the end of the response. */
  ms: number
}

/** Options of `post()`. */
export interface PostOptions {
  /** The request headers, names cased as given on the wire. */
  headers: Record<string, string>
  /** Milliseconds to wait for the whole response before giving up. */
  timeout: number
}

// Enough for any error body a receiver sends; a huge response must not flood the terminal.
const MAX_SHOWN = 64 * 1024

/**
 * POSTs the exact bytes once, like a webhook sender: a fresh connection (no keep-alive pool to
 * hold the process open), no redirects followed, and a hard timeout. Network failures reject with
 * a one-line CliError (exit code 3).
 */
export function post(url: URL, body: Buffer, options: PostOptions): Promise<PostResult> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest
  const signal = AbortSignal.timeout(options.timeout)
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = request(url, {
      method: 'POST',
      headers: { ...options.headers, 'Content-Length': String(body.length) },
      agent: false,
      signal,
    })
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(networkError(url, signal.aborted ? 'TIMEOUT' : error.code, error, options.timeout))
    })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let kept = 0
      let omitted = 0
      res.on('data', (chunk: Buffer) => {
        const room = MAX_SHOWN - kept
        if (room > 0) chunks.push(chunk.subarray(0, room))
        kept += Math.min(room, chunk.length)
        omitted += Math.max(0, chunk.length - room)
      })
      res.on('error', (error: NodeJS.ErrnoException) => {
        reject(networkError(url, signal.aborted ? 'TIMEOUT' : error.code, error, options.timeout))
      })
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          body: Buffer.concat(chunks).toString('utf8'),
          omitted,
          ms: performance.now() - started,
        })
      })
    })
    req.end(body)
  })
}

/** A URL for output: user and password (if the user put any in --url) left out. */
export function displayUrl(url: URL): string {
  const shown = new URL(url.href)
  shown.username = ''
  shown.password = ''
  return shown.href
}

function networkError(url: URL, code: string | undefined, error: Error, timeout: number): CliError {
  const target = displayUrl(url)
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  let reason: string
  switch (code) {
    case 'ECONNREFUSED':
      reason = `connection refused by ${url.hostname} port ${port}: is the receiver running?`
      break
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      reason = `host ${JSON.stringify(url.hostname)} not found`
      break
    case 'ECONNRESET':
      reason = 'the receiver closed the connection before answering'
      break
    case 'TIMEOUT':
      reason = `no complete answer within ${timeout} ms (raise it with --timeout)`
      break
    default:
      reason = `${code ?? 'error'}: ${error.message.replace(/\s+/g, ' ')}`
  }
  return new CliError(`could not deliver to ${target}: ${reason}`, EXIT.NETWORK)
}
