import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'redis',
    include: ['test/**/*.test.ts'],
    // The multi-process suite starts 4 Node processes and sends a few thousand requests.
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
})
