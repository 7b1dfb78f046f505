import { describe, expect, it } from 'vitest'
import { runDemo } from '../demo.js'

describe('pnpm demo', () => {
  it('every framework answers every case as DESIGN.md says', async () => {
    const { rows, ok } = await runDemo()
    expect(rows.filter((row) => !row.ok)).toEqual([])
    expect(ok).toBe(true)
    // 15 types + tampered + unknown + oversize, for each of the three frameworks.
    expect(rows).toHaveLength(18 * 3)
  })
})
