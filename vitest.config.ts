import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Backend-sensitive tests (numerics of the lowering, training gradients against PyTorch, end-to-end
 * training) run once per backend; everything else once. (`netc verify`'s tests need no project of
 * their own: verify itself runs every backend present, each in a worker, in one call.) Each run is a project named
 * after its backend, so the output says where a test ran (`|node| ...`). Select some with
 * `npm test -- --project node` (NETC_TEST_BACKENDS=node,wasm does the same through test/run.mjs).
 * test/backend.ts turns NETC_TEST_BACKEND into the backend, or into a skip with the reason.
 */
const perBackend = ['test/lower/numerics.test.ts', 'test/runtime/gradients.test.ts', 'test/train/lenet-e2e.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker per core minus one: a single worker on a 2-core machine, which
    // ran the whole suite file after file with a core idle. One per core; test files keep no shared
    // state on disk (each makes its own temporary folders), so they can run side by side.
    maxWorkers: Math.max(2, availableParallelism()),
    projects: [
      // The whole suite; the backend-sensitive part of it on wasm with the native addon (when built).
      { extends: true, test: { name: 'wasm+native', include: ['test/**/*.test.ts'], env: { NETC_TEST_BACKEND: 'wasm+native' } } },
      { extends: true, test: { name: 'wasm', include: perBackend, env: { NETC_TEST_BACKEND: 'wasm', NETC_NATIVE: '0' } } },
      { extends: true, test: { name: 'node', include: perBackend, env: { NETC_TEST_BACKEND: 'node' } } },
    ],
  },
});
