#!/usr/bin/env node
/**
 * Learning-curve parity: resnet20_cifar trained by netc (`netc train`) and by PyTorch (the module
 * `netc export --to pytorch` writes) with the same recipe: the same training/validation split (netc's
 * own --subset and seeded --val-split, handed to Python as bytes), the same normalisation (the
 * training split's per-channel mean/std), the same augmentation (zero-pad crop, horizontal flip), SGD
 * with momentum 0.9, weight decay, the schedule (cosine by default) and batch size. Prints the two
 * curves side by side (validation accuracy per epoch, final test accuracy).
 *
 *   node bench/learning-curve.mjs [--data cifar10 --data-dir DIR | --data fashion-mnist] [--epochs 10]
 *        [--subset N] [--batch-size 128] [--lr 0.1] [--weight-decay 5e-4] [--schedule cosine]
 *        [--crop 4] [--flip] [--seed 0] [--threads 2] [--net stdlib/resnet20_cifar.net]
 *
 * Needs a build (npm run build) and PyTorch for /usr/bin/python3 (or NETC_PYTHON). The draws differ
 * between the sides (initial weights, shuffling, crops): the curves agree as two runs of one recipe,
 * not bit for bit; `netc verify` is the step-by-step proof.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: o } = parseArgs({
  options: {
    data: { type: 'string', default: 'cifar10' },
    'data-dir': { type: 'string' },
    epochs: { type: 'string', default: '10' },
    subset: { type: 'string' },
    'batch-size': { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.1' },
    'weight-decay': { type: 'string', default: '5e-4' },
    schedule: { type: 'string', default: 'cosine' },
    crop: { type: 'string', default: '4' },
    flip: { type: 'boolean', default: true },
    'no-flip': { type: 'boolean', default: false },
    'val-split': { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string', default: '2' },
    net: { type: 'string', default: 'stdlib/resnet20_cifar.net' },
  },
});
const flip = o.flip && !o['no-flip'];

const { loadDataset } = await import(join(ROOT, 'dist/train/data/index.js'));
const { trainingSplit } = await import(join(ROOT, 'dist/train/loop.js'));
const { channelMeanStd } = await import(join(ROOT, 'dist/train/batches.js'));
const { compileFile } = await import(join(ROOT, 'dist/api.js'));
const { exportPytorch } = await import(join(ROOT, 'dist/export/pytorch.js'));
const { torchVersion, pythonBinary } = await import(join(ROOT, 'dist/verify/python.js'));

const torch = torchVersion();
if (!torch.version) {
  console.error(`PyTorch is not installed: ${torch.reason}`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'netc-curve-'));
const log = (s) => process.stderr.write(`${s}\n`);
const dataset = await loadDataset(o.data, { dataDir: o['data-dir'], download: false, log });
const cfg = { subset: o.subset ? Number(o.subset) : undefined, seed: Number(o.seed), valSplit: Number(o['val-split']) };
const { train, val } = trainingSplit(dataset, cfg);
const norm = channelMeanStd(train, dataset.shape[0]);
for (const [name, s] of [
  ['train', train],
  ['val', val],
  ['test', dataset.test],
]) {
  if (!s) continue;
  writeFileSync(join(dir, `${name}.images`), s.images);
  writeFileSync(join(dir, `${name}.labels`), Uint8Array.from(s.labels));
}
const graph = compileFile(join(ROOT, o.net), { input: dataset.shape, args: { classes: dataset.classes.length } }).graphs[0];
writeFileSync(join(dir, 'model.py'), exportPytorch(graph));
const recipe = {
  shape: dataset.shape,
  norm,
  epochs: Number(o.epochs),
  batchSize: Number(o['batch-size']),
  lr: Number(o.lr),
  weightDecay: Number(o['weight-decay']),
  schedule: o.schedule,
  crop: Number(o.crop),
  flip,
  seed: Number(o.seed),
  threads: Number(o.threads),
  counts: { train: train.count, val: val?.count ?? 0, test: dataset.test.count },
};
writeFileSync(join(dir, 'recipe.json'), JSON.stringify(recipe));
log(`data: ${dataset.name}: ${train.count} train, ${val?.count ?? 0} validation, ${dataset.test.count} test, ${dataset.shape.join('x')}; work dir ${dir}`);

// netc: the CLI itself, so the curve is what a user gets.
const runDir = join(dir, 'netc-run');
const t0 = performance.now();
const args = [
  join(ROOT, 'bin/netc.js'),
  'train',
  join(ROOT, o.net),
  '--data',
  o.data,
  ...(o['data-dir'] ? ['--data-dir', o['data-dir']] : []),
  '--epochs',
  o.epochs,
  '--batch-size',
  o['batch-size'],
  '--optimizer',
  'momentum',
  '--lr',
  o.lr,
  '--weight-decay',
  o['weight-decay'],
  '--schedule',
  o.schedule,
  '--crop',
  o.crop,
  ...(flip ? ['--flip'] : []),
  '--val-split',
  o['val-split'],
  '--seed',
  o.seed,
  '--out',
  runDir,
  ...(o.subset ? ['--subset', o.subset] : []),
];
log(`netc: node ${args.slice(1).join(' ')}`);
const netc = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const netcSeconds = (performance.now() - t0) / 1000;
if (netc.status !== 0) {
  console.error(`netc train failed (exit ${netc.status})`);
  process.exit(1);
}
const netcRows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const netcResult = JSON.parse(readFileSync(join(runDir, 'result.json'), 'utf8'));

log(`PyTorch ${torch.version}: bench/learning_curve_torch.py`);
const t1 = performance.now();
const py = spawnSync(pythonBinary(), [join(ROOT, 'bench/learning_curve_torch.py'), dir], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 1 << 24,
});
const torchSeconds = (performance.now() - t1) / 1000;
if (py.status !== 0) {
  console.error(`the PyTorch side failed (exit ${py.status})`);
  process.exit(1);
}
const torchRows = py.stdout
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const torchFinal = torchRows.pop();

const pct = (x) => (x == null ? '   -  ' : `${(100 * x).toFixed(2)}%`);
console.log(
  `\nresnet20 on ${dataset.name} (${train.count} train / ${val?.count ?? 0} val / ${dataset.test.count} test), batch ${recipe.batchSize}, momentum 0.9, lr ${recipe.lr} ${recipe.schedule}, wd ${recipe.weightDecay}, crop ${recipe.crop}${flip ? ' + flip' : ''}`,
);
console.log('epoch | netc: lr        train loss  train acc  val acc | PyTorch: lr     train loss  train acc  val acc');
for (let e = 0; e < recipe.epochs; e++) {
  const a = netcRows[e] ?? {};
  const b = torchRows[e] ?? {};
  console.log(
    `${String(e + 1).padStart(5)} | ${(a.lr ?? 0).toExponential(3).padStart(10)}  ${(a.trainLoss ?? NaN).toFixed(4).padStart(10)}  ${pct(a.trainAccuracy).padStart(9)}  ${pct(a.valAccuracy).padStart(7)} | ${(b.lr ?? 0).toExponential(3).padStart(10)}  ${(b.trainLoss ?? NaN).toFixed(4).padStart(10)}  ${pct(b.trainAccuracy).padStart(9)}  ${pct(b.valAccuracy).padStart(7)}`,
  );
}
console.log(
  `test accuracy: netc ${pct(netcResult.testAccuracy)} (${netcResult.backend}, ${netcSeconds.toFixed(0)} s) | PyTorch ${pct(torchFinal.testAccuracy)} (${torchFinal.threads} threads, ${torchSeconds.toFixed(0)} s)`,
);
