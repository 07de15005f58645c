/**
 * netc's training-memory estimate (src/train/memory.ts) against the peak a training step really
 * reaches in the wasm heap (live allocations, measured around one step: forward, backprop with
 * recomputation, the optimizer), on small nets of the kinds the stdlib has: plain, residual,
 * densely connected, Inception-like, and a net whose largest weight dominates (VGG's classifier).
 * The band: the estimate is within -10%..+20% of the measured peak (bench/train-zoo measures the
 * same for the seed nets at their batch sizes; README has the table).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { compileFile, compileSource } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { makeOptim } from '../../src/train/optim.js';
import { estimateTrainingMemory, sizeOfGraph } from '../../src/train/memory.js';
import type { IRGraph } from '../../src/ir/types.js';
import { trackWasmHeap } from '../runtime/wasm-heap.js';

const DENSE = `
block Dense(k) identity ++ < bn; relu; conv 4*k k=1 bias=false; dropout 0.2; bn; relu; conv k k=3 pad=1 bias=false; dropout 0.2 >
block Trans < bn; relu; conv floor(in.c / 2) k=1 bias=false; avgpool 2 >
net d(classes=10) : [3, 32, 32] < conv 24 k=3 pad=1 bias=false; Dense(12) * 4; Trans; Dense(12) * 4; bn; relu; gap; linear classes >`;
const WIDE_HEAD = `net v(classes=10) : [3, 16, 16] < conv 16 k=3 pad=1; bn; relu; maxpool 2; flatten; linear 2048; relu; linear classes >`;

function measure(graph: IRGraph, batch: number, optimizer: 'momentum' | 'adam'): number {
  // Tracked from the start, so that the count includes the weights, optimizer slots and the batch.
  const heap = trackWasmHeap();
  const { model } = lowerGraph(graph, { seed: 1 });
  const vars = new Map(model.trainableWeights.map((w) => [(w as unknown as { val: tf.Variable }).val.name, (w as unknown as { val: tf.Variable }).val]));
  const optim = makeOptim({ optimizer, lr: 0.01, momentum: 0.9, weightDecay: 0 });
  const [c, h, w] = graph.input;
  const x = tf.randomNormal([batch, h!, w!, c!], 0, 1, 'float32', 3);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32', 4), 10);
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        [...vars.values()],
      );
      value.dataSync();
      optim.step(grads, vars, 0.01);
    });
  let peak = 0;
  try {
    step(); // optimizer slots and kernels' one-time allocations exist from here on
    heap.live.peak = heap.live.now;
    step();
    peak = heap.live.peak;
  } finally {
    heap.restore();
    tf.dispose([x, y]);
    optim.tf.dispose();
    model.dispose();
  }
  return peak;
}

describe('memory estimate against the measured peak on wasm', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  const cases: [string, () => IRGraph, number, 'momentum' | 'adam'][] = [
    ['resnet20_cifar', () => compileFile('stdlib/resnet20_cifar.net', { args: { classes: 10 } }).graphs[0]!, 32, 'momentum'],
    ['a small DenseNet-BC with dropout', () => compileSource(DENSE, 'd.net').graphs[0]!, 16, 'momentum'],
    ['lenet5', () => compileFile('stdlib/lenet5.net', { args: { classes: 10 } }).graphs[0]!, 64, 'momentum'],
    ['a wide classifier, adam', () => compileSource(WIDE_HEAD, 'v.net').graphs[0]!, 16, 'adam'],
  ];
  for (const [name, graphOf, batch, optimizer] of cases) {
    it(`${name} at batch ${batch} (${optimizer}): within -10%..+20%`, () => {
      const graph = graphOf();
      const measured = measure(graph, batch, optimizer);
      const estimate = estimateTrainingMemory(sizeOfGraph(graph), { optimizer, batchSize: batch }, 'wasm').bytes;
      const ratio = estimate / measured;
      console.log(`${name}: estimate ${(estimate / 1e6).toFixed(1)} MB, measured ${(measured / 1e6).toFixed(1)} MB, ratio ${ratio.toFixed(3)}`);
      expect(ratio).toBeGreaterThan(0.9);
      expect(ratio).toBeLessThan(1.2);
    });
  }
});
