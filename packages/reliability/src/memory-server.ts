/**
 * The receiving process of the memory proof: an Express 5 app with the webhook middleware at a
 * 1 MiB limit, on 127.0.0.1, run as a child so its RSS is its own. It talks to the parent over
 * IPC: `ready` (port and baseline RSS, taken after a full GC when `--expose-gc` is given), then on
 * `report` the peak RSS sampled while the load ran, and how many handlers ran (must be 0: no
 * request here is valid).
 *
 * Environment: MEMORY_MAX_BUFFERED_BYTES overrides the core's maxBufferedBytes (a huge value
 * turns the budget off, to measure what it saves).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { ecampusWebhooks } from '@ecampus-webhooks/express'
import type { WebhooksOptions } from '@ecampus-webhooks/core'
import express from 'express'

/** What the child tells its parent. */
export type MemoryServerMessage =
  | { type: 'ready'; port: number; baselineRss: number }
  | { type: 'report'; baselineRss: number; peakRss: number; finalRss: number; handlerCalls: number }

const LIMIT = 1024 * 1024
const SAMPLE_EVERY_MS = 5

function send(message: MemoryServerMessage): void {
  process.send?.(message)
}

async function main(): Promise<void> {
  const options: WebhooksOptions = { secret: 'whsec_memory-proof', maxBodySize: LIMIT }
  const override = process.env.MEMORY_MAX_BUFFERED_BYTES
  const middleware = ecampusWebhooks(
    override ? { ...options, maxBufferedBytes: Number(override) } : options,
  )
  let handlerCalls = 0
  middleware.onAny(() => {
    handlerCalls += 1
  })
  const app = express()
  app.use(middleware)
  const server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))

  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const baselineRss = process.memoryUsage.rss()
  let peakRss = baselineRss
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }, SAMPLE_EVERY_MS)

  process.on('message', (message: { type?: string }) => {
    if (message.type === 'report') {
      const finalRss = process.memoryUsage.rss()
      peakRss = Math.max(peakRss, finalRss)
      send({ type: 'report', baselineRss, peakRss, finalRss, handlerCalls })
    } else if (message.type === 'stop') {
      clearInterval(sampler)
      server.closeAllConnections()
      server.close(() => process.exit(0))
    }
  })
  // The parent going away must not leave this process behind.
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready', port: (server.address() as AddressInfo).port, baselineRss })
}

void main()
