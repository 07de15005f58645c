import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { selectBackend, describeBackend } from '../../src/runtime/backend.js';
import { CONV_PARAMS, loadNative, nativeCounters, packConvParams, type ConvParams } from '../../src/runtime/native.js';
import { TorchBatchNorm } from '../../src/lower/batchnorm.js';
import { relErr } from './rel-err.js';
import { pythonHas } from '../python.js';
import { maxPoolBackward, maxPoolGradInfo } from '../../src/runtime/wasm-kernels.js';

// The oneDNN addon is optional (npm run build:native, needs libdnnl-dev). Without it these tests are
// reported as skipped, with the reason in their names, never silently passed.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const native = loadNative();
const addonLoaded = native.addon != null;
const skipNote = addonLoaded ? '' : ` [skipped: native addon ${native.reason}]`;
/** x [1, 2, 2, 2] through a 1x1 filter, 2 in, 1 out. */
const ONE_BY_ONE: ConvParams = {
  n: 1,
  h: 2,
  w: 2,
  ci: 2,
  kh: 1,
  kw: 1,
  co: 1,
  oh: 2,
  ow: 2,
  sh: 1,
  sw: 1,
  dh: 1,
  dw: 1,
  pt: 0,
  pb: 0,
  pl: 0,
  pr: 0,
  groups: 1,
  relu: 0,
};

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  name: string;
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  strides: [number, number];
  pad: Pad;
  dilations?: [number, number];
  /** Depthwise: cout is the channel multiplier. */
  depthwise?: boolean;
  /** tfjs has no conv gradients for dilation > 1: compare the forward pass only. */
  forwardOnly?: boolean;
  /** The filter gradient is left to wasm (oneDNN's strided 1x1 weight gradient is unsafe: see native.ts). */
  filterGradOnWasm?: boolean;
}

const cases: Case[] = [
  { name: '3x3 s1 same, batch 4', x: [4, 8, 8, 16], k: [3, 3], cout: 16, strides: [1, 1], pad: 'same' },
  { name: '3x3 s2 same (asymmetric pad)', x: [2, 8, 8, 3], k: [3, 3], cout: 5, strides: [2, 2], pad: 'same' },
  { name: '3x3 s2 valid odd size', x: [3, 9, 7, 2], k: [3, 3], cout: 4, strides: [2, 2], pad: 'valid' },
  {
    name: '3x3 s2 explicit pad 1 (PyTorch-style)',
    x: [2, 10, 10, 8],
    k: [3, 3],
    cout: 16,
    strides: [2, 2],
    pad: [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ],
  },
  { name: '1x1 s1 valid', x: [2, 6, 6, 8], k: [1, 1], cout: 12, strides: [1, 1], pad: 'valid' },
  { name: '1x1 s2 valid (projection shortcut)', x: [2, 8, 8, 16], k: [1, 1], cout: 32, strides: [2, 2], pad: 'valid', filterGradOnWasm: true },
  {
    name: '7x7 s2 explicit pad 3 (stem)',
    x: [2, 16, 16, 3],
    k: [7, 7],
    cout: 8,
    strides: [2, 2],
    pad: [
      [0, 0],
      [3, 3],
      [3, 3],
      [0, 0],
    ],
  },
  {
    name: '5x3 s1x2 asymmetric explicit pads',
    x: [2, 10, 9, 3],
    k: [5, 3],
    cout: 2,
    strides: [1, 2],
    pad: [
      [0, 0],
      [2, 1],
      [0, 1],
      [0, 0],
    ],
  },
  { name: '3x3 s3 valid (rows dropped)', x: [2, 11, 11, 2], k: [3, 3], cout: 3, strides: [3, 3], pad: 'valid' },
  { name: '3x3 dilation 2 same', x: [2, 9, 9, 4], k: [3, 3], cout: 6, strides: [1, 1], pad: 'same', dilations: [2, 2], forwardOnly: true },
  { name: 'depthwise 3x3 s1 same, multiplier 2', x: [2, 8, 8, 6], k: [3, 3], cout: 2, strides: [1, 1], pad: 'same', depthwise: true },
  { name: 'depthwise 3x3 s2 valid', x: [2, 9, 9, 4], k: [3, 3], cout: 1, strides: [2, 2], pad: 'valid', depthwise: true },
];

function rng(seed: number) {
  return () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
}

/** Forward output and both gradients of sum(conv(x, w) * r) on one backend. */
function run(backend: string, c: Case, xv: Float32Array, wv: Float32Array, rv: Float32Array) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x);
    const w = tf.tensor4d(wv, [c.k[0], c.k[1], c.x[3], c.cout]);
    const conv = (xx: tf.Tensor4D, ww: tf.Tensor4D) =>
      c.depthwise
        ? tf.depthwiseConv2d(xx, ww, c.strides, c.pad as 'same', 'NHWC', c.dilations ?? [1, 1])
        : tf.conv2d(xx, ww, c.strides, c.pad, 'NHWC', c.dilations ?? [1, 1]);
    const y = conv(x, w);
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => {
      const yy = conv(xx, ww);
      return tf.sum(tf.mul(yy, tf.tensor(rv.subarray(0, yy.size), yy.shape)));
    };
    if (c.forwardOnly) return { y: y.dataSync() as Float32Array, gx: new Float32Array(0), gw: new Float32Array(0) };
    const [gx, gw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w]) as [tf.Tensor, tf.Tensor];
    return { y: y.dataSync() as Float32Array, gx: gx.dataSync() as Float32Array, gw: gw.dataSync() as Float32Array };
  });
}

const TOL = 1e-4;

describe('native oneDNN convolutions equal the cpu backend' + skipNote, () => {
  beforeAll(async () => {
    const choice = await selectBackend('wasm');
    expect(choice.name).toBe('wasm');
    if (addonLoaded) {
      expect(choice.convolutions).toBe('native oneDNN convolutions');
      expect(describeBackend(choice)[0]).toMatch(/^backend: wasm \+ native oneDNN convolutions/);
    }
  });

  for (const c of cases) {
    const what = c.forwardOnly ? 'forward' : 'forward, input gradient, filter gradient';
    it.skipIf(!addonLoaded)(`${c.name}: ${what} within ${TOL} relative${skipNote}`, () => {
      const r = rng(7);
      const xv = Float32Array.from({ length: c.x.reduce((a, b) => a * b) }, r);
      const wv = Float32Array.from({ length: c.k[0] * c.k[1] * c.x[3] * c.cout }, r);
      const rv = Float32Array.from({ length: c.x[0] * c.x[1] * c.x[2] * c.x[3] * c.cout }, r);
      const ref = run('cpu', c, xv, wv, rv);
      const before = nativeCounters.native;
      const fallbacksBefore = nativeCounters.fallback;
      const got = run('wasm', c, xv, wv, rv);
      // forward (twice: once plain, once under the tape) + input gradient + filter gradient
      expect(nativeCounters.native - before).toBe(c.forwardOnly ? 1 : c.filterGradOnWasm ? 3 : 4);
      expect(nativeCounters.fallback - fallbacksBefore).toBe(c.filterGradOnWasm ? 1 : 0);
      expect(got.y.length).toBe(ref.y.length);
      expect(got.gx.length).toBe(ref.gx.length);
      expect(got.gw.length).toBe(ref.gw.length);
      expect(relErr(got.y, ref.y)).toBeLessThan(TOL);
      expect(relErr(got.gx, ref.gx)).toBeLessThan(TOL);
      expect(relErr(got.gw, ref.gw)).toBeLessThan(TOL);
    });
  }

  it.skipIf(!addonLoaded)(`fused conv + bias + relu (what tfjs-layers' Conv2D calls) matches cpu${skipNote}`, () => {
    const r = rng(3);
    const xs: [number, number, number, number] = [2, 7, 7, 5];
    const xv = Float32Array.from({ length: 2 * 7 * 7 * 5 }, r);
    const wv = Float32Array.from({ length: 3 * 3 * 5 * 6 }, r);
    const bv = Float32Array.from({ length: 6 }, r);
    const go = (backend: string, activation: 'relu' | 'linear') => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xv, xs);
        const w = tf.tensor4d(wv, [3, 3, 5, 6]);
        const b = tf.tensor1d(bv);
        const fwd = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
          tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: 2, pad: 'same', bias: bb, activation });
        const y = fwd(x, w, b);
        const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.square(fwd(xx, ww, bb))))([x, w, b]);
        return [y, ...g].map((t) => t.dataSync() as Float32Array);
      });
    };
    for (const act of ['relu', 'linear'] as const) {
      const ref = go('cpu', act);
      const got = go('wasm', act);
      for (let i = 0; i < ref.length; i++) expect(relErr(got[i]!, ref[i]!), `${act} output ${i}`).toBeLessThan(TOL);
    }
  });

  it.skipIf(!addonLoaded)(`falls back to the wasm kernel for activations oneDNN is not given (elu)${skipNote}`, () => {
    tf.setBackend('wasm');
    const before = nativeCounters.fallback;
    const y = tf.tidy(() =>
      tf.fused
        .conv2d({ x: tf.ones([1, 4, 4, 2]) as tf.Tensor4D, filter: tf.ones([3, 3, 2, 2]) as tf.Tensor4D, strides: 1, pad: 'same', activation: 'elu' })
        .dataSync(),
    );
    expect(nativeCounters.fallback).toBe(before + 1);
    expect(y[10]).toBeCloseTo(18, 5); // interior pixel: 3x3x2 ones
  });

  it.skipIf(!addonLoaded)(`frees every intermediate tensor${skipNote}`, () => {
    tf.setBackend('wasm');
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
    tf.dispose(g([x, w]));
    const ids = () => (tf.backend() as unknown as { dataIdMap: { numDataIds(): number } }).dataIdMap.numDataIds();
    const before = ids();
    tf.dispose(g([x, w]));
    expect(ids()).toBe(before);
    tf.dispose([x, w]);
  });
});

describe('native batch norm equals the JS batch norm on the cpu backend' + skipNote, () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  for (const shape of [
    [4, 6, 6, 16],
    [3, 5, 7, 3],
    [2, 4, 4, 64],
  ] as [number, number, number, number][]) {
    it.skipIf(!addonLoaded)(`training forward, dx, dgamma, dbeta and running statistics for ${shape.join('x')} within ${TOL}${skipNote}`, () => {
      const r = rng(11);
      const c = shape[3];
      const size = shape.reduce((a, b) => a * b);
      // An offset mean and unequal scales, so the statistics matter.
      const xv = Float32Array.from({ length: size }, (_, i) => 3 + r() * (1 + (i % c)));
      const gv = Float32Array.from({ length: c }, () => 1 + 0.5 * r());
      const bv = Float32Array.from({ length: c }, r);
      const wv = Float32Array.from({ length: size }, r);
      const go = (backend: string) => {
        tf.setBackend(backend);
        const bn = new TorchBatchNorm({ name: `bn_${backend}_${shape.join('x')}` });
        bn.build(shape);
        bn.setWeights([tf.tensor1d(gv), tf.tensor1d(bv), tf.zeros([c]), tf.ones([c])]);
        const x = tf.variable(tf.tensor4d(xv, shape));
        const wt = tf.tensor4d(wv, shape);
        const vars = [x, ...bn.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val)];
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(bn.apply(x, { training: true }) as tf.Tensor, wt)) as tf.Scalar, vars);
        const out = [value, ...vars.map((v) => grads[v.name]!)].map((t) => t.dataSync() as Float32Array);
        const running = bn
          .getWeights()
          .slice(2)
          .map((t) => t.dataSync() as Float32Array);
        tf.dispose([x, wt, value, ...Object.values(grads)]);
        return { out, running };
      };
      const ref = go('cpu');
      const before = nativeCounters.batchNorm;
      const got = go('wasm');
      expect(nativeCounters.batchNorm).toBeGreaterThan(before);
      for (const [i, what] of ['sum(y * w)', 'dx', 'dgamma', 'dbeta'].entries()) {
        expect(relErr(got.out[i]!, ref.out[i]!), what).toBeLessThan(TOL);
      }
      expect(relErr(got.running[0]!, ref.running[0]!), 'running mean').toBeLessThan(TOL);
      expect(relErr(got.running[1]!, ref.running[1]!), 'running variance').toBeLessThan(TOL);
    });
  }
});

describe('native ReLU gradient' + skipNote, () => {
  it.skipIf(!addonLoaded)(`equals the cpu backend's (zero at and below 0)${skipNote}`, async () => {
    await selectBackend('wasm');
    const r = rng(5);
    const xv = Float32Array.from({ length: 3 * 5 * 5 * 7 }, (_, i) => (i % 11 === 0 ? 0 : r()));
    const dv = Float32Array.from({ length: xv.length }, r);
    const on = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xv, [3, 5, 5, 7]);
        const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.relu(xx), tf.tensor4d(dv, [3, 5, 5, 7]))))(x);
        return g.dataSync() as Float32Array;
      });
    };
    // Equal values; tfjs's dy * 0 gives -0 where dy < 0, the native kernel +0 (v + 0 maps -0 to 0).
    const plain = (a: Float32Array) => Array.from(a, (v) => v + 0);
    expect(plain(on('wasm'))).toEqual(plain(on('cpu')));
  });
});

// ---- MaxPoolGrad against PyTorch's max_pool2d backward in float64, native and JS kernels alike.
const PYTHON = '/usr/bin/python3';
const torchOk = pythonHas('torch');
const torchNote = torchOk ? '' : ` [skipped: ${PYTHON} cannot import torch (apt-get install python3-torch)]`;

interface PoolCase {
  name: string;
  x: [number, number, number, number];
  k: [number, number];
  strides: [number, number];
  /** tfjs's pad: 'same', 'valid' or a number (symmetric, which then allows ceil). */
  pad: 'same' | 'valid' | number;
  ceil?: boolean;
  /** netc's lowering of a padded max pool: -inf rows and columns around x, then the pool. */
  negInfPad?: number;
}

const poolCases: PoolCase[] = [
  { name: '2x2 s2 valid', x: [4, 8, 8, 3], k: [2, 2], strides: [2, 2], pad: 'valid' },
  { name: "3x3 s1 'same' (GoogLeNet's inception pool branch), overlapping windows", x: [2, 7, 7, 16], k: [3, 3], strides: [1, 1], pad: 'same' },
  { name: "3x3 s2 'same' on odd/even sizes (asymmetric pads)", x: [3, 9, 8, 5], k: [3, 3], strides: [2, 2], pad: 'same' },
  { name: '3x3 s2 pad 1 (floor)', x: [2, 9, 9, 6], k: [3, 3], strides: [2, 2], pad: 1 },
  { name: '3x3 s2 ceil mode (GoogLeNet/torchvision ceil_mode=True)', x: [2, 8, 8, 6], k: [3, 3], strides: [2, 2], pad: 0, ceil: true },
  { name: '3x3 s2 pad 1, ceil mode', x: [3, 10, 10, 4], k: [3, 3], strides: [2, 2], pad: 1, ceil: true },
  { name: '3x3 s2 over a -inf padded input (netc maxpool pad=1)', x: [2, 9, 9, 6], k: [3, 3], strides: [2, 2], pad: 'valid', negInfPad: 1 },
  { name: '2x3 window, strides 1x2 (rectangular)', x: [2, 6, 9, 5], k: [2, 3], strides: [1, 2], pad: 'valid' },
  { name: "3x3 s1 'same', batch 8, 64 channels (the threaded path)", x: [8, 14, 14, 64], k: [3, 3], strides: [1, 1], pad: 'same' },
];

/** x with `p` rows and columns of -inf around it (NHWC), as netc's NegInfPadding2D. */
function padNegInf(x: Float32Array, [n, h, w, c]: [number, number, number, number], p: number): Float32Array {
  const [hp, wp] = [h + 2 * p, w + 2 * p];
  const out = new Float32Array(n * hp * wp * c).fill(-Infinity);
  for (let b = 0; b < n; b++) for (let i = 0; i < h; i++) out.set(x.subarray((b * h + i) * w * c, (b * h + i + 1) * w * c), ((b * hp + i + p) * wp + p) * c);
  return out;
}

/** The inverse crop of padNegInf (the gradient of the padding is dropped). */
function cropPad(d: Float32Array, [n, h, w, c]: [number, number, number, number], p: number): Float32Array {
  const [hp, wp] = [h + 2 * p, w + 2 * p];
  const out = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++) out.set(d.subarray(((b * hp + i + p) * wp + p) * c, ((b * hp + i + p) * wp + p + w) * c), (b * h + i) * w * c);
  return out;
}

describe(`MaxPoolGrad against PyTorch's max_pool2d backward (float64)${skipNote}${torchNote}`, () => {
  const r = rng(11);
  // Small integers after a ReLU: most windows hold ties (all-zero windows, repeated maxima), where
  // only PyTorch's rule (the first maximum in row-major order) gives its gradient.
  const data = poolCases.map((c) => {
    const p = c.negInfPad ?? 0;
    const inShape = [c.x[0], c.x[1] + 2 * p, c.x[2] + 2 * p, c.x[3]];
    const attrs = { filterSize: c.k, strides: c.strides, pad: c.pad, dimRoundingMode: c.ceil ? 'ceil' : undefined };
    // tfjs's own geometry with the rounding mode (the gradient kernel gets dy's size instead, see maxPoolGradInfo).
    const f = tf.backend_util.computePool2DInfo(
      inShape as [number, number, number, number],
      c.k,
      c.strides,
      1,
      c.pad,
      attrs.dimRoundingMode as 'ceil' | undefined,
    );
    const g = maxPoolGradInfo(tf, inShape, [c.x[0], f.outHeight, f.outWidth, c.x[3]], attrs);
    const x = Float32Array.from({ length: c.x.reduce((a, b) => a * b) }, () => Math.max(0, Math.round(3 * r())));
    const dy = Float32Array.from({ length: c.x[0] * g.outHeight * g.outWidth * c.x[3] }, r);
    return { c, p, inShape, attrs, g, x, dy };
  });
  let want: { shape: number[]; dx: number[] }[] = [];

  beforeAll(async () => {
    await selectBackend('wasm');
    tf.setBackend('wasm'); // the tests above leave the cpu backend current
    if (!torchOk) return;
    const input = data.map(({ c, p, g, x, dy }) => ({
      x: [...x],
      shape: c.x,
      k: c.k,
      stride: c.strides,
      padding: c.pad === 'same' ? [g.padInfo.top, g.padInfo.bottom, g.padInfo.left, g.padInfo.right] : typeof c.pad === 'number' ? [c.pad, c.pad] : [p, p],
      ceil: c.ceil ?? false,
      dy: [...dy],
    }));
    const ref = spawnSync(PYTHON, [join(ROOT, 'test', 'runtime', 'maxpool_reference.py')], {
      input: JSON.stringify(input),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(ref.status, ref.stderr).toBe(0);
    want = JSON.parse(ref.stdout);
  });

  data.forEach(({ c, p, inShape, attrs, g, x, dy }, i) => {
    it.skipIf(!addonLoaded || !torchOk)(`${c.name}: native kernel${skipNote}${torchNote}`, () => {
      const outShape = [c.x[0], g.outHeight, g.outWidth, c.x[3]];
      expect(outShape, 'tfjs and PyTorch agree on the output size').toEqual(want[i]!.shape);
      const before = nativeCounters.maxPoolGrad;
      const got = tf.tidy(() => {
        const f = (xx: tf.Tensor) => {
          const padded = (
            p
              ? tf.pad(
                  xx,
                  [
                    [0, 0],
                    [p, p],
                    [p, p],
                    [0, 0],
                  ],
                  -Infinity,
                )
              : xx
          ) as tf.Tensor4D;
          const y = tf.maxPool(padded, c.k, c.strides, c.pad, attrs.dimRoundingMode as 'ceil' | undefined);
          return tf.sum(tf.mul(y, tf.tensor4d(dy, outShape as [number, number, number, number])));
        };
        return tf.grad(f)(tf.tensor4d(x, c.x)).dataSync() as Float32Array;
      });
      expect(nativeCounters.maxPoolGrad, 'the native kernel ran').toBe(before + 1);
      expect(relErr(got, Float32Array.from(want[i]!.dx))).toBeLessThan(1e-6);
    });
    it.skipIf(!torchOk)(`${c.name}: JS kernel (the fallback)${torchNote}`, () => {
      const xIn = p ? padNegInf(x, c.x, p) : x;
      const dxIn = new Float32Array(xIn.length);
      maxPoolBackward(xIn, dy, dxIn, inShape, g);
      const got = p ? cropPad(dxIn, c.x, p) : dxIn;
      expect(relErr(got, Float32Array.from(want[i]!.dx))).toBeLessThan(1e-6);
    });
  });
});

describe(`native matrix products (dense layers and their gradients) against the float64 definition${skipNote}`, () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });
  /** C = op(A) op(B) in float64, op transposing where asked. */
  const product = (a: Float32Array, b: Float32Array, m: number, k: number, n: number, ta: boolean, tb: boolean) => {
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += (ta ? a[p * m + i]! : a[i * k + p]!) * (tb ? b[j * k + p]! : b[p * n + j]!);
        c[i * n + j] = sum;
      }
    }
    return c;
  };
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [7, 33, 5],
    [64, 400, 120],
    [2, 2048, 10],
  ];
  for (const [m, k, n] of shapes) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      it.skipIf(!addonLoaded)(`[${m}x${k}]${ta ? 't' : ''} . [${k}x${n}]${tb ? 't' : ''} within 1e-5 relative, natively${skipNote}`, () => {
        const r = rng(11);
        const a = Float32Array.from({ length: m * k }, r);
        const b = Float32Array.from({ length: k * n }, r);
        const before = nativeCounters.matMul;
        const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, ta ? [k, m] : [m, k]), tf.tensor2d(b, tb ? [n, k] : [k, n]), ta, tb).dataSync());
        expect(nativeCounters.matMul, 'the native kernel ran').toBe(before + 1);
        expect(relErr(Float32Array.from(got), Float32Array.from(product(a, b, m, k, n, ta, tb)))).toBeLessThan(1e-5);
      });
    }
  }
  it.skipIf(!addonLoaded)(`a dense layer's fused product + bias + ReLU, natively; batched products (attention) on wasm${skipNote}`, () => {
    const r = rng(12);
    const [m, k, n] = [16, 50, 9];
    const [a, w, bias] = [Float32Array.from({ length: m * k }, r), Float32Array.from({ length: k * n }, r), Float32Array.from({ length: n }, r)];
    const before = { ...nativeCounters };
    const got = tf.tidy(() =>
      tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(w, [k, n]), bias: tf.tensor1d(bias), activation: 'relu' }).dataSync(),
    );
    const want = product(a, w, m, k, n, false, false).map((v, i) => Math.max(0, v + bias[i % n]!));
    expect(nativeCounters.matMul).toBe(before.matMul + 1);
    expect(relErr(Float32Array.from(got), Float32Array.from(want))).toBeLessThan(1e-5);
    tf.tidy(() => tf.matMul(tf.ones([3, 4, 5]), tf.ones([3, 5, 2])).dataSync());
    expect(nativeCounters.matMul).toBe(before.matMul + 1);
    expect(nativeCounters.fallback).toBe(before.fallback + 1);
  });
});

describe('native addon surface' + skipNote, () => {
  it('loading never throws and always gives a reason', () => {
    expect(typeof native.reason).toBe('string');
    expect(native.reason.length).toBeGreaterThan(0);
  });

  it.skipIf(!addonLoaded)(`works in place on views into a larger buffer (as into the wasm heap)${skipNote}`, () => {
    const addon = native.addon!;
    const heap = new Float32Array(64).fill(-1);
    const x = heap.subarray(3, 3 + 8); // [1, 2, 2, 2]
    x.set([1, 2, 3, 4, 5, 6, 7, 8]);
    const w = heap.subarray(20, 22); // 1x1, 2 in, 1 out
    w.set([10, 1]);
    const y = heap.subarray(40, 44);
    addon.conv2d(0, x, w, null, y, packConvParams(ONE_BY_ONE));
    expect(Array.from(y)).toEqual([12, 34, 56, 78]);
    expect(heap[39]).toBe(-1);
    expect(heap[44]).toBe(-1);
  });

  it.skipIf(!addonLoaded)(`rejects wrong sizes and parameters with clear errors${skipNote}`, () => {
    const addon = native.addon!;
    const p = packConvParams(ONE_BY_ONE);
    expect(() => addon.conv2d(0, new Float32Array(7), new Float32Array(2), null, new Float32Array(4), p)).toThrow(/x: expected 8 elements, got 7/);
    expect(() => addon.conv2d(0, new Float32Array(8), new Float32Array(2), null, new Float32Array(4), new Int32Array(3))).toThrow(
      `an Int32Array of ${CONV_PARAMS.length} conv parameters`,
    );
    const bad = packConvParams({ ...ONE_BY_ONE, oh: 3 }); // output height inconsistent with input and pads
    expect(() => addon.conv2d(0, new Float32Array(8), new Float32Array(2), null, new Float32Array(6), bad)).toThrow(/output size/);
    expect(() => addon.conv2d(0, new Float64Array(8) as unknown as Float32Array, new Float32Array(2), null, new Float32Array(4), p)).toThrow(/Float32Array/);
  });
});

describe('training through the native kernels' + skipNote, () => {
  // Regression: oneDNN's weight gradient of a strided 1x1 conv (8 -> 16 channels at 28x28) corrupted
  // memory and killed most training runs with SIGSEGV/SIGABRT; native.ts now leaves it to wasm.
  it.skipIf(!addonLoaded)(
    `trains a net with a strided 1x1 conv, three times, without a crash${skipNote}`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'netc-native-1x1-'));
      try {
        const net = join(dir, 'strided1x1.net');
        writeFileSync(net, 'net t(classes=10) : [1, 28, 28] < conv 8 k=3 pad=1; conv 16 k=1 stride=2 bias=false; gap; linear classes >\n');
        for (let i = 0; i < 3; i++) {
          const r = spawnSync(
            process.execPath,
            [join(ROOT, 'bin', 'netc.js'), 'train', net, '--subset', '512', '--epochs', '1', '--batch-size', '64', '--out', join(dir, `run${i}`)],
            { encoding: 'utf8' },
          );
          expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});
