import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Run with: vitest run --config test/vitest.config.ts
// The config lives under test/ so the repo top level stays small; root points
// back at the repo so `include` patterns and file paths are repo-relative.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/.tmp/**'],
    environment: 'node',
    // Child processes give each test file a real, isolated process: needed for
    // file locks, crash simulation and spawning the built CLI.
    pool: 'forks',
    // Vitest defaults to cores-1 (= 1 on a 2-core CI box); the tests are mostly
    // I/O bound, so use at least 2 workers.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 10_000,
    passWithNoTests: false,
  },
})
