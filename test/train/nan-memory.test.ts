/**
 * NaN/Inf stops a run with the epoch and step, leaving the last good checkpoint loadable; a network
 * too big to train in memory is refused before tfjs allocates, with the numbers and a batch size.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import type { RunConfig } from '../../src/train/config.js';
import { loadDataset } from '../../src/train/data/index.js';
import { TrainingError, train } from '../../src/train/loop.js';
import { estimateTrainingMemory, GiB, memoryProblem, sizeOfGraph, sizeOfModel } from '../../src/train/memory.js';
import { createRunDir, loadCheckpoint } from '../../src/train/rundir.js';

const quiet = { log: () => {}, progress: () => {}, interrupted: () => false };
const tmp = () => mkdtempSync(join(tmpdir(), 'netc-nan-'));
const built = existsSync('dist/cli/main.js');

function config(out: string, over: Partial<RunConfig>): RunConfig {
  return {
    net: 'tiny',
    data: 'fashion-mnist-sample',
    backend: 'wasm',
    epochs: 1,
    batchSize: 32,
    optimizer: 'sgd',
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 0,
    schedule: 'none',
    stepSize: 10,
    gamma: 0.1,
    augment: { crop: 0, flip: false },
    normalize: true,
    valSplit: 0.1,
    subset: 128,
    seed: 0,
    out,
    ...over,
  };
}

beforeAll(async () => {
  expect((await selectBackend('wasm')).name).toBe('wasm');
});

describe('NaN and infinity', () => {
  it('a huge learning rate stops the run naming epoch and step; the last good checkpoint stays loadable', async () => {
    const graph = compileFile('test/train/fixtures/tiny.net').graphs[0]!;
    const dataset = await loadDataset('fashion-mnist-sample');
    const dir = join(tmp(), 'run');
    createRunDir(dir, '{}');
    const { model } = lowerGraph(graph, { seed: 0 });
    await train({ config: config(dir, {}), model, dataset, runDir: dir, io: quiet });
    const good = await loadCheckpoint(dir, 'last');
    const goodWeights = good.model.getWeights().map((w) => Array.from(w.dataSync()));

    // Epoch 2 at an infinite learning rate: the first update makes the weights infinite (the loss before it was finite).
    const err = await train({ config: config(dir, { epochs: 2, lr: Infinity }), model: good.model, dataset, runDir: dir, io: quiet, resume: good }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(TrainingError);
    expect(err.message).toMatch(
      /^weight \S+ became NaN or infinite after the update at epoch 2, step 1 of 4 \(learning rate Infinity\) \(loss was [\d.]+\); the last good checkpoint is .*checkpoints\/last; try a smaller --lr$/,
    );

    // At lr 1e38 the weights stay finite for a step, and the loss is what turns non-finite.
    const again = await loadCheckpoint(dir, 'last');
    const err2 = await train({ config: config(dir, { epochs: 2, lr: 1e38 }), model: again.model, dataset, runDir: dir, io: quiet, resume: again }).catch(
      (e) => e,
    );
    expect(err2).toBeInstanceOf(TrainingError);
    expect(err2.message).toMatch(
      /^loss became (NaN|Infinity) at epoch 2, step \d+ of 4 \(learning rate 1e\+38\); the last good checkpoint is .*checkpoints\/last; try a smaller --lr, or --normalize$/,
    );

    // Nothing was saved from the diverged epoch: the checkpoint is the one from epoch 1.
    const after = await loadCheckpoint(dir, 'last');
    expect(after.state.epoch).toBe(1);
    expect(after.model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(goodWeights);
    expect(readdirSync(join(dir, 'checkpoints')).sort()).toEqual(['best', 'last']);
  }, 60_000);

  it.skipIf(!built)('through the CLI: exit 1 and the diagnostic, no stack trace', () => {
    const out = join(tmp(), 'run');
    const r = spawnSync(
      process.execPath,
      ['bin/netc.js', 'train', 'test/train/fixtures/tiny.net', '--subset', '256', '--epochs', '1', '--optimizer', 'sgd', '--lr', '1e38', '--out', out],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/netc: loss became NaN at epoch 1, step 2 of 4 \(learning rate 1e\+38\); no checkpoint was written yet/);
    expect(readdirSync(join(out, 'checkpoints'))).toEqual([]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('memory needed for training', () => {
  it('vgg16 at batch 1024 on wasm: refused with the numbers and a batch size that fits', () => {
    const graph = compileFile('stdlib/vgg16.net').graphs[0]!;
    const size = sizeOfGraph(graph);
    expect(size.params).toBe(138_357_544); // torchvision's count (no buffers in vgg16)
    const msg = memoryProblem('vgg16', size, { optimizer: 'momentum', batchSize: 1024 }, 'wasm');
    expect(msg).toMatch(/^training vgg16 at batch size 1024 needs about [\d.]+ GiB, more than the 4 GiB the wasm backend can address/);
    expect(msg).toMatch(/parameters: {2}138,357,544 x 4 bytes x 3 \(weights, gradients, momentum\) = 1\.55 GiB/);
    expect(msg).toMatch(/activations: [\d,]+ of [\d,]+ per sample kept for the backward pass \+ [\d,]+ in flight, x 4 bytes x 1024 = [\d.]+ GiB/);
    expect(msg).toMatch(/help: the node backend \(tfjs-node\) .* `npm run setup:tfjs-node`, then --backend node/);
    const fits = Number(/--batch-size (\d+) fits \(at most (\d+) would\)/.exec(msg!)![2]);
    // The suggestion is right: at most `fits` fits, one more does not.
    const tensors = estimateTrainingMemory(size, { optimizer: 'momentum', batchSize: 1 }, 'wasm').limit;
    expect(tensors).toBeLessThan(4 * GiB); // the heap's fragmentation takes the rest
    expect(estimateTrainingMemory(size, { optimizer: 'momentum', batchSize: fits }, 'wasm').bytes).toBeLessThanOrEqual(tensors);
    expect(estimateTrainingMemory(size, { optimizer: 'momentum', batchSize: fits + 1 }, 'wasm').bytes).toBeGreaterThan(tensors);
    expect(memoryProblem('vgg16', size, { optimizer: 'momentum', batchSize: fits }, 'wasm')).toBeNull();
    // Adam keeps two moments per weight: k = 4.
    expect(estimateTrainingMemory(size, { optimizer: 'adam', batchSize: 1 }, 'wasm').paramBytes).toBe(138_357_544 * 4 * 4);
    // Parameters alone over the limit: no batch size helps.
    expect(memoryProblem('vgg16', size, { optimizer: 'adam', batchSize: 1 }, 'cpu', 1 * GiB)).toMatch(
      /the parameters alone \(2\.06 GiB\) exceed the limit: use a smaller network, or --optimizer sgd/,
    );
  });

  it('counts a resumed model (tfjs) like its graph', () => {
    const graph = compileFile('stdlib/lenet5.net').graphs[0]!;
    const { model } = lowerGraph(graph, { seed: 0 });
    expect(sizeOfModel(model).params).toBe(sizeOfGraph(graph).params);
    expect(sizeOfModel(model).input).toBe(784);
  });

  it.skipIf(!built)('through the CLI: exit 1 before any run directory exists', () => {
    const out = join(tmp(), 'run');
    const r = spawnSync(
      process.execPath,
      ['bin/netc.js', 'train', 'test/train/fixtures/tiny.net', '--batch-size', '4096', '--memory-limit', '0.01', '--out', out],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/netc: training tiny at batch size 4096 needs about [\d.]+ MiB, more than the --memory-limit of 10\.2 MiB/);
    expect(r.stderr).toMatch(/help: --batch-size \d+ fits/);
    expect(existsSync(out)).toBe(false);
  });
});
