import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker per core minus one: a single worker on a 2-core machine, which
    // ran the whole suite file after file with a core idle. One per core; test files keep no shared
    // state on disk (each makes its own temporary folders), so they can run side by side.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
