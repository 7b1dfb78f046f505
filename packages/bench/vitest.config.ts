import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'bench',
    include: ['test/**/*.test.ts'],
    // Generous: guards against hangs on a busy machine, not a performance budget. Nothing in
    // these tests asserts on time.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
