import { EVENT_TYPES, sign } from '@ecampus-webhooks/core'
import { createSampleEvent } from '@ecampus-webhooks/core/testing'

/** The secret the soak server and its traffic share. Loopback only, never a real one. */
export const SOAK_SECRET = 'soak-secret-0d6b2f8a4c1e-loopback-only'

/** The soak server's body limit: small, so oversize requests stay cheap to send. */
export const SOAK_MAX_BODY = 16 * 1024

/** Ids of events whose handler fails on the first attempt (an ordinary, retried failure). */
export const FLAKY_PREFIX = 'flaky-'

/** The kinds of request the soak sends. */
export type TrafficKind = 'valid' | 'flaky' | 'duplicate' | 'tampered' | 'oversize' | 'malformed'

/** One request as the load generator writes it. */
export interface PlannedRequest {
  kind: TrafficKind
  /** The variant within a kind (which tampering, which malformed header), for the report. */
  variant: string
  /** The event id in the body; for tampered/oversize/malformed an id no handler may ever see. */
  id: string
  method: string
  headers: Record<string, string>
  body: string
  /** The statuses that keep the promises for this request. */
  expected: readonly number[]
}

/** The share of each kind in the mix, in percent. */
export const MIX: Readonly<Record<TrafficKind, number>> = {
  valid: 40,
  flaky: 5,
  duplicate: 20,
  tampered: 15,
  oversize: 5,
  malformed: 15,
}

/** A small seeded PRNG (mulberry32), so a run's mix can be reproduced. */
export function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

interface Signed {
  id: string
  body: string
  signature: string
}

const MALFORMED: readonly {
  variant: string
  status: number
  build(event: Signed): { method?: string; headers: Record<string, string>; body?: string }
}[] = [
  { variant: 'signature missing', status: 401, build: () => ({ headers: {} }) },
  {
    variant: 'signature 63 hex digits',
    status: 401,
    build: (e) => ({ headers: { 'x-ecampus-signature': e.signature.slice(1) } }),
  },
  {
    variant: 'signature 65 hex digits',
    status: 401,
    build: (e) => ({ headers: { 'x-ecampus-signature': `${e.signature}0` } }),
  },
  {
    variant: 'signature not hex',
    status: 401,
    build: (e) => ({ headers: { 'x-ecampus-signature': `${e.signature.slice(0, 63)}g` } }),
  },
  {
    variant: 'signature with sha256= prefix',
    status: 401,
    build: (e) => ({ headers: { 'x-ecampus-signature': `sha256=${e.signature}` } }),
  },
  {
    variant: 'signature 8 KiB',
    status: 401,
    build: (e) => ({ headers: { 'x-ecampus-signature': e.signature.repeat(128) } }),
  },
  {
    variant: 'content-encoding gzip',
    status: 415,
    build: (e) => ({ headers: { 'x-ecampus-signature': e.signature, 'content-encoding': 'gzip' } }),
  },
  {
    variant: 'method PUT',
    status: 405,
    build: (e) => ({ method: 'PUT', headers: { 'x-ecampus-signature': e.signature } }),
  },
  {
    variant: 'signed body not JSON',
    status: 400,
    build: (e) => {
      const body = e.body.slice(0, -1)
      return { headers: { 'x-ecampus-signature': sign(body, SOAK_SECRET) }, body }
    },
  },
  {
    variant: 'signed JSON not an event',
    status: 400,
    build: (e) => {
      const body = JSON.stringify({ id: e.id, type: 42, payload: [] })
      return { headers: { 'x-ecampus-signature': sign(body, SOAK_SECRET) }, body }
    },
  },
]

/**
 * Plans the soak's requests: fresh valid events (ids `<run>-v<n>`), events whose first handling
 * fails, duplicates of earlier ids, tampered and oversize bodies and malformed requests. Ids of
 * requests that must never reach a handler carry their own prefix, so the server's record of
 * handled ids shows at once whether one did.
 */
export class TrafficPlan {
  readonly #next: () => number
  readonly #run: string
  #counter = 0
  /** Recent deliverable events, for duplicates: a bounded ring, so memory stays flat. */
  readonly #recent: Signed[] = []
  /** Every deliverable id sent, with its signed body, for the redelivery pass. */
  readonly deliverable = new Map<string, { body: string; signature: string }>()

  constructor(run: string, seed: number) {
    this.#run = run
    this.#next = random(seed)
  }

  /** The next request of the mix. */
  next(): PlannedRequest {
    let roll = this.#next() * 100
    let kind: TrafficKind = 'valid'
    for (const [candidate, share] of Object.entries(MIX) as [TrafficKind, number][]) {
      if (roll < share) {
        kind = candidate
        break
      }
      roll -= share
    }
    if (kind === 'duplicate' && this.#recent.length === 0) kind = 'valid'
    return this.#build(kind)
  }

  #event(prefix: string, extra?: Record<string, unknown>): Signed {
    this.#counter += 1
    const type = EVENT_TYPES[this.#counter % EVENT_TYPES.length]!
    const id = `${prefix}${this.#run}-${this.#counter}`
    const event = createSampleEvent(type, { id, payload: extra })
    const body = JSON.stringify(event)
    return { id, body, signature: sign(body, SOAK_SECRET) }
  }

  #request(
    kind: TrafficKind,
    variant: string,
    event: Signed,
    expected: readonly number[],
    overrides: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): PlannedRequest {
    return {
      kind,
      variant,
      id: event.id,
      method: overrides.method ?? 'POST',
      headers: {
        'content-type': 'application/json',
        ...(overrides.headers ?? { 'x-ecampus-signature': event.signature }),
      },
      body: overrides.body ?? event.body,
      expected,
    }
  }

  #remember(event: Signed): void {
    this.deliverable.set(event.id, { body: event.body, signature: event.signature })
    this.#recent.push(event)
    if (this.#recent.length > 1024) this.#recent.shift()
  }

  #build(kind: TrafficKind): PlannedRequest {
    switch (kind) {
      case 'valid': {
        const event = this.#event('v-')
        this.#remember(event)
        // A duplicate planned later may still reach the server first (another connection): then
        // this delivery finds the id in progress (409) or done (200).
        return this.#request(kind, 'fresh id', event, [200, 409])
      }
      case 'flaky': {
        const event = this.#event(FLAKY_PREFIX)
        this.#remember(event)
        return this.#request(kind, 'handler fails first time', event, [500, 409, 200])
      }
      case 'duplicate': {
        const event = this.#recent[Math.floor(this.#next() * this.#recent.length)]!
        // 200 when the first delivery completed (or failed and this one ran the handler again),
        // 409 while another delivery of the id is running; 500 when this copy of a flaky event
        // overtook the original and met the failing first attempt.
        const flaky = event.id.startsWith(FLAKY_PREFIX)
        return this.#request(kind, 'earlier id', event, flaky ? [200, 409, 500] : [200, 409])
      }
      case 'tampered': {
        const event = this.#event('t-')
        const variant = Math.floor(this.#next() * 3)
        if (variant === 0) {
          // One flipped bit in the body, the original signature.
          const bytes = Buffer.from(event.body)
          const at = Math.floor(this.#next() * bytes.length)
          bytes[at]! ^= 1 << Math.floor(this.#next() * 7)
          return this.#request(kind, 'body bit flipped', event, [401], {
            body: bytes.toString('latin1'),
          })
        }
        if (variant === 1) {
          const digit = Math.floor(this.#next() * 64)
          const old = event.signature[digit]!
          const replacement = old === '0' ? '1' : '0'
          const signature =
            event.signature.slice(0, digit) + replacement + event.signature.slice(digit + 1)
          return this.#request(kind, 'signature digit changed', event, [401], {
            headers: { 'x-ecampus-signature': signature },
          })
        }
        return this.#request(kind, 'signed with another secret', event, [401], {
          headers: { 'x-ecampus-signature': sign(event.body, 'not-the-soak-secret') },
        })
      }
      case 'oversize': {
        // Correctly signed: only the limit stands between it and the handlers.
        const event = this.#event('o-', { padding: 'x'.repeat(SOAK_MAX_BODY + 1024) })
        return this.#request(kind, 'declared length over maxBodySize', event, [413])
      }
      case 'malformed': {
        const event = this.#event('m-')
        const shape = MALFORMED[Math.floor(this.#next() * MALFORMED.length)]!
        const built = shape.build(event)
        return this.#request(kind, shape.variant, event, [shape.status], {
          method: built.method,
          headers: built.headers,
          body: built.body,
        })
      }
    }
  }
}
