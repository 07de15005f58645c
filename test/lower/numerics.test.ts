import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { IRBuilder } from '../../src/lower/ir-builder.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { testBackend } from '../backend.js';

// The lowering's numerics on hand-computable cases, on each backend (vitest.config.ts: one project
// per backend): padding, stride and layout conventions must hold on all of them.
const B = await testBackend();

/** Sets every weight of a lowered model to `v`. */
function fill(model: import('@tensorflow/tfjs-layers').LayersModel, v: number) {
  for (const l of model.layers) l.setWeights(l.getWeights().map((w) => tf.fill(w.shape, v)));
}

describe.skipIf(!B.ok)(`numerics on hand-computable cases on ${B.label}${B.skip}`, () => {
  beforeAll(B.select);
  it('max-pool pads with -inf, not zeros', () => {
    const b = new IRBuilder('p', [1, 2, 2]);
    b.pool(0, 'pool', 'maxpool', 3, { stride: 1, pad: 1 });
    const { model } = lowerGraph(b.build());
    const y = model.predict(tf.tensor4d([-1, -2, -3, -4], [1, 2, 2, 1])) as tf.Tensor;
    expect([...y.dataSync()]).toEqual([-1, -1, -1, -1]);
  });
  it('avg-pool counts the zero padding (count_include_pad)', () => {
    const b = new IRBuilder('p', [1, 2, 2]);
    b.pool(0, 'pool', 'avgpool', 2, { stride: 2, pad: 1 });
    const { model } = lowerGraph(b.build());
    const y = model.predict(tf.tensor4d([4, 8, 12, 16], [1, 2, 2, 1])) as tf.Tensor;
    expect([...y.dataSync()]).toEqual([1, 2, 3, 4]);
  });
  it('stride-2 conv pads symmetrically like PyTorch (tfjs same would pad only bottom/right)', () => {
    const b = new IRBuilder('c', [1, 4, 4]);
    b.conv(0, 'conv', 1, 3, { stride: 2, pad: 1, bias: false });
    const { model } = lowerGraph(b.build());
    fill(model, 1);
    const x = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i + 1),
      [1, 4, 4, 1],
    );
    // Windows centred on (0,0), (0,2), (2,0), (2,2) of the 1-padded 4x4 input 1..16.
    expect([...(model.predict(x) as tf.Tensor).dataSync()]).toEqual([
      1 + 2 + 5 + 6,
      2 + 3 + 4 + 6 + 7 + 8,
      5 + 6 + 9 + 10 + 13 + 14,
      6 + 7 + 8 + 10 + 11 + 12 + 14 + 15 + 16,
    ]);
  });
  it('shortcut projection, add and concat', () => {
    const b = new IRBuilder('m', [1, 2, 2]);
    const p = b.conv(0, 'proj', 2, 1, { stride: 2, bias: false });
    const q = b.conv(0, 'q', 2, 2, { stride: 2, bias: false });
    const s = b.merge('add', 'add', [p, q]);
    b.merge('concat', 'cat', [s, p]);
    const { model } = lowerGraph(b.build());
    fill(model, 1);
    const y = model.predict(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])) as tf.Tensor;
    expect(y.shape).toEqual([1, 1, 1, 4]);
    expect([...y.dataSync()]).toEqual([11, 11, 1, 1]);
  });
  it('SE scaling multiplies each channel by its gate', () => {
    const b = new IRBuilder('se', [2, 1, 2]);
    const g = b.act(b.gap(0, 'gap'), 'sig', 'sigmoid');
    b.merge('scale', 'scale', [0, g]);
    const { model } = lowerGraph(b.build());
    const x = tf.tensor4d([0, 10, 0, 10], [1, 1, 2, 2]); // channel 0 all 0, channel 1 all 10
    const y = [...(model.predict(x) as tf.Tensor).dataSync()];
    const s10 = 10 / (1 + Math.exp(-10));
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(s10, 4);
  });
  it('flatten follows PyTorch C,H,W order', () => {
    const b = new IRBuilder('f', [2, 1, 2]);
    b.flatten(0, 'flatten');
    const { model } = lowerGraph(b.build());
    // NHWC input: pixel0 = (c0=1, c1=2), pixel1 = (c0=3, c1=4); CHW order is c0: 1,3 then c1: 2,4.
    expect([...(model.predict(tf.tensor4d([1, 2, 3, 4], [1, 1, 2, 2])) as tf.Tensor).dataSync()]).toEqual([1, 3, 2, 4]);
  });
});
