import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { selectBackend } from '../../src/runtime/backend.js';
import { relErr } from './rel-err.js';

// These tests are for the wasm shims in src/runtime/wasm-kernels.ts; keep the optional native oneDNN
// convolutions (tested in native-kernels.test.ts) from replacing them in this process.
process.env.NETC_NATIVE = '0';

interface Case {
  name: string;
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  strides: [number, number];
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
  dilations?: [number, number];
}

const cases: Case[] = [
  { name: '3x3 s1 same', x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: [1, 1], pad: 'same' },
  { name: '3x3 s2 same (asymmetric pad)', x: [2, 8, 8, 3], k: [3, 3], cout: 5, strides: [2, 2], pad: 'same' },
  { name: '3x3 s2 valid odd', x: [3, 9, 7, 2], k: [3, 3], cout: 4, strides: [2, 2], pad: 'valid' },
  { name: '1x1 s2 valid (projection)', x: [2, 8, 8, 4], k: [1, 1], cout: 6, strides: [2, 2], pad: 'valid' },
  {
    name: '7x7 s2 explicit pad 3',
    x: [2, 16, 16, 3],
    k: [7, 7],
    cout: 4,
    strides: [2, 2],
    pad: [
      [0, 0],
      [3, 3],
      [3, 3],
      [0, 0],
    ],
  },
  {
    name: '5x3 s1x2 explicit',
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
  { name: '3x3 s2 same odd size', x: [2, 9, 11, 3], k: [3, 3], cout: 3, strides: [2, 2], pad: 'same' },
  { name: '3x3 s3 rows dropped', x: [2, 11, 11, 2], k: [3, 3], cout: 3, strides: [3, 3], pad: 'valid' },
];

function gradsOn(backend: string, c: Case, xv: Float32Array, wv: Float32Array, rv: Float32Array) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x);
    const w = tf.tensor4d(wv, [c.k[0], c.k[1], c.x[3], c.cout]);
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => {
      const y = tf.conv2d(xx, ww, c.strides, c.pad, 'NHWC', c.dilations ?? [1, 1]);
      // A random linear functional of y, so every element of dy differs.
      return tf.sum(tf.mul(y, tf.tensor(rv.subarray(0, y.size), y.shape)));
    };
    const [gx, gw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w]) as [tf.Tensor, tf.Tensor];
    return { gx: gx.dataSync() as Float32Array, gw: gw.dataSync() as Float32Array };
  });
}

describe('wasm conv gradients equal the cpu backend', () => {
  beforeAll(async () => {
    const c = await selectBackend('wasm');
    expect(c.name).toBe('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });
  for (const c of cases) {
    it(c.name, () => {
      let seed = 1;
      const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
      const xv = Float32Array.from({ length: c.x.reduce((a, b) => a * b) }, rnd);
      const wv = Float32Array.from({ length: c.k[0] * c.k[1] * c.x[3] * c.cout }, rnd);
      const rv = Float32Array.from({ length: c.x[0] * c.x[1] * c.x[2] * c.cout }, rnd);
      const ref = gradsOn('cpu', c, xv, wv, rv);
      const got = gradsOn('wasm', c, xv, wv, rv);
      expect(got.gw.length).toBe(ref.gw.length);
      expect(got.gx.length).toBe(ref.gx.length);
      expect(relErr(got.gw, ref.gw)).toBeLessThan(1e-5);
      expect(relErr(got.gx, ref.gx)).toBeLessThan(1e-5);
    });
  }
  it('frees every intermediate tensor', () => {
    tf.setBackend('wasm');
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
    tf.dispose(g([x, w]));
    const before = (tf.backend() as unknown as { dataIdMap: { numDataIds(): number } }).dataIdMap.numDataIds();
    tf.dispose(g([x, w]));
    const after = (tf.backend() as unknown as { dataIdMap: { numDataIds(): number } }).dataIdMap.numDataIds();
    expect(after).toBe(before);
    tf.dispose([x, w]);
  });
});

describe('wasm Slice (contiguous-run copy) equals the cpu backend', () => {
  const cases: [number[], number[], number[]][] = [
    [
      [2, 6, 6, 4],
      [0, 1, 1, 0],
      [2, 4, 4, 4],
    ], // a zero-padding layer's gradient
    [
      [3, 5, 7, 2],
      [1, 0, 2, 1],
      [2, 5, 3, 1],
    ],
    [
      [4, 3, 3, 8],
      [1, 0, 0, 0],
      [2, -1, -1, -1],
    ], // whole trailing axes: one run per batch row
    [[10], [3], [4]],
    [
      [5, 6],
      [2, 1],
      [3, 0],
    ], // empty
    [
      [2, 3, 4, 5, 6],
      [1, 1, 0, 2, 3],
      [1, 2, 4, 2, 3],
    ],
  ];
  for (const [shape, begin, size] of cases) {
    for (const dtype of ['float32', 'int32'] as const) {
      it(`${shape.join('x')} begin ${begin} size ${size} (${dtype})`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const vals = Array.from({ length: n }, (_, i) => (dtype === 'int32' ? i : i * 0.5 - 7));
        const on = (backend: string) => {
          tf.setBackend(backend);
          return tf.tidy(() => Array.from(tf.slice(tf.tensor(vals, shape, dtype), begin, size).dataSync()));
        };
        expect(on('wasm')).toEqual(on('cpu'));
      });
    }
  }
});

describe('backend selection', () => {
  it('explains why optional native backends were skipped', async () => {
    // Node backends are optional dependencies; offline they are absent and must be skipped, not crash.
    const { BACKENDS } = await import('../../src/runtime/backend.js');
    expect(BACKENDS).toEqual(['node-gpu', 'node', 'wasm', 'cpu']);
  });
  it('rejects an unknown backend name with a one-line message', async () => {
    await expect(selectBackend('tpu')).rejects.toThrow(/unknown backend 'tpu'/);
  });
});
