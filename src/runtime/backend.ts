/**
 * Choosing the TensorFlow.js backend.
 *
 * Preference order: node-gpu (libtensorflow with CUDA), node (libtensorflow on the CPU), wasm
 * (XNNPACK, plus netc's training kernels), cpu (pure JS, a last resort). tfjs-node and tfjs-node-gpu
 * are optional dependencies whose install downloads libtensorflow; offline they are simply absent,
 * so every load is guarded and a failure becomes a "skipped because" line, never a crash.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { registerCpuTrainingKernels } from './cpu-kernels.js';
import { registerWasmTrainingKernels } from './wasm-kernels.js';
import { loadNative, registerNativeConvKernels, wasmNativeBatchNorm, type NativeAddon, type NativeBatchNorm } from './native.js';
import { registerNodeTrainingKernels } from './node-kernels.js';
import { UserError } from '../diagnostics/user-error.js';

export const BACKENDS = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendChoice {
  /** netc's name for the backend that was chosen. */
  name: BackendName;
  /** tfjs's registered name (`tensorflow`, `wasm`, `cpu`). */
  tfName: string;
  /** Why each backend tried before the chosen one was not used. */
  skipped: { name: BackendName; reason: string }[];
  /** Extra facts worth printing (SIMD, threads, registered shims). */
  details: string[];
  /** What does the convolutions when it is not the backend itself ("native oneDNN"), else null. */
  convolutions: string | null;
}

export class BackendError extends UserError {}

/** A one-line reason from whatever a failed load threw (no stack traces for the user). */
function reasonOf(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') {
    return 'package not installed (optional dependency; its install downloads libtensorflow, which needs a network)';
  }
  const msg = String(err?.message ?? e).split('\n')[0]!;
  return msg.length > 160 ? msg.slice(0, 157) + '...' : msg;
}

/** Importing a module by a computed name keeps TypeScript from requiring it at compile time. */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

/**
 * Before importing tfjs-node(-gpu): a package whose binding was never built (its install script
 * failed offline, or `npm install --ignore-scripts`) is refused here, because importing it would
 * register its kernels before failing, and the other package would then warn about each one.
 *
 * TensorFlow logs INFO lines on stderr as it loads. Those from its static initialisers ("oneDNN
 * custom operations are on") go through absl, which no log level reaches: where
 * `npm run setup:tfjs-node` built its small loader (scripts/tf-quiet-load.c), the library is loaded
 * first with stderr silenced. The rest obey TF_CPP_MIN_LOG_LEVEL; 1 keeps warnings and errors.
 */
function prepareNode(pkg: string, gpu: boolean): void {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return; // not installed: the import reports it
  }
  const lib = join(dir, 'lib');
  if (!existsSync(lib) || !readdirSync(lib).some((d) => existsSync(join(lib, d, 'tfjs_binding.node')))) {
    throw new Error(`installed, but its binding is not built (npm run setup:tfjs-node${gpu ? ' -- --wheel TENSORFLOW_GPU_BUILD.whl' : ''})`);
  }
  const loader = join(dir, 'deps', 'netc-quiet-load.node');
  const tfLib = join(dir, 'deps', 'lib', 'libtensorflow_cc.so.2');
  if (existsSync(loader) && existsSync(tfLib)) {
    try {
      (require(loader) as { load(path: string): string | null }).load(tfLib);
    } catch {
      // A stale loader: TensorFlow then prints its start-up lines, nothing worse.
    }
  }
}

async function tryNode(gpu: boolean): Promise<string[]> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  prepareNode(pkg, gpu);
  await importOptional(pkg);
  // tfjs-node registers the 'tensorflow' backend on the tfjs-core it depends on; it is only usable
  // here if that is the same tfjs-core instance netc uses.
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error('loaded, but registered its backend with a different copy of @tensorflow/tfjs-core');
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Error('backend failed to initialise');
  const fused = registerNodeTrainingKernels(tf);
  const version = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding?.TF_Version;
  return [...(version ? [`TensorFlow ${version}`] : []), `fused training kernels: ${fused.join(', ')}`];
}

/** Set by tryWasm when the native oneDNN convolutions were registered. */
let nativeConvolutions: string | null = null;
/** The addon behind them, which also does the training-mode batch norm (see nativeBatchNorm). */
let nativeAddon: NativeAddon | null = null;

/**
 * The native addon's training-mode batch norm when the wasm backend runs with it, else null (the
 * caller keeps its own). src/lower/batchnorm.ts asks here, at each call, rather than holding the
 * addon: which backend runs, and whether the addon is in use, is decided by selectBackend.
 */
export function nativeBatchNorm(): NativeBatchNorm | null {
  return nativeAddon ? wasmNativeBatchNorm(tf, nativeAddon) : null;
}

async function tryWasm(): Promise<string[]> {
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  const shims = registerWasmTrainingKernels(tf);
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  const details = [
    `SIMD ${simd ? 'on' : 'off'}`,
    `threads ${threads ? 'on' : 'off (tfjs disables wasm worker threads under Node)'}`,
    `netc training kernels: ${shims.join(', ')}`,
  ];
  // The optional oneDNN addon (native/) replaces the convolutions; without it the shims above stay.
  const native = loadNative();
  if (native.addon) {
    registerNativeConvKernels(tf, native.addon);
    nativeAddon = native.addon;
    nativeConvolutions = 'native oneDNN convolutions';
    details.push(`convolutions: native addon (${native.reason})`);
  } else {
    nativeConvolutions = null;
    nativeAddon = null;
    details.push(`convolutions: wasm (native addon not used: ${native.reason})`);
  }
  return details;
}

async function tryCpu(): Promise<string[]> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed to initialise');
  const kernels = registerCpuTrainingKernels(tf);
  return ['pure JavaScript: expect training to be very slow', `netc kernels: ${kernels.join(', ')}`];
}

/**
 * The cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js. To speed things
 * up dramatically, install our node backend" the first time it holds data: when it is chosen, and
 * also under the other backends, where tfjs keeps some small tensors on it. netc reports its choice
 * of backend itself.
 */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}

const loaders: Record<BackendName, { tfName: string; load: () => Promise<string[]> }> = {
  'node-gpu': { tfName: 'tensorflow', load: () => tryNode(true) },
  node: { tfName: 'tensorflow', load: () => tryNode(false) },
  wasm: { tfName: 'wasm', load: tryWasm },
  cpu: { tfName: 'cpu', load: tryCpu },
};

let current: BackendChoice | null = null;

/**
 * Selects and initialises a backend. With `force`, only that one is tried and its failure is an
 * error; without, the first that loads wins.
 */
export async function selectBackend(force?: string): Promise<BackendChoice> {
  if (force != null && !(BACKENDS as readonly string[]).includes(force)) {
    throw new BackendError(`unknown backend '${force}' (expected one of: ${BACKENDS.join(', ')})`);
  }
  if (current && (force == null || current.name === force)) return current;
  const order: BackendName[] = force ? [force as BackendName] : [...BACKENDS];
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    try {
      const details = await loaders[name].load();
      await tf.ready();
      silenceCpuBanner();
      const convolutions = name === 'wasm' ? nativeConvolutions : null;
      current = { name, tfName: loaders[name].tfName, skipped, details, convolutions };
      return current;
    } catch (e) {
      skipped.push({ name, reason: reasonOf(e) });
    }
  }
  const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new BackendError(force ? `backend '${force}' is not usable: ${why}` : `no backend could be loaded: ${why}`);
}

/** A human description: "backend: wasm + native oneDNN convolutions (SIMD on, ...); skipped node-gpu: ...". */
export function describeBackend(c: BackendChoice): string[] {
  const label = c.convolutions ? `${c.name} + ${c.convolutions}` : c.name;
  const lines = [`backend: ${label}${c.details.length ? ` (${c.details.join('; ')})` : ''}`];
  for (const s of c.skipped) lines.push(`  skipped ${s.name}: ${s.reason}`);
  return lines;
}
