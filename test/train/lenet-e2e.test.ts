import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
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

/**
 * The default run is two epochs with Adam (79.1% on the test images, seed 0, wasm): one, then one
 * more after resuming from the checkpoint. NETC_LONG_TESTS=1 runs the original schedule, momentum
 * SGD for three epochs plus a resumed fourth (75.8% after three), twice the time.
 */
const LONG = process.env['NETC_LONG_TESTS'] === '1';
const [FIRST, TOTAL] = LONG ? [3, 4] : [1, 2];

function config(out: string, epochs: number): RunConfig {
  return {
    net: 'lenet5',
    data: 'fashion-mnist-sample',
    backend: B.name,
    epochs,
    batchSize: 64,
    optimizer: LONG ? 'momentum' : 'adam',
    lr: LONG ? 0.01 : 0.002,
    momentum: 0.9,
    weightDecay: 0,
    schedule: 'none',
    stepSize: 10,
    gamma: 0.1,
    augment: { crop: 0, flip: false },
    normalize: true,
    valSplit: 0.1,
    seed: 0,
    out,
  };
}

describe.skipIf(!B.ok)(`LeNet-5 on the bundled Fashion-MNIST sample on ${B.label}${B.skip}`, () => {
  it('reaches >= 75% on the 1000 held-out test images, writes a complete run directory, and resumes', async () => {
    expect((await selectBackend(B.name)).name).toBe(B.name);
    const compiled = compileFile('stdlib/lenet5.net');
    expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const { model } = lowerGraph(compiled.graphs[0]!, { seed: 0 });
    const dataset = await loadDataset('fashion-mnist-sample');
    const dir = mkdtempSync(join(tmpdir(), 'netc-run-'));
    const r = await train({ config: config(dir, FIRST), model, dataset, runDir: dir, io: quietIo });
    // After the first part: well above chance (10%); the 75% bar is for the finished run below.
    expect(r.testAccuracy).toBeGreaterThanOrEqual(LONG ? 0.75 : 0.6);
    expect(r.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(1000);
    const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((x) => x.epoch)).toEqual(Array.from({ length: FIRST }, (_, i) => i + 1));
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

    // Resuming from the last checkpoint continues at the next epoch and finishes at >= 75%.
    const ck = await loadCheckpoint(dir, 'last');
    expect(ck.state.epoch).toBe(FIRST);
    const r2 = await train({
      config: config(dir, TOTAL),
      model: ck.model,
      dataset,
      runDir: dir,
      io: quietIo,
      resume: { state: ck.state, optimizerWeights: ck.optimizerWeights },
    });
    expect(r2.epochs).toBe(TOTAL);
    const rows2 = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows2.map((x) => x.epoch)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(r2.testAccuracy!).toBeGreaterThanOrEqual(0.75);
  }, 180_000);
});
