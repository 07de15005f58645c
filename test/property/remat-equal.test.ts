/**
 * Recomputing batch norm and ReLU outputs in backprop (src/runtime/remat.ts) changes no number: random
 * valid nets from gen.ts take two SGD steps with recomputation off and on, and each step's loss,
 * gradients and running statistics must match to the bit. Issue 17 (a reshape sharing a recomputed
 * output's data, read after that data was freed) made 11 of seed 7's 300 nets differ, one of them NaN.
 *
 * Wasm only (elsewhere nothing is recomputed). NETC_PROPERTY_RUNS=300 NETC_PROPERTY_SEED=7 explore
 * further; a failure prints the nets that differ.
 */
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSource } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { outputsProbabilities } from '../../src/ops/index.js';
import { recomputation } from '../../src/runtime/remat.js';
import { lossOf } from '../../src/train/loop.js';
import { makeOptim } from '../../src/train/optim.js';
import { testBackend } from '../backend.js';
import { generateNet } from './gen.js';

const RUNS = Number(process.env.NETC_PROPERTY_RUNS ?? 40);
const SEED = Number(process.env.NETC_PROPERTY_SEED ?? 20261202);

const B = await testBackend();
const skip = B.name === 'wasm' ? B.skip : ' [skipped: recomputation runs on wasm only]';

/** Every loss, gradient and running statistic of two SGD steps, in order. */
function trainedNumbers(text: string, seed: number, recompute: boolean): number[][] {
  const random = Math.random;
  // Dropout and stochastic depth seed their masks with Math.random: the same masks in both runs.
  let state = 12345;
  Math.random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  recomputation.enabled = recompute;
  const graph = compileSource(text, '/tmp/remat.net').graphs[0]!;
  const { model } = lowerGraph(graph, { seed });
  try {
    const [c, h, w] = graph.input as [number, number, number];
    const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const optim = makeOptim({ optimizer: 'sgd', lr: 0.05, momentum: 0, weightDecay: 0 });
    const probs = outputsProbabilities(graph);
    const classes = model.outputs[0]!.shape[1] as number;
    const numbers: number[][] = [];
    tf.tidy(() => {
      const x = tf.randomNormal([2, h, w, c], 0, 1, 'float32', seed);
      const y = tf.oneHot(tf.tensor1d([seed % classes, (seed + 1) % classes], 'int32'), classes);
      for (let step = 0; step < 2; step++) {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => lossOf(model.apply(x, { training: true }) as tf.Tensor, y, probs), vars);
          numbers.push([...value.dataSync()]);
          for (const v of vars) numbers.push([...grads[v.name]!.dataSync()]);
          for (const v of model.weights) if (/moving/.test(v.name)) numbers.push([...v.read().dataSync()]);
          optim.step(grads, new Map(vars.map((v) => [v.name, v])), 0.05);
        });
      }
    });
    return numbers;
  } finally {
    model.dispose();
    recomputation.enabled = false;
    Math.random = random;
  }
}

describe.skipIf(skip !== '')(`recomputation changes no number (${RUNS} random nets, seed ${SEED}) on ${B.label}${skip}`, () => {
  beforeAll(B.select);
  afterAll(() => {
    recomputation.enabled = false;
  });

  it('two SGD steps give the same losses, gradients and running statistics to the bit, on or off', () => {
    const nets = fc.sample(fc.integer({ min: 0, max: 2 ** 31 - 1 }).map(generateNet), { seed: SEED, numRuns: RUNS });
    const differ: string[] = [];
    let compared = 0;
    for (const net of nets) {
      if (compileSource(net.text, '/tmp/remat.net').diagnostics.some((d) => d.severity === 'error')) continue;
      const kept = trainedNumbers(net.text, net.seed, false);
      const recomputed = trainedNumbers(net.text, net.seed, true);
      compared++;
      const same =
        kept.length === recomputed.length && kept.every((k, i) => k.length === recomputed[i]!.length && k.every((v, j) => Object.is(v, recomputed[i]![j])));
      if (!same) differ.push(net.text);
    }
    expect(compared).toBeGreaterThan(RUNS * 0.9);
    expect(differ, `nets that train differently with recomputation on:\n${differ.join('\n---\n')}`).toEqual([]);
  }, 600_000);
});
