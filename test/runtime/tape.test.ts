/**
 * src/runtime/tape.ts (backprop that frees as it goes) and the lowering's release of layer outputs
 * during a training forward pass: the same gradients as tfjs's own backprop, to the bit, with fewer
 * bytes alive at the peak and nothing leaked.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { compileSource } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { eagerBackprop } from '../../src/runtime/tape.js';

// Residual add, concat (DenseNet/Inception style), batch norm, ReLU, -inf-padded max pool, a grouped
// conv, dropout-free so that two runs see the same forward pass.
const SOURCE = `
block Res(c) < conv c k=3 pad=1 bias=false; bn; relu; conv c k=3 pad=1 bias=false; bn > + shortcut; relu
block Dense(k) identity ++ < bn; relu; conv k k=3 pad=1 bias=false >
net t(classes=5) : [3, 12, 12] <
  conv 8 k=3 pad=1; bn; relu; maxpool 3 stride=2 pad=1
  Res(8); Dense(4); Dense(4); conv 16 k=1 groups=2; bn; relu
  [ <conv 8 k=1> | <maxpool 3 stride=1 pad=1; conv 8 k=1> ]
  gap; linear classes
>`;

function step(eager: boolean) {
  eagerBackprop.enabled = eager;
  const graph = compileSource(SOURCE, 't.net').graphs[0]!;
  const { model } = lowerGraph(graph, { seed: 3 });
  const x = tf.randomNormal([4, 12, 12, 3], 0, 1, 'float32', 7);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 4], 'int32'), 5);
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(x, { training: true }) as tf.Tensor;
    return tf.losses.softmaxCrossEntropy(y, out) as tf.Scalar;
  }, vars);
  const result = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array) };
  const leaked = tf.memory().numTensors - before - 1 - vars.length; // value and one gradient per variable
  tf.dispose([value, x, y, ...Object.values(grads)]);
  model.dispose();
  eagerBackprop.enabled = true;
  return { ...result, leaked };
}

/** tf.profile's peak (it counts a tensor sharing another's data again: comparable, not absolute). */
async function peakBytes(eager: boolean): Promise<number> {
  const info = await tf.profile(() => {
    step(eager);
  });
  return info.peakBytes;
}

describe('eager backprop', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it("gives tfjs's gradients to the bit and leaks no tensor", () => {
    const stock = step(false);
    const eager = step(true);
    expect(eager.loss).toBe(stock.loss);
    expect(eager.grads.length).toBe(stock.grads.length);
    eager.grads.forEach((g, i) => expect([...g]).toEqual([...stock.grads[i]!]));
    expect(eager.leaked).toBe(0);
    expect(stock.leaked).toBe(0);
  });

  it('holds fewer bytes at the peak of a step', async () => {
    const stock = await peakBytes(false);
    const eager = await peakBytes(true);
    expect(eager).toBeLessThan(stock * 0.8);
  });
});
