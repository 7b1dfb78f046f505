import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { IdempotencyStore, WebhookRequest } from '../src/index.js'
import { MemoryIdempotencyStore, Webhooks } from '../src/index.js'
import { SECRET, signedHeaders } from './helpers.js'

/**
 * Issue 4: "fc.scheduler() interleavings of duplicate deliveries with failing handlers: in every
 * interleaving each event's side effect happens exactly once after all retries".
 *
 * Each planned event is delivered `copies` times at once, and each delivery is retried like
 * eCampus does (every non-2xx) until it gets a 2xx. The handler fails its first `failures`
 * attempts without a side effect. The scheduler decides the order of every step that can
 * interleave: each send, each store call, and the middle of each handler run.
 */
interface Plan {
  id: string
  copies: number
  failures: number
}

function plansOf(minCopies: number): fc.Arbitrary<Plan[]> {
  return fc.uniqueArray(
    fc.record({
      id: fc.constantFrom('evt-a', 'evt-b', 'evt-c'),
      copies: fc.integer({ min: minCopies, max: 3 }),
      failures: fc.integer({ min: 0, max: 2 }),
    }),
    { selector: (plan) => plan.id, minLength: 1, maxLength: 3 },
  )
}

function requestFor(id: string): WebhookRequest {
  const body = JSON.stringify({ id, type: 'message.created', payload: { id: `m-${id}` } })
  return { method: 'POST', headers: signedHeaders(body), body }
}

/** Runs the plan under the scheduler; resolves with the side effects counted per id. */
async function deliverAll(
  s: fc.Scheduler,
  plans: readonly Plan[],
  idempotency: boolean,
): Promise<Map<string, number>> {
  const effects = new Map<string, number>()
  const attempts = new Map<string, number>()
  const failures = new Map(plans.map((plan) => [plan.id, plan.failures]))
  const memory = new MemoryIdempotencyStore()
  // The store's effect happens when the scheduler lets it, not when it is called.
  const step = (label: string): Promise<void> => s.schedule(Promise.resolve(), label)
  const store: IdempotencyStore = {
    claim: (id, lease) => step(`claim ${id}`).then(() => memory.claim(id, lease)),
    complete: (id, token, ttl) =>
      step(`complete ${id}`).then(() => memory.complete(id, token, ttl)),
    release: (id, token) => step(`release ${id}`).then(() => memory.release(id, token)),
  }
  const hooks = new Webhooks({ secret: SECRET, idempotency: idempotency && { store } }).onAny(
    async (event) => {
      const attempt = (attempts.get(event.id) ?? 0) + 1
      attempts.set(event.id, attempt)
      await step(`handler ${event.id} #${attempt}`)
      if (attempt <= failures.get(event.id)!) throw new Error(`transient failure #${attempt}`)
      effects.set(event.id, (effects.get(event.id) ?? 0) + 1)
    },
  )

  async function sender(id: string): Promise<void> {
    const request = requestFor(id)
    for (let send = 1; send <= 500; send += 1) {
      await step(`send ${id} #${send}`)
      const response = await hooks.handle(request)
      if (response.status >= 200 && response.status < 300) return
      expect([409, 500]).toContain(response.status)
    }
    throw new Error(`the sender of ${id} never got a 2xx`)
  }

  const senders = plans.flatMap((plan) => Array.from({ length: plan.copies }, () => plan.id))
  await s.waitFor(Promise.all(senders.map(sender)))
  await hooks.drain()
  return effects
}

describe('idempotency under arbitrary interleavings (fc.scheduler)', () => {
  it("each event's side effect happens exactly once after all retries", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), plansOf(1), async (s, plans) => {
        const effects = await deliverAll(s, plans, true)
        for (const plan of plans) expect(effects.get(plan.id)).toBe(1)
      }),
      { numRuns: 300 },
    )
  })

  it('control: without idempotency the same deliveries repeat side effects', async () => {
    // Proves the property above can fail: duplicates are really delivered and handled.
    const result = await fc.check(
      fc.asyncProperty(fc.scheduler(), plansOf(2), async (s, plans) => {
        const effects = await deliverAll(s, plans, false)
        for (const plan of plans) expect(effects.get(plan.id)).toBe(1)
      }),
      { numRuns: 20 },
    )
    expect(result.failed).toBe(true)
  })
})
