import { afterEach, describe, expect, it } from 'vitest'
import type { Queue, Worker } from 'bullmq'
import {
  PermanentWebhookError,
  Webhooks,
  type ErrorDecision,
  type WebhookErrorCode,
} from '@ecampus-webhooks/core'
import { createSampleEvent } from '@ecampus-webhooks/core/testing'
import { createQueue, createWorker, enqueueTo, jobIdOf } from '../src/index.js'
import { SECRET, config, destroy, skipRedis, uniqueName, until } from './redis-env.js'

interface Setup {
  queue: Queue
  worker: Worker
  webhooks: Webhooks
  enqueue: ReturnType<typeof enqueueTo>
  errors: { code: WebhookErrorCode; decision: ErrorDecision }[]
}

const open: Setup[] = []

/** A queue whose jobs retry at once (attempts 3, 10 ms backoff), and a worker on it. */
function setup(webhooks = new Webhooks({ secret: SECRET })): Setup {
  const name = uniqueName('worker')
  const queue = createQueue({
    ...config(name),
    defaultJobOptions: { attempts: 3, backoff: { type: 'fixed', delay: 10 } },
  })
  const errors: Setup['errors'] = []
  webhooks.onError((error, _event, { decision }) => errors.push({ code: error.code, decision }))
  const worker = createWorker(webhooks, { ...config(name), concurrency: 4 })
  const made = { queue, worker, webhooks, enqueue: enqueueTo(queue), errors }
  open.push(made)
  return made
}

async function settled(queue: Queue, eventId: string): Promise<string> {
  let state = ''
  await until(async () => {
    state = await queue.getJobState(jobIdOf(eventId))
    return state === 'completed' || state === 'failed'
  }, `job ${eventId} to settle`)
  return state
}

afterEach(async () => {
  for (const { worker, queue } of open.splice(0)) {
    await worker.close()
    await destroy(queue)
  }
})

describe.skipIf(skipRedis)('createWorker', () => {
  it('runs the typed handlers with the queued event', async () => {
    const { webhooks, enqueue, queue } = setup()
    const seen: string[] = []
    webhooks.on('message.created', ({ payload }) => {
      seen.push(payload.contact.username)
    })
    const event = createSampleEvent('message.created', { id: 'evt-typed' })
    await enqueue(event)
    expect(await settled(queue, event.id)).toBe('completed')
    expect(seen).toEqual([event.payload.contact.username])
  })

  it('retries a failing handler (attempts 3): fails twice, then completes', async () => {
    const { webhooks, enqueue, queue, errors } = setup()
    let runs = 0
    webhooks.onAny(() => {
      runs += 1
      if (runs <= 2) throw new Error(`database down (run ${runs})`)
    })
    const event = createSampleEvent('contact.created', { id: 'evt-flaky' })
    await enqueue(event)
    expect(await settled(queue, event.id)).toBe('completed')
    expect(runs).toBe(3)
    expect(errors).toEqual([
      { code: 'HANDLER_FAILED', decision: 'retry' },
      { code: 'HANDLER_FAILED', decision: 'retry' },
    ])
  })

  it("reports a job that fails every attempt to onError once as 'failed', and keeps it", async () => {
    const { webhooks, enqueue, queue, errors } = setup()
    let runs = 0
    webhooks.onAny(() => {
      runs += 1
      throw new Error('always broken')
    })
    const event = createSampleEvent('contact.deleted', { id: 'evt-broken' })
    await enqueue(event)
    expect(await settled(queue, event.id)).toBe('failed')
    expect(runs).toBe(3)
    expect(errors.filter((e) => e.decision === 'failed')).toEqual([
      { code: 'HANDLER_FAILED', decision: 'failed' },
    ])
    expect(errors.map((e) => e.decision)).toEqual(['retry', 'retry', 'failed'])
    const [failed] = await queue.getFailed()
    expect(failed?.id).toBe(jobIdOf(event.id))
    expect(failed?.data).toEqual(event)
    expect(failed?.attemptsMade).toBe(3)
    expect(failed?.failedReason).toMatch(/^HANDLER_FAILED: .* Thrown: always broken$/)
    expect(failed?.stacktrace?.[0]).toMatch(/^Error: always broken\n/)
    // A redelivery collapses onto the failed job: it stays to inspect and retry by hand.
    await enqueue(event)
    expect(await queue.getJobCounts('waiting', 'failed')).toEqual({ waiting: 0, failed: 1 })
  })

  it('fails an EVENT_REJECTED job at once, without retry, and keeps it', async () => {
    const { webhooks, enqueue, queue, errors } = setup()
    let runs = 0
    webhooks.onAny(() => {
      runs += 1
      throw new PermanentWebhookError('unknown conversation')
    })
    const event = createSampleEvent('conversation.updated', { id: 'evt-rejected' })
    await enqueue(event)
    expect(await settled(queue, event.id)).toBe('failed')
    expect(runs).toBe(1)
    expect(errors).toEqual([{ code: 'EVENT_REJECTED', decision: 'acknowledged' }])
    const job = await queue.getJob(jobIdOf(event.id))
    expect(job?.failedReason).toMatch(
      /^EVENT_REJECTED: .*rejected event evt-rejected .*permanently.* Thrown: unknown conversation$/,
    )
    expect(job?.attemptsMade).toBe(1)
  })

  it('does not run a job again while it is retained (a duplicate collapses onto it)', async () => {
    const { webhooks, enqueue, queue } = setup()
    let runs = 0
    webhooks.onAny(() => {
      runs += 1
    })
    const event = createSampleEvent('group.deleted', { id: 'evt-once' })
    await enqueue(event)
    expect(await settled(queue, event.id)).toBe('completed')
    await enqueue(event)
    await enqueue(event)
    const other = createSampleEvent('group.deleted', { id: 'evt-after' })
    await enqueue(other)
    expect(await settled(queue, other.id)).toBe('completed')
    expect(runs).toBe(2)
  })

  it('close() waits for the running job to finish', async () => {
    const { webhooks, enqueue, queue, worker } = setup()
    const order: string[] = []
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    webhooks.onAny(async () => {
      started()
      await gate
      order.push('handler done')
    })
    const event = createSampleEvent('message.deleted', { id: 'evt-shutdown' })
    await enqueue(event)
    await running
    const closed = worker.close().then(() => order.push('closed'))
    // Let the close start; it must still be waiting for the handler.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(order).toEqual([])
    release()
    await closed
    expect(order).toEqual(['handler done', 'closed'])
    expect(await queue.getJobState(jobIdOf(event.id))).toBe('completed')
  })

  it('refuses a Webhooks in queue mode (one instance for both sides), at construction', () => {
    const webhooks = new Webhooks({ secret: SECRET, enqueue: () => Promise.resolve() })
    expect(webhooks.queueMode).toBe(true)
    expect(() => createWorker(webhooks, config('misconfigured'))).toThrow(
      /Give the worker its own Webhooks without enqueue/,
    )
    expect(new Webhooks({ secret: SECRET }).queueMode).toBe(false)
  })

  it('refuses what is not a Webhooks instance', () => {
    expect(() => createWorker({} as Webhooks, config('x'))).toThrow(/needs a Webhooks instance/)
  })
})
