// Training throughput of resnet20_cifar at batch 128: netc on the wasm backend (with the native
// oneDNN convolutions when native/ is built) vs PyTorch on the CPU, side by side with the ratio.
//
// Usage: bench/train-throughput [--batch N] [--steps N] [--runs N] [--backend wasm|cpu|node]
//                               [--torch-threads 1,2] [--no-torch] [--profile]
// Each run times `steps` training steps after one warm-up step; runs of netc and PyTorch alternate so
// that load from other processes on a shared machine hits both alike. Best and median are printed.
// --profile prints where one netc step spends its time, per tfjs kernel.
// NETC_NATIVE=0 forces the wasm convolutions (for before/after comparisons).
// Needs a build (bench/train-throughput runs `npm run build` first).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { compileFile } from '../dist/api.js';
import { lowerGraph } from '../dist/lower/lower.js';
import { selectBackend, describeBackend } from '../dist/runtime/backend.js';
import { nativeCounters } from '../dist/runtime/native.js';
import { kernelTimes } from './kernel-times.mjs';

const arg = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : d; };
const flag = (k) => process.argv.includes(k);
const batch = Number(arg('--batch', 128));
const steps = Number(arg('--steps', 5));
const runs = Number(arg('--runs', 3));
const torchThreads = flag('--no-torch') ? [] : String(arg('--torch-threads', '1,2')).split(',').map(Number);
const choice = await selectBackend(arg('--backend', 'wasm'));
for (const l of describeBackend(choice)) console.error(l);
const netcLabel = choice.convolutions ? `${choice.name} + ${choice.convolutions}` : `${choice.name}${choice.name === 'wasm' ? ' convolutions' : ''}`;

const r = compileFile('stdlib/resnet20_cifar.net');
if (!r.graphs[0]) throw new Error('stdlib/resnet20_cifar.net did not compile');
const { model } = lowerGraph(r.graphs[0], { seed: 0 });
const opt = tf.train.momentum(0.1, 0.9);
const x = tf.randomNormal([batch, 32, 32, 3]);
const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
const step = () => tf.tidy(() => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true).dataSync()[0]);
step(); // warm-up: primitive creation, first allocations
const counted = { ...nativeCounters };
step();
const convCalls = { native: nativeCounters.native - counted.native, fallback: nativeCounters.fallback - counted.fallback };

function netcRun() {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  return (batch * steps) / ((performance.now() - t0) / 1000);
}

const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let torchSkipped = null;
function torchRun(threads) {
  if (torchSkipped) return null;
  const p = spawnSync(py, ['bench/resnet20_torch.py', String(batch), String(steps), String(threads)], { encoding: 'utf8' });
  if (p.status === 0) return JSON.parse(p.stdout.trim().split('\n').pop()).imagesPerSecond;
  torchSkipped = (p.stderr || p.error?.message || '').trim().split('\n').pop();
  console.error(`PyTorch reference skipped: ${torchSkipped}`);
  return null;
}

const results = { netc: [], ...Object.fromEntries(torchThreads.map((t) => [`torch${t}`, []])) };
for (let i = 0; i < runs; i++) {
  results.netc.push(netcRun());
  for (const t of torchThreads) {
    const v = torchRun(t);
    if (v != null) results[`torch${t}`].push(v);
  }
}

const best = (a) => Math.max(...a);
const median = (a) => { const s = [...a].sort((p, q) => p - q); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const row = (label, a) => `${label.padEnd(44)} ${best(a).toFixed(1).padStart(7)} ${median(a).toFixed(1).padStart(8)}   ${a.map((v) => v.toFixed(1)).join(' ')}`;

console.log(`resnet20_cifar training, batch ${batch}: ${runs} runs of ${steps} steps (images/s)`);
console.log(`convolutions: ${choice.convolutions ?? 'backend kernels'}; per step ${convCalls.native} native conv calls, ${convCalls.fallback} fallbacks to wasm`);
console.log(`${''.padEnd(44)} ${'best'.padStart(7)} ${'median'.padStart(8)}   runs`);
console.log(row(`netc (${netcLabel})`, results.netc));
for (const t of torchThreads) {
  const a = results[`torch${t}`];
  if (a.length) console.log(row(`PyTorch CPU, ${t} thread${t > 1 ? 's' : ''}`, a));
}
for (const t of torchThreads) {
  const a = results[`torch${t}`];
  if (a.length) {
    console.log(`ratio PyTorch (${t} thread${t > 1 ? 's' : ''}) / netc: ${(best(a) / best(results.netc)).toFixed(2)}x best vs best, ${(median(a) / median(results.netc)).toFixed(2)}x median vs median`);
  }
}

if (flag('--profile')) {
  const info = await tf.profile(() => { step(); });
  const byKernel = kernelTimes(info);
  const total = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
  console.log(`\nprofile of one step: ${total.toFixed(0)} ms in kernels`);
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) {
    console.log(`  ${name.padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(5)} calls ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`);
  }
}
