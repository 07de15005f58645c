#!/usr/bin/env node
// MaxPoolGrad alone, JS kernel vs the native addon, at the shapes one training step of a net asks for.
//
// Usage: node bench/maxpool-grad.mjs [--net googlenet] [--batch 64] [--reps 20] [--dist DIR]
//
// One training step of the stdlib net (CIFAR-size input, 3x32x32, as bench/train-zoo) runs on the
// wasm backend with MaxPoolGrad wrapped to record each call's shapes and attributes; then each
// recorded call is timed on random data (small integers after a ReLU, so windows hold ties) with
// the JS kernel (src/runtime/wasm-kernels.ts's maxPoolBackward, dx zeroed first, as its kernel
// does) and with the addon's maxPoolGrad, both on the same wasm-heap views, median of --reps runs.
// The two results must be equal (the same rule, the same float32 sums in the same order).
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const dist = resolve(arg('--dist', join(ROOT, 'dist')));
const net = arg('--net', 'googlenet');
const batch = Number(arg('--batch', 64));
const reps = Number(arg('--reps', 20));
const imp = (p) => import(pathToFileURL(join(dist, p)).href);

const tf = await import('@tensorflow/tfjs-core');
const { compileFile } = await imp('api.js');
const { lowerGraph } = await imp('lower/lower.js');
const { selectBackend } = await imp('runtime/backend.js');
const { loadNative, maxPoolGradParams } = await imp('runtime/native.js');
const { maxPoolBackward, maxPoolGradInfo } = await imp('runtime/wasm-kernels.js');

const native = loadNative();
if (!native.addon?.maxPoolGrad) {
  console.error(`bench/maxpool-grad: the native addon has no maxPoolGrad (${native.reason}); npm run build:native`);
  process.exit(1);
}
const choice = await selectBackend('wasm');
const graph = compileFile(join(ROOT, 'stdlib', `${net}.net`), { args: { classes: 10 }, input: [3, 32, 32] }).graphs[0];
const model = lowerGraph(graph, { seed: 0 }).model;

// Record the MaxPoolGrad calls of one step.
const calls = [];
const kernel = tf.getKernel('MaxPoolGrad', 'wasm');
tf.unregisterKernel('MaxPoolGrad', 'wasm');
tf.registerKernel({
  ...kernel,
  kernelFunc: (args) => {
    calls.push({ input: [...args.inputs.input.shape], dy: [...args.inputs.dy.shape], attrs: { ...args.attrs } });
    return kernel.kernelFunc(args);
  },
});
tf.tidy(() => {
  const x = tf.randomNormal([batch, 32, 32, 3]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  const vars = model.trainableWeights.map((w) => w.val);
  tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), vars);
});

const b = tf.backend();
const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const time = (f) => {
  f(); // warm-up
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return median(t);
};

console.log(
  `MaxPoolGrad of one ${net} step at batch ${batch} (3x32x32 input) on ${choice.name}, addon ${native.reason}; median of ${reps}; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('input (NHWC)        dy (NHWC)          window  JS ms   native ms  speed-up');
let [jsTotal, nativeTotal] = [0, 0];
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
for (const c of calls) {
  const x = tf.tensor(
    Float32Array.from({ length: c.input.reduce((p, q) => p * q) }, () => Math.max(0, Math.round(3 * rand()))),
    c.input,
  );
  const dy = tf.tensor(Float32Array.from({ length: c.dy.reduce((p, q) => p * q) }, rand), c.dy);
  const dxJs = tf.zeros(c.input);
  const dxNative = tf.zeros(c.input);
  const view = (t) => b.typedArrayFromHeap(t);
  const g = maxPoolGradInfo(tf, c.input, c.dy, c.attrs);
  const params = maxPoolGradParams(tf, c.input, c.dy, c.attrs);
  const js = time(() => {
    const dx = view(dxJs);
    dx.fill(0);
    maxPoolBackward(view(x), view(dy), dx, c.input, g);
  });
  const nat = time(() => native.addon.maxPoolGrad(view(x), view(dy), view(dxNative), params));
  const same = view(dxJs).every((v, i) => v === view(dxNative)[i]);
  if (!same) throw new Error(`JS and native differ at input ${c.input}`);
  jsTotal += js;
  nativeTotal += nat;
  const win = `${g.filterHeight}x${g.filterWidth}/${g.strideHeight}${c.attrs.pad === 'same' ? 's' : ''}`;
  console.log(
    `${c.input.join('x').padEnd(20)}${c.dy.join('x').padEnd(19)}${win.padEnd(8)}${js.toFixed(2).padStart(6)}  ${nat.toFixed(2).padStart(9)}  ${(js / nat).toFixed(1).padStart(7)}x`,
  );
  tf.dispose([x, dy, dxJs, dxNative]);
}
console.log(
  `total (${calls.length} calls)${' '.repeat(29)}${jsTotal.toFixed(1).padStart(6)}  ${nativeTotal.toFixed(1).padStart(9)}  ${(jsTotal / nativeTotal).toFixed(1).padStart(7)}x`,
);
