// Training throughput of resnet20_cifar at batch 128: netc on the wasm backend vs PyTorch on the CPU.
// Usage: bench/train-throughput [--batch N] [--steps N] [--backend wasm|cpu|node]
// Needs a build (bench/train-throughput runs `npm run build` first).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { compileFile } from '../dist/api.js';
import { lowerGraph } from '../dist/lower/lower.js';
import { selectBackend, describeBackend } from '../dist/runtime/backend.js';

const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const batch = Number(arg('--batch', 128));
const steps = Number(arg('--steps', 5));
const choice = await selectBackend(arg('--backend', 'wasm'));
for (const l of describeBackend(choice)) console.error(l);

const r = compileFile('stdlib/resnet20_cifar.net');
if (!r.graphs[0]) throw new Error('stdlib/resnet20_cifar.net did not compile');
const { model } = lowerGraph(r.graphs[0], { seed: 0 });
const opt = tf.train.momentum(0.1, 0.9);
const x = tf.randomNormal([batch, 32, 32, 3]);
const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
const step = () => tf.tidy(() => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true).dataSync()[0]);
step(); // warm-up: XNNPACK operator creation, first allocations
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const netc = (batch * steps) / ((performance.now() - t0) / 1000);

let torch = null;
const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const threads = String(Number(arg('--threads', 0)) || (await import('node:os')).availableParallelism());
const p = spawnSync(py, ['bench/resnet20_torch.py', String(batch), String(steps), threads], { encoding: 'utf8' });
if (p.status === 0) torch = JSON.parse(p.stdout.trim().split('\n').pop());
else console.error(`PyTorch reference skipped: ${(p.stderr || p.error?.message || '').trim().split('\n').pop()}`);

console.log(`resnet20_cifar training, batch ${batch}, ${steps} steps`);
console.log(`netc (${choice.name}):            ${netc.toFixed(1)} images/s`);
if (torch) {
  console.log(`PyTorch CPU (${torch.threads} threads):  ${torch.imagesPerSecond.toFixed(1)} images/s`);
  console.log(`ratio PyTorch/netc:           ${(torch.imagesPerSecond / netc).toFixed(2)}x`);
}
