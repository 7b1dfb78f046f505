import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'reliability',
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    // Generous: a guard against hangs on a busy machine, not a performance budget. The client
    // helpers give up earlier (WAIT_LIMIT_MS) with a message naming what they waited for.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
