import { forkTs } from './child.js'
import type { MemoryMessage } from './memory-child.js'

/** The memory results: allocation per delivery of a 1 MiB body. */
export type MemoryResult = MemoryMessage & { runs: number }

/**
 * Measures allocation per delivery in a child process of its own, started with --expose-gc (to
 * start each measurement from a collected heap) and a large young generation (so most windows
 * pass without a scavenge; windows with any GC are discarded).
 */
export async function runMemory(runs: number): Promise<MemoryResult> {
  const child = forkTs(
    new URL('./memory-child.ts', import.meta.url),
    [String(runs)],
    ['--expose-gc', '--max-semi-space-size=64'],
  )
  return new Promise((resolve, reject) => {
    let result: MemoryMessage | undefined
    child.on('message', (message: MemoryMessage) => (result = message))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (result === undefined) reject(new Error(`The memory child exited with code ${code}.`))
      else resolve({ ...result, runs })
    })
  })
}
