/**
 * src/runtime/wasm-optim.ts: momentum SGD in place on the wasm heap gives tfjs's MomentumOptimizer's
 * weights and buffers to the bit (plain and Nesterov, with weight decay), and kernels that cache
 * packed weights by tensor id (XNNPACK's matmul) see the new values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../../src/runtime/backend.js';
import { makeOptim } from '../../src/train/optim.js';

describe('momentum SGD in place on wasm', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  for (const optimizer of ['momentum', 'nesterov'] as const) {
    it(`${optimizer}: the same weights and buffers as tfjs's optimizer, to the bit`, () => {
      const shapes = [[3, 3, 4, 8], [8], [64, 10]];
      const init = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 11 + i));
      // Each variable's data its own (as a model's weights are): a copy, which the tidy lets go of.
      const mine = init.map((t, i) => tf.tidy(() => tf.variable(tf.tensor(t.dataSync(), t.shape), true, `${optimizer}_mine${i}`)));
      const ref = init.map((t, i) => tf.variable(t.clone(), true, `${optimizer}_ref${i}`));
      const cfg = { optimizer, lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
      const inPlace = makeOptim(cfg);
      const tfjs = tf.train.momentum(cfg.lr, cfg.momentum, optimizer === 'nesterov');
      const ids = mine.map((v) => v.dataId);
      for (let step = 0; step < 3; step++) {
        const gs = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 100 * step + i));
        inPlace.step(Object.fromEntries(mine.map((v, i) => [v.name, gs[i]!])), new Map(mine.map((v) => [v.name, v])), cfg.lr);
        tf.tidy(() => tfjs.applyGradients(Object.fromEntries(ref.map((v, i) => [v.name, tf.add(gs[i]!, tf.mul(v, cfg.weightDecay))]))));
        tf.dispose(gs);
      }
      mine.forEach((v, i) => expect([...v.dataSync()], `weight ${i}`).toEqual([...ref[i]!.dataSync()]));
      // In place: the weights kept their data (tfjs's assign gives each a new one).
      mine.forEach((v, i) => expect(v.dataId, `weight ${i} in place`).toBe(ids[i]));
      const buffers = (o: tf.Optimizer) => o.getWeights();
      return Promise.all([buffers(inPlace.tf), buffers(tfjs)]).then(([a, b]) => {
        expect(a.length).toBe(b.length);
        a.slice(1).forEach((w, i) => expect([...w.tensor.dataSync()], `buffer ${i}`).toEqual([...b[i + 1]!.tensor.dataSync()]));
      });
    });
  }

  it('a matmul after the update uses the new weights', () => {
    const x = tf.randomNormal([4, 64], 0, 1, 'float32', 5);
    const w = tf.tidy(() => tf.variable(tf.randomNormal([64, 10], 0, 1, 'float32', 6), true, 'mm_w'));
    const id = w.dataId;
    const before = tf.matMul(x, w);
    const opt = makeOptim({ optimizer: 'momentum', lr: 0.5, momentum: 0.9, weightDecay: 0 });
    opt.step({ mm_w: tf.onesLike(w) }, new Map([['mm_w', w]]), 0.5);
    const after = tf.matMul(x, w);
    expect(w.dataId).toBe(id);
    const fresh = tf.matMul(x, tf.tensor(w.dataSync(), w.shape));
    expect([...after.dataSync()]).toEqual([...fresh.dataSync()]);
    expect([...after.dataSync()]).not.toEqual([...before.dataSync()]);
  });
});
