// Training throughput of resnet20_cifar at batch 128 on every netc backend present here, beside
// PyTorch on the CPU (Debian's, and a torch 2.x where one is installed), in one run.
//
// Usage: bench/train-throughput [--batch N] [--steps N] [--runs N] [--backends node,wasm+native,wasm,cpu]
//                               [--torch-threads 1,2] [--no-torch] [--profile]
// Each netc backend trains in a child process of its own (wasm and wasm+native cannot share one:
// the native kernels replace wasm's for the whole process), kept alive across runs; runs of all
// backends and PyTorch builds alternate, so that load from other processes on a shared machine hits
// them alike. Best and median are printed, then each backend's median against each PyTorch's.
// Default backends: node, wasm+native, wasm (those that load; the others are listed as skipped).
// PyTorch: /usr/bin/python3's torch (Debian's python3-torch: 1.13), and torch 2.x from NETC_TORCH2
// (a directory for PYTHONPATH; default ~/.cache/netc/torch2), installed e.g. with
//   /usr/bin/python3 -m pip install --target ~/.cache/netc/torch2 'torch==2.13.0+cpu'
// (on PyPI: add --index-url https://download.pytorch.org/whl/cpu for the CPU-only build).
// PyTorch runs with OMP_WAIT_POLICY=PASSIVE unless set, the policy netc's oneDNN addon uses: with
// OpenMP's default spinning, 2 threads on a loaded 2-core machine fall several times below 1 thread.
// --profile prints where one step of each backend spends its time, per tfjs kernel.
// Needs a build (bench/train-throughput runs `npm run build` first).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { torchBlasLines } from './torch-blas.mjs';

const arg = (k, d) => {
  const i = process.argv.indexOf(k);
  return i > 0 ? process.argv[i + 1] : d;
};
const flag = (k) => process.argv.includes(k);
const batch = Number(arg('--batch', 128));
const steps = Number(arg('--steps', 5));

if (flag('--child')) await child(arg('--backend', 'wasm'));
else await parent();

/** One backend, driven over stdin: `run` -> {"imagesPerSecond"}, `profile` -> kernel table, EOF ends. */
async function child(backend) {
  const tf = await import('@tensorflow/tfjs-core');
  const { compileFile } = await import('../dist/api.js');
  const { lowerGraph } = await import('../dist/lower/lower.js');
  const { selectBackend, describeBackend } = await import('../dist/runtime/backend.js');
  const { nativeCounters } = await import('../dist/runtime/native.js');
  const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
  let choice;
  try {
    choice = await selectBackend(backend === 'wasm+native' ? 'wasm' : backend);
    if (backend === 'wasm+native' && !choice.convolutions)
      throw new Error(choice.details.find((d) => d.startsWith('convolutions:')) ?? 'native addon not loaded');
  } catch (e) {
    say({ skipped: String(e.message).split('\n')[0] });
    return;
  }
  const r = compileFile('stdlib/resnet20_cifar.net');
  const { model } = lowerGraph(r.graphs[0], { seed: 0 });
  const opt = tf.train.momentum(0.1, 0.9);
  const x = tf.randomNormal([batch, 32, 32, 3]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  const step = () => tf.tidy(() => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true).dataSync()[0]);
  step(); // warm-up: primitive creation, first allocations
  const before = { ...nativeCounters };
  step();
  say({ ready: describeBackend(choice)[0], native: nativeCounters.native - before.native, fallback: nativeCounters.fallback - before.fallback });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'run') {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) step();
      say({ imagesPerSecond: (batch * steps) / ((performance.now() - t0) / 1000) });
    } else if (line === 'profile') {
      const { kernelTimes } = await import('./kernel-times.mjs');
      const byKernel = kernelTimes(
        await tf.profile(() => {
          step();
        }),
      );
      say({ profile: [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15) });
    }
  }
}

function startChild(backend) {
  const env = { ...process.env, ...(backend === 'wasm' ? { NETC_NATIVE: '0' } : {}) };
  const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', '--backend', backend, '--batch', String(batch), '--steps', String(steps)], {
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const l = await lines.next();
    if (l.done) throw new Error(`${backend}: the benchmark process ended early`);
    return JSON.parse(l.value);
  };
  return {
    backend,
    p,
    next,
    ask: async (cmd) => {
      p.stdin.write(cmd + '\n');
      return next();
    },
  };
}

async function parent() {
  const runs = Number(arg('--runs', 3));
  const backends = String(arg('--backends', arg('--backend', 'node,wasm+native,wasm'))).split(',');
  const torchThreads = flag('--no-torch') ? [] : String(arg('--torch-threads', '1,2')).split(',').map(Number);

  // netc: start every backend, in turn (their warm-ups would disturb each other).
  const live = [];
  const skipped = [];
  for (const b of backends) {
    const c = startChild(b);
    const first = await c.next();
    if (first.skipped) {
      skipped.push(`${b}: ${first.skipped}`);
      c.p.stdin.end();
      continue;
    }
    console.error(`${first.ready}${b === 'wasm+native' ? `; per step ${first.native} native conv calls, ${first.fallback} fallbacks to wasm` : ''}`);
    live.push({ ...c, label: `netc ${b}`, results: [] });
  }

  // PyTorch builds: Debian's, and torch 2.x from NETC_TORCH2.
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const torch2 = process.env.NETC_TORCH2 ?? join(homedir(), '.cache', 'netc', 'torch2');
  const builds = [{ name: 'system', env: {} }];
  if (existsSync(join(torch2, 'torch'))) builds.push({ name: 'torch2', env: { PYTHONPATH: torch2 } });
  else skipped.push(`PyTorch 2.x: none at ${torch2} (NETC_TORCH2; see the header of bench/train-throughput.mjs)`);
  const torch = [];
  for (const b of torchThreads.length ? builds : []) {
    for (const t of torchThreads) torch.push({ ...b, threads: t, label: null, results: [] });
  }
  const torchRun = (cfg) => {
    const p = spawnSync(py, ['bench/resnet20_torch.py', String(batch), String(steps), String(cfg.threads)], {
      encoding: 'utf8',
      env: { OMP_WAIT_POLICY: 'PASSIVE', ...process.env, ...cfg.env },
    });
    if (p.status !== 0) {
      cfg.failed = (p.stderr || p.error?.message || '').trim().split('\n').pop();
      return;
    }
    const r = JSON.parse(p.stdout.trim().split('\n').pop());
    cfg.label = `PyTorch ${r.version} CPU, ${cfg.threads} thread${cfg.threads > 1 ? 's' : ''}`;
    cfg.results.push(r.imagesPerSecond);
  };

  for (let i = 0; i < runs; i++) {
    for (const c of live) c.results.push((await c.ask('run')).imagesPerSecond);
    for (const cfg of torch) if (!cfg.failed) torchRun(cfg);
  }

  const best = (a) => Math.max(...a);
  const median = (a) => {
    const s = [...a].sort((p, q) => p - q);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const row = (label, a) =>
    `${label.padEnd(36)} ${best(a).toFixed(1).padStart(7)} ${median(a).toFixed(1).padStart(8)}   ${a.map((v) => v.toFixed(1)).join(' ')}`;
  const torchDone = torch.filter((t) => t.results.length);
  console.log(`resnet20_cifar training, batch ${batch}: ${runs} runs of ${steps} steps (images/s), backends alternating`);
  for (const b of torchThreads.length ? builds : []) for (const l of torchBlasLines(py, b.env)) console.log(`${b.name}: ${l.trim()}`);
  console.log(`${''.padEnd(36)} ${'best'.padStart(7)} ${'median'.padStart(8)}   runs`);
  for (const c of live) console.log(row(c.label, c.results));
  for (const t of torchDone) console.log(row(t.label, t.results));
  for (const s of skipped) console.log(`skipped ${s}`);
  for (const t of torch.filter((x) => x.failed)) console.log(`skipped PyTorch (${t.name}, ${t.threads} threads): ${t.failed}`);
  for (const c of live) {
    const vs = [...live.filter((o) => o !== c), ...torchDone].map((o) => `${(median(c.results) / median(o.results)).toFixed(2)}x ${o.label}`);
    if (vs.length) console.log(`${c.label} (median): ${vs.join(', ')}`);
  }

  if (flag('--profile')) {
    for (const c of live) {
      const { profile } = await c.ask('profile');
      const total = profile.reduce((a, [, e]) => a + e.ms, 0);
      console.log(`\n${c.label}: profile of one step (top kernels; fused ops also count their inner kernel)`);
      for (const [name, e] of profile)
        console.log(
          `  ${name.padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms ${String(e.n).padStart(5)} calls ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`,
        );
    }
  }
  for (const c of live) c.p.stdin.end();
}
