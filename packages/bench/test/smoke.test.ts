import type { AddressInfo } from 'node:net'
import type http from 'node:http'
import { parseEvent } from '@ecampus-webhooks/core'
import { afterEach, describe, expect, it } from 'vitest'
import { runHttp } from '../src/http.js'
import { HTTP_TARGETS, WEBHOOK_PATH, createTargetServer } from '../src/http-targets.js'
import { FLOOR_ROW, OURS_ROW, runInProcess } from '../src/in-process.js'
import { runMemory } from '../src/memory.js'
import { EVENT_TYPE, SIZES, buildBody } from '../src/payload.js'
import { ecampusHeaders, octokitHeaders, sink } from '../src/receivers.js'
import { createRows } from '../src/rows.js'

describe('payload', () => {
  it.each(SIZES)('builds a valid $label message.created body of exactly that size', (size) => {
    const body = buildBody(size.bytes)
    expect(body.length).toBe(size.bytes)
    expect(buildBody(size.bytes).equals(body)).toBe(true)
    const event = parseEvent(body)
    expect(event.type).toBe(EVENT_TYPE)
    expect(event.id).toBe('a056V7R7NmNRjl70')
  })
})

describe('in-process rows', () => {
  // A row that accepted a tampered body would time a shortcut, not the job.
  it.each(createRows().filter((row) => row.verifies))(
    '$name accepts the signed body and rejects it once tampered',
    async (row) => {
      const body = buildBody(1024)
      const run = await row.prepare(body)
      await run()
      // Flip a letter inside the message text: still JSON, no longer what was signed.
      const index = body.indexOf('"message":"') + 20
      body[index] = body[index]! ^ 1
      await expect(async () => {
        await run()
      }).rejects.toThrow()
    },
  )

  it('runs every row in the quick configuration and relates it to the floor and ours', async () => {
    const result = await runInProcess({
      sizes: SIZES.slice(0, 1),
      rounds: 2,
      time: 5,
      warmupTime: 1,
    })
    expect(result.rows.map((row) => row.name)).toEqual(createRows().map((row) => row.name))
    for (const row of result.rows) {
      expect(row.opsPerSec).toBeGreaterThan(0)
      expect(Number.isFinite(row.toFloor)).toBe(true)
      expect(row.perRound).toHaveLength(2)
    }
    expect(result.rows.find((row) => row.name === FLOOR_ROW)!.toFloor).toBe(1)
    expect(result.rows.find((row) => row.name === OURS_ROW)!.toOurs).toBe(1)
  })
})

describe('HTTP targets', () => {
  const servers: http.Server[] = []
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map(
        (server) =>
          new Promise((resolve) => {
            server.closeAllConnections()
            server.close(resolve)
          }),
      ),
    )
  })

  it.each(HTTP_TARGETS)('$id answers a valid delivery as expected', async (target) => {
    const server = await createTargetServer(target.id)
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const body = buildBody(1024)
    const headers = target.variant === 'octokit' ? await octokitHeaders(body) : ecampusHeaders(body)
    const before = sink.count
    const response = await fetch(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}${WEBHOOK_PATH}`,
      { method: 'POST', headers, body },
    )
    await response.arrayBuffer()
    expect(response.status).toBe(target.expectedStatus)
    // The floor route reads the body only; every other route must have run its handler.
    expect(sink.count - before).toBe(target.variant === 'floor' ? 0 : 1)
  })

  it('loads a server child with autocannon and reports req/s, latency and RSS', async () => {
    const result = await runHttp({
      sizes: SIZES.slice(0, 1),
      rounds: 1,
      duration: 1,
      warmup: 0,
      connections: 4,
      only: (id) => id.startsWith('node:http/') && id !== 'node:http/octokit',
    })
    expect(result.rows).toHaveLength(3)
    for (const row of result.rows) {
      expect(row.requests).toBeGreaterThan(0)
      expect(row.unexpected + row.errors).toBe(0)
      // Every answered request ran the handler (the check request and in-flight ones add more);
      // the floor route only reads the body.
      if (row.variant === 'floor') expect(row.events).toBe(0)
      else expect(row.events).toBeGreaterThanOrEqual(row.requests)
      expect(row.peakRss).toBeGreaterThanOrEqual(row.baselineRss)
    }
    const [ratio] = result.ratios
    expect(ratio?.framework).toBe('node:http')
    expect(ratio?.oursToHandWritten).toBeGreaterThan(0)
  })
})

describe('memory', () => {
  it('sees about one copy of a 1 MiB body when handle() reads the stream', async () => {
    const result = await runMemory(3)
    const ours = result.rows.find((row) => row.name.includes('request stream'))!
    expect(ours.measured).toBe(3)
    // One Buffer.concat of the chunks; a second copy anywhere would double this.
    expect(ours.arrayBuffers / result.bodyBytes).toBeGreaterThan(0.9)
    expect(ours.arrayBuffers / result.bodyBytes).toBeLessThan(1.5)
  })
})

// Queue mode needs the machine's Redis (CI runs one and sets REDIS_URL).
const noRedis = process.env.REDIS_URL === undefined && process.env.CI !== 'true'
if (noRedis) console.warn('bench: queue-mode smoke test skipped: set REDIS_URL to run it')

describe.skipIf(noRedis)('queue mode', () => {
  it('measures receive -> enqueue -> handled with 1 and 4 worker processes', async () => {
    const { runQueueMode, queueModeSection } = await import('../src/queue-mode.js')
    const result = await runQueueMode(true)
    expect(result.rows.map((row) => row.workers)).toEqual([1, 4])
    for (const row of result.rows) {
      expect(row.events).toBe(1_000)
      for (const figure of [row.acceptedPerSecond, row.drainedPerSecond, row.handledPerSecond]) {
        expect(figure).toBeGreaterThan(0)
        expect(Number.isFinite(figure)).toBe(true)
      }
      expect(row.p99).toBeGreaterThanOrEqual(row.p50)
    }
    expect(queueModeSection(result)).toContain('| 4 | 1,000 |')
  })
})
