/**
 * What the HTTP servers and the memory child share with the in-process rows: the secret, the
 * hand-written receiver, our and octokit's instances, headers. Kept apart from rows.ts so the
 * server children do not load the peers they do not run (their idle RSS stays honest).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { Readable } from 'node:stream'
import { Webhooks } from '@ecampus-webhooks/core'
import { sign as ecampusSign } from '@ecampus-webhooks/core/testing'
import { Webhooks as OctokitWebhooks } from '@octokit/webhooks'
import { sign as octokitSign } from '@octokit/webhooks-methods'
import { EVENT_TYPE } from './payload.js'

/** The eCampus secret (ours, hand-written, octokit use a plain string secret). */
export const SECRET = 'bench-secret-0123456789abcdef'

/** Where handlers put what they received, so the engine cannot drop the work as dead code. */
export const sink: { last: unknown; count: number } = { last: undefined, count: 0 }

/** The handler every receiver registers: it records the event. */
export function receive(event: unknown): void {
  sink.last = event
  sink.count += 1
}

/** A fresh Webhooks instance with one handler for the benchmark event, as an app would have. */
export function createOurWebhooks(): Webhooks {
  const webhooks = new Webhooks({ secret: SECRET })
  webhooks.on(EVENT_TYPE, receive)
  return webhooks
}

/**
 * The job a careful developer writes by hand: decode the hex header, HMAC the bytes, compare in
 * constant time, parse, switch on the type. Shared by the in-process row and the HTTP route.
 */
export function handWritten(body: Buffer, signatureHeader: string): boolean {
  const signature = Buffer.from(signatureHeader, 'hex')
  const expected = createHmac('sha256', SECRET).update(body).digest()
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return false
  const event = JSON.parse(body.toString('utf8')) as { type?: unknown; payload?: unknown }
  switch (event.type) {
    case EVENT_TYPE:
      receive(event)
      break
    default:
      break
  }
  return true
}

/** Node's HTTP parser hands a large body over in chunks of about this size. */
export const CHUNK_BYTES = 64 * 1024

/** A request-like stream of the body in socket-sized chunks (views: nothing is copied). */
export function streamOf(body: Buffer): Readable {
  let offset = 0
  return new Readable({
    read() {
      if (offset >= body.length) {
        this.push(null)
        return
      }
      this.push(body.subarray(offset, offset + CHUNK_BYTES))
      offset += CHUNK_BYTES
    },
  })
}

/** The hand-written routes' reader: collect the chunks under a limit, concatenate once. */
export function readStream(stream: Readable, limit = 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        reject(new Error('body too large'))
        stream.destroy()
        return
      }
      chunks.push(chunk)
    })
    stream.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)))
    stream.on('error', reject)
  })
}

/** Headers of a signed eCampus delivery for `body`. */
export function ecampusHeaders(body: Buffer): Record<string, string> {
  return {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-ecampus-signature': ecampusSign(body, SECRET),
  }
}

/** Headers of a signed GitHub delivery for `body`, as @octokit/webhooks' middleware wants. */
export async function octokitHeaders(body: Buffer): Promise<Record<string, string>> {
  return {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-github-event': 'push',
    'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'x-hub-signature-256': await octokitSign(SECRET, body.toString('utf8')),
  }
}

/** A @octokit/webhooks instance with one handler, as an app would have. */
export function createOctokitWebhooks(): OctokitWebhooks {
  const webhooks = new OctokitWebhooks({ secret: SECRET })
  webhooks.on('push', receive)
  return webhooks
}
