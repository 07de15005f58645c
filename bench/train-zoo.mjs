// Training throughput and memory of every stdlib net: netc on every backend present vs PyTorch.
//
// Usage: bench/train-zoo [--nets a,b,...] [--batch N] [--steps N] [--backends wasm+native,wasm,cpu,node]
//                        [--torch-threads N] [--no-torch] [--profile NET] [--dist DIR] [--json FILE]
//                        [--seconds S] [--timeout S] [--force] [--compare DIR]
//
// Each net trains --steps steps (default 2; more until --seconds, default 3, have passed; one warm-up step first) on CIFAR-size input (3x32x32), or the net's own
// input where that is no larger (lenet5: 1x28x28), 10 classes, random data, SGD with momentum, the
// step netc's training loop takes (variableGrads + the optimizer). Every (net, backend) runs in a
// child process of its own, so memory figures do not mix. The PyTorch column trains the module
// `netc export NET --to pytorch` writes for the same .net file (bench/zoo_torch.py), so no second
// implementation is needed; Debian's torch, --torch-threads threads (default 2).
// Memory: "peak" is the most bytes tensors held during one step: on wasm the backend's live
// allocations (shared data counted once), elsewhere tf.profile's peakBytes (which counts a tensor
// that shares another's data again, so it overstates);
// "heap" is the wasm heap's size at the end (it only grows: the real high-water mark, fragmentation
// included, which is what meets the 4 GiB wasm32 ceiling); "estimate" is netc's (src/train/memory.ts).
// The pure-JS cpu backend is ~1000x slower than the others: it runs only nets under 50 MMACs per
// sample unless --backends names it.
// --profile NET: where one step of NET spends its time, per kernel (tf.profile), and the time
// outside kernels (tape bookkeeping, JS), on the first backend.
// --force: train even where netc's estimate says it will not fit (to measure the real peak).
// --compare DIR: also measure the compiled netc in DIR (e.g. main's dist), each net right before
// --dist's, against the same PyTorch run: a before/after table from one window of machine load.
// --dist DIR: the compiled netc to measure (default ./dist), e.g. a build of main for "before" figures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { kernelTimes } from './kernel-times.mjs';
import { torchBlasLines } from './torch-blas.mjs';

const argv = process.argv.slice(2);
const arg = (k, d) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const flag = (k) => argv.includes(k);
const ROOT = resolve(new URL('..', import.meta.url).pathname);
const dist = resolve(arg('--dist', join(ROOT, 'dist')));
const CIFAR = [3, 32, 32];

/** The input a net trains on here: its own when no larger than CIFAR's, else 3x32x32. */
function inputOf(own) {
  return own[1] * own[2] <= 32 * 32 ? own : [own[0], ...CIFAR.slice(1)];
}

if (flag('--help') || flag('-h')) {
  // The usage is the comment at the top of this file.
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
  console.log(
    text
      .slice(
        0,
        text.findIndex((l) => l.startsWith('import ')),
      )
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n'),
  );
} else if (flag('--child')) {
  await child();
} else {
  await parent();
}

// ---- one (net, backend) in this process --------------------------------------------------------
async function child() {
  const [net, backend, batchS, stepsS] = argv.slice(argv.indexOf('--child') + 1);
  const batch = Number(batchS);
  const steps = Number(stepsS);
  const profile = flag('--child-profile');
  const imp = (p) => import(pathToFileURL(join(dist, p)).href);
  const tf = await import('@tensorflow/tfjs-core');
  const { compileFile } = await imp('api.js');
  const { lowerGraph } = await imp('lower/lower.js');
  const { selectBackend, describeBackend } = await imp('runtime/backend.js');
  const { makeOptim } = await imp('train/optim.js');
  const { sizeOfGraph, estimateTrainingMemory, recomputeNeeded } = await imp('train/memory.js');
  const out = (o) => {
    console.log(JSON.stringify(o));
    process.exit(0);
  };

  const own = compileFile(join(ROOT, 'stdlib', `${net}.net`)).graphs[0].input;
  const input = inputOf(own);
  const r = compileFile(join(ROOT, 'stdlib', `${net}.net`), { args: { classes: 10 }, input });
  const graph = r.graphs[0];
  const bad = r.diagnostics.find((d) => d.severity === 'error');
  if (!graph || bad) out({ error: `does not compile at ${input.join('x')}: ${bad?.message ?? 'no graph'}` });
  const choice = await selectBackend(backend === 'wasm+native' ? 'wasm' : backend);
  const label = choice.convolutions ? `${choice.name}+native` : choice.name;
  // On wasm, the bytes tensors really hold (shared data counted once): the backend's own mallocs.
  const live = { now: 0, peak: 0, sizes: new Map() };
  if (choice.name === 'wasm') {
    const wasm = tf.backend().wasm;
    // The raw exports: emscripten's _malloc/_free stubs replace themselves on first call.
    const malloc = wasm.asm?.malloc ?? wasm._malloc.bind(wasm);
    const free = wasm.asm?.free ?? wasm._free.bind(wasm);
    wasm._malloc = (n) => {
      const p = malloc(n);
      live.sizes.set(p >>> 0, n);
      live.now += n;
      if (live.now > live.peak) live.peak = live.now;
      return p;
    };
    wasm._free = (p) => {
      live.now -= live.sizes.get(p >>> 0) ?? 0;
      live.sizes.delete(p >>> 0);
      return free(p);
    };
  }
  const estimate = estimateTrainingMemory(sizeOfGraph(graph), { optimizer: 'momentum', batchSize: batch }, choice.name);
  const base = { net, input, backend: label, batch, estimate: estimate.bytes, limit: estimate.limit };
  if (estimate.bytes > estimate.limit && !flag('--force')) out({ ...base, refused: true });
  // As netc train decides: batch norm / ReLU outputs recomputed in backprop only where needed to fit.
  const remat = await imp('runtime/remat.js').catch(() => null);
  if (remat) remat.recomputation.enabled = recomputeNeeded?.(sizeOfGraph(graph), { optimizer: 'momentum', batchSize: batch }, choice.name) ?? true;
  base.recomputed = choice.name === 'wasm' && Boolean(remat?.recomputation.enabled);
  let model;
  try {
    model = lowerGraph(graph, { seed: 0 }).model;
  } catch (e) {
    out({ ...base, error: String(e.message).split('\n')[0] });
  }
  const vars = new Map(model.trainableWeights.map((w) => [w.val.name, w.val]));
  const varList = [...vars.values()];
  const optim = makeOptim({ optimizer: 'momentum', lr: 0.01, momentum: 0.9, weightDecay: 0 });
  const [c, h, w] = input;
  const x = tf.randomNormal([batch, h, w, c]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  const step = () => {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), varList);
      const l = value.dataSync()[0];
      optim.step(grads, vars, 0.01);
      return l;
    });
    if (!Number.isFinite(loss)) throw new Error(`loss ${loss}`);
  };
  const heap = () => (choice.name === 'wasm' ? tf.backend().wasm.HEAPU8.buffer.byteLength : null);
  try {
    step();
    if (profile) {
      const t0 = performance.now();
      const info = await tf.profile(() => {
        step();
      });
      const wall = performance.now() - t0;
      const byKernel = kernelTimes(info);
      out({ ...base, describe: describeBackend(choice)[0], wallMs: wall, kernels: [...byKernel].map(([name, e]) => ({ name, ...e })) });
    }
    const minMs = Number(arg('--seconds', 3)) * 1000;
    const t0 = performance.now();
    let done = 0;
    while (done < steps || performance.now() - t0 < minMs) {
      step();
      done++;
    }
    const ips = (batch * done) / ((performance.now() - t0) / 1000);
    live.peak = live.now;
    const info = await tf.profile(() => {
      step();
    });
    out({ ...base, imagesPerSecond: ips, peakBytes: choice.name === 'wasm' ? live.peak : info.peakBytes, heapBytes: heap() });
  } catch (e) {
    out({ ...base, error: String(e.message).split('\n')[0], peakBytes: live.peak || null, heapBytes: heap() });
  }
}

// ---- the table ---------------------------------------------------------------------------------
function runChild(net, backend, batch, steps, extra = [], from = dist) {
  const env = { ...process.env };
  if (backend === 'wasm') env.NETC_NATIVE = '0';
  const pass = ['--seconds', arg('--seconds', '3'), ...(flag('--force') ? ['--force'] : [])];
  const p = spawnSync(
    process.execPath,
    [new URL(import.meta.url).pathname, '--child', net, backend, String(batch), String(steps), '--dist', from, ...pass, ...extra],
    {
      encoding: 'utf8',
      env,
      timeout: Number(arg('--timeout', 900)) * 1000,
      maxBuffer: 1 << 26,
    },
  );
  const line = (p.stdout || '').trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    const why = p.signal
      ? `killed (${p.signal}${p.error?.code === 'ETIMEDOUT' ? ', timeout' : ''})`
      : ((p.stderr || '').trim().split('\n').filter(Boolean).pop() ?? `exit ${p.status}`);
    return { net, backend, batch, error: why.slice(0, 120) };
  }
}

function torchRun(net, input, batch, steps, threads, dir) {
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const file = join(dir, `${net}.py`);
  const ex = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin', 'netc.js'),
      'export',
      join(ROOT, 'stdlib', `${net}.net`),
      '--to',
      'pytorch',
      '--set',
      'classes=10',
      '--input',
      input.join('x'),
      '--out',
      file,
    ],
    { encoding: 'utf8' },
  );
  if (ex.status !== 0) return { error: `export failed: ${(ex.stderr || '').trim().split('\n')[0]}` };
  // Idle OpenMP workers sleep, as netc's oneDNN ones do (src/runtime/native.ts): spinning ones
  // collapse PyTorch's throughput on a loaded machine.
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
  const p = spawnSync(
    py,
    [join(ROOT, 'bench', 'zoo_torch.py'), file, ...input.map(String), '10', String(batch), String(steps), String(threads), arg('--seconds', '3')],
    { encoding: 'utf8', timeout: 900_000, env },
  );
  if (p.status !== 0) return { error: (p.stderr || p.error?.message || '').trim().split('\n').pop() };
  return JSON.parse(p.stdout.trim().split('\n').pop());
}

async function backendsPresent() {
  const list = [];
  try {
    await import('@tensorflow/tfjs-node');
    list.push('node');
  } catch {
    /* optional: not installed */
  }
  if (existsSync(join(ROOT, 'native', 'build', 'Release', 'netc_native.node')) && process.env.NETC_NATIVE !== '0') list.push('wasm+native');
  list.push('wasm', 'cpu');
  return list;
}

async function parent() {
  const { compileFile } = await import(pathToFileURL(join(dist, 'api.js')).href);
  const nets = arg('--nets')
    ? arg('--nets').split(',')
    : readdirSync(join(ROOT, 'stdlib'))
        .filter((f) => f.endsWith('.net'))
        .map((f) => f.slice(0, -4))
        .filter((n) => compileFile(join(ROOT, 'stdlib', `${n}.net`)).graphs.length > 0);
  const batch = Number(arg('--batch', 64));
  const steps = Number(arg('--steps', 2));
  const threads = Number(arg('--torch-threads', 2));
  const named = arg('--backends') ? arg('--backends').split(',') : null;
  const backends = named ?? (await backendsPresent());

  const profNet = arg('--profile');
  if (profNet) {
    const r = runChild(profNet, backends[0], batch, 1, ['--child-profile']);
    if (r.error) {
      console.log(`${profNet} on ${r.backend ?? backends[0]}: ${r.error}`);
      return;
    }
    const total = r.kernels.reduce((a, k) => a + k.ms, 0);
    console.log(
      `${r.describe}\n${profNet} [${r.input.join('x')}], batch ${batch}: one step ${r.wallMs.toFixed(0)} ms, ${total.toFixed(0)} ms in kernels, ${(r.wallMs - total).toFixed(0)} ms outside them (tape, JS, tf.profile's own overhead); load ${loadavg()[0].toFixed(2)}`,
    );
    for (const k of r.kernels.sort((a, b) => b.ms - a.ms).slice(0, Number(arg('--top', 25)))) {
      console.log(
        `  ${k.name.padEnd(36)} ${k.ms.toFixed(1).padStart(9)} ms ${String(k.n).padStart(6)} calls ${((100 * k.ms) / r.wallMs).toFixed(1).padStart(5)}%`,
      );
    }
    return;
  }

  const dir = mkdtempSync(join(tmpdir(), 'netc-zoo-'));
  const rows = [];
  const gib = (b) => (b == null ? '-' : `${(b / 1024 ** 3).toFixed(2)}G`);
  const compare = arg('--compare') ? resolve(arg('--compare')) : null;
  const header = ['net', 'input', 'backend', 'batch', 'netc img/s', 'torch img/s', 'ratio', 'peak', 'heap', 'estimate', 'load', 'note'];
  const widths = [18, 8, 18, 5, 10, 11, 6, 7, 7, 8, 5, 0];
  const line = (cells) => cells.map((c, i) => (i < 4 || i === 11 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' ');
  console.log(
    `netc ${dist}${compare ? ` (rows "before": ${compare}, same window)` : ''} vs PyTorch ${threads} thread(s), OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY ?? 'PASSIVE'}; ${steps}+ timed steps (${arg('--seconds', 3)}+ s) after a warm-up; memory in GiB`,
  );
  if (!flag('--no-torch')) for (const l of torchBlasLines(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')) console.log(l);
  console.log(line(header));
  for (const net of nets) {
    const own = compileFile(join(ROOT, 'stdlib', `${net}.net`)).graphs[0].input;
    const input = inputOf(own);
    const macs = compileFile(join(ROOT, 'stdlib', `${net}.net`), { args: { classes: 10 }, input }).graphs[0].nodes.reduce((a, n) => a + (n.macs ?? 0), 0);
    const torch = flag('--no-torch') ? null : torchRun(net, input, batch, steps, threads, dir);
    for (const backend of backends) {
      if (backend === 'cpu' && !named && macs > 50e6) {
        rows.push({ net, backend, batch, skipped: `cpu: ${(macs / 1e6).toFixed(0)} MMACs per sample on pure JS (--backends cpu runs it)` });
        console.log(line([net, input.join('x'), backend, batch, '-', '-', '-', '-', '-', '-', '-', rows.at(-1).skipped]));
        continue;
      }
      for (const from of compare ? [compare, dist] : [dist]) {
        const load = loadavg()[0];
        const r = runChild(net, backend, batch, steps, [], from);
        const tips = torch?.imagesPerSecond;
        const ratio = r.imagesPerSecond && tips ? r.imagesPerSecond / tips : null;
        const note = r.refused
          ? `refused: estimate over ${gib(r.limit)}`
          : r.error
            ? `error: ${r.error}`
            : torch?.error
              ? `torch: ${torch.error}`
              : r.recomputed
                ? 'bn/relu recomputed'
                : '';
        const label = `${r.backend ?? backend}${compare ? (from === compare ? ' before' : ' after') : ''}`;
        rows.push({ ...r, dist: from, torch, ratio, load });
        console.log(
          line([
            net,
            input.join('x'),
            label,
            batch,
            r.imagesPerSecond?.toFixed(1) ?? '-',
            tips?.toFixed(1) ?? '-',
            ratio?.toFixed(2) ?? '-',
            gib(r.peakBytes),
            gib(r.heapBytes),
            gib(r.estimate),
            load.toFixed(1),
            note,
          ]),
        );
      }
    }
  }
  if (arg('--json')) writeFileSync(arg('--json'), JSON.stringify(rows, null, 2));
}
