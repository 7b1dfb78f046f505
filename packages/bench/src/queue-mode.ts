/**
 * Queue mode throughput (issue 7): signed events over real HTTP to an Express receiver that
 * answers 202 once BullMQ stored each one in Redis, and 1 or 4 worker processes that run the
 * handlers. Per worker count, three phases: the receiver alone (events accepted per second while
 * no worker consumes), the workers alone (draining that backlog), and both at once (first request
 * to last handler), with the receive latency of the last phase.
 *
 *   pnpm --filter @ecampus-webhooks/bench exec tsx src/queue-mode.ts [--quick]
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379); each run uses a queue of its own and
 * removes it afterwards. The same file is the receiver and the worker children (argv[2]).
 */
import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import express from 'express'
import { Webhooks, sign } from '@ecampus-webhooks/core'
import { ecampusWebhooks } from '@ecampus-webhooks/express'
import * as bullmq from '@ecampus-webhooks/bullmq'
import { forkTs } from './child.js'
import { formatNumber, percentile } from './stats.js'

const SECRET = 'whsec_queue_mode_bench'
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
/** Jobs each worker process runs at once. */
const CONCURRENCY = 20
/** Requests in flight from the load generator. */
const CONNECTIONS = 32

type ChildMessage = { ready: true; port?: number } | { handled: number }
/** Sent to a worker: start consuming. */
type RunMessage = { run: true }

// Run as a script: a child (receiver, worker) or the whole measurement printed as Markdown.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const role = process.argv[2]
  if (role === 'receiver') await receiver(process.argv[3]!)
  else if (role === 'worker') await worker(process.argv[3]!)
  else await main()
}

async function receiver(queueName: string): Promise<void> {
  const queue = bullmq.createQueue({ queueName, connection: { url: REDIS_URL } })
  queue.on('error', (error) => console.error('receiver queue:', error.message))
  const webhooks = new Webhooks({ secret: SECRET, enqueue: bullmq.enqueueTo(queue) })
  const app = express()
  app.use(ecampusWebhooks(webhooks))
  const server: Server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  send({ ready: true, port: (server.address() as AddressInfo).port })
  process.on('disconnect', () => {
    server.closeAllConnections()
    server.close()
    void queue.close().then(() => process.exit(0))
  })
}

async function worker(queueName: string): Promise<void> {
  const webhooks = new Webhooks({ secret: SECRET })
  let handled = 0
  webhooks.onAny(() => {
    handled += 1
  })
  const bullWorker = bullmq.createWorker(webhooks, {
    queueName,
    connection: { url: REDIS_URL },
    concurrency: CONCURRENCY,
    // Started by the parent, so the backlog phase measures the workers alone.
    autorun: false,
  })
  bullWorker.on('error', (error) => console.error('worker:', error.message))
  await bullWorker.waitUntilReady()
  process.on('message', (message: RunMessage) => {
    if (message.run) void bullWorker.run()
  })
  send({ ready: true })
  // Batched: one IPC message per event would cost more than the handler.
  let reported = 0
  const timer = setInterval(() => {
    if (handled !== reported) send({ handled: (reported = handled) })
  }, 20)
  process.on('disconnect', () => {
    clearInterval(timer)
    void bullWorker.close().then(() => process.exit(0))
  })
}

function send(message: ChildMessage): void {
  process.send!(message)
}

/** One worker count measured. */
export interface QueueModeRow {
  workers: number
  events: number
  acceptedPerSecond: number
  drainedPerSecond: number
  handledPerSecond: number
  p50: number
  p99: number
}

/** The queue-mode section's results: rows for 1 and 4 workers, and how they were run. */
export interface QueueModeResult {
  rows: QueueModeRow[]
  redis: string
  connections: number
  concurrency: number
}

/** Measures queue mode with 1 and then 4 worker processes (`quick`: fewer events). */
export async function runQueueMode(quick: boolean): Promise<QueueModeResult> {
  const events = quick ? 1_000 : 10_000
  const warmup = quick ? 100 : 1_000
  const rows: QueueModeRow[] = []
  for (const workers of [1, 4]) rows.push(await measure(workers, events, warmup))
  return {
    rows,
    redis: new URL(REDIS_URL).host,
    connections: CONNECTIONS,
    concurrency: CONCURRENCY,
  }
}

/** The report's section for queue mode. */
export function queueModeSection(result: QueueModeResult): string {
  return [
    '## Queue mode (receive -> enqueue -> worker handled)',
    '',
    `Signed events over real HTTP to 1 Express receiver process answering 202 once BullMQ stored ` +
      `each in Redis (${result.redis}), ${result.connections} requests in flight; worker processes ` +
      `with concurrency ${result.concurrency} and a no-op handler. Per worker count: the receiver ` +
      'alone (accepted/s while nobody consumes), the workers alone (draining that backlog), and ' +
      'both at once (first request to last handler), with the receive latency of that last phase. ' +
      'On 2 cores the receiver, Redis, the workers and the load generator share the CPU, so more ' +
      'worker processes do not mean more throughput here.',
    '',
    '| workers | events | receiver alone: accepted/s | workers alone: handled/s | end to end: handled/s | receive p50 | receive p99 |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.rows.map(
      (row) =>
        `| ${row.workers} | ${row.events.toLocaleString('en-US')} | ${formatNumber(row.acceptedPerSecond)} | ` +
        `${formatNumber(row.drainedPerSecond)} | ${formatNumber(row.handledPerSecond)} | ` +
        `${row.p50.toFixed(2)} ms | ${row.p99.toFixed(2)} ms |`,
    ),
    '',
  ].join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } })
  const result = await runQueueMode(values.quick)
  const load = os.loadavg().map((n) => n.toFixed(2))
  console.log(
    `\n${queueModeSection(result)}\n${os.cpus().length} cores, load ${load.join(' ')}, Node ${process.version}.`,
  )
}

async function measure(workers: number, events: number, warmup: number): Promise<QueueModeRow> {
  const queueName = `bench-queue-mode-${randomUUID()}`
  const children: ChildProcess[] = []
  const handledBy = new Map<ChildProcess, number>()
  const handled = (): number => [...handledBy.values()].reduce((a, b) => a + b, 0)
  const start = async (role: string): Promise<ChildMessage> => {
    const child = forkTs(new URL(import.meta.url), [role, queueName])
    children.push(child)
    const [message] = (await once(child, 'message')) as [ChildMessage]
    child.on('message', (m: ChildMessage) => {
      if ('handled' in m) handledBy.set(child, m.handled)
    })
    return message
  }
  const [ready] = await Promise.all([
    start('receiver'),
    ...Array.from({ length: workers }, () => start('worker')),
  ])
  const url = `http://127.0.0.1:${(ready as { port: number }).port}/webhooks`
  try {
    // 1. The receiver alone, nobody consuming: a backlog of warmup + events jobs.
    await deliverAll(url, 'warmup', warmup)
    let started = performance.now()
    await deliverAll(url, 'backlog', events)
    const acceptedPerSecond = events / ((performance.now() - started) / 1000)
    // 2. The workers alone, draining it.
    started = performance.now()
    for (const child of children.slice(1)) child.send({ run: true } satisfies RunMessage)
    await until(() => handled() >= warmup + events)
    const drainedPerSecond = (warmup + events) / ((performance.now() - started) / 1000)
    // 3. Both at once.
    const base = handled()
    started = performance.now()
    const latencies = await deliverAll(url, 'run', events)
    await until(() => handled() - base >= events)
    const done = performance.now()
    return {
      workers,
      events,
      acceptedPerSecond,
      drainedPerSecond,
      handledPerSecond: events / ((done - started) / 1000),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    }
  } finally {
    for (const child of children) {
      const exited = once(child, 'exit')
      child.disconnect()
      await exited
    }
    const queue = bullmq.createQueue({ queueName, connection: { url: REDIS_URL } })
    await queue.obliterate({ force: true })
    await queue.close()
  }
}

/** Sends `count` distinct signed events with CONNECTIONS in flight; returns each latency (ms). */
async function deliverAll(url: string, label: string, count: number): Promise<number[]> {
  const run = randomUUID().slice(0, 8)
  const latencies: number[] = []
  let next = 0
  const connection = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const body = JSON.stringify({
        id: `${label}-${run}-${i}`,
        type: 'message.created',
        payload: { id: `m-${i}`, message: 'Is the lecture on Thursday still in room B12?' },
      })
      const headers = {
        'content-type': 'application/json',
        'x-ecampus-signature': sign(body, SECRET),
      }
      const sent = performance.now()
      const response = await fetch(url, { method: 'POST', body, headers })
      await response.arrayBuffer()
      latencies.push(performance.now() - sent)
      if (response.status !== 202) throw new Error(`expected 202, got ${response.status}`)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, connection))
  return latencies
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 120_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('the workers did not handle every event in 120 s')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
