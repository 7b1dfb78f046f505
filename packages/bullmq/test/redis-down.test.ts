import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import express from 'express'
import { Redis } from 'ioredis'
import { Queue } from 'bullmq'
import { Webhooks } from '@ecampus-webhooks/core'
import { createSampleEvent, createSignedRequest } from '@ecampus-webhooks/core/testing'
import { ecampusWebhooks } from '@ecampus-webhooks/express'
import { createQueue, enqueueTo, jobIdOf } from '../src/index.js'
import { SECRET, skipRedis, uniqueName, until } from './redis-env.js'

/** A free port on 127.0.0.1, for a Redis of this test's own. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  probe.close()
  await once(probe, 'close')
  return port
}

interface Answer {
  id: string
  path: string
  status: number
  code: string | undefined
  retryAfter: string | null
}

// The shared Redis on 6379 is never stopped: this suite starts its own redis-server and kills it.
// Its AOF is fsynced on every write, so what Redis acknowledged before the kill is there after
// the restart, and "every 202 was stored" can be checked.
describe.skipIf(skipRedis)('Redis stopped under the receivers', () => {
  const queueName = uniqueName('down')
  let dir: string
  let port: number
  let redisServer: ChildProcess | undefined
  let server: Server
  let base: string
  const queues: Queue[] = []

  async function startRedis(): Promise<void> {
    redisServer = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
        ...['--appendonly', 'yes', '--appendfsync', 'always'],
      ],
      { stdio: 'ignore' },
    )
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => 50 })
    probe.on('error', () => {})
    await until(
      () =>
        probe.ping().then(
          (r) => r === 'PONG',
          () => false,
        ),
      'redis-server to start',
    )
    probe.disconnect()
  }

  async function killRedis(): Promise<void> {
    if (redisServer === undefined || redisServer.exitCode !== null) return
    const exited = once(redisServer, 'exit')
    redisServer.kill('SIGKILL')
    await exited
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ecampus-bullmq-redis-'))
    port = await freePort()
    await startRedis()
    const connection = { host: '127.0.0.1', port }
    // /queue: the recommended setup, createQueue (no offline queue) and a bounded wait.
    const recommended = createQueue({ queueName, connection })
    // /bounded: a plain Queue, whose add() would wait for Redis to come back: the timeout answers.
    const plain = new Queue(queueName, { connection })
    // /no-timeout: createQueue alone, to show its connection refuses at once when Redis is gone.
    const failFast = createQueue({ queueName, connection })
    queues.push(recommended, plain, failFast)
    for (const queue of queues) queue.on('error', () => {})
    const app = express()
    const mount = (path: string, queue: Queue, timeout: number): void => {
      const webhooks = new Webhooks({ secret: SECRET, enqueue: enqueueTo(queue, { timeout }) })
      app.use(path, ecampusWebhooks(webhooks))
    }
    mount('/queue', recommended, 500)
    mount('/bounded', plain, 500)
    mount('/no-timeout', failFast, 0)
    server = app.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  afterAll(async () => {
    server?.closeAllConnections()
    server?.close()
    // allSettled: if a test failed with Redis down, close() cannot reach it.
    await Promise.allSettled(queues.map((queue) => queue.close()))
    await killRedis()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  let sent = 0
  async function deliver(path: string): Promise<Answer> {
    const id = `evt-down-${sent++}`
    const event = createSampleEvent('message.created', { id })
    const { body, headers } = createSignedRequest(event, SECRET)
    const response = await fetch(`${base}${path}/webhooks`, { method: 'POST', body, headers })
    const json = (await response.json()) as { error?: { code: string } }
    return {
      id,
      path,
      status: response.status,
      code: json.error?.code,
      retryAfter: response.headers.get('retry-after'),
    }
  }

  it(
    'answers 503 QUEUE_UNAVAILABLE while Redis is down, and 202 only for stored events',
    { timeout: 60_000 },
    async () => {
      const answers: Answer[] = []
      let killed = false
      const downAt = (path: string): number =>
        answers.filter((a) => a.path === path && a.status === 503).length
      // Four senders, two per receiver, deliver while Redis is killed under them: an add in
      // flight at that moment waits for a reconnect inside ioredis, so the timeout answers it.
      const sender = async (path: string): Promise<void> => {
        while (!killed || downAt(path) < 3) answers.push(await deliver(path))
      }
      const paths = ['/queue', '/bounded', '/queue', '/bounded']
      const senders = Promise.all(paths.map(sender))
      await until(() => answers.filter((a) => a.status === 202).length >= 40, '40 accepted events')
      await killRedis()
      killed = true
      await senders
      // Redis is gone: with the offline queue off, add() is refused at once (this would hang
      // until the test's timeout if createQueue left the offline queue on).
      for (let i = 0; i < 3; i += 1) answers.push(await deliver('/no-timeout'))

      for (const answer of answers) {
        if (answer.status === 202) continue
        expect(answer).toMatchObject({ status: 503, code: 'QUEUE_UNAVAILABLE', retryAfter: '5' })
      }
      expect(downAt('/no-timeout')).toBe(3)

      // Back up, from its AOF: every event answered 202 is there.
      await startRedis()
      const check = new Queue(queueName, { connection: { host: '127.0.0.1', port } })
      queues.push(check)
      const accepted = answers.filter((a) => a.status === 202)
      const jobs = await Promise.all(accepted.map((a) => check.getJob(jobIdOf(a.id))))
      expect(accepted.filter((a, i) => jobs[i]?.data.id !== a.id)).toEqual([])

      // And the receivers recover on their own once Redis answers again.
      for (const path of ['/queue', '/bounded', '/no-timeout']) {
        let answer: Answer | undefined
        await until(
          async () => {
            answer = await deliver(path)
            return answer.status === 202
          },
          `${path} to accept again`,
          40_000,
        )
        expect((await check.getJob(jobIdOf(answer!.id)))?.data.id).toBe(answer!.id)
      }
    },
  )
})
