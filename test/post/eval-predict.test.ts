/**
 * netc eval and netc predict on a small LeNet-5 run (the bundled Fashion-MNIST sample, 1500
 * training images, 1 epoch, wasm), and netc cam's diagnostic for LeNet-5's head.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRun, runNormalization } from '../../src/post/run.js';
import { selectBackend } from '../../src/runtime/backend.js';
import { makeBatch } from '../../src/train/batches.js';
import { loadDataset, type Dataset } from '../../src/train/data/index.js';
import { evaluate, type TrainResult } from '../../src/train/loop.js';
import { cli, trainRun } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LENET = join(ROOT, 'stdlib', 'lenet5.net');
const dir = mkdtempSync(join(tmpdir(), 'netc-post-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let run = '';
let dataset: Dataset;
let result: TrainResult;

beforeAll(async () => {
  await selectBackend('wasm');
  dataset = await loadDataset('fashion-mnist-sample');
  run = join(dir, 'lenet');
  result = await trainRun(LENET, dataset, run, { epochs: 1, subset: 3000, batchSize: 32 });
  console.log(`lenet5 (3000 images, 1 epoch): result.json test accuracy ${result.testAccuracy}`);
}, 120_000);

describe('netc eval', () => {
  it("gives result.json's numbers for the last checkpoint, recomputing the run's normalisation", async () => {
    const r = await cli(['eval', LENET, '--weights', run, '--checkpoint', 'last', '--format', 'json', '--backend', 'wasm']);
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(0);
    // One short backend line; the details and the skipped backends only with --verbose.
    expect(r.stderr.split('\n').filter((l) => /^\s*(backend|skipped)/.test(l))).toEqual([
      expect.stringMatching(/^backend: wasm[^(]*( \(\d others? skipped; --verbose says why\))?$/),
    ]);
    const doc = JSON.parse(r.stdout);
    const saved = JSON.parse(readFileSync(join(run, 'result.json'), 'utf8'));
    console.log(`netc eval: accuracy ${doc.accuracy} on ${doc.images} images`);
    expect(doc.images).toBe(1000);
    expect(doc.accuracy).toBe(saved.testAccuracy);
    expect(doc.confusionMatrix).toEqual(saved.confusionMatrix);
    expect(doc.perClassAccuracy).toEqual(saved.perClassAccuracy);
    expect(doc.support.reduce((a: number, b: number) => a + b, 0)).toBe(1000);
    expect(doc.classes[9]).toBe('Ankle boot');
    expect(doc.normalization.mean[0]).toBeGreaterThan(0.1);

    // The normalisation matters: without it the same checkpoint classifies differently.
    const opened = await openRun(run, 'last');
    const raw = await evaluate(opened.model, dataset.test, dataset.shape, null, 10, false);
    expect(raw.confusion.m).not.toEqual(doc.confusionMatrix);
  });

  it('prints a per-class table and the confusion matrix; the best checkpoint by default', async () => {
    const r = await cli(['eval', LENET, '--weights', run, '--backend', 'wasm']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/checkpoint best of .*fashion-mnist-sample \(test, 1000 images\)/);
    expect(r.stdout).toMatch(/^accuracy: \d+\.\d\d%/m);
    expect(r.stdout).toMatch(/^\s+9\s+Ankle boot\s+\d+\.\d%\s+\d+$/m);
    expect(r.stdout).toContain('confusion matrix (rows: true class, columns: predicted class):');
    expect(r.stdout.split('\n').filter((l) => /^\s+\d+( +\d+){10}$/.test(l))).toHaveLength(10);
  });

  it('exit codes: 2 for a missing run directory or a bad option, 1 for a checkpoint of another net', async () => {
    expect((await cli(['eval', LENET, '--weights', join(dir, 'nope')])).code).toBe(2);
    expect((await cli(['eval', LENET, '--weights', run, '--checkpoint', 'middle'])).code).toBe(2);
    const other = join(dir, 'other.net');
    writeFileSync(other, 'net other(classes=10) : [1, 28, 28] < conv 4 k=3; relu; gap; linear classes >\n');
    const r = await cli(['eval', other, '--weights', run, '--backend', 'wasm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/other.net \(net other\) has 90 weights but the checkpoint in .* has 44,426: the run trained a different net/);
  });
});

describe('netc predict', () => {
  it('writes one CSV row per image of a folder, with the predictions of the model on the same pixels', async () => {
    // 12 test images as 28x28 PNGs (gray in RGB), in two sub-folders, plus files that are not images.
    const folder = join(dir, 'images');
    const files: string[] = [];
    for (let i = 0; i < 12; i++) {
      const sub = i < 6 ? 'a' : 'b';
      mkdirSync(join(folder, sub), { recursive: true });
      const png = new PNG({ width: 28, height: 28 });
      for (let p = 0; p < 784; p++) {
        const v = dataset.test.images[i * 784 + p]!;
        png.data.set([v, v, v, 255], p * 4);
      }
      const name = `${sub}/img${String(i).padStart(2, '0')}.png`;
      writeFileSync(join(folder, name), PNG.sync.write(png));
      files.push(name);
    }
    writeFileSync(join(folder, 'notes.txt'), 'not an image');
    // One bigger color image: resized and converted to grayscale.
    const big = new PNG({ width: 56, height: 40 });
    for (let p = 0; p < 56 * 40; p++) big.data.set([255, 0, 0, 255], p * 4);
    writeFileSync(join(folder, 'z-red, big.png'), PNG.sync.write(big));

    const out = join(dir, 'predictions.csv');
    const r = await cli(['predict', LENET, '--weights', run, '--data', `imagefolder:${folder}`, '--out', out, '--backend', 'wasm']);
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('file,class,index,probability');
    expect(lines).toHaveLength(1 + 13);
    expect(lines[13]).toMatch(/^"z-red, big\.png",[^,]+,\d,0\.\d{6}$|^"z-red, big\.png",[^,]+,\d,1\.000000$/);

    // Expected: the checkpoint on the dataset's own pixels, normalised as in training.
    const opened = await openRun(run, 'best');
    const norm = await runNormalization(opened);
    const b = makeBatch(
      dataset.test,
      Int32Array.from({ length: 12 }, (_, i) => i),
      { shape: [1, 28, 28], norm, crop: 0, flip: false, rand: Math.random },
    );
    const probs = tf.tidy(() => tf.softmax(opened.model.predict(tf.tensor4d(b.x, [12, 28, 28, 1])) as tf.Tensor).arraySync() as number[][]);
    const classes = JSON.parse(readFileSync(join(run, 'result.json'), 'utf8')).classes as string[];
    files.forEach((f, i) => {
      const [file, cls, index, p] = lines[1 + i]!.split(',');
      const k = probs[i]!.indexOf(Math.max(...probs[i]!));
      expect(file).toBe(f);
      expect(Number(index)).toBe(k);
      expect(cls).toBe(classes[k]);
      expect(Number(p)).toBeCloseTo(probs[i]![k]!, 5);
    });

    const j = await cli(['predict', LENET, '--weights', run, '--data', folder, '--format', 'json', '--backend', 'wasm']);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc).toHaveLength(13);
    expect(doc[0].file).toBe('a/img00.png');
    expect(doc[0].probabilities).toHaveLength(10);
    expect((await cli(['predict', LENET, '--weights', run, '--data', join(dir, 'missing')])).code).toBe(2);
  });
});

describe('netc cam on LeNet-5', () => {
  it('is diagnostic NET4001 pointing at the head (relu of fc2 to the out layer)', async () => {
    const image = join(dir, 'images', 'a', 'img00.png');
    const r = await cli(['cam', LENET, '--weights', run, '--image', image, '--out', join(dir, 'x.png'), '--backend', 'wasm']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error[NET4001]: cam needs global average pooling right before the last linear layer `out`, but it gets the relu layer `relu2` (output [84])',
    );
    const lines = readFileSync(LENET, 'utf8').split('\n');
    const fc2 = lines.findIndex((l) => l.includes('fc2: linear 84; relu'));
    expect(r.stderr).toContain(`lenet5.net:${fc2 + 1}:${lines[fc2]!.indexOf('relu') + 1}`);

    const j = await cli(['cam', LENET, '--weights', run, '--image', image, '--format', 'json', '--backend', 'wasm']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout).diagnostics;
    const d = doc.files.flatMap((f: { diagnostics: unknown[] }) => f.diagnostics)[0];
    expect(d.code).toBe('NET4001');
    const text = readFileSync(LENET, 'utf8');
    const start = text.indexOf('relu', text.indexOf('fc2: linear 84'));
    const end = text.indexOf('linear classes') + 'linear classes'.length;
    const pos = (o: number) => ({ line: text.slice(0, o).split('\n').length - 1, character: o - text.lastIndexOf('\n', o - 1) - 1 });
    expect(d.range).toEqual({ start: pos(start), end: pos(end) });
  });
});
