import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readdirSync } from 'node:fs';
import { compileFile } from '../../src/api.js';
import { IRBuilder, resnet20Cifar } from '../../src/lower/ir-builder.js';
import { lowerGraph, tfShape } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { bnBackward, bnForward, channelStats } from '../../src/lower/batchnorm.js';

beforeAll(async () => {
  await selectBackend('cpu');
});

/** Sets every weight of a lowered model to `v`. */
function fill(model: tf.LayersModel | import('@tensorflow/tfjs-layers').LayersModel, v: number) {
  for (const l of model.layers) l.setWeights(l.getWeights().map((w) => tf.fill(w.shape, v)));
}

describe('numerics on hand-computable cases', () => {
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
    const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i + 1), [1, 4, 4, 1]);
    // Windows centred on (0,0), (0,2), (2,0), (2,2) of the 1-padded 4x4 input 1..16.
    expect([...(model.predict(x) as tf.Tensor).dataSync()]).toEqual([1 + 2 + 5 + 6, 2 + 3 + 4 + 6 + 7 + 8, 5 + 6 + 9 + 10 + 13 + 14, 6 + 7 + 8 + 10 + 11 + 12 + 14 + 15 + 16]);
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
      const [dx, dg, db] = tf.grads((a: tf.Tensor, b2: tf.Tensor, c2: tf.Tensor) => tf.sum(tf.mul(f(a, b2, c2), tf.tensor2d(dyv, [n, c]))))([x, tf.tensor1d(g), tf.tensor1d(bt)]);
      return { y: f(x, tf.tensor1d(g), tf.tensor1d(bt)).dataSync(), dx: dx.dataSync(), dg: dg.dataSync(), db: db.dataSync() };
    });
    const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(b[i])) * 10);
    };
    close(y, ref.y);
    close(d.dx, ref.dx);
    close(d.dgamma, ref.dg);
    close(d.dbeta, ref.db);
  });
});

describe('stdlib networks lower with the checker\'s shapes and parameter counts', () => {
  const files = readdirSync('stdlib').filter((f) => f.endsWith('.net'));
  const small = ['lenet5.net', 'resnet20_cifar.net', 'resnet18.net', 'vgg16.net', 'densenet_bc_cifar.net', 'se_resnet50_cifar.net', 'googlenet.net', 'resnet50_cifar.net'];
  for (const f of files.filter((x) => small.includes(x))) {
    it(f, () => {
      const r = compileFile(`stdlib/${f}`);
      const g = r.graphs[0];
      if (!g || r.diagnostics.some((d) => d.severity === 'error')) return; // the front end's own tests cover its errors
      const { model } = lowerGraph(g);
      expect(model.outputs[0].shape.slice(1)).toEqual(tfShape(g.nodes[g.output].shape!));
      const trainable = g.nodes.flatMap((n) => n.weights).filter((w) => !w.buffer).reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
      const buffers = g.nodes.flatMap((n) => n.weights).filter((w) => w.buffer).reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
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
