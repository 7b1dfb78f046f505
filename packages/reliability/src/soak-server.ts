import { Webhooks } from '@ecampus-webhooks/core'
import { targets } from '@ecampus-webhooks/conformance/targets'
import { FLAKY_PREFIX, SOAK_MAX_BODY, SOAK_SECRET } from './soak-traffic.js'
import './servers.js'

// The soak's server, one per adapter, in its own process so its RSS is the receiver's alone.
// It runs the adapter exactly as an app would (the conformance targets), with idempotency on, and
// records every handler call; the parent asks for the record over IPC when the load is over.

/** What the server tells the soak driver. */
export type ServerMessage =
  { type: 'ready'; url: string; rss: number } | { type: 'stats'; stats: ServerStats }

/** What the driver asks. */
export type DriverMessage = { type: 'stats' } | { type: 'stop' }

/** The server's record of a run. */
export interface ServerStats {
  /** Handler calls per event id (failed attempts included). */
  attempts: [string, number][]
  /** Completed handler runs (the side effect) per event id. */
  effects: [string, number][]
  /** Requests refused before any handler ran, by error code (from onRejected, when present). */
  rejected: Record<string, number>
  /** Failures onError saw, by code and decision. */
  failures: Record<string, number>
  rss: { start: number; peak: number; end: number }
  /**
   * Heap in use after a full GC at the end: what the process really retains (the idempotency
   * store, and this harness's own per-id records), as opposed to heap V8 grew and keeps.
   */
  retainedHeap: number
  /** Unhandled rejections and uncaught exceptions in the server process. */
  crashes: string[]
}

const name = process.argv[2]
const target = targets.find((candidate) => candidate.name === name)
if (target === undefined || typeof process.send !== 'function') {
  console.error(
    `soak-server: run by the soak driver with one of: ${targets.map((t) => t.name).join(', ')}`,
  )
  process.exit(2)
}
const reply = (message: ServerMessage): void => {
  process.send?.(message)
}

const crashes: string[] = []
process.on('unhandledRejection', (error) => crashes.push(`unhandledRejection: ${String(error)}`))
process.on('uncaughtException', (error) => crashes.push(`uncaughtException: ${String(error)}`))

const attempts = new Map<string, number>()
const effects = new Map<string, number>()
const rejected: Record<string, number> = {}
const failures: Record<string, number> = {}
const count = (record: Record<string, number>, key: string): void => {
  record[key] = (record[key] ?? 0) + 1
}

const webhooks = new Webhooks({
  secret: SOAK_SECRET,
  maxBodySize: SOAK_MAX_BODY,
  idempotency: true,
})
webhooks.onAny(async (event) => {
  const attempt = (attempts.get(event.id) ?? 0) + 1
  attempts.set(event.id, attempt)
  // Yield once, as real work would: it opens the window in which a duplicate finds the id in
  // progress (409) rather than done.
  await new Promise((resolve) => setImmediate(resolve))
  if (event.id.startsWith(FLAKY_PREFIX) && attempt === 1) throw new Error('flaky first attempt')
  effects.set(event.id, (effects.get(event.id) ?? 0) + 1)
})
webhooks.onError((error, _event, info) => {
  count(failures, `${error.code}/${info.decision}`)
})
webhooks.onRejected((error) => count(rejected, error.code))

const rss = { start: 0, peak: 0, end: 0 }
const sample = (): number => {
  const now = process.memoryUsage.rss()
  if (now > rss.peak) rss.peak = now
  return now
}
const sampler = setInterval(sample, 50)

const app = await target.start(webhooks)
rss.start = sample()
reply({ type: 'ready', url: app.url, rss: rss.start })

process.on('message', (message: DriverMessage) => {
  if (message.type === 'stats') {
    rss.end = sample()
    ;(globalThis as { gc?: () => void }).gc?.()
    const retainedHeap = process.memoryUsage().heapUsed
    // The kernel's high-water mark catches a peak between two samples.
    rss.peak = Math.max(rss.peak, process.resourceUsage().maxRSS * 1024)
    reply({
      type: 'stats',
      stats: {
        attempts: [...attempts],
        effects: [...effects],
        rejected,
        failures,
        rss,
        retainedHeap,
        crashes,
      },
    })
    return
  }
  clearInterval(sampler)
  void app.close().then(() => process.exit(0))
})
