import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// npm run setup:tfjs-node's failure messages (each says what is missing and what to do), and its
// quick second run. The failing cases stop before the package's deps/ is touched.
const SCRIPT = 'scripts/setup-tfjs-node.mjs';
const cache = mkdtempSync(join(tmpdir(), 'netc-setup-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));
const setup = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, NETC_CACHE: cache, ...env }, timeout: 120_000 });
const built = existsSync('node_modules/@tensorflow/tfjs-node/deps/netc-setup.json');

/** A file named like a wheel, but a zip without TensorFlow's library inside. */
function fakeWheel(name: string): string {
  const path = join(cache, name);
  const r = spawnSync('python3', ['-c', `import zipfile,sys; zipfile.ZipFile(sys.argv[1], 'w').writestr('tensorflow/__init__.py', '')`, path]);
  if (r.status !== 0) writeFileSync(path, 'PK\x05\x06' + '\0'.repeat(18)); // an empty zip, where python3 is missing
  return path;
}

describe('npm run setup:tfjs-node', () => {
  it('a bad argument is a usage error (exit 2)', () => {
    const r = setup(['--frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument '--frobnicate'\nusage: npm run setup:tfjs-node/);
  });
  it('no wheel at the given path: exit 1, names the path', () => {
    const r = setup(['--wheel', '/nonexistent/tensorflow_cpu-2.21.0-x.whl']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('FAILED: no wheel at /nonexistent/tensorflow_cpu-2.21.0-x.whl');
  });
  it.skipIf(!built)(`no compiler: says which were tried and what to install${built ? '' : ' [skipped: tfjs-node not set up here]'}`, () => {
    const r = setup(['--wheel', fakeWheel('tensorflow_cpu-0.0.1-cp311-none-any.whl')], { PATH: '/nonexistent' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('FAILED: no C++ compiler (tried c++, g++, clang++); Debian: apt-get install -y g++ make');
  });
  it.skipIf(!built)(`a wheel without TensorFlow's C library: says so${built ? '' : ' [skipped: tfjs-node not set up here]'}`, () => {
    const r = setup(['--wheel', fakeWheel('tensorflow_cpu-0.0.2-cp311-none-any.whl')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FAILED: tensorflow_cpu-0\.0\.2-cp311-none-any\.whl has no tensorflow\/libtensorflow_cc\.so\.2/);
    expect(existsSync(join(cache, 'tensorflow_cpu-0.0.2'))).toBe(false); // no half-unpacked directory left
  });
  it.skipIf(!built)(`a second run with the same wheel only checks the build${built ? '' : ' [skipped: tfjs-node not set up here]'}`, () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/@tensorflow\/tfjs-node 4\.22\.0 is ready on TensorFlow \d+\.\d+\.\d+ \(from tensorflow_cpu-.*; already built\)/);
  });
});
