import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readdirSync } from 'node:fs';
import { compileFile } from '../../src/api.js';
import { resnet20Cifar } from '../../src/lower/ir-builder.js';
import { lowerGraph, tfShape } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { bnBackward, bnForward, channelStats } from '../../src/lower/batchnorm.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

describe('fused batch norm', () => {
  it('forward and backward equal composed autodiff to 1e-5', () => {
    const [n, c] = [37, 3];
    const xv = Float32Array.from({ length: n * c }, (_, i) => Math.sin(i * 1.7) * 3 + (i % c));
    const g = Float32Array.from([1.5, -0.5, 2]);
    const bt = Float32Array.from([0.1, 0.2, -0.3]);
    const dyv = Float32Array.from({ length: n * c }, (_, i) => Math.cos(i * 0.3));
    const s = channelStats(xv, c, 1e-5);
    const y = bnForward(xv, s, g, bt);
    const d = bnBackward(xv, dyv, s, g);
    const ref = tf.tidy(() => {
      const f = (x: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
        const m = tf.moments(x, [0]);
        return tf.batchNorm(x, m.mean, m.variance, bb, gg, 1e-5);
      };
      const x = tf.tensor2d(xv, [n, c]);
      const [dx, dg, db] = tf.grads((a: tf.Tensor, b2: tf.Tensor, c2: tf.Tensor) => tf.sum(tf.mul(f(a, b2, c2), tf.tensor2d(dyv, [n, c]))))([
        x,
        tf.tensor1d(g),
        tf.tensor1d(bt),
      ]) as [tf.Tensor, tf.Tensor, tf.Tensor];
      return { y: f(x, tf.tensor1d(g), tf.tensor1d(bt)).dataSync(), dx: dx.dataSync(), dg: dg.dataSync(), db: db.dataSync() };
    });
    const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(b[i]!)) * 10);
    };
    close(y, ref.y);
    close(d.dx, ref.dx);
    close(d.dgamma, ref.dg);
    close(d.dbeta, ref.db);
  });
});

describe("stdlib networks lower with the checker's shapes and parameter counts", () => {
  const files = readdirSync('stdlib').filter((f) => f.endsWith('.net'));
  const small = [
    'lenet5.net',
    'resnet20_cifar.net',
    'resnet18.net',
    'vgg16.net',
    'densenet_bc_cifar.net',
    'se_resnet50_cifar.net',
    'googlenet.net',
    'resnet50_cifar.net',
  ];
  for (const f of files.filter((x) => small.includes(x))) {
    it(f, () => {
      const r = compileFile(`stdlib/${f}`);
      const g = r.graphs[0];
      if (!g || r.diagnostics.some((d) => d.severity === 'error')) return; // the front end's own tests cover its errors
      const { model } = lowerGraph(g);
      expect(model.outputs[0]!.shape.slice(1)).toEqual(tfShape(g.nodes[g.output]!.shape!));
      const trainable = g.nodes
        .flatMap((n) => n.weights)
        .filter((w) => !w.buffer)
        .reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
      const buffers = g.nodes
        .flatMap((n) => n.weights)
        .filter((w) => w.buffer)
        .reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
      // tfjs counts BN's running statistics as (non-trainable) weights; torchsummary does not.
      expect(model.countParams()).toBe(trainable + buffers);
      for (const node of g.nodes) {
        if (node.op === 'input' || !node.shape) continue;
        const layer = model.layers.find((l) => l.name === node.name);
        if (layer) expect(layer.outputShape.slice(1)).toEqual(tfShape(node.shape));
      }
    });
  }
  it('resnet20 (builder) has 272,474 parameters like PyTorch', () => {
    const { model } = lowerGraph(resnet20Cifar());
    const nonTrainable = model.nonTrainableWeights.reduce((a, w) => a + w.shape.reduce((x, y) => x! * y!, 1)!, 0);
    expect(model.countParams() - nonTrainable).toBe(272474);
  });
});
