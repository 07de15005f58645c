#!/usr/bin/env node
// Parse + check time: resnet152 in-process after warm-up, `netc check` as a whole process, and
// generated networks of 1k..10k layers to show that cost grows linearly with size.
// Run after `npm run build`:  node bench/check-speed.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileSource } from '../dist/api.js';
import { summarize } from '../dist/check/summary.js';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeInProcess(text, path, runs) {
  for (let i = 0; i < 5; i++) summarize(compileSource(text, path).graphs[0]);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const result = compileSource(text, path);
    summarize(result.graphs[0]);
    times.push(performance.now() - t0);
    if (result.diagnostics.some((d) => d.severity === 'error')) throw new Error(`errors in ${path}`);
  }
  return median(times);
}

const resnet152 = join(root, 'stdlib/resnet152.net');
const text = readFileSync(resnet152, 'utf8');
const inProcess = timeInProcess(text, resnet152, 30);
const nodes = compileSource(text, resnet152).graphs[0].nodes.length;
console.log(`resnet152 (${nodes} IR nodes) parse+check+summary in-process, median of 30 after warm-up: ${inProcess.toFixed(2)} ms  (target < 20 ms)`);

// The whole process beside bare `node -e 0`, interleaved so that both see the same machine load
// (the machine is shared: the difference and the ratio say more than either number alone).
const wall = [];
const baseline = [];
for (let i = 0; i < 11; i++) {
  let t0 = performance.now();
  execFileSync(process.execPath, [join(root, 'bin/netc.js'), 'check', resnet152], { stdio: 'pipe' });
  wall.push(performance.now() - t0);
  t0 = performance.now();
  execFileSync(process.execPath, ['-e', '0'], { stdio: 'pipe' });
  baseline.push(performance.now() - t0);
}
const [w, b] = [median(wall), median(baseline)];
console.log(
  `netc check stdlib/resnet152.net as a process, median of 11: ${w.toFixed(0)} ms  (target < 250 ms); ` +
    `bare \`node -e 0\` beside it: ${b.toFixed(0)} ms, so netc adds ${(w - b).toFixed(0)} ms (${(w / b).toFixed(1)}x)`,
);

console.log('\ngenerated plain nets (conv 16 k=3 pad=1 / bn / relu, one layer per line):');
console.log('   layers   ms (median)   us/layer');
const dir = mkdtempSync(join(tmpdir(), 'netc-bench-'));
for (const layers of [1000, 2500, 5000, 10000]) {
  const lines = ['net big : [16, 8, 8] <'];
  for (let i = 0; i < layers; i++) lines.push(['  conv 16 k=3 pad=1', '  bn', '  relu'][i % 3]);
  lines.push('>');
  const path = join(dir, `big${layers}.net`);
  writeFileSync(path, lines.join('\n'));
  const ms = timeInProcess(lines.join('\n'), path, 7);
  console.log(`${String(layers).padStart(9)}   ${ms.toFixed(1).padStart(11)}   ${((ms * 1000) / layers).toFixed(1).padStart(8)}`);
}

// Issue 13's sequence and ConvNeXt constructs: a stack of n ViT encoder blocks (layernorm, attention,
// per-token linears, GELU, dropout, two residual adds each) after tokens / class token / position
// embedding, and n ConvNeXt blocks (permute, layernorm, per-position linears, layer scale, stochastic
// depth): the cost per layer should stay flat as n grows.
console.log('\ngenerated sequence nets (ViT encoder blocks + ConvNeXt blocks, n of each):');
console.log('        n   IR nodes   ms (median)   us/node');
const blocks = `block Enc(h, d, m) <
  < ln_1: layernorm eps=1e-6; self_attention: attention h; dropout: dropout 0.1 > + identity
  < ln_2: layernorm eps=1e-6; mlp: < linear m; gelu; dropout 0.0; linear d; dropout 0.0 > > + identity
>
block CNB(c) <
  block: < conv c k=7 pad=3 groups=c; permute (0, 2, 3, 1); layernorm eps=1e-6; linear 4 * c; gelu; linear c; permute (0, 3, 1, 2) >
  layer_scale 1e-6
  stochastic_depth 0.1
> + identity
`;
for (const n of [100, 250, 500, 1000]) {
  const text = `${blocks}net seq : [16, 32, 32] <
  stage: < CNB(16) * ${n} >
  conv 32 k=8 stride=8; tokens; class_token; pos_embedding
  layers: < Enc(4, 32, 64) * ${n} >
  token 0; linear 10
>
`;
  const path = join(dir, `seq${n}.net`);
  writeFileSync(path, text);
  const count = compileSource(text, path).graphs[0].nodes.length;
  const ms = timeInProcess(text, path, 7);
  console.log(`${String(n).padStart(9)}   ${String(count).padStart(8)}   ${ms.toFixed(1).padStart(11)}   ${((ms * 1000) / count).toFixed(1).padStart(7)}`);
}
