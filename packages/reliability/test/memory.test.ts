import { describe, expect, it } from 'vitest'
import { LIMIT, measureMemory } from '../src/memory-load.js'

const MiB = 1024 * 1024

describe('memory stays bounded under 200 concurrent oversize bodies (Express 5, child process)', () => {
  it('100 clients declaring and 100 streaming 10 MiB at a 1 MiB limit: all refused with 413, RSS grows < 64 MiB', async () => {
    const report = await measureMemory({ declaring: 100, streaming: 100, bodyBytes: 10 * MiB })
    const summary = `RSS baseline ${(report.baselineRss / MiB).toFixed(1)} MiB, peak ${(report.peakRss / MiB).toFixed(1)} MiB; outcomes ${JSON.stringify(report.tally)}`

    expect(report.outcomes).toHaveLength(200)
    expect(report.handlerCalls, summary).toBe(0)
    for (const outcome of report.outcomes) {
      if (outcome.status === 'cut') {
        // Declared too large: answered on the headers with `connection: close`, so a client
        // still pushing its body may get a reset instead of reading the 413. A streamer is
        // only cut once the receiver read past the limit (413 decided) and its bounded drain.
        expect(outcome.mode, summary).not.toBe('declaring-patient')
        expect(outcome.reason, summary).toMatch(/ECONNRESET|EPIPE|closed before/)
        if (outcome.mode === 'streaming') expect(outcome.sent).toBeGreaterThan(LIMIT)
      } else {
        expect(outcome.status, summary).toBe(413)
      }
    }
    // A client that waits for the answer always reads it.
    expect(report.tally['declaring-patient 413'], summary).toBe(50)
    expect(report.growth, summary).toBeLessThan(64 * MiB)
    console.info(`memory proof: growth ${(report.growth / MiB).toFixed(1)} MiB; ${summary}`)
  }, 120_000)
})
