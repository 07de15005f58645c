/**
 * src/runtime/remat.ts: on wasm, saved outputs of batch norm and ReLU are freed during the forward
 * pass and recomputed in backprop. Same loss, gradients and running statistics to the bit as keeping
 * them, nothing leaked, and fewer bytes live in the wasm heap at the peak of a step. Also over
 * several SGD steps for nets that reshape a recomputed output (on wasm a reshape shares its input's
 * data, so the forward pass still reads it through the reshape after the output itself is released:
 * issue 17, found by test/property/check-train.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { compileSource } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { recomputation } from '../../src/runtime/remat.js';
import { lossOf } from '../../src/train/loop.js';
import { makeOptim } from '../../src/train/optim.js';
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
  recomputation.enabled = false;
  return { ...result, leaked };
}

// A recomputed output read afterwards through a reshape that shares its data: channel_shuffle's
// [H, W, g, C/g] view (the property test's net, then a ShuffleNet-like conv-bn-relu-shuffle-conv),
// and flatten of a [C, 1, 1] map (a plain reshape in channels-last).
const RESHAPED = [
  'net t(classes=5) : [2, 9, 11] < bn; channel_shuffle 2; flatten; linear classes >',
  'net t(classes=5) : [4, 6, 5] < conv 4 k=1; bn; relu; channel_shuffle 2; conv 4 k=1; gap; linear classes >',
  'net t(classes=5) : [4, 1, 1] < bn; relu; flatten; linear classes >',
];

/** Three SGD steps as `netc train` takes them; each step's loss, gradients and running statistics. */
function sgdSteps(source: string, recompute: boolean) {
  recomputation.enabled = recompute;
  const graph = compileSource(source, 't.net').graphs[0]!;
  const { model } = lowerGraph(graph, { seed: 1 });
  const [c, h, w] = graph.input as [number, number, number];
  const x = tf.randomNormal([2, h, w, c], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d([1, 2], 'int32'), 5);
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const optim = makeOptim({ optimizer: 'sgd', lr: 0.05, momentum: 0, weightDecay: 0 });
  const steps = [];
  try {
    for (let i = 0; i < 3; i++) {
      steps.push(
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => lossOf(model.apply(x, { training: true }) as tf.Tensor, y, false), vars);
          const result = {
            loss: value.dataSync()[0],
            grads: vars.map((v) => [...grads[v.name]!.dataSync()]),
            running: model.weights.filter((v) => /moving/.test(v.name)).map((v) => [...v.read().dataSync()]),
          };
          optim.step(grads, new Map(vars.map((v) => [v.name, v])), 0.05);
          return result;
        }),
      );
    }
  } finally {
    tf.dispose([x, y]);
    model.dispose();
    recomputation.enabled = false;
  }
  return steps;
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

  it.each(RESHAPED)('trains the same to the bit when a reshape shares a recomputed output: %s', (source) => {
    const kept = sgdSteps(source, false);
    const recomputed = sgdSteps(source, true);
    kept.forEach((k, i) => {
      const r = recomputed[i]!;
      expect(Number.isFinite(k.loss), `step ${i + 1}: loss ${k.loss}`).toBe(true);
      expect(r.loss, `step ${i + 1}: loss`).toBe(k.loss);
      expect(r.grads, `step ${i + 1}: gradients`).toEqual(k.grads);
      expect(r.running, `step ${i + 1}: running statistics`).toEqual(k.running);
    });
  });
});
