import { defineConfig } from 'vitest/config'

// The root Vitest config: one project per package (Vitest 4 reads `projects` here).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts'],
  },
})
