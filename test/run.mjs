#!/usr/bin/env node
// `npm test`: type-check and build (the CLI tests run dist/), run vitest, and end with the plain
// "N passed, N failed" line that CI reads. Extra arguments go to vitest (e.g. a file filter).
// test/ is type-checked by `npm run typecheck` (which .ci/run runs beside `npm run lint`), not here: it
// costs 13-15 s of CPU from scratch on one core, about 5% of the suite's time on a 2-core machine.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const built = run(bin('tsc'), ['-p', 'tsconfig.json']);
if (built !== 0) {
  console.error('tsc failed: fix the type errors above');
  console.log('0 passed, 1 failed');
  process.exit(built);
}
const results = join(root, '.vitest-results.json');
rmSync(results, { force: true });
// Backend-sensitive tests run once per backend, as vitest projects named after them (vitest.config.ts);
// NETC_TEST_BACKENDS=node,wasm runs only those projects.
const projects = (process.env.NETC_TEST_BACKENDS ?? '')
  .split(',')
  .filter(Boolean)
  .flatMap((p) => ['--project', p]);
console.error(
  `backends: ${process.env.NETC_TEST_BACKENDS ?? 'wasm+native, wasm, node'} (a test whose backend is missing is skipped with the reason in its name)`,
);
const status = run(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile=${results}`, ...projects, ...process.argv.slice(2)]);
if (existsSync(results)) {
  const r = JSON.parse(readFileSync(results, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A file that fails to load (e.g. its beforeAll throws) has no failed tests of its own: count it
  // once. (numFailedTestSuites counts describe blocks too, so it would count a failed test again.)
  const brokenFiles = (r.testResults ?? []).filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')).length;
  const failed = Math.max(r.numFailedTests + brokenFiles, r.success ? 0 : 1);
  console.log(`\n${r.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
} else {
  console.log('0 passed, 1 failed');
}
process.exit(status);
