import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TorchBatchNorm } from '../../src/lower/batchnorm.js';
import { testBackend } from '../backend.js';
import { relErr } from './rel-err.js';
import { pythonHas } from '../python.js';

// A training step's gradients on each backend (vitest.config.ts: one project per backend) against
// PyTorch in float64: the fused kernels each backend swaps in (TensorFlow's FusedBatchNormV3/GradV3
// and ReluGrad on node, the oneDNN addon on wasm+native, netc's JS kernels on wasm) must all give
// PyTorch's gradients, not merely agree with one another.
const B = await testBackend();
const PYTHON = '/usr/bin/python3';
const HERE = dirname(fileURLToPath(import.meta.url));
const torchOk = pythonHas('torch');
const skip = B.skip || (torchOk ? '' : ` [skipped: ${PYTHON} cannot import torch (apt-get install python3-torch)]`);
/** float32 against float64: the BN gradient's cancellations cost a few ulps of the largest value. */
const TOL = 1e-4;

function rng(seed: number) {
  return () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
}
const fill = (r: () => number, n: number, scale = 1, offset = 0) => Float32Array.from({ length: n }, () => offset + scale * r());

describe.skipIf(!B.ok || !torchOk)(`training gradients against PyTorch float64 on ${B.label}${skip}`, () => {
  beforeAll(B.select);

  it('conv-bn-relu-maxpool, conv-bn + residual + strided 1x1 projections (8x8, 7x7), relu: loss, every gradient and the running statistics', () => {
    const r = rng(7);
    const [n, h, w, c, k] = [4, 8, 8, 3, 8];
    const data = {
      xShape: [n, h, w, c],
      channels: k,
      x: fill(r, n * h * w * c, 2, 0.5),
      w1: fill(r, 9 * c * k, 0.4),
      w2: fill(r, 9 * k * k, 0.2),
      w3: fill(r, k * k, 0.3),
      w4: fill(r, k * k, 0.3),
      g1: fill(r, k, 0.5, 1),
      b1: fill(r, k, 0.3),
      g2: fill(r, k, 0.5, 1),
      b2: fill(r, k, 0.3),
      r: fill(r, n * (h / 2) * (w / 2) * k),
    };
    const ref = spawnSync(PYTHON, [join(HERE, 'grad_reference.py')], {
      input: JSON.stringify(data, (_, v) => (v instanceof Float32Array ? [...v] : v)),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(ref.status, ref.stderr).toBe(0);
    const want = JSON.parse(ref.stdout);

    const x = tf.variable(tf.tensor4d(data.x, [n, h, w, c]), true, 'x');
    const w1 = tf.variable(tf.tensor4d(data.w1, [3, 3, c, k]), true, 'w1');
    const w2 = tf.variable(tf.tensor4d(data.w2, [3, 3, k, k]), true, 'w2');
    const w3 = tf.variable(tf.tensor4d(data.w3, [1, 1, k, k]), true, 'w3');
    const w4 = tf.variable(tf.tensor4d(data.w4, [1, 1, k, k]), true, 'w4');
    const bn1 = new TorchBatchNorm({ name: 'bn1' });
    const bn2 = new TorchBatchNorm({ name: 'bn2' });
    bn1.build([n, h, w, k]);
    bn2.build([n, h / 2, w / 2, k]);
    bn1.setWeights([tf.tensor1d(data.g1), tf.tensor1d(data.b1), tf.zeros([k]), tf.ones([k])]);
    bn2.setWeights([tf.tensor1d(data.g2), tf.tensor1d(data.b2), tf.zeros([k]), tf.ones([k])]);
    const vars = [x, w1, w2, w3, w4, ...[bn1, bn2].flatMap((b) => b.trainableWeights.map((v) => v.read() as tf.Variable))];
    const rt = tf.tensor4d(data.r, [n, h / 2, w / 2, k]);
    const { value, grads } = tf.variableGrads(() => {
      // The fused convolution (what tfjs-layers' Conv2D runs) and the plain one.
      const c1 = tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w1 as tf.Tensor4D, strides: 1, pad: 'same' });
      const hh = tf.relu(bn1.apply(c1, { training: true }) as tf.Tensor4D);
      const y = tf.maxPool(hh, 2, 2, 'valid');
      const z = bn2.apply(tf.conv2d(y, w2 as tf.Tensor4D, 1, 'same'), { training: true }) as tf.Tensor4D;
      // A strided 1x1 projection (ResNet's shortcut): its filter gradient has its own path on node,
      // one where the stride divides the input (8x8) and one where it does not (7x7).
      const proj = tf.conv2d(hh, w3 as tf.Tensor4D, 2, 'valid');
      const odd = tf.conv2d(tf.slice(hh, [0, 0, 0, 0], [n, h - 1, w - 1, k]), w4 as tf.Tensor4D, 2, 'valid');
      return tf.sum(tf.mul(tf.relu(tf.addN([z, y, proj, odd])), rt)) as tf.Scalar;
    }, vars);

    expect(Math.abs(value.dataSync()[0]! - want.loss) / Math.abs(want.loss)).toBeLessThan(TOL);
    const got = (v: tf.Variable) => grads[v.name]!.dataSync() as Float32Array;
    const f32 = (a: number[]) => Float32Array.from(a);
    const [g1, b1, g2, b2] = vars.slice(5) as tf.Variable[];
    const pairs: [string, Float32Array, number[]][] = [
      ['dx', got(x), want.dx],
      ['dw1', got(w1), want.dw1],
      ['dw2', got(w2), want.dw2],
      ['dw3 (strided 1x1)', got(w3), want.dw3],
      ['dw4 (strided 1x1, 7x7)', got(w4), want.dw4],
      ['dgamma1', got(g1!), want.dg1],
      ['dbeta1', got(b1!), want.db1],
      ['dgamma2', got(g2!), want.dg2],
      ['dbeta2', got(b2!), want.db2],
    ];
    for (const [name, a, b] of pairs) expect(relErr(a, f32(b)), name).toBeLessThan(TOL);
    const running = (b: TorchBatchNorm) =>
      b
        .getWeights()
        .slice(2)
        .map((t) => t.dataSync() as Float32Array);
    const [rm1, rv1] = running(bn1);
    const [rm2, rv2] = running(bn2);
    expect(relErr(rm1!, f32(want.rm1)), 'running mean 1').toBeLessThan(1e-5);
    expect(relErr(rv1!, f32(want.rv1)), 'running var 1').toBeLessThan(1e-5);
    expect(relErr(rm2!, f32(want.rm2)), 'running mean 2').toBeLessThan(1e-5);
    expect(relErr(rv2!, f32(want.rv2)), 'running var 2').toBeLessThan(1e-5);
  });

  // Regression: oneDNN's weight gradient of a strided 1x1 conv (8 -> 16 channels at 28x28) corrupts
  // the heap, in netc's addon (oneDNN 2.6) and in TensorFlow 2.21 alike; both route it elsewhere.
  it('trains a net with a strided 1x1 conv, twice, without a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'netc-1x1-'));
    try {
      const net = join(dir, 'strided1x1.net');
      writeFileSync(net, 'net t(classes=10) : [1, 28, 28] < conv 8 k=3 pad=1; conv 16 k=1 stride=2 bias=false; gap; linear classes >\n');
      for (let i = 0; i < 2; i++) {
        const args = ['train', net, '--backend', B.name, '--subset', '512', '--epochs', '1', '--batch-size', '64', '--out', join(dir, `run${i}`)];
        const r = spawnSync(process.execPath, [join(HERE, '..', '..', 'bin', 'netc.js'), ...args], { encoding: 'utf8' });
        expect({ status: r.status, signal: r.signal }, r.stderr.slice(-500)).toEqual({ status: 0, signal: null });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
