import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import express from 'express'
import type { Queue } from 'bullmq'
import { Webhooks, type AnyWebhookEvent } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import { ecampusWebhooks } from '@ecampus-webhooks/express'
import { createQueue, enqueueTo, jobIdOf, DEFAULT_JOB_OPTIONS } from '../src/index.js'
import { SECRET, config, destroy, skipRedis, uniqueName } from './redis-env.js'

interface Answer {
  status: number
  body: unknown
  /** The job as Redis held it when the response arrived (`undefined`: none). */
  job: AnyWebhookEvent | undefined
}

describe.skipIf(skipRedis)('receiving side over HTTP (Express)', () => {
  const queueName = uniqueName('receiver')
  let queue: Queue
  let server: Server
  let url: string
  let enqueued = 0

  beforeAll(async () => {
    queue = createQueue(config(queueName))
    const enqueue = enqueueTo(queue)
    const webhooks = new Webhooks({
      secret: SECRET,
      enqueue: (event) => {
        enqueued += 1
        return enqueue(event)
      },
    })
    const app = express()
    app.use(ecampusWebhooks(webhooks))
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`
  })

  afterAll(async () => {
    server?.closeAllConnections()
    server?.close()
    if (queue !== undefined) await destroy(queue)
  })

  async function post(body: string, headers: Record<string, string>): Promise<Answer> {
    const response = await fetch(url, { method: 'POST', body, headers })
    const json: unknown = await response.json()
    // Read before anything else happens: the job must already be in Redis.
    const id = (JSON.parse(body) as { id: string }).id
    const job = await queue.getJob(jobIdOf(id))
    return { status: response.status, body: json, job: job?.data as AnyWebhookEvent | undefined }
  }

  function send(event: AnyWebhookEvent): Promise<Answer> {
    const { body, headers } = createSignedRequest(event, SECRET)
    return post(body, headers)
  }

  it('answers 202 only once the job is in Redis, with the event as its data', async () => {
    const event = createSampleEvent('message.created', { id: 'evt-202-after-stored' })
    const answer = await send(event)
    expect(answer.status).toBe(202)
    expect(answer.body).toEqual({ ok: true, accepted: true })
    expect(answer.job).toEqual(event)
    const job = await queue.getJob(jobIdOf(event.id))
    expect(job?.name).toBe('message.created')
    expect(job?.opts).toMatchObject({
      attempts: DEFAULT_JOB_OPTIONS.attempts,
      backoff: DEFAULT_JOB_OPTIONS.backoff,
    })
  })

  it('collapses duplicate deliveries, concurrent or later, into one job', async () => {
    const event = createSampleEvent('contact.updated', { id: 'evt-duplicate' })
    const answers = await Promise.all(Array.from({ length: 8 }, () => send(event)))
    answers.push(await send(event))
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 9 }, () => 202))
    expect(answers.every((a) => a.job?.id === event.id)).toBe(true)
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed')
    // This test's event and the previous one's: duplicates added nothing.
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(2)
  })

  it('answers 401 to a bad signature and stores nothing', async () => {
    const before = enqueued
    const event = createSampleEvent('message.created', { id: 'evt-forged' })
    const { body } = createSignedRequest(event, 'not-the-secret')
    const forged = createSignedRequest(event, 'not-the-secret').headers
    const answer = await post(body, forged)
    expect(answer.status).toBe(401)
    expect(answer.body).toMatchObject({ error: { code: 'SIGNATURE_INVALID' } })
    const unsigned = await post(body, { 'content-type': 'application/json' })
    expect(unsigned.status).toBe(401)
    expect(answer.job).toBeUndefined()
    expect(unsigned.job).toBeUndefined()
    expect(enqueued).toBe(before)
  })

  it('stores sender-chosen ids BullMQ would refuse or misread, each as its own job', async () => {
    // ':' separates Redis key parts, integers are refused, 'meta' / 'id' / 'events' name the
    // queue's own keys, and '%3A' must not meet ':' after encoding.
    const ids = [':', 'a:b', 'a:b:c', '%3A', '%253A', '%', '123', '-1', '0', 'meta', 'id', 'events']
    ids.push('wait', 'evt-', 'ünïcødé ✓', ' 7', 'x'.repeat(2_000))
    const answers = await Promise.all(
      ids.map((id) => send(createSampleEvent('group.created', { id }))),
    )
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 202))
    expect(answers.map((a) => a.job?.id)).toEqual(ids)
    expect(new Set(ids.map(jobIdOf)).size).toBe(ids.length)
    // The queue's own keys still work.
    expect(await queue.count()).toBe(2 + ids.length)
  })
})

describe('jobIdOf', () => {
  it('is injective on odd ids and never yields what BullMQ refuses', () => {
    const ids = ['', ':', '%', '%3A', '%25', ':%', '%:', '1', '-0', '007', 'a:b', 'a%3Ab']
    const jobIds = ids.map(jobIdOf)
    expect(new Set(jobIds).size).toBe(ids.length)
    for (const jobId of jobIds) {
      expect(jobId).not.toContain(':')
      expect(`${Number.parseInt(jobId, 10)}`).not.toBe(jobId)
    }
    expect(jobIdOf('a056V7R7NmNRjl70')).toBe('evt-a056V7R7NmNRjl70')
  })
})

describe('enqueueTo options', () => {
  it('refuses what is not a queue, or a bad timeout, at setup', () => {
    expect(() => enqueueTo({} as Queue)).toThrow(/needs a BullMQ Queue/)
    const queue = { add: () => Promise.resolve() } as unknown as Queue
    expect(() => enqueueTo(queue, { timeout: -1 })).toThrow(/timeout must be a non-negative/)
    expect(() => enqueueTo(queue, { timeout: 1.5 })).toThrow(TypeError)
    expect(() => enqueueTo(queue, { timeout: 0 })).not.toThrow()
  })
})
