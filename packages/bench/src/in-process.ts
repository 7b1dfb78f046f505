import { performance } from 'node:perf_hooks'
import { Bench } from 'tinybench'
import { buildBody } from './payload.js'
import type { BodySize, SizeLabel } from './payload.js'
import { createRows } from './rows.js'
import type { Row, RowGroup } from './rows.js'
import { median, range } from './stats.js'

/** The row every ratio "to the floor" divides by. */
export const FLOOR_ROW = 'floor: HMAC + JSON.parse'
/** The row every ratio "to ours" divides by. */
export const OURS_ROW = 'ours: verifyAndReceive'
/** The two halves of the floor, measured alone; their sum is reported next to the floor. */
export const FLOOR_PARTS = ['floor: HMAC only', 'floor: JSON.parse only'] as const

/** How long and how often the in-process rows run. */
export interface InProcessOptions {
  sizes: readonly BodySize[]
  /** Rounds in this process; each runs every row once, in a rotated order. */
  rounds: number
  /** Milliseconds each row is sampled per round (after its warmup). */
  time: number
  /** Milliseconds each row warms up per round. */
  warmupTime: number
  /** Row names to run; all when absent. The floor and ours rows are always kept. */
  only?: (name: string) => boolean
  log?: (line: string) => void
}

/** One row at one size, over all rounds. */
export interface RowResult {
  name: string
  group: RowGroup
  size: SizeLabel
  bytes: number
  /** The median over rounds of each round's median nanoseconds per event. */
  nsPerOp: number
  opsPerSec: number
  nsPerByte: number
  /** Median over rounds of (this row / the floor row), each ratio taken within one round. */
  toFloor: number
  /** Lowest and highest per-round ratio to the floor: the spread the noise left. */
  toFloorRange: [number, number]
  /** Median over rounds of (this row / ours), each ratio taken within one round. */
  toOurs: number
  /** Samples tinybench took per round (median), for the record. */
  samples: number
  perRound: number[]
}

/** The in-process results: one entry per row and size, plus the floor's separately-summed parts. */
export interface InProcessResult {
  rows: RowResult[]
  /** Per size: HMAC-only + JSON.parse-only (median over rounds of the per-round sum), in ns. */
  floorSum: Record<string, number>
  options: { rounds: number; time: number; warmupTime: number; sizes: SizeLabel[] }
}

/** Calls per sample, so every sample lasts about 100 µs or more and timer overhead vanishes. */
function batchFor(bytes: number): number {
  return Math.max(1, Math.floor((64 * 1024) / bytes))
}

type Prepared = { row: Row; run: () => unknown; async: boolean }

/** Prepares every row for a body and checks it does its job once, so no row times a failure. */
async function prepareRows(rows: readonly Row[], body: Buffer): Promise<Prepared[]> {
  const prepared: Prepared[] = []
  for (const row of rows) {
    const run = await row.prepare(body)
    const first = run()
    const async = first instanceof Promise
    try {
      await first
    } catch (error) {
      throw new Error(`The row "${row.name}" fails on a valid body: ${String(error)}`, {
        cause: error,
      })
    }
    prepared.push({ row, run, async })
  }
  return prepared
}

function task(prepared: Prepared, batch: number): () => unknown {
  const { run } = prepared
  if (prepared.async) {
    return async () => {
      const start = performance.now()
      for (let i = 0; i < batch; i += 1) await run()
      const elapsed = performance.now() - start
      return { overriddenDuration: elapsed / batch, overriddenIterationCost: elapsed }
    }
  }
  return () => {
    const start = performance.now()
    for (let i = 0; i < batch; i += 1) run()
    const elapsed = performance.now() - start
    return { overriddenDuration: elapsed / batch, overriddenIterationCost: elapsed }
  }
}

/**
 * Runs every row at every size, `rounds` times in this one process. Within a round the rows run
 * back to back in an order rotated (and reversed every other round) from the last, so a drift of
 * the machine's speed hits every row alike; ratios are taken within a round, then the median over
 * rounds is reported.
 */
export async function runInProcess(options: InProcessOptions): Promise<InProcessResult> {
  const log = options.log ?? (() => undefined)
  const keep = options.only ?? (() => true)
  const rows = createRows().filter(
    (row) =>
      keep(row.name) ||
      row.name === FLOOR_ROW ||
      row.name === OURS_ROW ||
      (FLOOR_PARTS as readonly string[]).includes(row.name),
  )
  const bodies = new Map(options.sizes.map((size) => [size.label, buildBody(size.bytes)]))
  // perRound[size][row] = nanoseconds per event, one entry per round.
  const perRound = new Map<string, Map<string, number[]>>()
  const samples = new Map<string, number[]>()

  for (let round = 0; round < options.rounds; round += 1) {
    for (const size of options.sizes) {
      const body = bodies.get(size.label)!
      // Re-prepared every round: Standard Webhooks, Svix and Stripe reject signatures older than
      // five minutes, and fresh instances keep one round's state out of the next.
      const prepared = await prepareRows(rows, body)
      const shift = (round * 3) % prepared.length
      let order = [...prepared.slice(shift), ...prepared.slice(0, shift)]
      if (round % 2 === 1) order = order.reverse()

      const bench = new Bench({
        time: options.time,
        warmupTime: options.warmupTime,
        iterations: 5,
        warmupIterations: 2,
        throws: true,
      })
      const batch = batchFor(size.bytes)
      for (const item of order) bench.add(item.row.name, task(item, batch))
      await bench.run()

      const bySize = perRound.get(size.label) ?? new Map<string, number[]>()
      perRound.set(size.label, bySize)
      for (const benchTask of bench.tasks) {
        const result = benchTask.result
        if (result.state !== 'completed') {
          throw new Error(`The row "${benchTask.name}" did not complete: ${result.state}`)
        }
        const list = bySize.get(benchTask.name) ?? []
        list.push(result.latency.p50 * 1e6)
        bySize.set(benchTask.name, list)
        const key = `${size.label}\0${benchTask.name}`
        samples.set(key, [...(samples.get(key) ?? []), result.latency.samplesCount])
      }
      log(`  in-process round ${round + 1}/${options.rounds}, ${size.label}: ${order.length} rows`)
    }
  }

  const results: RowResult[] = []
  const floorSum: Record<string, number> = {}
  for (const size of options.sizes) {
    const bySize = perRound.get(size.label)!
    const floor = bySize.get(FLOOR_ROW)!
    const ours = bySize.get(OURS_ROW)!
    const [hmacOnly, parseOnly] = FLOOR_PARTS.map((name) => bySize.get(name)!)
    floorSum[size.label] = median(hmacOnly!.map((value, i) => value + parseOnly![i]!))
    for (const row of rows) {
      const values = bySize.get(row.name)!
      const toFloor = values.map((value, i) => value / floor[i]!)
      const nsPerOp = median(values)
      results.push({
        name: row.name,
        group: row.group,
        size: size.label,
        bytes: size.bytes,
        nsPerOp,
        opsPerSec: 1e9 / nsPerOp,
        nsPerByte: nsPerOp / size.bytes,
        toFloor: median(toFloor),
        toFloorRange: range(toFloor),
        toOurs: median(values.map((value, i) => value / ours[i]!)),
        samples: median(samples.get(`${size.label}\0${row.name}`)!),
        perRound: values,
      })
    }
  }
  return {
    rows: results,
    floorSum,
    options: {
      rounds: options.rounds,
      time: options.time,
      warmupTime: options.warmupTime,
      sizes: options.sizes.map((size) => size.label),
    },
  }
}
