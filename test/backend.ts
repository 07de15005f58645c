/**
 * The backend a backend-sensitive test runs on: vitest.config.ts runs those files once per backend
 * as projects named after it (`wasm+native`, `wasm`, `node`), each with NETC_TEST_BACKEND set (and
 * NETC_NATIVE=0 for plain wasm). A test names the backend in its title and, when the backend cannot
 * be loaded here, is reported as skipped with the reason in its title, never silently passed.
 *
 *   const B = await testBackend();
 *   describe.skipIf(!B.ok)(`my test on ${B.label}${B.skip}`, () => { beforeAll(B.select); ... });
 */
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../src/runtime/backend.js';

export interface TestBackend {
  /** `wasm+native`, `wasm` or `node`. */
  label: string;
  /** netc's backend name for selectBackend. */
  name: 'wasm' | 'node';
  ok: boolean;
  /** '' when ok, else ` [skipped: reason]` for the test title. */
  skip: string;
  /** Makes this backend current (for beforeAll / beforeEach). */
  select: () => Promise<void>;
}

let cached: TestBackend | null = null;

export async function testBackend(): Promise<TestBackend> {
  if (cached) return cached;
  const label = process.env.NETC_TEST_BACKEND ?? 'wasm+native';
  const name = label === 'node' ? 'node' : 'wasm';
  let why = '';
  try {
    const choice = await selectBackend(name);
    if (label === 'wasm+native' && !choice.convolutions) {
      why = `native addon not loaded: ${choice.details.find((d) => d.startsWith('convolutions:')) ?? 'npm run build:native'}`;
    }
  } catch (e) {
    why = `${(e as Error).message.split('\n')[0]}${name === 'node' ? ' (npm run setup:tfjs-node builds it)' : ''}`;
  }
  const select = async () => {
    await selectBackend(name);
    if (tf.getBackend() !== (name === 'node' ? 'tensorflow' : 'wasm')) throw new Error(`test backend ${label} is not current`);
  };
  cached = { label, name, ok: why === '', skip: why ? ` [skipped: ${why}]` : '', select };
  return cached;
}
