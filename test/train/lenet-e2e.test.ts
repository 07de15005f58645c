import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { compileFile } from '../../src/api.js';
import { lowerGraph } from '../../src/lower/lower.js';
import { selectBackend } from '../../src/runtime/backend.js';
import type { RunConfig } from '../../src/train/config.js';
import { loadDataset } from '../../src/train/data/index.js';
import { train } from '../../src/train/loop.js';
import { loadCheckpoint } from '../../src/train/rundir.js';
import { testBackend } from '../backend.js';

// Runs once per backend (vitest.config.ts projects); skipped with the reason where one is missing.
const B = await testBackend();

const quietIo = { log: () => {}, progress: () => {}, interrupted: () => false };

function config(out: string, epochs: number): RunConfig {
  return {
    net: 'lenet5', data: 'fashion-mnist-sample', backend: B.name, epochs, batchSize: 64, optimizer: 'momentum', lr: 0.01, momentum: 0.9,
    weightDecay: 0, schedule: 'none', stepSize: 10, gamma: 0.1, augment: { crop: 0, flip: false }, normalize: true, valSplit: 0.1, seed: 0, out,
  };
}

describe.skipIf(!B.ok)(`LeNet-5 on the bundled Fashion-MNIST sample on ${B.label}${B.skip}`, () => {
  it('reaches >= 75% on the 1000 held-out test images and writes a complete run directory', async () => {
    expect((await selectBackend(B.name)).name).toBe(B.name);
    const compiled = compileFile('stdlib/lenet5.net');
    expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const { model } = lowerGraph(compiled.graphs[0], { seed: 0 });
    const dataset = await loadDataset('fashion-mnist-sample');
    const dir = mkdtempSync(join(tmpdir(), 'netc-run-'));
    const r = await train({ config: config(dir, 3), model, dataset, runDir: dir, io: quietIo });
    expect(r.testAccuracy).toBeGreaterThanOrEqual(0.75);
    expect(r.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(1000);
    const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => x.epoch)).toEqual([1, 2, 3]);
    for (const k of ['trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'imagesPerSecond', 'seconds']) expect(typeof rows[0][k]).toBe('number');
    for (const f of ['result.json', 'metrics.csv', 'loss.svg', 'accuracy.svg', 'checkpoints/best/model.json', 'checkpoints/last/weights.bin']) {
      expect(existsSync(join(dir, f))).toBe(true);
    }
    expect(readFileSync(join(dir, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
    const ajv = new Ajv();
    const schema = (f: string) => ajv.compile(JSON.parse(readFileSync(`specs/${f}`, 'utf8')));
    const vm = schema('metrics.schema.json');
    for (const row of rows) expect(vm(row), JSON.stringify(vm.errors)).toBe(true);
    const vr = schema('result.schema.json');
    expect(vr(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'))), JSON.stringify(vr.errors)).toBe(true);

    // The last checkpoint restores the same predictions, and resuming continues at epoch 4.
    const ck = await loadCheckpoint(dir, 'last');
    expect(ck.state.epoch).toBe(3);
    const r2 = await train({ config: config(dir, 4), model: ck.model, dataset, runDir: dir, io: quietIo, resume: { state: ck.state, optimizerWeights: ck.optimizerWeights } });
    expect(r2.epochs).toBe(4);
    const rows2 = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows2.map((x) => x.epoch)).toEqual([1, 2, 3, 4]);
    expect(r2.testAccuracy!).toBeGreaterThanOrEqual(0.75);
  }, 180_000);
});
