/**
 * src/runtime/remat.ts: on wasm, saved outputs of batch norm and ReLU are freed during the forward
 * pass and recomputed in backprop. Same loss, gradients and running statistics to the bit as keeping
 * them, nothing leaked, and fewer bytes live in the wasm heap at the peak of a step.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { compileSource } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { recomputation } from '../../src/runtime/remat.js';
import { trackWasmHeap } from './wasm-heap.js';

// conv-bn-relu chains (ResNet), bn-relu before a conv on concatenated features (DenseNet), a ReLU
// after a residual add (its input is kept by nobody: nothing to gain, so it must stay).
const SOURCE = `
block Res(c) < conv c k=3 pad=1 bias=false; bn; relu; conv c k=3 pad=1 bias=false; bn > + shortcut; relu
block Dense(k) identity ++ < bn; relu; conv 2*k k=1 bias=false; bn; relu; conv k k=3 pad=1 bias=false >
net t(classes=5) : [3, 16, 16] <
  conv 16 k=3 pad=1 bias=false; bn; relu
  Res(16); Res(16); Dense(8); Dense(8); Dense(8); bn; relu
  gap; linear classes
>`;

function step(recompute: boolean) {
  recomputation.enabled = recompute;
  const graph = compileSource(SOURCE, 't.net').graphs[0]!;
  const { model } = lowerGraph(graph, { seed: 3 });
  const x = tf.randomNormal([8, 16, 16, 3], 0, 1, 'float32', 7);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 4, 3, 3, 1, 0], 'int32'), 5);
  const vars = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const before = tf.memory().numTensors;
  const heap = trackWasmHeap();
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(x, { training: true }) as tf.Tensor;
    return tf.losses.softmaxCrossEntropy(y, out) as tf.Scalar;
  }, vars);
  heap.restore();
  const result = {
    loss: value.dataSync()[0],
    grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array),
    running: model.weights.filter((w) => /moving/.test(w.name)).map((w) => w.read().dataSync() as Float32Array),
    peak: heap.live.peak,
  };
  const leaked = tf.memory().numTensors - before - 1 - vars.length; // value and one gradient per variable
  tf.dispose([value, x, y, ...Object.values(grads)]);
  model.dispose();
  recomputation.enabled = true;
  return { ...result, leaked };
}

describe('recomputing batch norm and ReLU outputs on wasm', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('gives the same loss, gradients and running statistics to the bit, leaks nothing, and peaks lower', () => {
    step(false); // warm-up: kernels' one-time allocations
    const kept = step(false);
    const recomputed = step(true);
    expect(recomputed.loss).toBe(kept.loss);
    expect(recomputed.grads.length).toBe(kept.grads.length);
    recomputed.grads.forEach((g, i) => expect([...g], `gradient ${i}`).toEqual([...kept.grads[i]!]));
    expect(recomputed.running.length).toBeGreaterThan(0);
    recomputed.running.forEach((r, i) => expect([...r], `running statistic ${i}`).toEqual([...kept.running[i]!]));
    expect(recomputed.leaked).toBe(0);
    expect(kept.leaked).toBe(0);
    expect(recomputed.peak).toBeLessThan(kept.peak * 0.9);
  });
});
