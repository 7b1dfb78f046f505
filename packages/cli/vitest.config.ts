import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'cli',
    include: ['test/**/*.test.ts'],
    // The tests run the built bin, so they build it first: a stale dist/ would test old code.
    globalSetup: ['test/global-setup.ts'],
    // Hang guards only (every test spawns Node processes on a shared 2-core machine).
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
})
