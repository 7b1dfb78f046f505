import { defineConfig } from 'tsup'

// The package is a command, not a library: one ESM entry, no types, and the banner makes tsup
// mark dist/cli.js executable.
export default defineConfig({
  entry: ['src/cli.ts'],
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  splitting: false,
  banner: { js: '#!/usr/bin/env node' },
})
