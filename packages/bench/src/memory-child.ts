/**
 * The memory child (run with --expose-gc): measures what one delivery of a 1 MiB body allocates,
 * off the V8 heap (Buffers) and on it, and sends the medians to the parent over IPC.
 */
import { GCProfiler } from 'node:v8'
import { buildBody } from './payload.js'
import {
  CHUNK_BYTES,
  createOurWebhooks,
  ecampusHeaders,
  handWritten,
  readStream,
  streamOf,
} from './receivers.js'
import { median } from './stats.js'

/** One measured way of receiving the body. */
export interface MemoryRow {
  name: string
  /** Median bytes allocated outside the V8 heap (ArrayBuffers: Buffers) per delivery. */
  arrayBuffers: number
  /** Median bytes allocated on the V8 heap (strings, parsed objects, promises) per delivery. */
  heap: number
  /** Deliveries measured, and those discarded because a GC ran inside the window. */
  measured: number
  discarded: number
}

/** What the child sends. */
export interface MemoryMessage {
  bodyBytes: number
  chunkBytes: number
  rows: MemoryRow[]
}

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined || process.send === undefined) {
  throw new Error('memory-child.ts runs as an IPC child with --expose-gc.')
}
const collect = gc
const send = process.send.bind(process)
const runs = Number(process.argv[2] ?? '20')

const BODY_BYTES = 1024 * 1024
const body = buildBody(BODY_BYTES)
const headers = ecampusHeaders(body)

const webhooks = createOurWebhooks()
const scenarios: { name: string; run: () => Promise<unknown> }[] = [
  {
    name: 'hand-written: read chunks, concat, HMAC, parse',
    run: async () => {
      const raw = await readStream(streamOf(body))
      if (!handWritten(raw, headers['x-ecampus-signature']!)) throw new Error('bad signature')
    },
  },
  {
    name: 'ours: handle() reading the request stream',
    run: async () => {
      const response = await webhooks.handle({ method: 'POST', headers, body: streamOf(body) })
      if (response.status !== 200) throw new Error(response.body)
    },
  },
  {
    name: 'ours: handle() with a pre-read Buffer',
    run: async () => {
      const response = await webhooks.handle({ method: 'POST', headers, body })
      if (response.status !== 200) throw new Error(response.body)
    },
  },
]

const rows: MemoryRow[] = []
for (const scenario of scenarios) {
  // Warm up, so the JIT's own allocations and lazily created caches stay out of the window.
  for (let i = 0; i < 5; i += 1) await scenario.run()
  const arrayBuffers: number[] = []
  const heap: number[] = []
  let discarded = 0
  while (arrayBuffers.length < runs && discarded < runs * 20) {
    collect()
    collect()
    const profiler = new GCProfiler()
    const before = process.memoryUsage()
    profiler.start()
    await scenario.run()
    const result = profiler.stop() as { statistics?: unknown[] } | undefined
    const after = process.memoryUsage()
    // No GC inside the window means nothing was freed: the deltas are exactly what was allocated.
    if ((result?.statistics?.length ?? 0) > 0) {
      discarded += 1
      continue
    }
    arrayBuffers.push(after.arrayBuffers - before.arrayBuffers)
    heap.push(after.heapUsed - before.heapUsed)
  }
  rows.push({
    name: scenario.name,
    arrayBuffers: median(arrayBuffers),
    heap: median(heap),
    measured: arrayBuffers.length,
    discarded,
  })
}

send({ bodyBytes: BODY_BYTES, chunkBytes: CHUNK_BYTES, rows } satisfies MemoryMessage)
process.disconnect()
