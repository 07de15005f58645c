/**
 * netc's optional native convolution addon (native/, oneDNN) and its kernels for the wasm backend.
 *
 * The tfjs wasm backend is single-threaded under Node and its convolutions run at 15-25 GFLOP/s
 * (forward) and less for the gradients. oneDNN (what PyTorch uses for CPU convolutions) runs the
 * same NHWC/HWIO convolutions, forward and both gradients, at ~100 GFLOP/s per core here. The addon
 * reads and writes the wasm backend's tensors in place: a tensor's data is a Float32Array view of
 * the wasm heap (`backend.typedArrayFromHeap`), and the addon takes Float32Arrays, so there are no
 * copies. The output is allocated first (allocation may grow, and so detach, the heap), then every
 * view is taken.
 *
 * The same addon also does the training-mode batch norm of src/lower/batchnorm.ts
 * (`wasmNativeBatchNorm`, which it gets from backend.ts's `nativeBatchNorm`) and the ReLU gradient
 * (kernel `NetcReluGrad`, which the Relu gradient of gradients.ts calls where the backend has it): after the convolutions these were the largest costs of a ResNet-20 step.
 * It also computes MaxPoolGrad (the JS kernel of wasm-kernels.ts took 11% of a GoogLeNet step).
 *
 * Loading is guarded like the optional tfjs backends: no build (`npm run build:native` needs
 * Debian's libdnnl-dev), a failed load, or NETC_NATIVE=0 all give `null` plus a one-line reason, and
 * the wasm kernels stay in place. Kernels fall back to the ones they replace for anything the addon
 * does not cover (NCHW, activations other than linear/relu, odd bias shapes).
 *
 * Environment: NETC_NATIVE=0 disables the addon; NETC_NATIVE_THREADS sets oneDNN's thread count
 * (default: min(2, available cores)). OMP_WAIT_POLICY defaults to PASSIVE so that oneDNN's idle
 * OpenMP workers sleep instead of spinning between convolutions (on a shared 2-core machine a
 * spinning worker steals the core the JS thread needs).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tfc from '@tensorflow/tfjs-core';
import { maxPoolGradInfo, nhwcConvInfo } from './wasm-kernels.js';
import { RELU_GRAD } from './node-kernels.js';

/**
 * The convolution parameters the addon takes, by name, in order: native/src/netc_native.cc's
 * NETC_CONV_PARAMS table, mirrored (test/runtime/native-params.test.ts compares the two, and
 * loadNative refuses an addon whose convParamNames() differ). A new parameter goes in both lists.
 */
export const CONV_PARAMS = ['n', 'h', 'w', 'ci', 'kh', 'kw', 'co', 'oh', 'ow', 'sh', 'sw', 'dh', 'dw', 'pt', 'pb', 'pl', 'pr', 'groups', 'relu'] as const;
/** One convolution for the addon: input NHWC, filter, output size, strides, dilations, pads (top, bottom, left, right), groups, fused ReLU. */
export type ConvParams = Record<(typeof CONV_PARAMS)[number], number>;

/** The Int32Array the addon reads, in CONV_PARAMS's order. */
export function packConvParams(p: ConvParams): Int32Array {
  return Int32Array.from(CONV_PARAMS, (name) => p[name]);
}

/**
 * The max pool gradient's geometry, by name, in order: native/src/netc_native.cc's NETC_POOL_PARAMS
 * table, mirrored (test/runtime/native-params.test.ts compares the two; an addon whose
 * poolParamNames() differ, or that has no maxPoolGrad, leaves MaxPoolGrad to the JS kernel).
 */
export const POOL_PARAMS = ['n', 'h', 'w', 'c', 'oh', 'ow', 'kh', 'kw', 'sh', 'sw', 'dh', 'dw', 'pt', 'pl'] as const;
/** One max pool for the addon: input NHWC, output size, window, strides, dilations, leading pads. */
export type PoolParams = Record<(typeof POOL_PARAMS)[number], number>;

/** The Int32Array the addon reads, in POOL_PARAMS's order. */
export function packPoolParams(p: PoolParams): Int32Array {
  return Int32Array.from(POOL_PARAMS, (name) => p[name]);
}

/** The addon's parameters for a MaxPoolGrad kernel's NHWC input and dy shapes and attributes. */
export function maxPoolGradParams(tf: typeof tfc, inputShape: number[], dyShape: number[], attrs: Record<string, unknown>): Int32Array {
  const g = maxPoolGradInfo(tf, inputShape, dyShape, attrs);
  const [n, h, w, c] = inputShape as [number, number, number, number];
  return packPoolParams({
    n,
    h,
    w,
    c,
    oh: g.outHeight,
    ow: g.outWidth,
    kh: g.filterHeight,
    kw: g.filterWidth,
    sh: g.strideHeight,
    sw: g.strideWidth,
    dh: g.dilationHeight,
    dw: g.dilationWidth,
    pt: g.padInfo.top,
    pl: g.padInfo.left,
  });
}

/** The addon's surface (native/src/netc_native.cc). */
export interface NativeAddon {
  /** op 0: forward (x, w, bias|null, y); 1: backward data (dy, w, null, dx); 2: backward weights (x, dy, dbias|null, dw). */
  conv2d(op: 0 | 1 | 2, a: Float32Array, b: Float32Array, c: Float32Array | null, d: Float32Array, params: Int32Array): void;
  implInfo(op: 0 | 1 | 2, params: Int32Array, hasBias: boolean): string;
  /** Training-mode batch norm over the last axis: statistics out (f64), y = gamma * xhat + beta. */
  bnForward(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float64Array,
    variance: Float64Array,
    invStd: Float64Array,
    eps: number,
  ): void;
  bnBackward(
    x: Float32Array,
    dy: Float32Array,
    mean: Float64Array,
    invStd: Float64Array,
    gamma: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
  ): void;
  /** dx = x > 0 ? dy : 0 */
  reluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** dx (overwritten) of an NHWC max pool: each dy to the first maximum of its window, as PyTorch. Absent from older builds. */
  maxPoolGrad?(x: Float32Array, dy: Float32Array, dx: Float32Array, params: Int32Array): void;
  /** Its NETC_POOL_PARAMS table's names, which must equal POOL_PARAMS. */
  poolParamNames?(): string[];
  setThreads(n: number): void;
  getThreads(): number;
  version(): string;
  /** Its NETC_CONV_PARAMS table's names, which must equal CONV_PARAMS. */
  convParamNames?(): string[];
}

export interface NativeStatus {
  addon: NativeAddon | null;
  /** Why the addon is not used (when `addon` is null), or what it is (when loaded). */
  reason: string;
  threads: number;
}

const here = dirname(fileURLToPath(import.meta.url));
/** src/runtime and dist/runtime are both two levels below the package root. */
export const ADDON_PATH = join(here, '..', '..', 'native', 'build', 'Release', 'netc_native.node');

let status: NativeStatus | null = null;

/** Loads the addon once; never throws. (The reason is printed in the backend line by backend.ts.) */
export function loadNative(): NativeStatus {
  if (status) return status;
  if (process.env.NETC_NATIVE === '0') {
    status = { addon: null, reason: 'disabled by NETC_NATIVE=0', threads: 0 };
    return status;
  }
  if (!existsSync(ADDON_PATH)) {
    status = { addon: null, reason: 'addon not built (npm run build:native; needs libdnnl-dev)', threads: 0 };
    return status;
  }
  try {
    process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
    const addon = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
    // A build from other sources would read the parameters in another order: refuse it.
    const names = addon.convParamNames?.() ?? [];
    if (names.join() !== CONV_PARAMS.join()) throw new Error('built from other sources (its conv parameters differ); rebuild it: npm run build:native');
    const wanted = Number(process.env.NETC_NATIVE_THREADS);
    const threads = Number.isInteger(wanted) && wanted > 0 ? wanted : Math.min(2, availableParallelism());
    addon.setThreads(threads);
    // One tiny convolution proves the library works (CPU dispatch, linking) before we rely on it.
    const y = new Float32Array(1);
    const one = { n: 1, h: 1, w: 1, ci: 1, kh: 1, kw: 1, co: 1, oh: 1, ow: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pb: 0, pl: 0, pr: 0, groups: 1, relu: 0 };
    addon.conv2d(0, new Float32Array([2]), new Float32Array([3]), null, y, packConvParams(one));
    if (y[0] !== 6) throw new Error(`self-test gave ${y[0]}, expected 6`);
    status = { addon, reason: `${addon.version()}, ${addon.getThreads()} threads`, threads: addon.getThreads() };
  } catch (e) {
    const msg = String((e as Error)?.message ?? e).split('\n')[0]!;
    status = { addon: null, reason: `failed to load: ${msg.length > 160 ? msg.slice(0, 157) + '...' : msg}`, threads: 0 };
  }
  return status;
}

type TensorInfo = tfc.TensorInfo;
type KernelFunc = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => TensorInfo;

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Activations the addon fuses into the forward convolution (oneDNN post-op). */
const FUSED_ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

/** How many times each path ran (for the benchmark's report and the tests). */
export const nativeCounters = { native: 0, fallback: 0, batchNorm: 0, maxPoolGrad: 0, matMul: 0 };

/** Per-channel batch statistics, as src/lower/batchnorm.ts keeps them. */
export interface BatchStats {
  mean: Float64Array;
  variance: Float64Array;
  invStd: Float64Array;
}

export interface NativeBatchNorm {
  forward(x: tfc.Tensor, gamma: tfc.Tensor, beta: tfc.Tensor, eps: number): { y: tfc.Tensor; stats: BatchStats };
  /** [dx, dgamma, dbeta] */
  backward(x: tfc.Tensor, dy: tfc.Tensor, stats: BatchStats, gamma: tfc.Tensor): tfc.Tensor[];
}

/**
 * Training-mode batch norm in `addon`, in place on the wasm heap (no copies of x, y, dy or dx), when
 * the current backend is wasm; otherwise null. The tensors returned belong to the caller's tidy
 * scope. The lowering reaches it through src/runtime/backend.ts's `nativeBatchNorm`, which knows
 * whether the addon is in use.
 */
export function wasmNativeBatchNorm(tf: typeof tfc, addon: NativeAddon): NativeBatchNorm | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as WasmBackendLike;
  const wrap = (t: TensorInfo) => tf.engine().makeTensorFromTensorInfo(t);
  const view = (t: TensorInfo) => b.typedArrayFromHeap(t);
  const f32 = (...ts: tfc.Tensor[]) => {
    for (const t of ts) if (t.dtype !== 'float32') throw new Error(`netc native batch norm: ${t.dtype} tensor, expected float32`);
  };
  return {
    forward(x, gamma, beta, eps) {
      f32(x, gamma, beta);
      const c = gamma.size;
      const stats = { mean: new Float64Array(c), variance: new Float64Array(c), invStd: new Float64Array(c) };
      const y = b.makeOutput([...x.shape], 'float32');
      addon.bnForward(view(x), view(gamma), view(beta), view(y), stats.mean, stats.variance, stats.invStd, eps);
      nativeCounters.batchNorm++;
      return { y: wrap(y), stats };
    },
    backward(x, dy, stats, gamma) {
      f32(x, dy, gamma);
      const dx = b.makeOutput([...x.shape], 'float32');
      const dgamma = b.makeOutput([...gamma.shape], 'float32');
      const dbeta = b.makeOutput([...gamma.shape], 'float32');
      addon.bnBackward(view(x), view(dy), stats.mean, stats.invStd, view(gamma), view(dx), view(dgamma), view(dbeta));
      nativeCounters.batchNorm++;
      return [wrap(dx), wrap(dgamma), wrap(dbeta)];
    },
  };
}

/**
 * Registers Conv2D, FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter, the depthwise
 * forward and gradients, the ReLU gradient, MaxPoolGrad and the matrix products (BatchMatMul,
 * _FusedMatMul) on the wasm backend, calling the addon. The kernels registered before (the
 * wasm backend's own and netc's wasm training shims) stay reachable as fallbacks, so call this
 * after `registerWasmTrainingKernels`. Returns the kernel names registered.
 */
export function registerNativeConvKernels(tf: typeof tfc, addon: NativeAddon): string[] {
  const registered: string[] = [];
  const previous = (name: string): KernelFunc | null => {
    const k = tf.getKernel(name, 'wasm');
    return k ? (k.kernelFunc as unknown as KernelFunc) : null;
  };

  /** The addon's parameters for this convolution, or null when the addon cannot express it. */
  function paramsOf(xShape: number[], filterShape: number[], attrs: Record<string, unknown>, depthwise: boolean, relu: number): ConvParams | null {
    if (attrs.dataFormat != null && attrs.dataFormat !== 'NHWC') return null;
    if (xShape.length !== 4 || filterShape.length !== 4) return null;
    const info = nhwcConvInfo(tf, xShape, filterShape, attrs, depthwise);
    const p = info.padInfo;
    const [n, h, w, ci] = xShape as [number, number, number, number];
    const eh = (info.filterHeight - 1) * info.dilationHeight + 1;
    const ew = (info.filterWidth - 1) * info.dilationWidth + 1;
    // oneDNN derives the output size with floor division; a rounding mode that disagrees goes to wasm.
    if (Math.floor((h + p.top + p.bottom - eh) / info.strideHeight) + 1 !== info.outHeight) return null;
    if (Math.floor((w + p.left + p.right - ew) / info.strideWidth) + 1 !== info.outWidth) return null;
    if (p.top < 0 || p.bottom < 0 || p.left < 0 || p.right < 0) return null;
    return {
      n,
      h,
      w,
      ci,
      kh: info.filterHeight,
      kw: info.filterWidth,
      co: info.outChannels,
      oh: info.outHeight,
      ow: info.outWidth,
      sh: info.strideHeight,
      sw: info.strideWidth,
      dh: info.dilationHeight,
      dw: info.dilationWidth,
      pt: p.top,
      pb: p.bottom,
      pl: p.left,
      pr: p.right,
      groups: depthwise ? ci : 1,
      relu,
    };
  }

  const heap = (b: unknown, t: TensorInfo) => (b as WasmBackendLike).typedArrayFromHeap(t);
  const isF32 = (...ts: TensorInfo[]) => ts.every((t) => t.dtype === 'float32');

  function forward(name: string, depthwise: boolean, fused: boolean): void {
    const fallback = previous(name);
    const kernelFunc: KernelFunc = (args) => {
      const { inputs, backend: b } = args;
      const attrs = args.attrs ?? {};
      const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
      const act = fused ? FUSED_ACTIVATIONS[String(attrs.activation ?? 'linear')] : 0;
      const params =
        x && filter && isF32(x, filter) && act != null && preluActivationWeights == null ? paramsOf(x.shape, filter.shape, attrs, depthwise, act) : null;
      const biasOk = bias == null || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === params?.co);
      if (!params || !biasOk) {
        if (!fallback) throw new Error(`netc native ${name}: unsupported arguments and no wasm kernel to fall back to`);
        nativeCounters.fallback++;
        return fallback(args);
      }
      const out = (b as WasmBackendLike).makeOutput([params.n, params.oh, params.ow, params.co], 'float32');
      addon.conv2d(0, heap(b, x!), heap(b, filter!), bias ? heap(b, bias) : null, heap(b, out), packConvParams(params));
      nativeCounters.native++;
      return out;
    };
    replace(name, kernelFunc);
  }

  /**
   * Conv2DBackpropInput (op 1: inputs dy, filter; attrs.inputShape) and Conv2DBackpropFilter (op 2:
   * inputs x, dy; attrs.filterShape), and their depthwise twins.
   */
  function backprop(name: string, depthwise: boolean, op: 1 | 2): void {
    const fallback = previous(name);
    const kernelFunc: KernelFunc = (args) => {
      const { inputs, backend: b } = args;
      const attrs = args.attrs ?? {};
      const { x, dy, filter } = inputs as { x: TensorInfo; dy: TensorInfo; filter: TensorInfo };
      const outShape = (op === 1 ? attrs.inputShape : attrs.filterShape) as number[];
      const [xShape, filterShape] = op === 1 ? [outShape, filter.shape] : [x.shape, outShape];
      const params = isF32(dy, op === 1 ? filter : x) ? paramsOf(xShape, filterShape, attrs, depthwise, 0) : null;
      // oneDNN 2.6's weight gradient of a strided 1x1 convolution (its reduce-to-unit-stride path)
      // corrupts memory on some shapes (8 -> 16 channels at 28x28, stride 2: a crash in most runs);
      // wasm computes those. test/runtime/native-kernels.test.ts trains that shape repeatedly.
      const strided1x1Grad = op === 2 && params !== null && params.kh === 1 && params.kw === 1 && (params.sh > 1 || params.sw > 1);
      if (!params || strided1x1Grad || params.oh !== dy.shape[1] || params.ow !== dy.shape[2]) {
        if (!fallback) throw new Error(`netc native ${name}: unsupported arguments and no wasm kernel to fall back to`);
        nativeCounters.fallback++;
        return fallback(args);
      }
      const out = (b as WasmBackendLike).makeOutput([...outShape], 'float32');
      if (op === 1) addon.conv2d(1, heap(b, dy), heap(b, filter), null, heap(b, out), packConvParams(params));
      else addon.conv2d(2, heap(b, x), heap(b, dy), null, heap(b, out), packConvParams(params));
      nativeCounters.native++;
      return out;
    };
    replace(name, kernelFunc);
  }

  const replace = (kernelName: string, kernelFunc: KernelFunc) => {
    if (tf.getKernel(kernelName, 'wasm') != null) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tfc.KernelFunc });
    registered.push(kernelName);
  };

  // ---- Relu's gradient in one native pass: the kernel the Relu gradient calls (gradients.ts).
  replace(RELU_GRAD, ({ inputs, backend: b }) => {
    const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
    const out = (b as WasmBackendLike).makeOutput([...x.shape], 'float32');
    addon.reluGrad(heap(b, dy), heap(b, x), heap(b, out));
    return out;
  });

  // ---- MaxPoolGrad natively (the JS kernel of wasm-kernels.ts, ~10x slower, stays the fallback).
  // An addon built from other sources (no maxPoolGrad, or another parameter order) is not used for it.
  const maxPoolGradJs = previous('MaxPoolGrad');
  const poolTableOk = addon.maxPoolGrad != null && addon.poolParamNames?.().join() === POOL_PARAMS.join();
  if (poolTableOk && maxPoolGradJs) {
    replace('MaxPoolGrad', (args) => {
      const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
      const b = args.backend;
      if (!isF32(dy, input) || input.shape.length !== 4 || dy.shape.length !== 4) return maxPoolGradJs(args);
      const params = maxPoolGradParams(tf, input.shape, dy.shape, args.attrs ?? {});
      const out = (b as WasmBackendLike).makeOutput([...input.shape], 'float32');
      addon.maxPoolGrad!(heap(b, input), heap(b, dy), heap(b, out), params);
      nativeCounters.maxPoolGrad++;
      return out;
    });
  }

  // ---- Matrix products as 1x1 convolutions of a 1xM "image" with K channels (a [M, K] matrix is
  // that NHWC tensor, a [K, N] one that HWIO filter): A.B is the forward convolution, A.Bt its input
  // gradient, At.B its filter gradient. tfjs-backend-wasm's own BatchMatMul ran VGG's 102M-weight
  // classifier at ~1/20 of PyTorch's speed (bench/train-zoo, vgg16_bn); oneDNN computes it as a GEMM.
  // Batched products (attention) and At.Bt stay with the wasm kernel.
  function matMul(name: string, fused: boolean): void {
    const fallback = previous(name);
    if (!fallback) return;
    // One product: rank 2, or leading (batch) dimensions of 1.
    const single = (t: TensorInfo | undefined): t is TensorInfo => t != null && t.shape.length >= 2 && t.shape.slice(0, -2).every((d) => d === 1);
    replace(name, (args) => {
      const { inputs, backend: b } = args;
      const attrs = args.attrs ?? {};
      const { a, b: bm, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
      const [ta, tb] = [Boolean(attrs.transposeA), Boolean(attrs.transposeB)];
      const act = fused ? FUSED_ACTIVATIONS[String(attrs.activation ?? 'linear')] : 0;
      const [r0, c0] = a?.shape.slice(-2) ?? [];
      const [r1, c1] = bm?.shape.slice(-2) ?? [];
      const [m, k, n] = [ta ? c0 : r0, ta ? r0 : c0, tb ? r1 : c1];
      const supported =
        single(a) &&
        single(bm) &&
        isF32(a, bm) &&
        !(ta && tb) &&
        (tb ? c1 : r1) === k &&
        act != null &&
        preluActivationWeights == null &&
        // The transposed forms are gradients: no bias or activation to fuse there.
        (bias == null || (!ta && !tb && bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === n)) &&
        (act === 0 || (!ta && !tb));
      if (!supported) {
        nativeCounters.fallback++;
        return fallback(args);
      }
      const conv = (w: number, ci: number, co: number, relu: number) =>
        packConvParams({ n: 1, h: 1, w, ci, kh: 1, kw: 1, co, oh: 1, ow: w, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pb: 0, pl: 0, pr: 0, groups: 1, relu });
      const ones = (a.shape.length >= bm.shape.length ? a : bm).shape.slice(0, -2);
      const out = (b as WasmBackendLike).makeOutput([...ones, m!, n!], 'float32');
      // A.Bt: the input gradient of a convolution whose output gradient is A [M, K] and filter B [N, K].
      if (tb) addon.conv2d(1, heap(b, a), heap(b, bm), null, heap(b, out), conv(m!, n!, k!, 0));
      // At.B: the filter gradient of a convolution of input A [K, M] (K positions) and output gradient B [K, N].
      else if (ta) addon.conv2d(2, heap(b, a), heap(b, bm), null, heap(b, out), conv(k!, m!, n!, 0));
      else addon.conv2d(0, heap(b, a), heap(b, bm), bias ? heap(b, bias) : null, heap(b, out), conv(m!, k!, n!, act));
      nativeCounters.matMul++;
      return out;
    });
  }

  matMul('BatchMatMul', false);
  matMul('_FusedMatMul', true);
  forward('Conv2D', false, false);
  forward('FusedConv2D', false, true);
  backprop('Conv2DBackpropInput', false, 1);
  backprop('Conv2DBackpropFilter', false, 2);
  forward('DepthwiseConv2dNative', true, false);
  backprop('DepthwiseConv2dNativeBackpropInput', true, 1);
  backprop('DepthwiseConv2dNativeBackpropFilter', true, 2);
  return registered;
}
