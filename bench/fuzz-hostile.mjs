// `node bench/fuzz.mjs --hostile [--seed N] [--out DIR]`: the hand-made classes of hostile input of
// issue 14, generated at random sizes around the ones the outside attack used, each through the real
// entry points (the CLI for `check` and `train`, dist/ in-process for data and checkpoints). Every case
// must end with exit 0/1, no stack trace, output and peak memory under the bounds of docs/robustness.md;
// prints one line per class with the figures. Needs `npm run build`. Exit 1 if any case failed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import {
  damageBytes,
  gzipBomb,
  hugeLabels,
  idxHeader,
  jpegWithSize,
  longLineManyErrors,
  manyShortErrors,
  pngInterlacedBomb,
  pngWithSize,
  rng,
} from '../test/fuzz/hostile.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin/netc.js');
const option = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const SEED = Number(option('--seed', 1));
const OUT = resolve(option('--out', '') || mkdtempSync(join(tmpdir(), `netc-hostile-${SEED}-`)));
mkdirSync(OUT, { recursive: true });
const random = rng(SEED);
const pick = (xs) => xs[Math.floor(random() * xs.length)];
const work = mkdtempSync(join(tmpdir(), 'netc-hostile-case-'));
const LIMITS = { rssMiB: 512, seconds: 15, stdoutBytes: 8 * 1024 * 1024 };
const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;
const figures = new Map();
const failures = [];

/** Runs the CLI under /usr/bin/time for its peak memory; returns exit code, output sizes, seconds, MiB. */
function cli(args) {
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, BIN, ...args], {
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 120_000,
  });
  const lines = r.stderr.trimEnd().split('\n');
  const rssMiB = Number(lines.pop()) / 1024;
  return { status: r.status, stdout: r.stdout, stderr: lines.join('\n'), seconds: (performance.now() - t) / 1000, rssMiB };
}

function record(cls, desc, r, extra = [], stdoutBound = LIMITS.stdoutBytes) {
  const problems = [...extra];
  if (r.status !== 0 && r.status !== 1) problems.push(`exit ${r.status}`);
  if (STACK.test(r.stderr) || /internal error/.test(r.stderr)) problems.push('stack trace on stderr');
  if (r.rssMiB > LIMITS.rssMiB) problems.push(`peak ${r.rssMiB.toFixed(0)} MiB`);
  if (r.seconds > LIMITS.seconds) problems.push(`${r.seconds.toFixed(1)} s`);
  if ((r.stdout?.length ?? 0) > stdoutBound) problems.push(`${r.stdout.length} bytes on stdout (bound ${stdoutBound})`);
  const f = figures.get(cls) ?? { cases: 0, failed: 0, maxRss: 0, maxSeconds: 0, maxStdout: 0, exits: new Set() };
  f.cases++;
  f.maxRss = Math.max(f.maxRss, r.rssMiB ?? 0);
  f.maxSeconds = Math.max(f.maxSeconds, r.seconds ?? 0);
  f.maxStdout = Math.max(f.maxStdout, r.stdout?.length ?? 0);
  f.exits.add(r.status);
  if (problems.length) {
    f.failed++;
    failures.push(`${cls}: ${desc}: ${problems.join(', ')}`);
  }
  figures.set(cls, f);
}

function checkCase(cls, desc, text, stdoutBound = LIMITS.stdoutBytes) {
  const name = 'case.net';
  const file = join(work, name);
  writeFileSync(file, text);
  for (const format of ['json', 'human']) {
    const r = cli(['check', file, ...(format === 'json' ? ['--format', 'json'] : [])]);
    const extra = [];
    if (format === 'json') {
      try {
        JSON.parse(r.stdout);
      } catch {
        extra.push('stdout is not one JSON document');
      }
    }
    record(cls, `${desc} (${format})`, r, extra, stdoutBound);
  }
}

// 1. Long lines x many errors, and many short errors.
for (let i = 0; i < 6; i++) {
  const errors = pick([10, 300, 1000, 3000]);
  const comment = pick([1_000, 100_000, 600_000, 3_000_000]);
  checkCase('long lines x many errors', `${errors} errors, ${comment}-char line`, longLineManyErrors(errors, comment));
}
for (const n of [3000, 20000]) checkCase('many short errors', `${n} errors`, manyShortErrors(n));
// 2. Huge labels (within and over the identifier cap), repeated.
for (let i = 0; i < 4; i++) {
  const chars = pick([200, 256, 10_000, 100_000]);
  const times = pick([1000, 10_000, 20_000]);
  // A valid net prints a row per layer: its names are clipped to 200 characters, so a row is at most ~1.5 KB.
  checkCase('huge labels', `${chars}-char label x ${times}`, hugeLabels(chars, times), LIMITS.stdoutBytes + 1500 * times);
}
// 3. Special files behind `use`.
const specials = ['/proc/self/pagemap', '/proc/self/status', '/proc/kcore', '/dev/zero', '/dev/urandom', '/dev/null'];
for (const target of specials) {
  const link = join(work, `special-${specials.indexOf(target)}.net`);
  rmSync(link, { force: true });
  symlinkSync(target, link);
  checkCase('special files', target, `use "./special-${specials.indexOf(target)}.net"\nnet n : [3, 8, 8] < relu >\n`);
}
// 4. Layer and step budgets.
const g = readFileSync(join(ROOT, 'stdlib/googlenet.net'), 'utf8');
const body = g.slice(g.indexOf('<') + 1, g.lastIndexOf('>')).replace(/\n/g, '; ');
for (const times of [10, 100, 1000, 10_000])
  checkCase('layer budget', `googlenet body x ${times}`, `use "inception"\nnet g : [3, 224, 224] < < ${body} > * ${times} >\n`);
checkCase('step budget', 'identity x 1e12', 'net n : [3, 8, 8] < < < < identity > * 10000 > * 10000 > * 10000 >\n');

// 5. Data files whose headers lie, in-process through dist/ (peak RSS of this process is reported).
const { loadDataset, DataError } = await import(join(ROOT, 'dist/train/data/index.js'));
const good = (() => {
  const p = new PNG({ width: 4, height: 4 });
  p.data.fill(9);
  return PNG.sync.write(p);
})();
async function dataCase(cls, desc, spec, dataDir) {
  const t = performance.now();
  const before = process.memoryUsage().rss;
  let status = 0;
  let stderr = '';
  try {
    await loadDataset(spec, { dataDir, download: false });
  } catch (e) {
    status = e instanceof DataError ? 1 : 3;
    stderr = e instanceof DataError ? e.message : String(e?.stack ?? e);
  }
  record(
    cls,
    desc,
    { status, stderr, seconds: (performance.now() - t) / 1000, rssMiB: (process.memoryUsage().rss - before) / 1024 / 1024, stdout: '' },
    status === 1 ? [] : ['not refused as a DataError'],
  );
}
let k = 0;
const folder = (files) => {
  const d = join(work, `data${k++}`);
  for (const [f, b] of Object.entries(files)) {
    mkdirSync(join(d, f, '..'), { recursive: true });
    writeFileSync(join(d, f), b);
  }
  return d;
};
for (let i = 0; i < 6; i++) {
  const w = 4097 + Math.floor(random() * 60000);
  const h = 4097 + Math.floor(random() * 60000);
  await dataCase('image headers that lie', `PNG ${w}x${h}`, `imagefolder:${folder({ 'a/x.png': good, 'b/y.png': pngWithSize(good, w, h) })}`);
  await dataCase(
    'image headers that lie',
    `JPEG ${w % 65536}x${h % 65536}`,
    `imagefolder:${folder({ 'a/x.png': good, 'b/y.jpg': jpegWithSize(Math.min(65535, w), Math.min(65535, h)) })}`,
  );
}
for (const mib of [16, 64, 256]) {
  await dataCase(
    'image headers that lie',
    `interlaced 32x32 PNG inflating to ${mib} MiB`,
    `imagefolder:${folder({ 'a/x.png': good, 'b/y.png': pngInterlacedBomb(32, 32, mib * 1024 * 1024) })}`,
  );
}
for (const [dims, mib] of [
  [[2, 2, 2], 512],
  [[60000, 28, 28], 256],
  [[60000, 60000, 60000], 64],
]) {
  const d = join(work, `mnist${k++}`);
  mkdirSync(d);
  writeFileSync(join(d, 'train-images-idx3-ubyte.gz'), gzipBomb(idxHeader(dims), mib * 1024 * 1024));
  writeFileSync(join(d, 'train-labels-idx1-ubyte'), Buffer.concat([idxHeader([2]), Buffer.from([0, 1])]));
  writeFileSync(join(d, 't10k-images-idx3-ubyte'), Buffer.concat([idxHeader([1, 2, 2]), Buffer.alloc(4)]));
  writeFileSync(join(d, 't10k-labels-idx1-ubyte'), Buffer.concat([idxHeader([1]), Buffer.from([1])]));
  await dataCase('gzip headers that lie', `IDX ${dims.join('x')} + ${mib} MiB of zeros`, 'mnist', d);
}

// 6. Byte-level checkpoint damage, in-process: every damaged copy must be refused naming its file.
const tf = await import('@tensorflow/tfjs-core');
const { selectBackend } = await import(join(ROOT, 'dist/runtime/backend.js'));
await selectBackend('wasm');
const { compileFile } = await import(join(ROOT, 'dist/api.js'));
const { lowerGraph } = await import(join(ROOT, 'dist/lower/lower.js'));
const { makeOptim } = await import(join(ROOT, 'dist/train/optim.js'));
const { loadCheckpoint, saveCheckpoint, RunDirError } = await import(join(ROOT, 'dist/train/rundir.js'));
const run = join(work, 'ckrun');
mkdirSync(join(run, 'checkpoints'), { recursive: true });
const model = lowerGraph(compileFile(join(ROOT, 'test/train/fixtures/tiny.net')).graphs[0], { seed: 1 }).model;
await saveCheckpoint(run, 'last', model, makeOptim({ optimizer: 'adam', lr: 0.01, momentum: 0.9, weightDecay: 0 }).tf, {
  epoch: 1,
  bestValAccuracy: 0.5,
  optimizer: 'adam',
});
const parts = ['model.json', 'weights.bin', 'optimizer.json', 'optimizer.bin', 'state.json'];
for (let i = 0; i < 200; i++) {
  const part = parts[i % parts.length];
  const file = join(run, 'checkpoints/last', part);
  const intact = readFileSync(file);
  const damaged = damageBytes(intact, random, Math.floor(random() * 3));
  if (damaged.equals(intact)) continue;
  writeFileSync(file, damaged);
  const t = performance.now();
  let status = 0;
  let stderr = '';
  try {
    await loadCheckpoint(run, 'last');
  } catch (e) {
    status = e instanceof RunDirError ? 1 : 3;
    stderr = String(e?.message ?? e);
  }
  writeFileSync(file, intact);
  const extra = status !== 1 ? ['damage not refused'] : stderr.includes(part) ? [] : [`message does not name ${part}`];
  record('checkpoint damage', `${part} #${i}`, { status, stderr: '', seconds: (performance.now() - t) / 1000, rssMiB: 0, stdout: '' }, extra);
}
void tf;

// 7. A full disk during `netc train` (a tmpfs, where root may mount one).
let enospc = 'skipped: not root';
if (process.getuid?.() === 0) {
  for (const size of ['64k', '160k', '400k']) {
    const disk = mkdtempSync(join(tmpdir(), 'netc-hostile-disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', disk], { stdio: 'pipe' });
    } catch (e) {
      enospc = `skipped: mount failed (${String(e.stderr ?? e).trim()})`;
      rmSync(disk, { recursive: true, force: true });
      break;
    }
    enospc = 'run';
    const r = cli(['train', join(ROOT, 'test/train/fixtures/tiny.net'), '--epochs', '2', '--subset', '256', '--batch-size', '64', '--out', join(disk, 'run')]);
    const left = readdirSync(disk, { recursive: true }).filter((e) => String(e).includes('.tmp-'));
    record('full disk (train)', `tmpfs ${size}`, r, [
      ...(left.length ? [`left ${left.join(', ')}`] : []),
      ...(r.status === 1 && !/ENOSPC/.test(r.stderr) ? ['exit 1 without naming ENOSPC'] : []),
    ]);
    execFileSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  }
}

console.log(`hostile classes (seed ${SEED}); bounds: ${LIMITS.rssMiB} MiB peak, ${LIMITS.seconds} s, ${LIMITS.stdoutBytes} bytes of stdout per case`);
console.log('| class | cases | failed | exits | max peak MiB | max s | max stdout bytes |');
console.log('|---|---|---|---|---|---|---|');
for (const [cls, f] of figures) {
  console.log(
    `| ${cls} | ${f.cases} | ${f.failed} | ${[...f.exits].sort().join(', ')} | ${f.maxRss.toFixed(0)} | ${f.maxSeconds.toFixed(1)} | ${f.maxStdout.toLocaleString('en-US')} |`,
  );
}
if (enospc !== 'run') console.log(`full disk: ${enospc}`);
if (failures.length) {
  writeFileSync(join(OUT, 'hostile-failures.txt'), failures.join('\n') + '\n');
  console.log(`${failures.length} failures, listed in ${join(OUT, 'hostile-failures.txt')}:`);
  for (const f of failures.slice(0, 20)) console.log(`  ${f}`);
}
rmSync(work, { recursive: true, force: true });
process.exitCode = failures.length ? 1 : 0;
